"""``.. tiktok-config-table::``: every ``TIKTOK_*`` key, its default and its
meaning, read from :data:`flask_tiktok.config.KEYS` when the docs are built,
so the summary cannot drift from the code."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from flask_tiktok.config import KEYS, REQUIRED


def table_source() -> str:
    """The reST of the summary table (a ``list-table``)."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 30 25 45",
        "   :class: tiktok-config-table",
        "",
        "   * - Key",
        "     - Default",
        "     - Meaning",
    ]
    for key in KEYS:
        default = "**required**" if key.default is REQUIRED else f"``{key.default!r}``"
        lines += [
            f"   * - :data:`{key.name}`",
            f"     - {default}",
            f"     - {key.meaning}",
        ]
    return "\n".join(lines)


class ConfigTable(SphinxDirective):
    """The directive: the table, parsed as if written in the page."""

    def run(self) -> list[nodes.Node]:
        return self.parse_text_to_nodes(table_source())


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("tiktok-config-table", ConfigTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
