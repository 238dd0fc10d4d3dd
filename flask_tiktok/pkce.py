"""State and PKCE values: random secrets and TikTok's code challenge."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

__all__ = ["create_code_challenge", "generate_code_verifier", "generate_state"]

_VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"


def generate_state() -> str:
    """A new OAuth ``state``: 43 URL-safe characters (256 random bits)."""
    return secrets.token_urlsafe(32)


def generate_code_verifier(length: int = 64) -> str:
    """A new PKCE code verifier of ``length`` (43 to 128) unreserved characters."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters (RFC 7636)")
    return "".join(secrets.choice(_VERIFIER_ALPHABET) for _ in range(length))


def create_code_challenge(verifier: str, method: str = "hex") -> str:
    """The ``code_challenge`` for ``verifier``.

    ``"hex"`` is the form TikTok documents (``sha256(verifier).hexdigest()``);
    ``"S256"`` is RFC 7636's base64url form. Both are sent with
    ``code_challenge_method=S256``.
    """
    digest = hashlib.sha256(verifier.encode("ascii"))
    if method == "hex":
        return digest.hexdigest()
    if method == "S256":
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
    raise ValueError(f"unknown PKCE method {method!r}: use 'hex' or 'S256'")
