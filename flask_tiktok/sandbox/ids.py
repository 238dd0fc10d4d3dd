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
