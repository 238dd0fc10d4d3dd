"""Server-side sessions (Flask-Session): a session id planted in the victim's
browser before the login does not carry the login after the callback."""

from __future__ import annotations

from typing import Any

from cachelib import SimpleCache
from flask import Flask
from flask_session import Session
from helpers import create_app, log_in, start_login, who

from flask_tiktok import BaseStorage
from flask_tiktok.sqla import SQLAlchemyStorage


def server_side(storage: BaseStorage | None = None) -> Flask:
    """The test app with its session kept by Flask-Session (cachelib)."""
    app = create_app(
        storage=storage, SESSION_TYPE="cachelib", SESSION_CACHELIB=SimpleCache()
    )
    Session(app)
    return app


def planted_login(app: Flask) -> tuple[Any, Any, str]:
    """The attacker opens a session (a login started), plants its id in the
    victim's browser, and the victim logs in: both clients and the id."""
    attacker = app.test_client()
    start_login(attacker)
    planted = attacker.get_cookie("session")
    assert planted is not None
    victim = app.test_client()
    victim.set_cookie("session", planted.value)
    assert log_in(victim).status_code == 302
    return attacker, victim, planted.value


def test_the_session_id_is_renewed_at_login(tiktok_mock: Any) -> None:
    attacker, victim, planted = planted_login(server_side())
    assert who(victim) == "Hello Alice &lt;Creator&gt;"
    renewed = victim.get_cookie("session")
    assert renewed is not None and renewed.value != planted
    assert who(attacker) == "Anonymous"


def test_the_planted_id_gets_no_server_side_login(
    storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    attacker, victim, _ = planted_login(server_side(storage))
    assert who(victim) == "Hello Alice &lt;Creator&gt;"
    assert who(attacker) == "Anonymous"
    assert attacker.get("/me").status_code == 302
