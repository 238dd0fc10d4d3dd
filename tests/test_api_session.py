"""tiktok.api and api_for: the Bearer call under the API base URL, TikTok's
error envelope as a clear answer, bodies on a retry, offline access."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from helpers import (
    ALICE,
    INVALID_TOKEN,
    ROTATED,
    TOKEN_URL,
    USER_INFO_URL,
    calls,
    create_app,
    expired,
    log_in,
    refreshes,
    store,
    token_body,
    user_info_body,
)

from flask_tiktok import SessionStorage, TikTokLoginRequired, signals
from flask_tiktok.sqla import SQLAlchemyStorage
from flask_tiktok.tokens import OAuth2Tokens


def test_api_sends_bearer_and_relative_path(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.get_json()["user"]["open_id"] == "open-id-alice"
    sent = calls(tiktok_mock, USER_INFO_URL)[-1]
    assert sent.method == "GET"
    assert urlsplit(sent.url).path == "/v2/user/info/"
    assert parse_qs(urlsplit(sent.url).query) == {"fields": ["open_id"]}
    assert sent.headers["Authorization"] == "Bearer act.alice-1"
    assert sent.timeout == 10
    assert refreshes(tiktok_mock) == []


def test_api_session_verbs_send_the_bearer(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    for method in ("POST", "PUT", "DELETE"):
        tiktok_mock.register_uri(method, USER_INFO_URL, json={"data": {}})
    with client.session_transaction() as sess:
        record = dict(sess["_tiktok"])
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = record
        api = app.extensions["test_tiktok"].api
        for verb in (api.post, api.put, api.delete):
            assert verb("user/info/").status_code == 200
            assert tiktok_mock.last_request.headers["Authorization"] == (
                "Bearer act.alice-1"
            )
    assert [r.method for r in tiktok_mock.request_history[-3:]] == [
        "POST",
        "PUT",
        "DELETE",
    ]


def test_api_base_url_and_timeout_come_from_config(tiktok_mock: Any) -> None:
    app = create_app(
        TIKTOK_API_BASE_URL="https://api.example/v9", TIKTOK_HTTP_TIMEOUT=3
    )
    tiktok_mock.get("https://api.example/v9/user/info/", json=user_info_body())
    client = app.test_client()
    log_in(client)
    assert client.get("/api/me").status_code == 200
    assert tiktok_mock.last_request.url.startswith("https://api.example/v9/user/info/")
    assert tiktok_mock.last_request.timeout == 3


def test_api_error_envelope_becomes_a_clear_answer(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    tiktok_mock.get(
        USER_INFO_URL,
        status_code=429,
        json={
            "data": {},
            "error": {"code": "rate_limit_exceeded", "message": "slow", "log_id": "L7"},
        },
    )
    response = client.get("/api/me", headers={"Accept": "application/json"})
    assert response.status_code == 503  # TikTok's rate limit: retry later
    assert response.get_json() == {
        "error": "rate_limit_exceeded",
        "log_id": "L7",
        "message": "TikTok asked us to slow down. Please try again in a moment.",
    }
    tiktok_mock.get(USER_INFO_URL, exc=requests.exceptions.ReadTimeout)
    assert client.get("/api/me").status_code == 504


def test_infinite_retry_after_is_not_a_500(app: Flask, tiktok_mock: Any) -> None:
    """A ``Retry-After: inf`` (or ``1e999``) from TikTok or a proxy in front of
    it: the rate-limit page is a 503, with no Retry-After or a whole number."""
    client = app.test_client()
    log_in(client)
    tiktok_mock.get(
        USER_INFO_URL,
        status_code=429,
        headers={"Retry-After": "inf"},
        json={
            "data": {},
            "error": {"code": "rate_limit_exceeded", "message": "", "log_id": "L"},
        },
    )
    response = client.get("/api/me")
    assert response.status_code == 503
    retry_after = response.headers.get("Retry-After")
    assert retry_after is None or retry_after.isdigit()


def test_anonymous_api_call_is_answered_like_a_protected_route(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/me").headers["Location"] == "/tiktok/login?next=/api/me"
    assert (
        client.get("/api/me", headers={"Accept": "application/json"}).status_code == 401
    )


def _drain(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | str):
        return body.encode() if isinstance(body, str) else body
    if hasattr(body, "read"):
        return bytes(body.read())
    return b"".join(body)


VIDEO_INIT = "https://open.tiktokapis.com/v2/post/publish/video/init/"


@pytest.mark.parametrize("kind", ["generator", "file"])
def test_one_shot_body_is_not_resent_empty(
    app: Flask, tiktok_mock: Any, kind: str
) -> None:
    """api.request's docstring: bodies readable once are not resent. A token
    TikTok rejects is refreshed, but the call is not retried with an empty
    body (a lost upload): TikTok's 401 goes back to the caller."""
    sent: list[bytes] = []
    answers = iter(
        [
            ({"status_code": 401}, INVALID_TOKEN),
            ({"status_code": 200}, {"data": {}, "error": {"code": "ok"}}),
        ]
    )

    def answer(request: Any, context: Any) -> Any:
        sent.append(_drain(request.body))
        meta, body = next(answers)
        context.status_code = meta["status_code"]
        return body

    tiktok_mock.post(VIDEO_INIT, json=answer)
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    client = app.test_client()
    log_in(client)
    tiktok = app.extensions["test_tiktok"]
    payload = b'{"source_info": {"source": "PULL_FROM_URL"}}'
    with client:
        client.get("/")
        data: Any = (
            (chunk for chunk in [payload])
            if kind == "generator"
            else io.BytesIO(payload)
        )
        response = tiktok.api.post("post/publish/video/init/", data=data)
    # Either no retry, or a retry with the whole body: never an empty one.
    assert sent == [payload]
    assert response.status_code == 401  # TikTok's answer, for the caller to retry
    refreshed = [r for r in tiktok_mock.request_history if r.url == TOKEN_URL]
    assert "grant_type=refresh_token" in refreshed[-1].text


# -- api_for: a stored user's tokens outside the user's requests


def test_api_for_calls_refreshes_and_stores_outside_a_request(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, expired())
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok = sqla_app.extensions["test_tiktok"]
    refreshed: list[str] = []
    with sqla_app.app_context():
        api = tiktok.api_for(ALICE)
    with signals.tiktok_token_refreshed.connected_to(
        lambda s, **kw: refreshed.append(kw["open_id"]), sqla_app
    ):
        # Outside any context: the session pushes the sqla_app's for the storage.
        data = api.call("GET", "user/info/", params={"fields": "open_id"})
        api.get("user/info/", params={"fields": "display_name"})
    assert data["user"]["open_id"] == ALICE
    assert refreshed == [ALICE]
    assert len(refreshes(tiktok_mock)) == 1
    sent = [r for r in tiktok_mock.request_history if r.url.startswith(USER_INFO_URL)]
    assert [r.headers["Authorization"] for r in sent] == ["Bearer act.alice-2"] * 2
    assert [r.qs for r in sent] == [
        {"fields": ["open_id"]},
        {"fields": ["display_name"]},
    ]
    with sqla_app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-2"  # type: ignore[union-attr]
        with pytest.raises(TikTokLoginRequired, match="open-id-nobody"):
            tiktok.api_for("open-id-nobody").get("user/info/")


def test_api_for_renews_a_token_tiktok_rejected_early_and_retries_once(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, OAuth2Tokens(token_body()))
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    rejected = {
        "data": {},
        "error": {"code": "access_token_invalid", "message": "x", "log_id": "L"},
    }
    tiktok_mock.get(
        USER_INFO_URL,
        [{"status_code": 401, "json": rejected}, {"json": user_info_body()}],
    )
    with sqla_app.app_context():
        api = sqla_app.extensions["test_tiktok"].api_for(ALICE)
    assert api.get("user/info/").status_code == 200
    sent = [r for r in tiktok_mock.request_history if r.url.startswith(USER_INFO_URL)]
    assert [r.headers["Authorization"] for r in sent] == [
        "Bearer act.alice-1",
        "Bearer act.alice-2",
    ]
    assert [f["refresh_token"] for f in refreshes(tiktok_mock)] == ["rft.alice-1"]
    with sqla_app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-2"  # type: ignore[union-attr]


def test_api_for_needs_a_shared_storage() -> None:
    app = create_app(storage=SessionStorage())
    with app.app_context(), pytest.raises(RuntimeError, match="shared storage"):
        app.extensions["test_tiktok"].api_for(ALICE)
