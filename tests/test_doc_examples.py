"""Every code block of README.md and docs/ that is a complete program runs.

The blocks are read from the files themselves. A block is complete when it
parses, defines every name it uses and imports only what is installed; the
rest are fragments of a larger program (``client``, ``app`` or ``db`` from the
text around them) and are only parsed. A complete block runs in a namespace of
its own, with TikTok replaced by requests-mock (an unexpected call fails it);
each Flask app it makes with flask-tiktok then answers every GET route that
takes no argument without a server error.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests_mock
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]

_FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: python\n((?:\1 +:.*\n)*)\n", re.M)


@dataclass(frozen=True)
class Block:
    """One Python code block: where it is and its text."""

    source: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}"


def _rst_blocks(text: str) -> list[tuple[int, str]]:
    found = []
    for match in _DIRECTIVE.finditer(text):
        indent = len(match[1])
        body = []
        for line in text[match.end() :].splitlines():
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
        found.append((text.count("\n", 0, match.start()) + 1, "\n".join(body)))
    return found


def code_blocks() -> list[Block]:
    """Every ``python`` block of README.md (fenced) and docs/*.rst."""
    blocks = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            found = [
                (text.count("\n", 0, m.start()) + 1, m[1])
                for m in _FENCE.finditer(text)
            ]
        else:
            found = _rst_blocks(text)
        name = path.relative_to(ROOT).as_posix()
        blocks += [Block(name, line, textwrap.dedent(c).strip()) for line, c in found]
    return blocks


def _bound(tree: ast.AST) -> set[str]:
    """Every name the code binds anywhere (imports, assignments, defs, args)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
    return names


def _imported_modules(tree: ast.AST) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package that is not there
        return False


def missing(block: Block) -> list[str]:
    """What the block needs from outside itself ([]: a complete program)."""
    try:
        tree = ast.parse(block.code)
    except SyntaxError as exc:
        return [f"syntax: {exc}"]
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    free = used - _bound(tree) - set(dir(builtins))
    absent = {m for m in _imported_modules(tree) if not _installed(m)}
    return sorted(free) + sorted(f"module {m}" for m in absent)


BLOCKS = code_blocks()
COMPLETE = [b for b in BLOCKS if not missing(b)]


def test_the_collector_finds_blocks_of_both_kinds() -> None:
    """Guards the collector: README's quickstart is complete, the storage
    snippet (``app``, ``db``, ``open_id`` from its text) is a fragment."""
    readme = [b for b in BLOCKS if b.source == "README.md"]
    assert "tiktok = TikTok(app)" in readme[0].code
    assert readme[0] in COMPLETE
    storage = next(b for b in readme if "SQLAlchemyStorage(db)" in b.code)
    assert "db" in missing(storage)
    assert missing(Block("x", 1, "import not_a_module_anywhere")) == [
        "module not_a_module_anywhere"
    ]
    assert missing(Block("x", 1, "def f(:")) != []


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_every_python_block_parses(block: Block) -> None:
    compile(block.code, str(block), "exec")


@pytest.mark.parametrize("block", COMPLETE, ids=str)
def test_every_complete_block_runs(block: Block) -> None:
    namespace: dict[str, object] = {"__name__": f"doc_example_{block.line}"}
    with requests_mock.Mocker():  # no TikTok: an unexpected call fails the block
        exec(compile(block.code, str(block), "exec"), namespace)  # noqa: S102
        apps = [v for v in namespace.values() if isinstance(v, Flask)]
        for app in [a for a in apps if "tiktok" in a.extensions]:
            client = app.test_client()
            for rule in app.url_map.iter_rules():
                if "GET" in (rule.methods or ()) and not rule.arguments:
                    answer = client.get(rule.rule)
                    assert answer.status_code < 500, f"{block}: GET {rule.rule}"


def _quickstart(text: str, heading: str) -> str:
    section = text.split(heading, 1)[1]
    if "```python\n" in section:
        return section.split("```python\n", 1)[1].split("```", 1)[0].strip()
    return textwrap.dedent(next(code for _, code in _rst_blocks(section))).strip()


def test_the_readme_and_the_docs_have_one_quickstart() -> None:
    readme = _quickstart(
        (ROOT / "README.md").read_text(encoding="utf-8"), "## Quickstart\n"
    )
    docs = _quickstart(
        (ROOT / "docs" / "index.rst").read_text(encoding="utf-8"),
        "Quickstart\n----------\n",
    )
    assert docs == readme
