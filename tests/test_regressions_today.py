"""Defects found in the review of today's changes: each test failed before its fix."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import (
    AUTHORIZE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    create_app,
    log_in,
    token_body,
    user_info_body,
)
from flask import Flask

from flask_tiktok.sandbox import Sandbox

# -- Settings.from_config: values that worked before it checked every key -----


def test_an_empty_redirect_uri_still_means_the_callback_url() -> None:
    """``TIKTOK_REDIRECT_URI=""`` (an empty environment variable, e.g. through
    ``app.config.from_prefixed_env()`` or ``os.environ.get(name, "")``) used to
    fall back to ``url_for("tiktok.callback")``; init_app now refuses it."""
    app = create_app(TIKTOK_REDIRECT_URI="")
    response = app.test_client().get("/tiktok/login")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["redirect_uri"] == ["http://localhost/tiktok/callback"]


def test_an_empty_redirect_uri_from_prefixed_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The configuration page's own example, with the variable set but empty."""
    monkeypatch.setenv("FLASK_TIKTOK_REDIRECT_URI", "")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY="k",
        TIKTOK_CLIENT_SECRET="s",
    )
    app.config.from_prefixed_env()
    from flask_tiktok import TikTok

    TikTok(app)  # raised ValueError: TIKTOK_REDIRECT_URI is an absolute URL, not ''


def test_url_prefix_none_still_mounts_at_the_root() -> None:
    """``TIKTOK_URL_PREFIX=None`` is Flask's own "no prefix" (register_blueprint's
    default); it worked before and is refused now."""
    app = create_app(TIKTOK_URL_PREFIX=None)
    with app.test_request_context():
        from flask import url_for

        assert url_for("tiktok.login") == "/login"


def test_url_scheme_is_case_insensitive() -> None:
    """RFC 3986: the scheme is case-insensitive; ``HTTPS://`` worked before."""
    create_app(TIKTOK_API_BASE_URL="HTTPS://open.tiktokapis.com/v2/")


# -- the rate-limit page --------------------------------------------------------


def test_infinite_retry_after_is_not_a_500(app: Flask, tiktok_mock: Any) -> None:
    """A ``Retry-After: inf`` (or ``1e999``) from TikTok or a proxy in front of
    it: math.ceil(inf) raised OverflowError inside the error handler."""
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


# -- the sandbox's signed consent form -----------------------------------------


def test_a_non_ascii_consent_signature_is_refused_not_a_500() -> None:
    """hmac.compare_digest raises TypeError on a non-ASCII str."""
    sandbox = Sandbox()
    app = sandbox.apps[0]
    client = sandbox.wsgi_app.test_client()
    response = client.post(
        "/v2/auth/authorize/",
        data={
            "client_key": app.client_key,
            "scope": "user.info.basic",
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:5000/tiktok/callback",
            "state": "s",
            "code_challenge": "c" * 64,
            "code_challenge_method": "S256",
            "consent_signature": "\u00e9" * 64,
            "action": "authorize",
        },
    )
    assert response.status_code < 500


# -- the declined-scope note -----------------------------------------------------

BOB = {
    "open_id": "open-id-bob",
    "union_id": "union-bob",
    "avatar_url": "https://p16.tiktokcdn.com/bob.jpeg",
    "display_name": "Bob",
}


def _decline_stats_without_following(client: Any) -> None:
    """Alice opens /stats, is sent to TikTok, unticks user.info.stats; the
    callback notes it, and she does not follow its redirect (closed tab)."""
    asked = client.get("/stats")
    assert asked.status_code == 302
    assert asked.headers["Location"].startswith(AUTHORIZE_URL)
    state = parse_qs(urlsplit(asked.headers["Location"]).query)["state"][0]
    back = client.get(f"/tiktok/callback?code=c2&scopes=user.info.basic&state={state}")
    assert back.status_code == 302
    assert back.headers["Location"] == "/stats"


def test_a_declined_scope_note_does_not_survive_logout(
    app: Flask, tiktok_mock: Any
) -> None:
    """Alice's note must not turn Bob's first visit of /stats, in the same
    browser after her logout, into a "permission not granted" page: Bob was
    never asked."""
    client = app.test_client()
    log_in(client)
    _decline_stats_without_following(client)
    assert client.post("/tiktok/logout").status_code == 302

    log_in_as_bob(client, tiktok_mock)
    assert "Bob" in client.get("/").get_data(as_text=True)
    response = client.get("/stats")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(AUTHORIZE_URL)


def log_in_as_bob(client: Any, tiktok_mock: Any) -> None:
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(
            open_id="open-id-bob", access_token="act.bob", refresh_token="rft.bob"
        ),
    )
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(dict(BOB)))
    log_in(client)


def test_a_new_login_replaces_a_declined_scope_note(
    app: Flask, tiktok_mock: Any
) -> None:
    """A later login as another user (without logout: set() replaces the
    request's user) does not inherit the previous login's note."""
    client = app.test_client()
    log_in(client)
    _decline_stats_without_following(client)

    log_in_as_bob(client, tiktok_mock)
    response = client.get("/stats")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(AUTHORIZE_URL)


# -- the webhook body an app already read, under gunicorn -------------------------


def test_webhook_body_already_read_under_a_server_that_terminates_input() -> None:
    """gunicorn (and Werkzeug's dev server for chunked bodies) sets
    ``wsgi.input_terminated``: receive_webhook then reads ``request.stream``,
    which an app's before_request that logged the body (``get_data()``) has
    emptied, and every genuine delivery gets 401 invalid_signature. Today's
    fix for an already-read body only covers servers that do not set it."""
    from flask import request
    from test_webhooks import event_body, post

    app = create_app()
    app.before_request(lambda: (request.get_data(), None)[1])
    client = app.test_client()
    client.environ_base["wsgi.input_terminated"] = True  # as gunicorn's environ
    response = post(client, event_body())
    assert response.status_code == 200, response.get_json()
