"""Per-app state: settings read from config, the client, storage, refresher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, g

from .client import TikTokClient
from .errors import TikTokLoginRequired
from .expiring import ExpiringRecord
from .refresh import TokenRefresher
from .signals import tiktok_logged_out
from .storage import BaseStorage, StoredUser
from .tokens import OAuth2Tokens

if TYPE_CHECKING:
    from .extension import TikTok

__all__ = ["Settings", "TikTokState", "get_state"]

EXTENSION_KEY = "tiktok"


def _name_list(key: str, value: Any, what: str) -> list[str]:
    """A list of scope or field names (a comma-separated string is split)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{key} is a list of {what} names, not {value!r}")
    names = [s.strip() for s in value if s.strip()]
    if not names:
        raise ValueError(f"{key} must name at least one {what}")
    if any(len(s.split()) > 1 for s in names):
        # TikTok separates names with commas; a space would fail every login.
        raise ValueError(f"{key} names are separated by commas, not spaces")
    return names


def _secret_list(key: str, value: Any) -> list[str]:
    # A string here would otherwise become a list of one-character secrets.
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(
        isinstance(s, str) and s for s in value
    ):
        raise ValueError(f"{key} is a list of non-empty secrets")
    return list(value)


def _seconds(key: str, value: Any) -> float:
    """A positive number of seconds (an int, a float or a numeric string)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} is a number of seconds, not {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{key} must be more than 0 seconds, not {value!r}")
    return seconds


def _http_url(key: str, value: Any) -> str:
    """An absolute ``http(s)`` URL (the scheme in any case, as RFC 3986 allows)."""
    if not isinstance(value, str) or not _is_http_url(value):
        raise ValueError(f"{key} is an absolute https:// URL, not {value!r}")
    return value


def _absolute_url(key: str, value: Any) -> str:
    """An absolute URL of any scheme (a test adapter's ``mock://`` too)."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or not parts.scheme or not parts.netloc:
        raise ValueError(f"{key} is an absolute URL, not {value!r}")
    return str(value)


def _is_http_url(value: str) -> bool:
    return value[:8].lower().startswith(("https://", "http://"))


def _url_prefix(key: str, value: Any) -> str:
    """A URL path starting with ``/``, or empty (``None`` too: no prefix)."""
    if value is None:
        return ""
    if isinstance(value, str) and (not value or value.startswith("/")):
        return value
    raise ValueError(f"{key} is a path starting with '/', not {value!r}")


def _local_target(key: str, value: Any) -> str:
    """Where to send the browser: a path or an absolute URL."""
    if isinstance(value, str) and (value.startswith("/") or _is_http_url(value)):
        return value
    raise ValueError(f"{key} is a path ('/') or an absolute URL, not {value!r}")


@dataclass(frozen=True)
class Settings:
    """The ``TIKTOK_*`` configuration of one app, checked once."""

    client_key: str
    client_secret: str
    scopes: list[str]
    redirect_uri: str | None
    url_prefix: str
    login_redirect: str
    user_fields: list[str] | None
    pkce: str
    timeout: float
    secret_fallbacks: list[str]
    webhook_tolerance: float
    remember_removed: bool = False

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        """Read and check the app's config (defaults already set)."""
        missing = [
            key
            for key in ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET")
            if not config.get(key)
        ]
        if missing:
            raise RuntimeError(
                f"flask-tiktok needs {' and '.join(missing)} in app.config: the"
                " client key and secret of your app on developers.tiktok.com"
                " (set them before calling TikTok(app) or init_app)."
            )
        pkce = config["TIKTOK_PKCE"]
        if pkce not in ("hex", "S256"):
            raise ValueError(f"TIKTOK_PKCE must be 'hex' or 'S256', not {pkce!r}")
        for key in (
            "TIKTOK_AUTHORIZATION_URL",
            "TIKTOK_TOKEN_URL",
            "TIKTOK_REVOKE_URL",
            "TIKTOK_API_BASE_URL",
        ):
            _absolute_url(key, config[key])
        fields = config["TIKTOK_USER_FIELDS"]
        # An empty value (an empty environment variable) means the default, as
        # it did before the keys were checked: the callback's own URL.
        redirect_uri = config["TIKTOK_REDIRECT_URI"] or None
        return cls(
            client_key=str(config["TIKTOK_CLIENT_KEY"]),
            client_secret=str(config["TIKTOK_CLIENT_SECRET"]),
            scopes=_name_list("TIKTOK_SCOPES", config["TIKTOK_SCOPES"], "scope"),
            redirect_uri=None
            if redirect_uri is None
            else _http_url("TIKTOK_REDIRECT_URI", redirect_uri),
            url_prefix=_url_prefix("TIKTOK_URL_PREFIX", config["TIKTOK_URL_PREFIX"]),
            login_redirect=_local_target(
                "TIKTOK_LOGIN_REDIRECT", config["TIKTOK_LOGIN_REDIRECT"]
            ),
            user_fields=None
            if fields is None
            else _name_list("TIKTOK_USER_FIELDS", fields, "field"),
            pkce=pkce,
            timeout=_seconds("TIKTOK_HTTP_TIMEOUT", config["TIKTOK_HTTP_TIMEOUT"]),
            secret_fallbacks=_secret_list(
                "TIKTOK_CLIENT_SECRET_FALLBACKS",
                config["TIKTOK_CLIENT_SECRET_FALLBACKS"],
            ),
            webhook_tolerance=_seconds(
                "TIKTOK_WEBHOOK_TOLERANCE", config["TIKTOK_WEBHOOK_TOLERANCE"]
            ),
            remember_removed=bool(config.get("TIKTOK_REMEMBER_REMOVED", False)),
        )


class TikTokState:
    """What :meth:`TikTok.init_app` keeps in ``app.extensions["tiktok"]``."""

    def __init__(
        self,
        extension: TikTok,
        settings: Settings,
        client: TikTokClient,
        storage: BaseStorage,
        refresher: TokenRefresher,
    ) -> None:
        #: The :class:`~flask_tiktok.TikTok` instance registered on the app.
        self.extension = extension
        #: The app's checked ``TIKTOK_*`` settings.
        self.settings = settings
        #: The app's :class:`~flask_tiktok.TikTokClient`.
        self.client = client
        #: Where logins are kept.
        self.storage = storage
        #: Refreshes tokens once per expiry.
        self.refresher = refresher
        #: ``open_id -> create_time`` of the ``authorization.removed`` events
        #: this process received (only with ``TIKTOK_REMEMBER_REMOVED``).
        self.removed_users = ExpiringRecord(100_000)

    def current_user(self) -> StoredUser | None:
        """The request's stored user (cached on ``g``)."""
        namespace = cast(Any, g)._get_current_object().__dict__
        if "_tiktok_stored_user" not in namespace:
            user = self.storage.get_user()
            if user is not None and self._authorization_removed(user):
                self.storage.delete()
                tiktok_logged_out.send(
                    current_app._get_current_object(),  # type: ignore[attr-defined]
                    open_id=user.open_id,
                    reason="authorization_removed",
                )
                user = None
            namespace["_tiktok_stored_user"] = user
        stored: StoredUser | None = namespace["_tiktok_stored_user"]
        return stored

    def _authorization_removed(self, user: StoredUser) -> bool:
        """Whether TikTok removed the authorization after this login."""
        if not self.removed_users:
            return False
        removed_at = self.removed_users.get(user.open_id)
        if removed_at is None:
            return False
        # A login TikTok removed; one made after the removal stands. A login of
        # unknown age is taken as older.
        return user.logged_in_at is None or user.logged_in_at < removed_at + 1

    def current_tokens(self) -> OAuth2Tokens | None:
        """The request user's valid tokens, refreshed if needed (once a request)."""
        tokens: OAuth2Tokens | None = g.get("_tiktok_tokens")
        if tokens is not None and not tokens.access_token_expired(
            self.refresher.leeway
        ):
            return tokens
        user = self.current_user()
        if user is None:
            return None
        tokens = self.storage.get_tokens(user.open_id)
        if tokens is None:
            return None
        tokens = self.refresher.ensure_fresh(user.open_id, tokens)
        g._tiktok_tokens = tokens
        return tokens

    def renew_current(self, rejected: OAuth2Tokens) -> OAuth2Tokens:
        """New tokens for the request's user after TikTok ``rejected`` theirs."""
        user = self.current_user()
        if user is None:
            raise TikTokLoginRequired("no TikTok user is logged in")
        tokens = self.refresher.ensure_fresh(user.open_id, rejected, force=True)
        g._tiktok_tokens = tokens
        return tokens

    def forget_current(self) -> None:
        """Drop what this request cached about its user."""
        for name in ("_tiktok_stored_user", "_tiktok_tokens", "_tiktok_user"):
            g.pop(name, None)


def get_state(app: Flask | None = None) -> TikTokState:
    """The state of ``app`` (default: the current app), with a helpful error."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        state: TikTokState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "flask-tiktok is not registered on this app: call TikTok(app) or"
            " tiktok.init_app(app) first."
        ) from None
    return state
