"""Check the built HTML docs hold what the sources promise: every sequence
diagram drawn (an SVG beside the page, no network needed to view it) and the
configuration summary with a row per ``TIKTOK_*`` key of the code.

Usage: python .ci/check_docs.py HTML_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from flask_tiktok.config import KEYS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(html_dir: str) -> int:
    built = Path(html_dir)
    problems = []
    for source in sorted(DOCS.glob("*.rst")):
        wanted = source.read_text(encoding="utf-8").count(".. sequence-diagram::")
        if not wanted:
            continue
        page = (built / source.with_suffix(".html").name).read_text(encoding="utf-8")
        images = re.findall(r'<object data="(_images/graphviz-[0-9a-f]+\.svg)"', page)
        drawn = [i for i in images if "<svg" in (built / i).read_text(encoding="utf-8")]
        if len(drawn) != wanted:
            problems.append(f"{source.name}: {wanted} diagrams, {len(drawn)} drawn")
        problems.extend(
            f"{source.name}: fetches {url}"
            for url in re.findall(r'(?:src|data)="(https?://[^"]+)"', page)
        )
    configuration = (built / "configuration.html").read_text(encoding="utf-8")
    table = configuration.split("tiktok-config-table", 1)[-1].split("</table>")[0]
    problems.extend(
        f"configuration.html: no summary row for {key.name}"
        for key in KEYS
        if f'<span class="pre">{key.name}</span>' not in table
    )
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
