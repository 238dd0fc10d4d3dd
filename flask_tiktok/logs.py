"""The extension's logger, and what may be written to it."""

from __future__ import annotations

import logging
import re

__all__ = ["loggable", "logger"]

#: Every warning flask-tiktok writes goes to this logger.
logger = logging.getLogger("flask_tiktok")

# Line breaks, other C0/C1 controls (ANSI escapes) and Unicode line separators.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_LENGTH = 500


def loggable(value: object) -> str:
    """``value`` as one log line: controls escaped, at most 500 characters.

    Callback parameters and TikTok's error texts reach log messages; escaping
    them keeps anyone from forging log lines (CWE-117), and the cap keeps a
    5 MB query string out of the log.
    """
    text = _UNPRINTABLE.sub(
        lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value)
    )
    if len(text) > _MAX_LENGTH:
        text = text[:_MAX_LENGTH] + f"...({len(text) - _MAX_LENGTH} more)"
    return text
