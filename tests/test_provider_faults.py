"""TikTok on a bad day, at every endpoint the extension calls.

Each fault (timeout, connection reset, 5xx, an HTML page, 429 with and without
``Retry-After``, an error body sent with HTTP 200) at each endpoint (token at
login, user info at login, refresh through ``tiktok.api``, revoke at logout,
the API call itself) must end in a clear answer, never a 500, and leave
exactly one WARNING in the log, carrying TikTok's ``log_id`` when it sent one.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
from flask import Flask
from helpers import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    create_app,
    expired_login,
    log_in,
    start_login,
    token_body,
    who,
)

LOG_ID = "202611240000LOGID42"
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def oauth_error(code: str) -> dict[str, Any]:
    return {"error": code, "error_description": "it failed", "log_id": LOG_ID}


def api_error(code: str) -> dict[str, Any]:
    return {"data": {}, "error": {"code": code, "message": "failed", "log_id": LOG_ID}}


def fault(kind: str, endpoint_kind: str) -> tuple[dict[str, Any], bool]:
    """requests-mock keyword arguments for ``kind``, and whether it has a log_id."""
    error = oauth_error if endpoint_kind == "oauth" else api_error
    table: dict[str, tuple[dict[str, Any], bool]] = {
        "read-timeout": ({"exc": requests.exceptions.ReadTimeout}, False),
        "connect-timeout": ({"exc": requests.exceptions.ConnectTimeout}, False),
        "connection-reset": (
            {
                "exc": requests.exceptions.ConnectionError(
                    ConnectionResetError(104, "Connection reset by peer")
                )
            },
            False,
        ),
        "500-json": (
            {"status_code": 500, "json": error("internal_error")},
            True,
        ),
        "503-html": ({"status_code": 503, "text": HTML}, False),
        "200-html": ({"status_code": 200, "text": HTML}, False),
        "200-empty": ({"status_code": 200, "text": ""}, False),
        "429": ({"status_code": 429, "json": error("rate_limit_exceeded")}, True),
        "429-retry-after": (
            {
                "status_code": 429,
                "json": error("rate_limit_exceeded"),
                "headers": {"Retry-After": "30"},
            },
            True,
        ),
        "429-html-retry-after-date": (
            {
                "status_code": 429,
                "text": "Too Many Requests",
                "headers": {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
            },
            False,
        ),
        "200-error-body": (
            {"status_code": 200, "json": error("invalid_request")},
            True,
        ),
    }
    return table[kind]


FAULTS = [
    "read-timeout",
    "connect-timeout",
    "connection-reset",
    "500-json",
    "503-html",
    "200-html",
    "200-empty",
    "429",
    "429-retry-after",
    "429-html-retry-after-date",
    "200-error-body",
]
UNREACHABLE = {"read-timeout", "connect-timeout", "connection-reset"}
RATE_LIMITED = {"429", "429-retry-after", "429-html-retry-after-date"}


def after_login_status(kind: str) -> int:
    """What a request gets when TikTok fails it after login: 504 unreachable,
    503 (retry later) rate-limited, 502 anything else."""
    if kind in UNREACHABLE:
        return 504
    return 503 if kind in RATE_LIMITED else 502


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_logged_once(
    caplog: pytest.LogCaptureFixture, has_log_id: bool
) -> logging.LogRecord:
    records = warnings_logged(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert (LOG_ID in records[0].getMessage()) is has_log_id
    return records[0]


@pytest.fixture
def json_app() -> Flask:
    """TESTING off and exceptions not propagated: a bug shows as a 500."""
    return create_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_token_endpoint_fault_at_login(
    json_app: Flask,
    tiktok_mock: Any,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    accept: str,
) -> None:
    answer, has_log_id = fault(kind, "oauth")
    tiktok_mock.post(TOKEN_URL, **answer)
    client = json_app.test_client()
    state = start_login(client)["state"][0]
    caplog.set_level(logging.DEBUG)
    response = client.get(
        f"/tiktok/callback?code=c&state={state}", headers={"Accept": accept}
    )
    expected = {"read-timeout": 504, "connect-timeout": 504, "connection-reset": 504}
    expected["200-error-body"] = 400  # TikTok refused this login
    assert response.status_code == expected.get(kind, 502)
    assert_logged_once(caplog, has_log_id)
    if accept == "application/json":
        body = response.get_json()
        assert body["log_id"] == (LOG_ID if has_log_id else None)
    elif has_log_id:
        assert LOG_ID in response.get_data(as_text=True)
    assert who(client) == "Anonymous"
    assert not any(r.url.startswith(USER_INFO_URL) for r in tiktok_mock.request_history)


@pytest.mark.parametrize("kind", FAULTS)
def test_user_info_fault_at_login(
    json_app: Flask, tiktok_mock: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    answer, has_log_id = fault(kind, "api")
    tiktok_mock.get(USER_INFO_URL, **answer)
    client = json_app.test_client()
    state = start_login(client)["state"][0]
    caplog.set_level(logging.DEBUG)
    response = client.get(
        f"/tiktok/callback?code=c&state={state}",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == (504 if kind in UNREACHABLE else 502)
    assert response.get_json()["log_id"] == (LOG_ID if has_log_id else None)
    assert_logged_once(caplog, has_log_id)
    assert who(client) == "Anonymous"


@pytest.mark.parametrize("kind", FAULTS)
def test_refresh_fault_through_tiktok_api(
    json_app: Flask, tiktok_mock: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """A refresh TikTok could not answer keeps the login (try again later);
    only a refusal of the grant itself ends it."""
    client = json_app.test_client()
    expired_login(client, tiktok_mock)
    answer, has_log_id = fault(kind, "oauth")
    tiktok_mock.post(TOKEN_URL, **answer)
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/me", headers={"Accept": "application/json"})
    assert_logged_once(caplog, has_log_id)
    if kind == "200-error-body":
        # invalid_request: TikTok refused this refresh token: logged out.
        assert response.status_code == 401
        assert who(client) == "Anonymous"
        return
    assert response.status_code == after_login_status(kind)
    assert response.get_json()["log_id"] == (LOG_ID if has_log_id else None)
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    # When TikTok is back, the same login refreshes and works.
    tiktok_mock.post(TOKEN_URL, json=token_body(access_token="act.alice-2"))
    assert client.get("/api/me").status_code == 200
    assert tiktok_mock.last_request.headers["Authorization"] == "Bearer act.alice-2"


@pytest.mark.parametrize("code", ["invalid_grant", "invalid_request"])
def test_refused_refresh_is_logged_once_with_log_id(
    json_app: Flask, tiktok_mock: Any, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    client = json_app.test_client()
    expired_login(client, tiktok_mock)
    tiktok_mock.post(TOKEN_URL, status_code=400, json=oauth_error(code))
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tiktok/login?next=/api/me"
    record = assert_logged_once(caplog, True)
    assert code in record.getMessage()
    assert who(client) == "Anonymous"


def logged_in_then_fault(
    app: Flask,
    mock: Any,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    endpoint: str,
) -> tuple[Any, bool]:
    """A logged-in client, then TikTok's revoke (``"revoke"``) or user-info
    (``"api"``) endpoint failing with ``kind``, the log captured from then on;
    return the client and whether the fault carries a log_id."""
    client = app.test_client()
    log_in(client)
    if endpoint == "revoke":
        answer, has_log_id = fault(kind, "oauth")
        mock.post(REVOKE_URL, **answer)
    else:
        answer, has_log_id = fault(kind, "api")
        mock.get(USER_INFO_URL, **answer)
    caplog.set_level(logging.DEBUG)
    return client, has_log_id


@pytest.mark.parametrize("kind", FAULTS)
def test_revoke_fault_at_logout(
    json_app: Flask, tiktok_mock: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client, has_log_id = logged_in_then_fault(
        json_app, tiktok_mock, caplog, kind, "revoke"
    )
    response = client.post("/tiktok/logout", data={"next": "/bye"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/bye"
    assert_logged_once(caplog, has_log_id)
    assert who(client) == "Anonymous"


@pytest.mark.parametrize("kind", FAULTS)
def test_api_call_fault(
    json_app: Flask, tiktok_mock: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client, has_log_id = logged_in_then_fault(
        json_app, tiktok_mock, caplog, kind, "api"
    )
    response = client.get("/api/me", headers={"Accept": "application/json"})
    assert response.status_code == after_login_status(kind)
    assert response.headers.get("Retry-After") == (
        "30" if kind == "429-retry-after" else None
    )
    body = response.get_json()
    assert body["log_id"] == (LOG_ID if has_log_id else None)
    assert_logged_once(caplog, has_log_id)
    html = client.get("/api/me")
    assert html.status_code == response.status_code
    assert html.mimetype == "text/html"
    assert who(client) == "Hello Alice &lt;Creator&gt;"
