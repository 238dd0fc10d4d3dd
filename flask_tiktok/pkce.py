"""State and PKCE values: random secrets and TikTok's code challenge."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, Literal, cast

__all__ = [
    "PKCEMethod",
    "create_code_challenge",
    "generate_code_verifier",
    "generate_state",
    "pkce_method",
]

#: How the ``code_challenge`` is written: ``"hex"`` (TikTok's documented
#: form) or ``"S256"`` (RFC 7636's base64url).
PKCEMethod = Literal["hex", "S256"]


def generate_state() -> str:
    """A new OAuth ``state``: 43 URL-safe characters (256 random bits)."""
    return secrets.token_urlsafe(32)


def generate_code_verifier(length: int = 64) -> str:
    """A new PKCE code verifier of ``length`` (43 to 128) unreserved characters."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters (RFC 7636)")
    # base64url's alphabet is unreserved (RFC 7636 §4.1): 6 random bits a character.
    return secrets.token_urlsafe(length)[:length]


def pkce_method(value: Any, name: str = "the PKCE method") -> PKCEMethod:
    """``value`` as a :data:`PKCEMethod`; anything else raises ``ValueError``
    naming ``name`` (a config key, an argument)."""
    if value not in ("hex", "S256"):
        raise ValueError(f"{name} must be 'hex' or 'S256', not {value!r}")
    return cast(PKCEMethod, value)


def create_code_challenge(verifier: str, method: PKCEMethod = "hex") -> str:
    """The ``code_challenge`` for ``verifier``.

    ``"hex"`` is the form TikTok documents (``sha256(verifier).hexdigest()``);
    ``"S256"`` is RFC 7636's base64url form. Both are sent with
    ``code_challenge_method=S256``.
    """
    digest = hashlib.sha256(verifier.encode("ascii"))
    if pkce_method(method) == "hex":
        return digest.hexdigest()
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
