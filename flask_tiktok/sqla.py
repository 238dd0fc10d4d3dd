"""Old import path of :mod:`flask_tiktok.storage.sqla` (kept working).

Import from ``flask_tiktok.storage`` (``SQLAlchemyStorage``) or
``flask_tiktok.storage.sqla`` (the mixins, models and ``metadata``).
"""

from __future__ import annotations

from .storage.sqla import (
    SQLAlchemyStorage,
    TikTokAccount,
    TikTokAccountMixin,
    TikTokDeliveryMixin,
    TikTokWebhookDelivery,
    metadata,
)

__all__ = [
    "SQLAlchemyStorage",
    "TikTokAccount",
    "TikTokAccountMixin",
    "TikTokDeliveryMixin",
    "TikTokWebhookDelivery",
    "metadata",
]
