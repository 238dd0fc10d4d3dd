"""Old import path of :class:`~flask_tiktok.storage.sealing.TokenCipher`."""

from __future__ import annotations

from .storage.sealing import TokenCipher

__all__ = ["TokenCipher"]
