"""``.. sequence-diagram::``: a sequence diagram written as lines of text,
drawn by Graphviz (``sphinx.ext.graphviz``), so the source stays readable in
the page and nothing is fetched to draw it.

The first line names the participants, left to right::

   Browser | App | TikTok
   Browser -> App: GET /tiktok/login
   App: a note beside the App's lifeline
   App --> Browser: 302 (a dashed arrow: an answer)
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.util.docutils import SphinxDirective

_MESSAGE = re.compile(
    r"^(?P<src>[^:>-]+?)\s*(?P<arrow>-->|->)\s*(?P<dst>[^:]+?):\s*(?P<text>.+)$"
)
_NOTE = re.compile(r"^(?P<who>[^:]+?):\s*(?P<text>.+)$")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(source: str) -> str:
    """The DOT of a diagram: one row per step, one column per participant."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    people = [p.strip() for p in lines[0].split("|")]
    column = {name: i for i, name in enumerate(people)}
    out = [
        "digraph sequence {",
        "  graph [rankdir=TB, splines=line, nodesep=0.4, ranksep=0.18,"
        ' fontname="sans-serif", bgcolor="white", pad=0.2];',
        '  node [shape=point, width=0.01, height=0.01, label="",'
        ' fontname="sans-serif", fontsize=11];',
        '  edge [fontname="sans-serif", fontsize=10, arrowsize=0.7];',
    ]
    heads = [
        f'h{i} [shape=box, style="rounded,filled", fillcolor="#e8eef7",'
        f" width=1.4, height=0.4, label={_quote(name)}]"
        for i, name in enumerate(people)
    ]
    out.append("  { rank=same; " + "; ".join(heads) + " }")
    previous = [f"h{i}" for i in range(len(people))]
    out.append("  " + " -> ".join(previous) + " [style=invis];")
    for row, line in enumerate(lines[1:], start=1):
        cells = [f"r{row}c{i}" for i in range(len(people))]
        extra: dict[int, str] = {}
        message = _MESSAGE.match(line)
        if message is None:
            note = _NOTE.match(line)
            if note is None or note["who"].strip() not in column:
                raise ValueError(f"not a step of a sequence diagram: {line!r}")
            extra[column[note["who"].strip()]] = (
                f'shape=note, width=0, height=0, margin="0.08,0.03",'
                f' style=filled, fillcolor="#fff8dc", label={_quote(note["text"])}'
            )
        out.append(
            "  { rank=same; "
            + "; ".join(f"{cell} [{extra.get(i, '')}]" for i, cell in enumerate(cells))
            + " }"
        )
        out.append("  " + " -> ".join(cells) + " [style=invis];")
        for i, cell in enumerate(cells):
            out.append(
                f'  {previous[i]} -> {cell} [style=dashed, color="#9aa5b1",'
                " arrowhead=none, weight=100];"
            )
        if message is not None:
            src, dst = column[message["src"].strip()], column[message["dst"].strip()]
            style = "dashed" if message["arrow"] == "-->" else "solid"
            out.append(
                f"  {cells[src]} -> {cells[dst]} [constraint=false, style={style},"
                f" label={_quote(message['text'])}];"
            )
        previous = cells
    out.append("}")
    return "\n".join(out)


class SequenceDiagram(SphinxDirective):
    """The directive: the diagram as a ``graphviz`` node, with its caption."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "caption": directives.unchanged,
        "alt": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        node = graphviz()
        node["code"] = to_dot("\n".join(self.content))
        node["options"] = {"docname": self.env.docname}
        node["alt"] = self.options.get("alt", self.options.get("caption", ""))
        node["classes"] = ["sequence-diagram"]
        if "caption" not in self.options:
            return [node]
        figure = nodes.figure("", node, classes=["sequence-diagram"])
        figure += nodes.caption(self.options["caption"], self.options["caption"])
        return [figure]


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("sequence-diagram", SequenceDiagram)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
