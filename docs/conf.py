"""Sphinx configuration for flask-tiktok's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

import flask_tiktok

# The project's own Sphinx extensions (the configuration table).
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "flask-tiktok"
author = "flask-tiktok developers"
copyright = "2026, flask-tiktok developers"
# One source for the version: the package itself.
release = flask_tiktok.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinx.ext.viewcode",
    "myst_parser",
    "config_table",
    "sequence",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
# Type aliases, shown by name and documented where they are used.
autodoc_type_aliases = {
    "Bind": "flask_tiktok.storage.sqla.Bind",
    "PKCEMethod": "flask_tiktok.pkce.PKCEMethod",
    "VideoSource": "flask_tiktok.upload.VideoSource",
    "PKCEEncoding": "flask_tiktok.sandbox.store.PKCEEncoding",
}

# Every internal reference must resolve. The docs are built without network,
# so there is no intersphinx: types from other projects (and the standard
# library) are named in signatures but cannot be linked.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(requests|flask|werkzeug|blinker|sqlalchemy|pytest|_pytest|_typeshed|datetime"
        r"|collections\.abc|contextlib|threading|typing)(\..*)?",
    ),
    # Imported only for type checkers, so autodoc sees their bare names.
    (
        r"py:class",
        r"Flask|FlaskClient|TestResponse|WSGIApplication|WSGIEnvironment"
        r"|StartResponse",
    ),
    # urllib3's, named bare in requests' HTTPAdapter signature.
    (r"py:class", r"Retry"),
    # Type variables: generic signatures, not documented classes.
    (r"py:class", r"flask_tiktok\.\w+\.(T|V|OwnerLoader|BeforeConnect)"),
]

myst_heading_anchors = 2

html_theme = "furo"
html_title = f"flask-tiktok {release}"
html_static_path: list[str] = []
pygments_style = "sphinx"

# The diagrams: Graphviz's dot (Debian's graphviz package) at build time, SVG
# in the page, so nothing is fetched when the docs are built or read.
graphviz_output_format = "svg"
