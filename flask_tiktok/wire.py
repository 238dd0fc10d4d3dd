"""TikTok's wire rules, one function each: every other module calls these.

TikTok's v2 API differs from textbook OAuth in small ways that are easy to get
wrong in one place out of seven: names (scopes, fields) travel as one
comma-separated string, lifetimes are numbers of seconds that a hostile answer
could make anything, resource APIs wrap every answer in an envelope whose
``error.code`` is ``"ok"`` on success, and OAuth errors come with HTTP 200 as
well as 4xx, sometimes in that envelope. Framework-free: no Flask here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from .errors import OAuth2RequestError, TikTokAPIError

__all__ = [
    "API_BASE_URL",
    "AUTHORIZATION_URL",
    "REVOKE_URL",
    "TOKEN_URL",
    "api_error",
    "fields_param",
    "join_list",
    "json_object",
    "oauth_error",
    "parse_lifetime",
    "retry_after",
    "scope_param",
    "split_list",
]

# Trailing slashes matter to TikTok.
AUTHORIZATION_URL = "https://www.tiktok.com/v2/auth/authorize/"
TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"  # noqa: S105 (a URL)
REVOKE_URL = "https://open.tiktokapis.com/v2/oauth/revoke/"
API_BASE_URL = "https://open.tiktokapis.com/v2/"


# -- comma-separated names (scopes, fields) ------------------------------------


def split_list(text: str | None) -> list[str]:
    """TikTok's comma-separated names as a list (spaces trimmed, empties dropped)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def join_list(names: Iterable[str]) -> str:
    """Names as TikTok sends and takes them: one comma-separated string."""
    return ",".join(names)


def scope_param(scopes: Iterable[str]) -> str:
    """The ``scope`` parameter of an authorization request, checked.

    Duplicates are dropped; a string, an empty list, or a name that is empty
    or holds a comma or a space is refused.
    """
    if isinstance(scopes, str):
        raise TypeError("scopes is a list of scope names, not a string")
    given = list(scopes)
    cleaned = [s.strip() for s in given]
    if not cleaned or any(not s or "," in s or " " in s for s in cleaned):
        raise ValueError(f"invalid scopes {given!r}")
    return join_list(dict.fromkeys(cleaned))


def fields_param(fields: Iterable[str]) -> str:
    """The ``fields`` parameter of a user-info or video call, checked."""
    if isinstance(fields, str):
        raise TypeError("fields is a list of field names, not a string")
    names = list(dict.fromkeys(f.strip() for f in fields))
    if not names or any(not f or "," in f for f in names):
        raise ValueError(f"invalid fields {names!r}")
    return join_list(names)


# -- lifetimes -----------------------------------------------------------------


def parse_lifetime(value: Any) -> float | None:
    """A lifetime (``expires_in``, ``refresh_expires_in``) in seconds, or None.

    Never the raw value, which in a hostile answer could be anything: a
    100 kB string, an int of 400 digits, ``NaN``. Numeric strings are read.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        lifetime = float(value)
    except (ValueError, OverflowError):  # "soon", or an int of 400 digits
        return None
    return lifetime if math.isfinite(lifetime) else None


# -- answers -------------------------------------------------------------------


def json_object(resp: requests.Response) -> dict[str, Any] | None:
    """The answer's body when it is a JSON object, else None."""
    try:
        body = json.loads(resp.content)
    except (ValueError, RecursionError):  # RecursionError: nested 100,000 deep
        return None
    return body if isinstance(body, dict) else None


def retry_after(resp: requests.Response) -> float | None:
    """The seconds of a ``Retry-After`` header given in seconds, else None."""
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def oauth_error(body: Mapping[str, Any]) -> OAuth2RequestError | None:
    """The OAuth error an answer's body carries, whatever its HTTP status.

    The OAuth form is ``{"error": "invalid_grant", "error_description": ...}``;
    some TikTok endpoints use the API envelope's ``{"error": {"code": ...}}``.
    """
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        if code and code != "ok":
            return OAuth2RequestError.from_body(
                code, error.get("message"), error.get("log_id")
            )
        return None
    if error:
        return OAuth2RequestError.from_body(
            error, body.get("error_description"), body.get("log_id")
        )
    return None


def api_error(
    body: Mapping[str, Any], resp: requests.Response
) -> TikTokAPIError | None:
    """The error of a resource API's envelope (``error.code`` not ``"ok"``).

    ``body`` is the answer's JSON object (:func:`json_object`); ``None`` for a
    success envelope and for a body without ``error``.
    """
    error = body.get("error")
    if error is None:
        return None
    if isinstance(error, dict) and error.get("code") == "ok":
        return None
    return TikTokAPIError.from_envelope(error, resp.status_code, retry_after(resp))
