"""Which ``next`` targets are safe to redirect to after login or logout."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

__all__ = ["is_safe_next", "safe_next"]

# A path on this site: "/" then printable ASCII, with no second "/" or "\"
# right after the first (which browsers read as a host).
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")
# Once percent-decoded, a space is an ordinary character of a path or query.
_DECODED_PATH = re.compile(r"/(?![/\\])[\x20-\x7e]*")
_MAX_LENGTH = 2048


def _is_local_path(value: str, pattern: re.Pattern[str]) -> bool:
    if not pattern.fullmatch(value) or "\\" in value:
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def is_safe_next(target: str | None) -> bool:
    """Whether ``target`` is a path on this site and nothing else.

    Refuses schemes, hosts, ``//`` and ``/\\`` prefixes, backslashes, spaces,
    control and non-ASCII characters, and the same tricks hidden behind
    percent-encoding (decoded up to three times) or Unicode compatibility
    forms such as a full-width solidus.
    """
    if not target or len(target) > _MAX_LENGTH:
        return False
    value, pattern = target, _LOCAL_PATH
    for _ in range(4):
        if not _is_local_path(value, pattern):
            return False
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            return False
        folded = unicodedata.normalize("NFKC", decoded)
        if folded == value:
            return True
        if not folded.isascii():
            return False
        value, pattern = folded, _DECODED_PATH
    return False


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` when :func:`is_safe_next` accepts it, else ``fallback``."""
    return target if target is not None and is_safe_next(target) else fallback
