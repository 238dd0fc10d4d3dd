"""Authenticated encryption of tokens kept in the browser's cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["TokenCipher"]

_INFO = b"flask-tiktok token encryption v1"


def _derive(secret: str | bytes) -> AESGCM:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return AESGCM(hmac.new(raw, _INFO, hashlib.sha256).digest())


class TokenCipher:
    """AES-256-GCM with a key derived from the app's ``SECRET_KEY``.

    Encrypts with the first secret and decrypts with any of them, so
    ``SECRET_KEY_FALLBACKS`` keep old cookies readable during a key rotation.
    ``context`` (the user's ``open_id``) is bound as associated data: a token
    blob moved to another user's record does not decrypt.
    """

    def __init__(self, secrets: Sequence[str | bytes | None]) -> None:
        if not secrets or not secrets[0]:
            raise RuntimeError(
                "flask-tiktok encrypts tokens with the app's SECRET_KEY: set"
                " app.config['SECRET_KEY'] (the same on every worker)."
            )
        self._keys = [_derive(s) for s in secrets if s]

    def encrypt(self, plaintext: bytes, context: str) -> str:
        """Encrypt and return URL-safe text."""
        nonce = os.urandom(12)
        sealed = self._keys[0].encrypt(nonce, plaintext, context.encode("utf-8"))
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, text: str, context: str) -> bytes | None:
        """Decrypt what :meth:`encrypt` made; ``None`` if no key opens it."""
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, TypeError):
            return None
        nonce, sealed = blob[:12], blob[12:]
        for key in self._keys:
            try:
                return key.decrypt(nonce, sealed, context.encode("utf-8"))
            except (InvalidTag, ValueError):
                continue
        return None
