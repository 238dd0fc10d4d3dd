"""Loading and serving the examples (``examples/<name>/app.py``) for their
tests, and the real browser (Debian's Chromium) that clicks through them."""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from flask import Flask
from werkzeug.serving import make_server

from flask_tiktok.sandbox import Sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
#: The screenshots README.md and the docs show, taken by the browser tests.
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: The environment the example reads; tests start from none of it.
EXAMPLE_ENV = (
    "TIKTOK_CLIENT_KEY",
    "TIKTOK_CLIENT_SECRET",
    "TIKTOK_REDIRECT_URI",
    "TIKTOK_SCOPES",
    "SECRET_KEY",
    "WERKZEUG_RUN_MAIN",
)


def load_example(example: str = "basic") -> ModuleType:
    """``examples/<example>/app.py`` as a module (imported once)."""
    name = f"flask_tiktok_{example}_example"
    if name not in sys.modules:
        path = ROOT / "examples" / example / "app.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TikTok credentials; whatever the example puts in os.environ is undone."""
    for name in EXAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_TIKTOK_EXAMPLE_SANDBOX_URL", "")
    monkeypatch.setenv("FLASK_TIKTOK_EXAMPLE_SECRET_KEY", "")


@contextmanager
def example_app(
    config: dict[str, Any] | None = None, example: str = "basic"
) -> Iterator[Flask]:
    """The example app made by its factory; its sandbox is shut down after."""
    factory = load_example(example).create_app
    app: Flask = factory({"TESTING": True, **(config or {})})
    try:
        yield app
    finally:
        server = app.extensions.get("tiktok_sandbox_server")
        if server is not None:
            server.shutdown()


def example_sandbox(app: Flask) -> Sandbox:
    """The sandbox the example started for itself."""
    sandbox: Sandbox = app.extensions["tiktok_sandbox"]
    return sandbox


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def docs_screenshot(page: Page, name: str) -> Path:
    """Screenshot ``page`` (the viewport) into ``docs/screenshots/<name>.png``,
    where the README and the docs show it; the file is written only when the
    picture changed. The sandbox's address (a free port, different on every
    run) is masked; the mouse is moved off the page (no hover effect) and
    every image decoded first."""
    page.mouse.move(0, 0)
    page.evaluate("Promise.all([...document.images].map(i => i.decode()))")
    picture = page.screenshot(
        animations="disabled",
        caret="hide",
        mask=[page.get_by_text(re.compile(r"127\.0\.0\.1:\d+"))],
        mask_color="#c9d3df",
    )
    path = SCREENSHOTS / f"{name}.png"
    if not path.is_file() or path.read_bytes() != picture:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(picture)
    return path


class LiveSite(NamedTuple):
    """An example served on loopback, and the sandbox it runs on."""

    url: str
    sandbox_url: str
    sandbox: Sandbox


@contextmanager
def creator_app(directory: Path, *, csrf: bool = True) -> Iterator[Flask]:
    """The creator example on a SQLite file in ``directory``, wired to its
    sandbox; ``csrf=False`` for the test client's form posts (a browser gets
    the forms' tokens)."""
    config = {
        "SECRET_KEY": "creator-test-secret-key",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'creator.db'}",
        "WTF_CSRF_ENABLED": csrf,
    }
    with example_app(config, "creator") as app:
        yield app
        with app.app_context():
            app.extensions["sqlalchemy"].engines[None].dispose()
