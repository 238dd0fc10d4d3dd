"""The database of SQLAlchemyStorage down: public pages render anonymous (or
503 with ``TIKTOK_STORAGE_OUTAGE = "error"``), protected ones answer a clean
503, and a login whose tokens could not be stored is revoked. Never a 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import (
    ALICE,
    create_app,
    event_body,
    log_in,
    post,
    revoked_tokens,
    start_login,
    who,
)
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from flask_tiktok import signals
from flask_tiktok.sqla import SQLAlchemyStorage


class Database:
    """A SQLite file whose server can be 'stopped': while down, every new
    connection fails as the driver fails to reach a database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.down = False

    def connect(self) -> sqlite3.Connection:
        if self.down:
            raise sqlite3.OperationalError("unable to open database file")
        return sqlite3.connect(self.path, check_same_thread=False)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    yield Database(tmp_path / "tiktok.db")


@pytest.fixture
def outage_app(database: Database) -> Iterator[Flask]:
    """The test app on a storage whose database can go down."""
    engine = create_engine("sqlite://", creator=database.connect, poolclass=NullPool)
    storage = SQLAlchemyStorage(engine)
    storage.create_all()
    yield create_app(storage=storage)
    engine.dispose()


def test_public_pages_render_anonymous_and_protected_ones_answer_503(
    outage_app: Flask, database: Database, tiktok_mock: Any
) -> None:
    client = outage_app.test_client()
    log_in(client)
    database.down = True
    assert who(client) == "Anonymous"
    page = client.get("/me")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    assert "Logins are unavailable right now" in page.get_data(as_text=True)
    api = client.get("/me", headers={"Accept": "application/json"})
    assert (api.status_code, api.json["error"]) == (503, "storage_unavailable")  # type: ignore[index]
    assert client.post("/tiktok/logout").status_code == 503
    database.down = False
    assert who(client) == "Hello Alice &lt;Creator&gt;"  # the login outlived it


def test_an_app_may_answer_503_on_public_pages_too(
    database: Database, tiktok_mock: Any
) -> None:
    engine = create_engine("sqlite://", creator=database.connect, poolclass=NullPool)
    storage = SQLAlchemyStorage(engine)
    storage.create_all()
    app = create_app(storage=storage, TIKTOK_STORAGE_OUTAGE="error")
    client = app.test_client()
    log_in(client)
    database.down = True
    assert client.get("/").status_code == 503
    engine.dispose()


def test_a_login_whose_tokens_could_not_be_stored_is_revoked(
    outage_app: Flask, database: Database, tiktok_mock: Any
) -> None:
    failed: list[str] = []

    def record(sender: Flask, error: str, **extra: Any) -> None:
        failed.append(error)

    client = outage_app.test_client()
    state = start_login(client)["state"][0]
    database.down = True
    with signals.tiktok_login_failed.connected_to(record, outage_app):
        back = client.get(
            f"/tiktok/callback?code=c&scopes=user.info.basic&state={state}"
        )
    assert back.status_code == 503
    assert revoked_tokens(tiktok_mock) == ["act.alice-1"]
    assert failed == ["storage_unavailable"]
    database.down = False
    assert who(client) == "Anonymous"
    with outage_app.app_context():
        assert outage_app.extensions["test_tiktok"].storage.get_tokens(ALICE) is None


def test_a_database_nobody_listens_on_is_an_outage_too(
    outage_app: Flask, tiktok_mock: Any
) -> None:
    client = outage_app.test_client()
    log_in(client)
    # The same app, its storage on a PostgreSQL server that is not running.
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/tiktok")
    stopped = create_app(storage=SQLAlchemyStorage(engine))
    browser = stopped.test_client()
    browser.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    assert who(browser) == "Anonymous"
    assert browser.get("/me").status_code == 503
    engine.dispose()


def test_the_commands_say_the_database_is_down(
    outage_app: Flask, database: Database
) -> None:
    database.down = True
    result = outage_app.test_cli_runner().invoke(args=["tiktok", "users"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: The storage is unavailable: the database is unavailable"
        " (OperationalError).\n"
    )


@pytest.mark.parametrize("event", ["post.publish.complete", "authorization.removed"])
def test_a_webhook_during_an_outage_is_answered_503_for_tiktoks_retry(
    outage_app: Flask, database: Database, event: str
) -> None:
    client = outage_app.test_client()
    body = event_body(event, content={"publish_id": "p-1", "reason": 1})
    database.down = True
    answer = post(client, body)
    assert answer.status_code == 503
    database.down = False
    assert post(client, body).get_json() == {"status": "ok"}  # handled on retry
