"""The extension's logger, and what may be written to it."""

from __future__ import annotations

import logging
import re

__all__ = ["loggable", "logger"]

#: Every warning flask-tiktok writes goes to this logger.
logger = logging.getLogger("flask_tiktok")

# Line breaks, other C0/C1 controls (ANSI escapes), Unicode line separators,
# and the invisible format characters that reorder or hide text (bidi
# overrides such as U+202E, zero-width spaces, the BOM).
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
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
