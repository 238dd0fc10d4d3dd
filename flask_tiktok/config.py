"""Every ``TIKTOK_*`` configuration key: its default, its check, its meaning.

:data:`KEYS` lists them side by side; :meth:`Settings.from_config` reads an
app's config through them once, in ``init_app``, and every other module reads
the resulting :class:`Settings`, never ``app.config``. A bad value fails at
start-up with an error that names its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from .pkce import PKCEMethod, pkce_method
from .posting import verified_prefixes
from .transport import DEFAULT_MAX_RESPONSE_BYTES
from .wire import (
    API_BASE_URL,
    AUTHORIZATION_URL,
    REVOKE_URL,
    TOKEN_URL,
    split_list,
)

__all__ = ["KEYS", "Key", "Settings"]

T = TypeVar("T")


def _required(key: str, value: Any) -> str:
    if not value:
        raise RuntimeError(
            f"flask-tiktok needs {key} in app.config: the client key and secret"
            " of your app on developers.tiktok.com (set them before calling"
            " TikTok(app) or init_app)."
        )
    return str(value)


def _name_list(what: str) -> Callable[[str, Any], list[str]]:
    def check(key: str, value: Any) -> list[str]:
        """A list of scope or field names (a comma-separated string is split)."""
        if isinstance(value, str):
            value = split_list(value)
        if not isinstance(value, Sequence) or not all(
            isinstance(s, str) for s in value
        ):
            raise ValueError(f"{key} is a list of {what} names, not {value!r}")
        names = [s.strip() for s in value if s.strip()]
        if not names:
            raise ValueError(f"{key} must name at least one {what}")
        if any(len(s.split()) > 1 for s in names):
            # TikTok separates names with commas; a space would fail every login.
            raise ValueError(f"{key} names are separated by commas, not spaces")
        return names

    return check


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


def _byte_count(key: str, value: Any) -> int:
    """A positive whole number of bytes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{key} is a number of bytes, not {value!r}")
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{key} is a number of bytes, not {value!r}") from None
    if count < 1:
        raise ValueError(f"{key} must be at least 1 byte, not {value!r}")
    return count


def _url_prefixes(key: str, value: Any) -> list[str]:
    """``https://`` URL prefixes (a comma-separated string is split)."""
    if isinstance(value, str):
        value = split_list(value)
    if not isinstance(value, Sequence) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{key} is a list of https:// URL prefixes, not {value!r}")
    try:
        return verified_prefixes(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _is_http_url(value: str) -> bool:
    # The scheme in any case, as RFC 3986 allows.
    return value[:8].lower().startswith(("https://", "http://"))


def _redirect_uri(key: str, value: Any) -> str | None:
    """An absolute ``http(s)`` URL, or ``None``.

    An empty value (an empty environment variable) means the default, as it
    did before the keys were checked: the callback's own URL.
    """
    if not value:
        return None
    if not isinstance(value, str) or not _is_http_url(value):
        raise ValueError(f"{key} is an absolute https:// URL, not {value!r}")
    return value


def _user_fields(key: str, value: Any) -> list[str] | None:
    return None if value is None else _name_list("field")(key, value)


def _absolute_url(key: str, value: Any) -> str:
    """An absolute URL of any scheme (a test adapter's ``mock://`` too)."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or not parts.scheme or not parts.netloc:
        raise ValueError(f"{key} is an absolute URL, not {value!r}")
    return str(value)


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


def _pkce(key: str, value: Any) -> PKCEMethod:
    return pkce_method(value, key)


def _flag(key: str, value: Any) -> bool:
    return bool(value)


def _outage(key: str, value: Any) -> str:
    if value not in ("anonymous", "error"):
        raise ValueError(f"{key} is 'anonymous' or 'error', not {value!r}")
    return str(value)


#: The default of a key that has none: the app must set it.
REQUIRED: Any = object()


@dataclass(frozen=True)
class Key(Generic[T]):
    """One ``TIKTOK_*`` key: where :class:`Settings` keeps it, and its rules."""

    #: The config key, e.g. ``TIKTOK_SCOPES``.
    name: str
    #: The :class:`Settings` attribute it becomes.
    attribute: str
    #: Set with ``app.config.setdefault`` (:data:`REQUIRED`: none).
    default: Any
    #: ``check(name, value)`` returns the checked value or raises an error
    #: naming the key.
    check: Callable[[str, Any], T]
    #: What it means, in one line.
    meaning: str


#: Every key flask-tiktok reads, in the order they are checked (the first bad
#: one is named).
KEYS: tuple[Key[Any], ...] = (
    Key(
        "TIKTOK_CLIENT_KEY",
        "client_key",
        REQUIRED,
        _required,
        "The app's client key from developers.tiktok.com.",
    ),
    Key(
        "TIKTOK_CLIENT_SECRET",
        "client_secret",
        REQUIRED,
        _required,
        "The app's client secret; also signs TikTok's webhooks.",
    ),
    Key(
        "TIKTOK_PKCE",
        "pkce",
        "hex",
        _pkce,
        "The PKCE challenge's form: 'hex' (TikTok's) or 'S256' (RFC 7636).",
    ),
    Key(
        "TIKTOK_AUTHORIZATION_URL",
        "authorization_url",
        AUTHORIZATION_URL,
        _absolute_url,
        "TikTok's consent page.",
    ),
    Key(
        "TIKTOK_TOKEN_URL",
        "token_url",
        TOKEN_URL,
        _absolute_url,
        "TikTok's token endpoint.",
    ),
    Key(
        "TIKTOK_REVOKE_URL",
        "revoke_url",
        REVOKE_URL,
        _absolute_url,
        "TikTok's revocation endpoint.",
    ),
    Key(
        "TIKTOK_API_BASE_URL",
        "api_base_url",
        API_BASE_URL,
        _absolute_url,
        "The base of TikTok's resource APIs (tiktok.api paths are relative to it).",
    ),
    Key(
        "TIKTOK_SCOPES",
        "scopes",
        ["user.info.basic"],
        _name_list("scope"),
        "The scopes every login asks for.",
    ),
    Key(
        "TIKTOK_REDIRECT_URI",
        "redirect_uri",
        None,
        _redirect_uri,
        "The registered redirect URI (None: the external URL of tiktok.callback).",
    ),
    Key(
        "TIKTOK_URL_PREFIX",
        "url_prefix",
        "/tiktok",
        _url_prefix,
        "Where the blueprint's routes are mounted.",
    ),
    Key(
        "TIKTOK_LOGIN_REDIRECT",
        "login_redirect",
        "/",
        _local_target,
        "Where to go after login or logout without a safe next.",
    ),
    Key(
        "TIKTOK_USER_FIELDS",
        "user_fields",
        None,
        _user_fields,
        "The user/info/ fields fetched at login (None: all the scopes allow).",
    ),
    Key(
        "TIKTOK_HTTP_TIMEOUT",
        "timeout",
        10,
        _seconds,
        "Seconds each call to TikTok may take, all of it (an overall deadline).",
    ),
    Key(
        "TIKTOK_MAX_RESPONSE_BYTES",
        "max_response_bytes",
        DEFAULT_MAX_RESPONSE_BYTES,
        _byte_count,
        "The largest answer read from TikTok (bytes, once decompressed).",
    ),
    Key(
        "TIKTOK_VERIFIED_URL_PREFIXES",
        "verified_url_prefixes",
        [],
        _url_prefixes,
        "URL prefixes verified on TikTok for PULL_FROM_URL posts ([]: unchecked).",
    ),
    Key(
        "TIKTOK_CLIENT_SECRET_FALLBACKS",
        "secret_fallbacks",
        [],
        _secret_list,
        "Older client secrets still accepted for webhook signatures.",
    ),
    Key(
        "TIKTOK_WEBHOOK_TOLERANCE",
        "webhook_tolerance",
        300,
        _seconds,
        "How old (seconds) a webhook delivery may be.",
    ),
    Key(
        "TIKTOK_REMEMBER_REMOVED",
        "remember_removed",
        False,
        _flag,
        "With the cookie session: log out users whose authorization TikTok removed.",
    ),
    Key(
        "TIKTOK_STORAGE_OUTAGE",
        "storage_outage",
        "anonymous",
        _outage,
        "Storage down: pages showing current_tiktok_user render it anonymous"
        " ('anonymous') or answer 503 ('error').",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The ``TIKTOK_*`` configuration of one app, checked once (see ``KEYS``)."""

    client_key: str
    client_secret: str
    scopes: list[str]
    redirect_uri: str | None
    url_prefix: str
    login_redirect: str
    user_fields: list[str] | None
    pkce: PKCEMethod
    authorization_url: str
    token_url: str
    revoke_url: str
    api_base_url: str
    timeout: float
    max_response_bytes: int
    verified_url_prefixes: list[str]
    secret_fallbacks: list[str]
    webhook_tolerance: float
    remember_removed: bool
    storage_outage: str

    @staticmethod
    def set_defaults(config: MutableMapping[str, Any]) -> None:
        """Give every key that has a default its default, where it is unset."""
        for key in KEYS:
            if key.default is not REQUIRED:
                # A fresh copy: apps must not share (or mutate) one list.
                default = key.default
                config.setdefault(
                    key.name, list(default) if isinstance(default, list) else default
                )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and check the app's config; the error names the first bad key.

        Missing required keys are named together.
        """
        missing = [
            key.name
            for key in KEYS
            if key.default is REQUIRED and not config.get(key.name)
        ]
        if missing:
            _required(" and ".join(missing), None)
        values = {
            key.attribute: key.check(key.name, config.get(key.name, key.default))
            for key in KEYS
        }
        return cls(**values)
