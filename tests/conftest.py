"""Shared fixtures: the test app, a requests-mock double of TikTok, and the
databases of the SQLAlchemy storage. Plain helpers are in ``helpers.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock
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
