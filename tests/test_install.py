"""The README's ``pip install -e .`` type-checks: an app of a user's own, run
through ``mypy --strict``, finds ``flask_tiktok`` and its types.

mypy reads the path entries of a site-packages ``.pth`` file and ignores its
``import`` lines, so setuptools' import-hook editable install (its default
for a package at the project root) leaves it without ``flask_tiktok``. The
project names its package directory, which makes the editable install a plain
path entry. ``.ci/run`` also runs mypy on such an app.
"""

from __future__ import annotations

import importlib.metadata
import json
import sysconfig
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _installed_from_here() -> importlib.metadata.Distribution:
    """The environment's flask-tiktok, when installed editable from this
    checkout (else the test does not apply: a wheel, or another clone)."""
    site = sysconfig.get_path("purelib")
    for dist in importlib.metadata.distributions(name="flask-tiktok", path=[site]):
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable"):
            here = Path(unquote(urlsplit(direct["url"]).path)).resolve()
            if here == ROOT:
                return dist
    pytest.skip("flask-tiktok is not installed editable from this checkout")


def test_the_editable_install_is_a_path_entry_a_type_checker_reads() -> None:
    dist = _installed_from_here()
    site = Path(sysconfig.get_path("purelib"))
    entries = [
        line.strip()
        for pth in site.glob("__editable__*flask_tiktok*.pth")
        for line in pth.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert entries, f"no editable .pth for {dist.metadata['Name']} in {site}"
    assert not [e for e in entries if e.startswith("import")], entries
    assert any((Path(e) / "flask_tiktok" / "py.typed").is_file() for e in entries)
