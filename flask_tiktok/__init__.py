"""flask-tiktok: Log in with TikTok for Flask, on TikTok's v2 API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .accounts import TikTokAccount
from .api import TikTokAPISession
from .client import TikTokClient, VideoPage, parse_api_response
from .errors import (
    OAuth2RequestError,
    TikTokAPIError,
    TikTokError,
    TikTokFetchError,
    TikTokLoginRequired,
    TikTokReconnectRequired,
    TikTokUploadError,
    UnexpectedResponseError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from .extension import TikTok
from .fields import FIELDS_BY_SCOPE, fields_for_scopes
from .pkce import create_code_challenge, generate_code_verifier, generate_state
from .posting import CreatorInfo, PostStatus
from .redirects import is_safe_next
from .storage.base import BaseStorage, StoredAccount, StoredUser
from .storage.session import SessionStorage
from .tokens import OAuth2Tokens
from .user import (
    AnonymousTikTokUser,
    TikTokUser,
    current_tiktok_user,
    tiktok_login_required,
)
from .webhooks import WebhookEvent, parse_webhook_event, verify_webhook_signature

if TYPE_CHECKING:
    from .storage.sqla import SQLAlchemyStorage as SQLAlchemyStorage

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Kept out of __all__ and imported on first use: SQLAlchemy is optional.
    if name == "SQLAlchemyStorage":
        from . import storage

        return storage.SQLAlchemyStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FIELDS_BY_SCOPE",
    "AnonymousTikTokUser",
    "BaseStorage",
    "CreatorInfo",
    "OAuth2RequestError",
    "OAuth2Tokens",
    "PostStatus",
    "SessionStorage",
    "StoredAccount",
    "StoredUser",
    "TikTok",
    "TikTokAPIError",
    "TikTokAPISession",
    "TikTokAccount",
    "TikTokClient",
    "TikTokError",
    "TikTokFetchError",
    "TikTokLoginRequired",
    "TikTokReconnectRequired",
    "TikTokUploadError",
    "TikTokUser",
    "UnexpectedResponseError",
    "VideoPage",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "create_code_challenge",
    "current_tiktok_user",
    "fields_for_scopes",
    "generate_code_verifier",
    "generate_state",
    "is_safe_next",
    "parse_api_response",
    "parse_webhook_event",
    "tiktok_login_required",
    "verify_webhook_signature",
]
