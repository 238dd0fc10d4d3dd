"""The docs cover the public API and the configuration, read from docs/ sources.

No Sphinx needed: the reST directives are parsed here. A public name added to
``__all__``, a public method added to a documented class, or a ``TIKTOK_*`` key
added to the code fails these tests until the docs describe it; a documented
name that the code no longer has fails them too.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import flask_tiktok
import flask_tiktok.signals

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: The configuration keys of the design contract (design.md, "Config").
DESIGN_CONFIG_KEYS = [
    "TIKTOK_CLIENT_KEY",
    "TIKTOK_CLIENT_SECRET",
    "TIKTOK_SCOPES",
    "TIKTOK_REDIRECT_URI",
    "TIKTOK_URL_PREFIX",
    "TIKTOK_LOGIN_REDIRECT",
    "TIKTOK_USER_FIELDS",
    "TIKTOK_PKCE",
    "TIKTOK_AUTHORIZATION_URL",
    "TIKTOK_TOKEN_URL",
    "TIKTOK_REVOKE_URL",
    "TIKTOK_API_BASE_URL",
    "TIKTOK_HTTP_TIMEOUT",
    "TIKTOK_CLIENT_SECRET_FALLBACKS",
    "TIKTOK_WEBHOOK_TOLERANCE",
]

_DIRECTIVE = re.compile(
    r"^\.\. (auto(?:class|function|data|exception|attribute|method)"
    r"|py:(?:class|function|data|exception|attribute|method)):: +([\w.]+)"
)
_MODULE = re.compile(r"^\.\. (?:py:)?(?:current)?module:: +([\w.]+)")
_OPTION = re.compile(r"^ {3}:([\w-]+):(.*)$")
_CONTINUATION = re.compile(r"^ {6,}(\S.*)$")


@dataclass
class Documented:
    """One object directive: its full name and its ``:members:`` list."""

    name: str
    directive: str
    bare: str = ""
    members: list[str] | None = None
    source: str = ""
    options: dict[str, str] = field(default_factory=dict)


def _parse(path: Path) -> list[Documented]:
    found: list[Documented] = []
    module = ""
    current: Documented | None = None
    last_option = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _MODULE.match(line):
            module = "" if match[1] == "None" else match[1]
            current = None
        elif match := _DIRECTIVE.match(line):
            name = match[2]
            if module and not name.startswith("flask_tiktok"):
                name = f"{module}.{name}"
            current = Documented(name, match[1], match[2], source=path.name)
            found.append(current)
            last_option = ""
        elif current is not None and (match := _OPTION.match(line)):
            last_option = match[1]
            current.options[last_option] = match[2].strip()
        elif current is not None and last_option and _CONTINUATION.match(line):
            current.options[last_option] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            current = None
        else:
            last_option = ""
    for item in found:
        if "module" in item.options:
            item.name = f"{item.options['module']}.{item.bare}"
        if "members" in item.options:
            value = item.options["members"]
            # A bare ":members:" documents whatever has a docstring: list them.
            assert value, f"{path.name}: list the members of {item.name}"
            item.members = [m.strip() for m in value.split(",") if m.strip()]
    return found


def _documented() -> dict[str, Documented]:
    objects: dict[str, Documented] = {}
    for path in sorted(DOCS.glob("*.rst")):
        for item in _parse(path):
            objects.setdefault(item.name, item)
    return objects


def _resolve(dotted: str) -> object:
    """The object named ``dotted``, importing its module."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_the_parser_reads_directives_and_member_lists(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(
        ".. module:: flask_tiktok\n\n"
        ".. autoclass:: flask_tiktok.TikTok\n"
        "   :members: init_app, client,\n"
        "      api\n\n"
        ".. py:data:: current_tiktok_user\n"
        "   :type: TikTokUser\n\n"
        ".. py:class:: F\n"
        "   :module: flask_tiktok.user\n\n"
        ".. currentmodule:: None\n\n"
        ".. py:data:: TIKTOK_SCOPES\n",
        encoding="utf-8",
    )
    items = {item.name: item for item in _parse(page)}
    assert set(items) == {
        "flask_tiktok.TikTok",
        "flask_tiktok.current_tiktok_user",
        "flask_tiktok.user.F",
        "TIKTOK_SCOPES",
    }
    assert items["flask_tiktok.TikTok"].members == ["init_app", "client", "api"]
    assert items["flask_tiktok.current_tiktok_user"].members is None


@pytest.mark.parametrize("name", flask_tiktok.__all__)
def test_every_public_name_is_in_the_api_reference(name: str) -> None:
    documented = _documented()
    assert f"flask_tiktok.{name}" in documented, (
        f"flask_tiktok.{name} is in __all__ but not documented: add it to docs/api.rst"
    )
    assert documented[f"flask_tiktok.{name}"].source == "api.rst"


@pytest.mark.parametrize("name", flask_tiktok.signals.__all__)
def test_every_signal_is_documented(name: str) -> None:
    assert f"flask_tiktok.signals.{name}" in _documented()


def _public_members(cls: type) -> set[str]:
    """Methods and properties ``cls`` itself defines (not inherited)."""
    names = set()
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property | classmethod | staticmethod) or (
            inspect.isfunction(value)
        ):
            names.add(name)
    return names


def test_documented_classes_list_all_their_public_methods() -> None:
    for item in _documented().values():
        if item.members is None or not item.name.startswith("flask_tiktok"):
            continue
        obj = _resolve(item.name)
        if not isinstance(obj, type):
            continue
        missing = _public_members(obj) - set(item.members)
        assert not missing, f"{item.name}: add {sorted(missing)} to :members:"


def test_every_documented_name_exists() -> None:
    for item in _documented().values():
        if not item.name.startswith("flask_tiktok"):
            continue
        obj = _resolve(item.name)
        fields = {
            **getattr(obj, "__dataclass_fields__", {}),
            **getattr(obj, "__annotations__", {}),
        }
        source = inspect.getsource(obj) if isinstance(obj, type) else ""
        for member in item.members or ():
            assert (
                hasattr(obj, member)
                or member in fields
                or re.search(rf"self\.{member}\b[^=\n]*=", source)
            ), f"{item.name} has no {member}"


def _config_keys_in_code() -> set[str]:
    keys: set[str] = set()
    for path in (ROOT / "flask_tiktok").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys.update(re.findall(r"\bTIKTOK_[A-Z0-9_]*[A-Z0-9]\b", text))
    return keys


def test_the_code_scan_finds_config_keys() -> None:
    # Guards the scan itself: these two are read in init_app.
    assert {"TIKTOK_CLIENT_KEY", "TIKTOK_SCOPES"} <= _config_keys_in_code()


@pytest.mark.parametrize(
    "key", sorted(set(DESIGN_CONFIG_KEYS) | _config_keys_in_code())
)
def test_every_config_key_is_documented(key: str) -> None:
    documented = {
        item.name
        for item in _parse(DOCS / "configuration.rst")
        if item.directive == "py:data"
    }
    assert key in documented, f"document {key} in docs/configuration.rst"


def test_config_defaults_in_the_docs_match_the_code() -> None:
    from flask import Flask

    app = Flask(__name__)
    app.config.update(TIKTOK_CLIENT_KEY="k", TIKTOK_CLIENT_SECRET="s")
    flask_tiktok.TikTok(app)
    text = (DOCS / "configuration.rst").read_text(encoding="utf-8")
    for key, value in app.config.items():
        if not key.startswith("TIKTOK_") or key in ("TIKTOK_CLIENT_KEY",):
            continue
        if key == "TIKTOK_CLIENT_SECRET":
            continue
        section = text.split(f".. py:data:: {key}\n", 1)[1].split(".. py:data::")[0]
        default = section.split("Default: ", 1)[1].split("\n", 1)[0]
        assert f"``{value!r}``".replace("'", '"') in default.replace("'", '"'), (
            f"{key}: the docs say {default!r}, the code sets {value!r}"
        )


def test_the_docs_read_the_version_from_the_package() -> None:
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "release = flask_tiktok.__version__" in conf
    assert flask_tiktok.__version__ not in conf


def test_what_app_extensions_tiktok_holds_is_documented() -> None:
    """``app.extensions["tiktok"]``: its class is in the API reference with
    every public attribute, and it leads to the extension instance."""
    from flask import Flask

    app = Flask(__name__)
    app.config.update(TIKTOK_CLIENT_KEY="k", TIKTOK_CLIENT_SECRET="s")
    tiktok = flask_tiktok.TikTok(app)
    state = app.extensions["tiktok"]
    cls = type(state)
    documented = _documented().get(f"{cls.__module__}.{cls.__qualname__}")
    assert documented is not None, f"document {cls.__qualname__} in docs/api.rst"
    public = {name for name in vars(state) if not name.startswith("_")}
    assert public <= set(documented.members or ())
    assert state.extension is tiktok


def test_the_threat_table_names_tests_that_exist() -> None:
    text = (DOCS / "security.rst").read_text(encoding="utf-8")
    named = re.findall(r"``(test_\w+\.py)::(test_\w+)``", text)
    assert len(named) > 10
    for module, name in named:
        source = (DOCS.parent / "tests" / module).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{module}::{name} is not a test"
