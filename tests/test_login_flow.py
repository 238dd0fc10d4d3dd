"""The login and callback routes end to end: the pending login, the code
exchange, failures that end in a clear answer, and declined scopes."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from helpers import (
    AUTHORIZE_URL,
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    calls,
    create_app,
    decline_stats,
    form,
    log_in,
    log_in_as_bob,
    start_login,
    token_body,
    user_info_body,
)

from flask_tiktok import signals, tiktok_login_required
from flask_tiktok.flow import PendingLogin

# -- the login flow


def test_login_end_to_end(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    query = start_login(client, "/me")
    assert query["client_key"] == ["client-key-1"]
    assert query["scope"] == ["user.info.basic"]
    assert query["redirect_uri"] == ["http://localhost/tiktok/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert tiktok_mock.call_count == 0

    response = client.get(
        f"/tiktok/callback?code=code-123&scopes=user.info.basic&state={query['state'][0]}"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"
    assert tiktok_mock.call_count == 2  # token + user info, nothing else
    token_call, info_call = tiktok_mock.request_history
    sent = form(token_call)
    assert sent["code"] == "code-123"
    assert sent["grant_type"] == "authorization_code"
    assert sent["redirect_uri"] == "http://localhost/tiktok/callback"
    assert (
        hashlib.sha256(sent["code_verifier"].encode()).hexdigest()
        == query["code_challenge"][0]
    )
    assert info_call.headers["Authorization"] == "Bearer act.alice-1"
    assert parse_qs(urlsplit(info_call.url).query)["fields"] == [
        "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name"
    ]

    page = client.get("/me")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Alice &lt;Creator&gt;</h1>" in html
    assert "https://p16.tiktokcdn.com/alice.jpeg" in html
    for _ in range(25):
        assert client.get("/me").status_code == 200
    assert tiktok_mock.call_count == 2

    response = client.post("/tiktok/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    revokes = calls(tiktok_mock, REVOKE_URL)
    assert len(revokes) == 1
    assert form(revokes[0]) == {
        "client_key": "client-key-1",
        "client_secret": "client-secret-1",
        "token": "act.alice-1",
    }
    assert client.get("/me").status_code == 302
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_a_new_login_replaces_the_previous_user(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    log_in_as_bob(client, tiktok_mock)
    assert client.get("/").get_data(as_text=True) == "Hello Bob"
    client.post("/tiktok/logout")
    assert form(calls(tiktok_mock, REVOKE_URL)[-1])["token"] == "act.bob"


def test_signals_fire(app: Flask, tiktok_mock: Any) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def receive(sender: Flask, **kwargs: Any) -> None:
            assert sender is app
            seen.append((name, kwargs))

        return receive

    handlers = {
        "in": recorder("in"),
        "out": recorder("out"),
        "failed": recorder("failed"),
    }
    with (
        signals.tiktok_logged_in.connected_to(handlers["in"], app),
        signals.tiktok_logged_out.connected_to(handlers["out"], app),
        signals.tiktok_login_failed.connected_to(handlers["failed"], app),
    ):
        client = app.test_client()
        log_in(client)
        client.post("/tiktok/logout")
        client.get("/tiktok/callback?code=x&state=forged")
    names = [name for name, _ in seen]
    assert names == ["in", "out", "failed"]
    assert seen[0][1]["user"].display_name == "Alice <Creator>"
    assert seen[0][1]["tokens"].access_token == "act.alice-1"
    assert seen[1][1] == {"open_id": "open-id-alice", "reason": "logout"}
    assert seen[2][1]["error"] == "invalid_state"


def test_next_survives_the_round_trip(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    login_url = client.get("/me?tab=videos").headers["Location"]
    authorize = client.get(login_url).headers["Location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    response = client.get(f"/tiktok/callback?code=c&state={state}")
    assert response.headers["Location"] == "/me?tab=videos"


# -- failures end in a clear answer, never a 500


def test_user_cancel_returns_to_the_site_with_a_message(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(
        f"/tiktok/callback?error=access_denied&error_description=User+cancelled&state={state}"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert session["_flashes"] == [("info", "TikTok login was cancelled.")]
    assert tiktok_mock.call_count == 0


def answer_callback(app: Flask, **mocks: Any) -> Any:
    client = app.test_client()
    state = start_login(client)["state"][0]
    return client.get(f"/tiktok/callback?code=c&state={state}")


@pytest.mark.parametrize(
    ("token_answer", "status", "error"),
    [
        (
            {
                "json": {
                    "error": "invalid_grant",
                    "error_description": "expired",
                    "log_id": "L9",
                }
            },
            400,
            "token_error",
        ),
        (
            {"json": {"error": "invalid_client", "log_id": "L9"}, "status_code": 401},
            400,
            "token_error",
        ),
        (
            {"text": "<html>502 Bad Gateway</html>", "status_code": 502},
            502,
            "tiktok_error",
        ),
        ({"json": {"token_type": "Bearer"}}, 502, "tiktok_error"),
        ({"json": token_body(open_id=None)}, 502, "tiktok_error"),
        ({"exc": requests.exceptions.ConnectTimeout}, 504, "tiktok_unreachable"),
        ({"exc": requests.exceptions.ConnectionError}, 504, "tiktok_unreachable"),
    ],
)
def test_token_failures(
    app: Flask, tiktok_mock: Any, token_answer: dict[str, Any], status: int, error: str
) -> None:
    tiktok_mock.post(TOKEN_URL, **token_answer)
    failures: list[dict[str, Any]] = []
    with signals.tiktok_login_failed.connected_to(
        lambda s, **kw: failures.append(kw), app
    ):
        response = answer_callback(app)
    assert response.status_code == status
    assert error in response.get_data(as_text=True)
    assert [f["error"] for f in failures] == [error]
    assert app.test_client().get("/").get_data(as_text=True) == "Anonymous"


def test_deeply_nested_answer_is_an_unexpected_response(
    app: Flask, tiktok_mock: Any
) -> None:
    """A token answer nested 100,000 deep (too deep for the JSON parser) gets
    the 502 page every other malformed answer gets, not a 500."""
    nested = "[" * 100_000 + "]" * 100_000
    tiktok_mock.post(TOKEN_URL, text=nested)
    response = log_in(app.test_client())
    assert response.status_code == 502


@pytest.mark.parametrize(
    "info_answer",
    [
        {
            "json": {
                "data": {},
                "error": {
                    "code": "access_token_invalid",
                    "message": "x",
                    "log_id": "L",
                },
            },
            "status_code": 401,
        },
        {"text": "<html>oops</html>", "status_code": 500},
        {"json": user_info_body({"open_id": "someone-else", "display_name": "Eve"})},
        {"exc": requests.exceptions.ReadTimeout},
    ],
)
def test_user_info_failures(
    app: Flask, tiktok_mock: Any, info_answer: dict[str, Any]
) -> None:
    tiktok_mock.get(USER_INFO_URL, **info_answer)
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(f"/tiktok/callback?code=c&state={state}")
    assert response.status_code in (502, 504)
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_authorization_errors_and_incomplete_callbacks(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(f"/tiktok/callback?error=invalid_scope&state={state}")
    assert response.status_code == 400
    state = start_login(client)["state"][0]
    assert client.get(f"/tiktok/callback?state={state}").status_code == 400
    assert tiktok_mock.call_count == 0


def test_error_page_as_json(app: Flask, tiktok_mock: Any) -> None:
    response = app.test_client().get(
        "/tiktok/callback?code=c&state=nope", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_state"


def test_error_page_is_overridable(tiktok_mock: Any, tmp_path: Any) -> None:
    (tmp_path / "tiktok").mkdir()
    (tmp_path / "tiktok" / "error.html").write_text("custom: {{ error }}")
    app = create_app()
    app.template_folder = str(tmp_path)
    response = app.test_client().get("/tiktok/callback?code=c&state=nope")
    assert response.get_data(as_text=True) == "custom: invalid_state"


# -- missing and declined scopes


def test_missing_scope_goes_back_through_tiktok(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/stats")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["scope"] == ["user.info.basic,user.info.stats"]
    tiktok_mock.post(
        TOKEN_URL, json=token_body(scope="user.info.basic,user.info.stats")
    )
    tiktok_mock.get(
        USER_INFO_URL,
        json=user_info_body(dict(open_id="open-id-alice", follower_count=42)),
    )
    back = client.get(f"/tiktok/callback?code=c2&state={query['state'][0]}")
    assert back.headers["Location"] == "/stats"
    assert client.get("/stats").get_data(as_text=True) == "followers: 42"
    fields = parse_qs(urlsplit(calls(tiktok_mock, USER_INFO_URL)[-1].url).query)[
        "fields"
    ][0]
    assert "follower_count" in fields.split(",")


def test_a_declined_scope_is_said_once_instead_of_asked_again(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    back = decline_stats(client, tiktok_mock)
    assert back.headers["Location"] == "/stats"

    page = client.get("/stats")
    assert page.status_code == 403
    text = page.get_data(as_text=True)
    assert "user.info.stats" in text
    assert "scope_declined" in text
    assert 'href="/stats"' in text  # "Try again" asks TikTok once more
    assert client.get("/").get_data(as_text=True).startswith("Hello")  # logged in

    again = client.get("/stats")
    assert again.status_code == 302
    query = parse_qs(urlsplit(again.headers["Location"]).query)
    assert query["scope"] == ["user.info.basic,user.info.stats"]


def test_a_declined_scope_does_not_block_other_pages(tiktok_mock: Any) -> None:

    app = create_app()

    @app.get("/videos-page")
    @tiktok_login_required(scopes=["video.list"])
    def videos_page() -> str:
        return "videos"

    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)
    # A page needing another scope still goes to TikTok...
    other = client.get("/videos-page")
    assert other.status_code == 302
    assert (
        "video.list" in parse_qs(urlsplit(other.headers["Location"]).query)["scope"][0]
    )
    # ...and does not use up the note of the page that was declined.
    assert client.get("/stats").status_code == 403


def test_a_decline_long_ago_is_asked_again(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)
    later = time.time() + 900  # past the ten minutes a decline is remembered
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/stats").status_code == 302


def test_a_new_login_replaces_a_declined_scope_note(
    app: Flask, tiktok_mock: Any
) -> None:
    """A later login as another user (without logout: set() replaces the
    request's user) does not inherit the previous login's note."""
    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)

    log_in_as_bob(client, tiktok_mock)
    response = client.get("/stats")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(AUTHORIZE_URL)


# -- the pending login record ----------------------------------------------------


def test_a_pending_login_round_trips_through_its_cookie_record() -> None:
    login = PendingLogin("st", "ver", "/me", "https://x/cb", 1_700_000_000, ("a",))
    record = login.encode()
    assert record == {
        "s": "st",
        "v": "ver",
        "n": "/me",
        "r": "https://x/cb",
        "c": 1_700_000_000,
        "w": ["a"],
    }
    assert PendingLogin.decode(json.loads(json.dumps(record))) == login
    assert "w" not in PendingLogin("st", "ver", "/", "https://x/cb", 1).encode()


@pytest.mark.parametrize(
    "record",
    [
        None,
        "st",
        [],
        {},
        {"s": "st", "v": "ver", "c": 1},
        {"s": 1, "v": "ver", "r": "https://x/cb", "c": 1},
        {"s": "st", "v": "ver", "r": "https://x/cb", "c": "1"},
        {"s": "st", "v": "ver", "r": "https://x/cb", "c": 1, "w": "a"},
    ],
)
def test_an_unreadable_pending_record_is_no_login(record: Any) -> None:
    assert PendingLogin.decode(record) is None


def test_a_pending_record_keeps_only_its_string_scopes() -> None:
    record = {"s": "st", "v": "ver", "r": "https://x/cb", "c": 1, "w": ["a", 2]}
    decoded = PendingLogin.decode(record)
    assert decoded is not None
    assert decoded.wanted == ("a",)
    assert decoded.next_url == ""
    assert decoded.expired(now=1 + 600) and not decoded.expired(now=600)
