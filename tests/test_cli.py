"""The ``flask tiktok`` commands: users, refresh, forget."""

from __future__ import annotations

from typing import Any

from flask import Flask
from helpers import (
    ALICE,
    ROTATED,
    TOKEN_URL,
    create_app,
    expired,
    refreshes,
    row,
    store,
    token_body,
)
from sqlalchemy import Engine

from flask_tiktok import TikTok
from flask_tiktok.sqla import SQLAlchemyStorage
from flask_tiktok.storage import StoredUser
from flask_tiktok.tokens import OAuth2Tokens


def test_cli_lists_refreshes_and_forgets_users(
    sqla_app: Flask, storage: SQLAlchemyStorage, engine: Engine, tiktok_mock: Any
) -> None:
    runner = sqla_app.test_cli_runner()
    assert runner.invoke(args=["tiktok", "users"]).output == (
        "No TikTok users are stored.\n"
    )
    store(sqla_app, storage, OAuth2Tokens(token_body(), 1_767_225_600))  # 2026-01-01
    with sqla_app.test_request_context():
        storage.set(
            StoredUser("open-id-bob", [], {}),
            OAuth2Tokens(token_body(open_id="open-id-bob")),
        )
        storage.delete("open-id-bob")
    listing = runner.invoke(args=["tiktok", "users"])
    assert listing.exit_code == 0
    assert listing.output.splitlines() == [
        "OPEN_ID        NAME             ACCESS EXPIRES        REFRESH EXPIRES"
        "       SCOPES",
        "open-id-alice  Alice <Creator>  2026-01-02 00:00:00Z  2027-01-01 00:00:00Z"
        "  user.info.basic",
        "open-id-bob    -                logged out            logged out            -",
    ]

    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    refreshed = runner.invoke(args=["tiktok", "refresh", ALICE])
    assert refreshed.exit_code == 0, refreshed.output
    assert refreshed.output.startswith("Refreshed open-id-alice: access token valid")
    assert refreshes(tiktok_mock)[0]["refresh_token"] == "rft.alice-1"
    with sqla_app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-2"  # type: ignore[union-attr]

    missing = runner.invoke(args=["tiktok", "refresh", "open-id-bob"])
    assert missing.exit_code == 1
    assert "No tokens are stored for 'open-id-bob'" in missing.output

    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
    refused = runner.invoke(args=["tiktok", "refresh", ALICE])
    assert refused.exit_code == 1
    assert "TikTok refused to refresh" in refused.output
    assert row(engine).sealed_tokens is None

    forgotten = runner.invoke(args=["tiktok", "forget", "--yes", ALICE])
    assert forgotten.output == "Forgot open-id-alice.\n"
    assert row(engine) is None


def test_cli_explains_what_a_session_storage_cannot_do() -> None:
    runner = create_app().test_cli_runner()
    users = runner.invoke(args=["tiktok", "users"])
    assert users.exit_code == 1
    assert "SessionStorage cannot list users" in users.output
    refresh = runner.invoke(args=["tiktok", "refresh", ALICE])
    assert refresh.exit_code == 1
    assert "SessionStorage keeps tokens in the user's browser" in refresh.output
    forget = runner.invoke(args=["tiktok", "forget", "--yes", ALICE])
    assert forget.exit_code == 1
    assert "SessionStorage keeps tokens in the user's browser" in forget.output
    assert "Forgot" not in forget.output


def test_cli_reports_a_tiktok_outage(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, expired())
    tiktok_mock.post(TOKEN_URL, status_code=502, text="<html>Bad gateway</html>")
    result = sqla_app.test_cli_runner().invoke(args=["tiktok", "refresh", ALICE])
    assert result.exit_code == 1
    assert "TikTok could not refresh" in result.output


def test_forget_goes_through_the_extension(
    storage: SQLAlchemyStorage, engine: Engine, tiktok_mock: Any
) -> None:
    """``flask tiktok forget`` is ``TikTok.forget``, which an app may extend."""
    forgotten: list[str] = []

    class AuditedTikTok(TikTok):
        def forget(self, open_id: str) -> None:
            forgotten.append(open_id)
            super().forget(open_id)

    app = create_app(storage=storage, extension=AuditedTikTok)
    store(app, storage, OAuth2Tokens(token_body()))
    result = app.test_cli_runner().invoke(args=["tiktok", "forget", ALICE, "--yes"])
    assert result.exit_code == 0, result.output
    assert forgotten == [ALICE]
    assert row(engine) is None
