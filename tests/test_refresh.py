"""Refreshing the access token: on expiry or TikTok's rejection, the rotated
pair stored, a refused refresh ending the login, single flight."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock
from flask import Flask
from helpers import (
    INVALID_TOKEN,
    ROTATED,
    TOKEN_URL,
    USER_INFO_URL,
    bearers,
    calls,
    create_app,
    expired_login,
    form,
    log_in,
    refresh_form,
    refreshes,
    token_body,
    user_info_body,
)
from werkzeug.serving import make_server

from flask_tiktok import SessionStorage, signals
from flask_tiktok.refresh import TokenRefresher, _RotationRecord
from flask_tiktok.state import get_state
from flask_tiktok.tokens import OAuth2Tokens


def test_expired_token_is_refreshed_once_and_the_pair_stored(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    refreshed: list[dict[str, Any]] = []
    with signals.tiktok_token_refreshed.connected_to(
        lambda s, **kw: refreshed.append(kw), app
    ):
        assert client.get("/api/me").status_code == 200
        assert client.get("/api/me").status_code == 200
    assert refreshes(tiktok_mock) == [refresh_form()]
    assert bearers(tiktok_mock)[-2:] == ["Bearer act.alice-2", "Bearer act.alice-2"]
    assert [(r["open_id"], r["tokens"].refresh_token) for r in refreshed] == [
        ("open-id-alice", "rft.alice-2")
    ]


def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    tiktok_mock.post(TOKEN_URL, json=token_body(expires_in=30))
    log_in(client)
    tiktok_mock.post(
        TOKEN_URL, json=token_body(access_token="act.alice-2", refresh_token=None)
    )
    assert client.get("/api/me").status_code == 200
    with app.test_request_context():
        from flask import session

        with client.session_transaction() as sess:
            session["_tiktok"] = dict(sess["_tiktok"])
        tokens = SessionStorage().get_tokens("open-id-alice")
    assert tokens is not None and tokens.refresh_token == "rft.alice-1"
    assert tokens.access_token == "act.alice-2"


def test_protected_pages_do_not_refresh(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    for _ in range(5):
        assert client.get("/me").status_code == 200
    assert refreshes(tiktok_mock) == []


def test_old_cookie_after_rotation_gets_the_new_tokens(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    stale_cookie = client.get_cookie("session").value  # type: ignore[union-attr]
    assert client.get("/api/me").status_code == 200
    late = app.test_client()
    late.set_cookie(
        "session", stale_cookie
    )  # a request sent before the refresh answered
    assert late.get("/api/me").status_code == 200
    assert len(refreshes(tiktok_mock)) == 1
    assert bearers(tiktok_mock)[-1] == "Bearer act.alice-2"


@pytest.mark.parametrize(
    "answer",
    [
        {
            "json": {
                "error": "invalid_grant",
                "error_description": "Refresh token is invalid",
                "log_id": "L",
            }
        },
        {"json": {"error": "invalid_grant", "log_id": "L"}, "status_code": 400},
    ],
)
def test_refused_refresh_logs_the_user_out(
    app: Flask, tiktok_mock: Any, answer: dict[str, Any]
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    tiktok_mock.post(TOKEN_URL, **answer)
    ended: list[dict[str, Any]] = []
    with signals.tiktok_logged_out.connected_to(lambda s, **kw: ended.append(kw), app):
        response = client.get("/api/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tiktok/login?next=/api/me"
    assert ended == [{"open_id": "open-id-alice", "reason": "refresh_refused"}]
    assert client.get("/").get_data(as_text=True) == "Anonymous"
    assert (
        client.get("/api/me", headers={"Accept": "application/json"}).status_code == 401
    )


def test_refused_refresh_as_json_is_401(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
    response = client.get("/api/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "tiktok_login_required"


def test_expired_refresh_token_is_not_sent(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock, refresh_expires_in=3600)
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/api/me").status_code == 302
    assert refreshes(tiktok_mock) == []
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_refresh_outage_keeps_the_user_logged_in(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    tiktok_mock.post(TOKEN_URL, exc=requests.exceptions.ConnectTimeout)
    assert client.get("/api/me").status_code == 504
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    assert client.get("/api/me").status_code == 200


def test_concurrent_requests_refresh_once() -> None:
    """8 requests of one browser, a real threaded server, one expired token."""
    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    lock = threading.Lock()
    refresh_tokens_seen: list[str] = []

    def token_answer(request: Any, context: Any) -> dict[str, Any]:
        sent = form(request)
        if sent["grant_type"] == "authorization_code":
            return token_body(expires_in=30)
        with lock:
            refresh_tokens_seen.append(sent["refresh_token"])
        time.sleep(0.3)  # TikTok is slow: every request arrives while it works
        if sent["refresh_token"] != "rft.alice-1":
            return {
                "error": "invalid_grant",
                "error_description": "rotated",
                "log_id": "L",
            }
        return ROTATED

    try:
        with requests_mock.Mocker(real_http=True) as mock:
            mock.post(TOKEN_URL, json=token_answer)
            mock.get(
                USER_INFO_URL,
                json={
                    "data": {"user": {"open_id": "open-id-alice"}},
                    "error": {"code": "ok"},
                },
            )
            browser = requests.Session()
            authorize = browser.get(f"{base}/tiktok/login", allow_redirects=False)
            state = parse_qs(urlsplit(authorize.headers["Location"]).query)["state"][0]
            browser.get(
                f"{base}/tiktok/callback?code=c&state={state}", allow_redirects=False
            )
            cookie = browser.cookies.get("session")
            assert cookie

            def fetch(_: int) -> int:
                # Each request carries the same (pre-refresh) cookie, as a browser's
                # parallel requests do.
                response = requests.get(
                    f"{base}/api/me",
                    cookies={"session": cookie},
                    allow_redirects=False,
                    timeout=20,
                )
                return response.status_code

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(fetch, range(8)))
            bearer = [
                r.headers["Authorization"]
                for r in mock.request_history
                if r.url.startswith(USER_INFO_URL)
            ]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert statuses == [200] * 8
    assert refresh_tokens_seen == ["rft.alice-1"]
    assert bearer[-8:] == ["Bearer act.alice-2"] * 8


# -- a token TikTok rejects before its expiry


def test_token_rejected_before_expiry_is_refreshed_and_retried(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)  # valid for a day, by TikTok's word
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok_mock.get(
        USER_INFO_URL,
        [{"json": INVALID_TOKEN, "status_code": 401}, {"json": user_info_body()}],
    )
    assert client.get("/api/me").status_code == 200
    assert bearers(tiktok_mock)[-2:] == ["Bearer act.alice-1", "Bearer act.alice-2"]
    assert [f["refresh_token"] for f in refreshes(tiktok_mock)] == ["rft.alice-1"]
    # The refreshed pair was stored: the next request uses it without a refresh.
    tiktok_mock.get(USER_INFO_URL, json=user_info_body())
    assert client.get("/api/me").status_code == 200
    assert bearers(tiktok_mock)[-1] == "Bearer act.alice-2"
    assert len(refreshes(tiktok_mock)) == 1


def test_rejected_token_and_refused_refresh_log_out(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    tiktok_mock.get(USER_INFO_URL, json=INVALID_TOKEN, status_code=401)
    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L6"})
    response = client.get("/api/me")
    assert response.headers["Location"] == "/tiktok/login?next=/api/me"
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_a_token_rejected_twice_is_not_retried_again(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok_mock.get(USER_INFO_URL, json=INVALID_TOKEN, status_code=401)
    response = client.get("/api/me", headers={"Accept": "application/json"})
    assert response.status_code == 502
    assert response.get_json()["error"] == "access_token_invalid"
    # login's user info, the call, one retry
    assert len(calls(tiktok_mock, USER_INFO_URL)) == 3
    assert len(refreshes(tiktok_mock)) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(401, "scope_not_authorized"), (400, "access_token_invalid")]
)
def test_other_errors_do_not_refresh(
    app: Flask, tiktok_mock: Any, status: int, code: str
) -> None:
    client = app.test_client()
    log_in(client)
    tiktok_mock.get(
        USER_INFO_URL,
        json={"data": {}, "error": {"code": code, "message": "", "log_id": "L"}},
        status_code=status,
    )
    assert client.get("/api/me").status_code == 502
    assert refreshes(tiktok_mock) == []


# -- the refresher and its rotation record


def test_refresher_without_callbacks(app: Flask, tiktok_mock: Any) -> None:
    state = get_state(app)
    refresher = TokenRefresher(state.client, state.storage)
    expired = OAuth2Tokens(token_body(expires_in=0))
    tiktok_mock.post(TOKEN_URL, json=token_body(access_token="act.alice-2"))
    with app.test_request_context():
        assert refresher.ensure_fresh("open-id-alice", expired).access_token == (
            "act.alice-2"
        )
        tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
        again = OAuth2Tokens(token_body(expires_in=0, refresh_token="rft.other"))
        from flask_tiktok.errors import TikTokLoginRequired

        with pytest.raises(TikTokLoginRequired):
            refresher.ensure_fresh("open-id-alice", again)


def test_rotation_record_is_bounded_and_expires() -> None:
    record = _RotationRecord(ttl=300, size=2)
    tokens = OAuth2Tokens({"access_token": "a"})
    for name in ("r1", "r2", "r3"):
        record.put(name, tokens)
    assert record.get("r1") is None and record.get("r3") is tokens
    expired = _RotationRecord(ttl=-1, size=10)
    expired.put("r", tokens)
    assert expired.get("r") is None
