"""The ``flask tiktok`` commands: users, refresh, forget."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from helpers import (
    ALICE,
    REVOKE_URL,
    ROTATED,
    TOKEN_URL,
    calls,
    create_app,
    expired,
    form,
    refreshes,
    row,
    store,
    token_body,
)
from sqlalchemy import Engine

from flask_tiktok import TikTok
from flask_tiktok.cli import _refresh_many, _refresh_once
from flask_tiktok.sqla import SQLAlchemyStorage
from flask_tiktok.state import get_state
from flask_tiktok.storage import StoredUser
from flask_tiktok.tokens import OAuth2Tokens

ROOT = Path(__file__).resolve().parent.parent


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
    assert "No readable tokens are stored for 'open-id-bob'" in missing.output

    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
    refused = runner.invoke(args=["tiktok", "refresh", ALICE])
    assert refused.exit_code == 1
    assert "TikTok refused to refresh" in refused.output
    assert row(engine).sealed_tokens is None

    forgotten = runner.invoke(args=["tiktok", "forget", "--yes", ALICE])
    assert forgotten.output == "Forgot open-id-alice.\n"
    assert row(engine) is None


def test_users_and_refresh_escape_what_tiktok_sent(
    sqla_app: Flask, storage: SQLAlchemyStorage
) -> None:
    """A display name with an OSC escape (sets the terminal's title) and a
    carriage return (overwrites the line), a scope with a bidi override."""
    evil = "open-id-\x1b[2J"
    with sqla_app.test_request_context():
        storage.set(
            StoredUser(
                evil, ["user.info.basic\u202e"], {"display_name": "Eve\x1b]0;pwn\x07\r"}
            ),
            OAuth2Tokens(token_body(open_id=evil)),
        )
        storage.delete(evil)
    runner = sqla_app.test_cli_runner()
    listing = runner.invoke(args=["tiktok", "users"]).output
    assert "open-id-\\x1b[2J  Eve\\x1b]0;pwn\\x07\\r  logged out" in listing
    assert "user.info.basic\\u202e" in listing
    missing = runner.invoke(args=["tiktok", "refresh", evil]).output
    assert "stored for 'open-id-\\x1b[2J' (none" in missing
    for output in (listing, missing):
        assert not {"\x1b", "\r", "\x07", "\u202e"} & set(output)


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


# -- connected accounts and refresh --all ------------------------------------------


def stored_account(
    app: Flask,
    storage: SQLAlchemyStorage,
    open_id: str,
    owner: str,
    *,
    expires_in: int = 86_400,
    issued_at: float | None = None,
    name: str | None = None,
) -> None:
    """``open_id`` connected to ``owner``, its tokens ``act.<open_id>``."""
    tokens = OAuth2Tokens(
        token_body(
            open_id=open_id,
            access_token=f"act.{open_id}",
            refresh_token=f"rft.{open_id}",
            expires_in=expires_in,
        ),
        time.time() if issued_at is None else issued_at,
    )
    user = StoredUser(open_id, ["user.info.basic"], {"display_name": name or open_id})
    with app.app_context():
        storage.set_account(owner, user, tokens, previous_owner_id=None)


def rotating_token_endpoint(
    refused: frozenset[str] = frozenset(), failing: frozenset[str] = frozenset()
) -> Callable[[Any, Any], Any]:
    """TikTok's token endpoint: each refresh token rotates once; ``refused``
    ones get invalid_grant, ``failing`` ones a 502 gateway page."""

    def answer(request: Any, context: Any) -> Any:
        refresh_token = form(request)["refresh_token"]
        open_id = refresh_token.removeprefix("rft.")
        if open_id in refused:
            return {"error": "invalid_grant", "log_id": "L1"}
        if open_id in failing:
            context.status_code = 502
            context.headers["Content-Type"] = "text/html"
            return "<html>Bad gateway</html>"
        return token_body(
            open_id=open_id,
            access_token=f"act.{open_id}.2",
            refresh_token=f"rft.{open_id}.2",
        )

    return answer


def test_accounts_lists_every_owners_or_one_and_escapes_names(
    sqla_app: Flask, storage: SQLAlchemyStorage
) -> None:
    runner = sqla_app.test_cli_runner()
    assert runner.invoke(args=["tiktok", "accounts"]).output == (
        "No TikTok accounts are connected.\n"
    )
    stored_account(
        sqla_app, storage, "open-id-carol", "ann", name="Carol\x1b]0;pwn\x07\r"
    )
    stored_account(sqla_app, storage, "open-id-dave", "ben", name="\u202eevaD\u200b")
    listing = runner.invoke(args=["tiktok", "accounts"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split() == ["OWNER", "OPEN_ID", "NAME", "CONNECTED", "TOKENS"]
    assert lines[1].startswith("ann    open-id-carol  Carol\\x1b]0;pwn\\x07\\r  ")
    assert lines[1].endswith("  yes")
    assert "\x1b" not in listing.output and "\r" not in listing.output
    assert "\\u202eevaD\\u200b" in lines[2]  # a bidi override shown, not obeyed
    assert "\u202e" not in listing.output and "\u200b" not in listing.output
    only_ben = runner.invoke(args=["tiktok", "accounts", "--owner", "ben"])
    assert [line.split()[:2] for line in only_ben.output.splitlines()[1:]] == [
        ["ben", "open-id-dave"]
    ]


def test_refresh_all_reports_refreshed_refused_and_failed(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    for open_id in ("a", "b", "c"):
        stored_account(sqla_app, storage, open_id, "ann")
    tiktok_mock.post(
        TOKEN_URL,
        json=rotating_token_endpoint(refused=frozenset("b"), failing=frozenset("c")),
    )
    result = sqla_app.test_cli_runner().invoke(
        args=["tiktok", "refresh", "--all", "--concurrency", "2"]
    )
    assert result.exit_code == 1
    assert "Refreshed 1, refused 1, failed 1 (of 3)." in result.output
    assert "  refused: b" in result.output and "  failed: c" in result.output
    assert sorted(f["refresh_token"] for f in refreshes(tiktok_mock)) == [
        "rft.a",
        "rft.b",
        "rft.c",
    ]
    with sqla_app.app_context():
        assert storage.get_tokens("a").access_token == "act.a.2"  # type: ignore[union-attr]
        assert storage.get_tokens("b") is None  # refused: deleted, account kept
        assert storage.get_account("b").has_tokens is False  # type: ignore[union-attr]
        assert storage.get_tokens("c").access_token == "act.c"  # type: ignore[union-attr]


def test_refresh_all_expiring_within_picks_only_those(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    stored_account(sqla_app, storage, "soon", "ann", expires_in=600)
    stored_account(sqla_app, storage, "later", "ann", expires_in=86_400)
    stored_account(
        sqla_app, storage, "past", "ann", expires_in=60, issued_at=time.time() - 3600
    )
    tiktok_mock.post(TOKEN_URL, json=rotating_token_endpoint())
    result = sqla_app.test_cli_runner().invoke(
        args=["tiktok", "refresh", "--all", "--expiring-within", "3600"]
    )
    assert result.exit_code == 0, result.output
    assert "Refreshed 2, refused 0, failed 0 (of 2)." in result.output
    assert sorted(f["refresh_token"] for f in refreshes(tiktok_mock)) == [
        "rft.past",
        "rft.soon",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["tiktok", "refresh"],
        ["tiktok", "refresh", ALICE, "--all"],
        ["tiktok", "refresh", ALICE, "--expiring-within", "60"],
        ["tiktok", "refresh", "--all", "--concurrency", "0"],
    ],
)
def test_refresh_usage_errors(sqla_app: Flask, args: list[str]) -> None:
    result = sqla_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2
    assert "Error" in result.output


@pytest.mark.parametrize(
    ("answers", "waits", "outcome"),
    [
        ([(429, {"Retry-After": "7"}), (200, {})], [7.0], "refreshed"),
        ([(429, {}), (429, {}), (200, {})], [1.0, 2.0], "refreshed"),
        ([(429, {"Retry-After": "900"}), (200, {})], [60.0], "refreshed"),
        ([(429, {})] * 4, [1.0, 2.0, 4.0], "failed"),
    ],
)
def test_a_rate_limited_refresh_waits_for_tiktok(
    sqla_app: Flask,
    storage: SQLAlchemyStorage,
    tiktok_mock: Any,
    answers: list[tuple[int, dict[str, str]]],
    waits: list[float],
    outcome: str,
) -> None:
    stored_account(sqla_app, storage, "a", "ann")
    tiktok_mock.post(
        TOKEN_URL,
        [
            {"status_code": 200, "json": token_body(open_id="a")}
            if status == 200
            else {
                "status_code": status,
                "headers": headers,
                "json": {"error": "rate_limit_exceeded", "log_id": "L"},
            }
            for status, headers in answers
        ],
    )
    slept: list[float] = []
    with sqla_app.app_context():
        state = get_state()
        assert _refresh_once(state, "a", None, slept.append) == outcome
    assert slept == waits
    assert len(refreshes(tiktok_mock)) == len(answers)


def test_disconnect_revokes_and_deletes(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    stored_account(sqla_app, storage, "open-id-carol", "ann")
    runner = sqla_app.test_cli_runner()
    unknown = runner.invoke(args=["tiktok", "disconnect", "--yes", "nobody"])
    assert (unknown.exit_code, "No account 'nobody'" in unknown.output) == (1, True)
    done = runner.invoke(args=["tiktok", "disconnect", "--yes", "open-id-carol"])
    assert done.output == "Disconnected open-id-carol.\n"
    assert [form(r)["token"] for r in calls(tiktok_mock, REVOKE_URL)] == [
        "act.open-id-carol"
    ]
    with sqla_app.app_context():
        assert storage.list_accounts() == []


def test_refresh_all_and_requests_make_one_refresh_per_account(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    """``refresh --all --expiring-within`` racing requests that refresh the
    same expired tokens: one call to TikTok per account (the per-user lock,
    across processes on PostgreSQL), everyone ends with the rotated pair."""
    accounts = [f"acct-{n}" for n in range(6)]
    for open_id in accounts:
        stored_account(
            sqla_app,
            storage,
            open_id,
            "ann",
            expires_in=30,
            issued_at=time.time() - 3600,
        )
    slow = rotating_token_endpoint()

    def answer(request: Any, context: Any) -> Any:
        time.sleep(0.05)  # TikTok's latency: the racers overlap
        return slow(request, context)

    tiktok_mock.post(TOKEN_URL, json=answer)
    tiktok: TikTok = sqla_app.extensions["test_tiktok"]
    seen: dict[str, str] = {}

    def request_side(open_id: str) -> None:
        with sqla_app.app_context():
            seen[open_id] = tiktok.api_for(open_id).access_token

    with sqla_app.app_context():
        state = get_state()
        racers = [threading.Thread(target=request_side, args=(o,)) for o in accounts]
        for racer in racers:
            racer.start()
        outcomes = _refresh_many(state, accounts, 3, 3600)
        for racer in racers:
            racer.join()
    assert set(outcomes.values()) == {"refreshed"}
    sent = sorted(f["refresh_token"] for f in refreshes(tiktok_mock))
    assert sent == sorted(f"rft.{o}" for o in accounts)
    assert seen == {o: f"act.{o}.2" for o in accounts}


def test_flask_tiktok_sandbox_runs_the_sandbox_with_its_options(
    tmp_path: Path,
) -> None:
    """``flask tiktok sandbox --env``: the sandbox's own program, serving, its
    settings on stdout in a form ``sh`` reads as it is (``. ./.env``) and
    ``app.config.from_prefixed_env()`` takes."""
    app = tmp_path / "app.py"
    app.write_text(
        "from flask import Flask\nfrom flask_tiktok import TikTok\n"
        "app = Flask(__name__)\n"
        "app.config.update(TIKTOK_CLIENT_KEY='k', TIKTOK_CLIENT_SECRET='s')\n"
        "TikTok(app)\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "flask", "--app", str(app), "tiktok"]
    with subprocess.Popen(  # noqa: S603 (our own interpreter)
        [*command, "sandbox", "--env", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(6)]
            env = tmp_path / ".env"
            env.write_text("".join(lines), encoding="utf-8")
            read = subprocess.run(
                ["sh", "-c", '. ./.env && echo "$FLASK_TIKTOK_API_BASE_URL"'],  # noqa: S607
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            base = read.stdout.strip()
            answer = requests.get(f"{base}user/info/", timeout=10)
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
    assert lines[0] == "FLASK_TIKTOK_CLIENT_KEY=sandbox-client-key\n"
    assert base.startswith("http://127.0.0.1:")
    assert answer.json()["error"]["code"] == "access_token_invalid"  # the sandbox


def test_flask_tiktok_sandbox_hands_its_options_to_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flask_tiktok.cli

    ran: list[list[str]] = []
    monkeypatch.setattr(flask_tiktok.cli.os, "execv", lambda _, argv: ran.append(argv))
    app = create_app()
    result = app.test_cli_runner().invoke(args=["tiktok", "sandbox", "--help"])
    assert result.exit_code == 0
    assert ran == [[sys.executable, "-m", "flask_tiktok.sandbox", "--help"]]
