"""The rules of the house, checked on the package's import statements.

Every ``import`` counts: at module level, inside functions, and under
``if TYPE_CHECKING:``. Each rule is also run on a small made-up package that
breaks it, so a rule that could never fail would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flask_tiktok"

#: The framework-free client layer: usable without Flask.
CLIENT_LAYER = frozenset(
    {
        "flask_tiktok.client",
        "flask_tiktok.errors",
        "flask_tiktok.pkce",
        "flask_tiktok.posting",
        "flask_tiktok.tokens",
        "flask_tiktok.transport",
        "flask_tiktok.upload",
        "flask_tiktok.webhooks",
        "flask_tiktok.wire",
    }
)
#: Third-party packages of the web layer, which the client layer never imports.
WEB_PACKAGES = ("flask", "werkzeug", "blinker", "itsdangerous", "click", "jinja2")


def module_files(root: Path) -> dict[str, Path]:
    """``dotted name -> file`` of every module of the package at ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: Iterable[str] = ()) -> set[str]:
    """What ``name`` imports (absolute dotted names), anywhere in it.

    ``from package import name`` counts as importing ``package.name`` when
    that is one of ``modules``, else as importing ``package``.
    """
    known = set(modules)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in known else target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """``module -> the package's modules it imports``."""
    modules = module_files(root)
    return {
        name: {m for m in imports_of(name, path, modules) if m in modules and m != name}
        for name, path in modules.items()
    }


def is_production(name: str) -> bool:
    """The package's own code: not the sandbox, not the pytest plugin."""
    top = name.split(".")[0]
    return name not in (f"{top}.testing",) and not name.startswith(f"{top}.sandbox")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles among the graph's modules (each found once, or more)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def production_cycles(root: Path) -> list[list[str]]:
    graph = import_graph(root)
    production = {
        name: {m for m in deps if is_production(m)}
        for name, deps in graph.items()
        if is_production(name)
    }
    return cycles(production)


def web_imports_of_client_layer(
    root: Path, layer: Iterable[str] = CLIENT_LAYER
) -> list[tuple[str, str]]:
    """(module, what it imports) where the client layer reaches the web layer:
    a web package, or a module of the package outside the layer."""
    modules = module_files(root)
    top = root.name
    layer = {name.replace("flask_tiktok", top, 1) for name in layer}
    bad: set[tuple[str, str]] = set()
    for name in layer & modules.keys():
        for target in imports_of(name, modules[name], modules):
            first = target.split(".")[0]
            if first in WEB_PACKAGES:
                bad.add((name, first))
            elif target in modules and target not in layer:
                bad.add((name, target))
    return sorted(bad)


def sandbox_imports_outside(root: Path) -> list[tuple[str, str]]:
    """(sandbox module, package module outside the sandbox it imports)."""
    modules = module_files(root)
    top = root.name
    sandbox = f"{top}.sandbox"
    return [
        (name, target)
        for name in sorted(m for m in modules if m.startswith(sandbox))
        for target in sorted(imports_of(name, modules[name], modules))
        if target in modules
        and not (target == sandbox or target.startswith(f"{sandbox}."))
    ]


def production_imports_of_test_code(root: Path) -> list[tuple[str, str]]:
    """(production module, sandbox or testing module it imports)."""
    graph = import_graph(root)
    return [
        (name, target)
        for name, deps in sorted(graph.items())
        if is_production(name)
        for target in sorted(deps)
        if not is_production(target)
    ]


# -- the package keeps the rules -------------------------------------------------


def test_no_import_circle_among_production_modules() -> None:
    assert production_cycles(PACKAGE) == []


def test_the_client_layer_imports_no_flask() -> None:
    assert web_imports_of_client_layer(PACKAGE) == []


def test_the_sandbox_imports_nothing_else_of_the_package() -> None:
    assert sandbox_imports_outside(PACKAGE) == []


def test_production_modules_never_import_the_sandbox_or_the_plugin() -> None:
    assert production_imports_of_test_code(PACKAGE) == []


def test_the_graph_sees_every_kind_of_import() -> None:
    """Relative, absolute, function-level and TYPE_CHECKING imports all count
    (the storage package imports its SQLAlchemy backend only in a function,
    the package root only under TYPE_CHECKING and in ``__getattr__``)."""
    graph = import_graph(PACKAGE)
    assert "flask_tiktok.storage.sqla" in graph["flask_tiktok.storage"]
    assert "flask_tiktok.storage.sqla" in graph["flask_tiktok"]
    assert "flask_tiktok.sandbox" in graph["flask_tiktok.testing"]
    assert {"flask_tiktok.wire", "flask_tiktok.pkce"} <= graph["flask_tiktok.client"]


# -- each rule fails when it is broken ---------------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


@pytest.mark.parametrize(
    "files",
    [
        {"a.py": "from . import b\n", "b.py": "from .a import x\n"},
        {"a.py": "def f():\n    from .b import y\n", "b.py": "import pkg.a\n"},
        {
            "a.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .sub.c import C\n",
            "sub/__init__.py": "",
            "sub/c.py": "from ..a import A\n",
        },
    ],
    ids=["module-level", "function-level", "type-checking"],
)
def test_a_circle_is_found(tmp_path: Path, files: dict[str, str]) -> None:
    assert production_cycles(make_package(tmp_path, files)) != []


@pytest.mark.parametrize(
    ("line", "target"),
    [
        ("def f():\n    from flask import g", "flask"),
        ("import werkzeug.local", "werkzeug"),
        ("from .state import get_state", "pkg.state"),
        ("from . import TikTok", "pkg"),
    ],
)
def test_a_client_layer_module_reaching_the_web_layer_is_found(
    tmp_path: Path, line: str, target: str
) -> None:
    package = make_package(
        tmp_path,
        {
            "client.py": f"from . import errors\n{line}\n",
            "errors.py": "",
            "state.py": "",
            "views.py": "from flask import Blueprint\n",
        },
    )
    assert web_imports_of_client_layer(package) == [("pkg.client", target)]


@pytest.mark.parametrize(
    ("line", "target"),
    [
        ("from ..fields import FIELDS", "pkg.fields"),
        ("from .. import fields", "pkg.fields"),
        ("from .. import TikTok", "pkg"),
        ("def f():\n    import pkg.fields", "pkg.fields"),
    ],
)
def test_a_sandbox_importing_the_package_is_found(
    tmp_path: Path, line: str, target: str
) -> None:
    package = make_package(
        tmp_path,
        {
            "sandbox/__init__.py": "from .core import Sandbox\nfrom . import ids\n",
            "sandbox/ids.py": "",
            "sandbox/core.py": f"from .ids import new_id\n{line}\n",
            "fields.py": "",
        },
    )
    assert sandbox_imports_outside(package) == [("pkg.sandbox.core", target)]


def test_production_code_importing_the_sandbox_is_found(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "sandbox/__init__.py": "",
            "testing.py": "from .sandbox import Sandbox\n",
            "views.py": "def f():\n    from . import testing\n",
        },
    )
    assert production_imports_of_test_code(package) == [("pkg.views", "pkg.testing")]
