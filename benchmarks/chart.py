"""The results as an SVG bar chart, written by hand (no plotting library)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

#: Each row's title, its ratio target (flask-tiktok's, None: none) and whether
#: a higher ratio is better.
ROWS: dict[str, tuple[str, float | None, bool]] = {
    "protected_cookie": ("Protected request, cookie (\u00d7 floor)", 1.05, False),
    "protected_sqlite": ("Protected request, SQLite (\u00d7 floor)", 1.5, False),
    "protected_postgresql": (
        "Protected request, PostgreSQL (\u00d7 floor)",
        2.0,
        False,
    ),
    "webhooks_postgresql": ("Webhooks/s, PostgreSQL (\u00d7 hand-written)", 1.0, True),
    "jobs_postgresql": (
        "Job per account, PostgreSQL (\u00d7 hand-written)",
        1.1,
        False,
    ),
    "login_postgresql": ("Login, PostgreSQL (\u00d7 hand-written Authlib)", 1.2, False),
}
#: flask-tiktok blue, the peers orange, the floor and hand-written code grey.
COLOURS = {"flask-tiktok": "#1f6feb", "flask-tiktok, 1 s user cache": "#7aa7f0"}
PEER, REFERENCE = "#d97706", "#6b7280"
BAR, GAP, LEFT, WIDTH, SCALE = 16, 30, 300, 860, 4.5


def write_chart(report: dict[str, Any], path: Path) -> None:
    parts: list[str] = []
    y = 40
    for key, (title, target, _higher) in ROWS.items():
        row = report["rows"].get(key)
        if row is None:
            continue
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{escape(title)}</text>')
        y += 8
        top = y
        for name, figures in row["variants"].items():
            colour = COLOURS.get(name, REFERENCE if name == row["reference"] else PEER)
            ratio = figures["ratio"]
            width = ratio * (WIDTH - LEFT - 60) / SCALE
            parts.append(
                f'<text x="{LEFT - 8}" y="{y + BAR - 4}" text-anchor="end">'
                f"{escape(name)}</text>"
                f'<rect x="{LEFT}" y="{y}" width="{width:.1f}" height="{BAR}"'
                f' fill="{colour}"/>'
                f'<text x="{LEFT + width + 6:.1f}" y="{y + BAR - 4}">'
                f"{ratio:.2f}\u00d7</text>"
            )
            y += BAR + 4
        if target is not None:
            x = LEFT + target * (WIDTH - LEFT - 60) / SCALE
            parts.append(
                f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{y}"'
                ' stroke="#dc2626" stroke-dasharray="4 3"/>'
            )
        y += GAP
    burst = report["rows"].get("refresh_burst")
    if burst is not None:
        parts.append(
            f'<text x="10" y="{y}" font-weight="bold">{burst["workers"]} gunicorn'
            " processes, one expired token, TikTok answering the refresh in"
            f" {burst['tiktok_delay']:g} s:</text>"
            f'<text x="10" y="{y + 18}">waiters\' p50 over a no-refresh burst plus'
            f" the delay {burst['overhead']:+.3f} s (target at most +0.15 s);"
            f" refresh calls per burst {burst['refresh_calls_per_burst']}</text>"
        )
        y += GAP + 18
    cookie = report["rows"].get("cookie")
    if cookie is not None:
        sizes = ", ".join(f"{k} {v['median']} B" for k, v in cookie["variants"].items())
        parts.append(
            f'<text x="10" y="{y}" font-weight="bold">Session cookie after a'
            f" full-field login: {escape(sizes)}</text>"
        )
        y += GAP
    parts.append(
        f'<text x="10" y="{y}" fill="#6b7280">{escape(report["when"])}, Python'
        f" {escape(report['python'])}; red dashes: the targets; lower is better"
        " except webhooks/s</text>"
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + 20}"'
        ' font-family="sans-serif" font-size="13">'
        f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>\n'
    )
    path.write_text(svg, encoding="utf-8")
