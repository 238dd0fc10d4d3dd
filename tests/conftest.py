"""Shared fixtures: the test app, a requests-mock double of TikTok, and the
databases of the SQLAlchemy storage. Plain helpers are in ``helpers.py``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests_mock
from example_support import (
    LiveSite,
    clean_environment,
    creator_app,
    example_sandbox,
    serve,
)
from flask import Flask
from helpers import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    create_app,
    token_body,
    user_info_body,
)
from sqla_support import KINDS, Database, database
from sqlalchemy import Engine

from flask_tiktok.sqla import SQLAlchemyStorage

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def app() -> Flask:
    return create_app()


@pytest.fixture
def tiktok_mock() -> Iterator[requests_mock.Mocker]:
    """TikTok's endpoints answering as they do on success."""
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(REVOKE_URL, json={})
        yield mock


# -- SQLAlchemyStorage: each test on SQLite and on PostgreSQL ------------------


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database, once per kind."""
    with database(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def engine(db: Database) -> Iterator[Engine]:
    """An engine on ``db``, disposed after the test (no connection left open)."""
    engine = db.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def storage(engine: Engine) -> SQLAlchemyStorage:
    """A SQLAlchemyStorage on ``engine``, its tables created."""
    storage = SQLAlchemyStorage(engine, lock_timeout=5)
    storage.create_all()
    return storage


@pytest.fixture
def sqla_app(storage: SQLAlchemyStorage) -> Flask:
    """The test app on the SQLAlchemy ``storage``."""
    return create_app(storage=storage)


# -- the examples' real browser --------------------------------------------------

CHROMIUM = os.environ.get("FLASK_TIKTOK_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test, but {reason}", pytrace=False)
    pytest.skip(f"BROWSER TEST NOT RUN: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (or ``FLASK_TIKTOK_CHROMIUM``) driven by Playwright,
    which never downloads a browser. One per test module: Playwright's event
    loop must not outlive it (async views in later tests need the thread).
    Outside CI the tests that use it are skipped, loudly, when Chromium or
    Playwright is missing; in CI (``CI`` set) that is a failure."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        hint = (
            f"set FLASK_TIKTOK_CHROMIUM={found}"
            if found
            else "apt-get install chromium"
        )
        _unavailable(f"no Chromium at {CHROMIUM} ({hint})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own cookies) and page."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it loudly when the PostgreSQL storage tests did not run."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "POSTGRESQL NOT TESTED" in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} PostgreSQL storage tests skipped:"
            " set TIKTOK_TEST_POSTGRES_URL to run them",
            yellow=True,
            bold=True,
        )


# -- examples/creator ---------------------------------------------------------


@pytest.fixture
def creator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Flask]:
    """The creator example for the test client (CSRF tokens not asked)."""
    clean_environment(monkeypatch)
    with creator_app(tmp_path, csrf=False) as app:
        yield app


@pytest.fixture
def creator_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LiveSite]:
    """The creator example served on loopback for a browser, CSRF on."""
    clean_environment(monkeypatch)
    with creator_app(tmp_path) as app, serve(app) as url:
        yield LiveSite(url, app.config["SANDBOX_URL"], example_sandbox(app))
