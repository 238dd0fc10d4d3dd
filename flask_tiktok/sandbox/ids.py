"""Identifiers shaped like TikTok's: codes, tokens and ``log_id`` values."""

from __future__ import annotations

import secrets
import time


def _suffix() -> str:
    # Real TikTok codes and tokens end in "!<4 digits>.va" or "*<digits>!..."; the
    # punctuation catches clients that forget to URL-decode the callback once.
    return f"!{secrets.randbelow(10_000):04d}.va"


def new_code() -> str:
    """An authorization code: URL-unsafe characters included, like TikTok's."""
    return f"{secrets.token_urlsafe(48)}*3{_suffix()}"


def new_access_token() -> str:
    """An access token, ``act.`` prefixed."""
    return f"act.{secrets.token_urlsafe(40)}{_suffix()}"


def new_refresh_token() -> str:
    """A refresh token, ``rft.`` prefixed."""
    return f"rft.{secrets.token_urlsafe(40)}{_suffix()}"


def new_client_token() -> str:
    """A client-credentials access token, ``clt.`` prefixed."""
    return f"clt.{secrets.token_urlsafe(40)}{_suffix()}"


def new_log_id() -> str:
    """A ``log_id``: a UTC timestamp then random hex, as TikTok sends them."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}{secrets.token_hex(10).upper()}"


def new_publish_id(kind: str) -> str:
    """A ``publish_id`` like ``v_pub_file~v2.7462...``; ``kind`` is its first part."""
    return f"{kind}~v2.{secrets.randbelow(10**19):019d}"


def new_upload_id() -> str:
    """The id in a chunk upload's URL path: unique per upload."""
    return secrets.token_hex(12)


def new_upload_token() -> str:
    """The secret in a chunk upload's query string."""
    return secrets.token_urlsafe(24)


def new_post_id() -> int:
    """A TikTok post id: a large int64, as ``publicaly_available_post_id`` has."""
    return 7_000_000_000_000_000_000 + secrets.randbelow(10**18)
