"""Small generated SVG avatars and covers, so sandbox pages work offline."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

_PALETTE = ("#fe2c55", "#25f4ee", "#161823", "#7b61ff", "#ff9f1c", "#2ec4b6")


def _colors(seed: str) -> tuple[str, str]:
    digest = hashlib.sha256(seed.encode()).digest()
    first = _PALETTE[digest[0] % len(_PALETTE)]
    second = _PALETTE[(digest[0] + 1 + digest[1] % (len(_PALETTE) - 1)) % len(_PALETTE)]
    return first, second


def avatar_svg(seed: str, label: str, size: int = 168) -> str:
    """A round avatar showing the first letter of ``label``."""
    first, second = _colors(seed)
    letter = escape((label.strip()[:1] or "?").upper())
    half = size / 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{first}"/><stop offset="1" '
        f'stop-color="{second}"/></linearGradient></defs>'
        f'<circle cx="{half}" cy="{half}" r="{half}" fill="url(#g)"/>'
        f'<text x="50%" y="50%" dy=".35em" text-anchor="middle" '
        f'font-family="Helvetica,Arial,sans-serif" font-size="{size * 0.45:.0f}" '
        f'fill="#fff">{letter}</text></svg>'
    )


def cover_svg(seed: str, title: str) -> str:
    """A 9:16 video cover with ``title`` written on it."""
    first, second = _colors(seed)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="270" height="480" '
        'viewBox="0 0 270 480">'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{first}"/><stop offset="1" '
        f'stop-color="{second}"/></linearGradient></defs>'
        '<rect width="270" height="480" fill="url(#g)"/>'
        '<polygon points="115,205 115,275 170,240" fill="#fff" opacity=".85"/>'
        '<text x="16" y="450" font-family="Helvetica,Arial,sans-serif" '
        f'font-size="18" fill="#fff">{escape(title[:28])}</text></svg>'
    )
