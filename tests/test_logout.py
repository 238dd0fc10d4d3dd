"""The logout route and logout_user: POST only and same-site, the revoke (after a
refresh when the access token expired), and what ends with the login."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from flask import Flask
from helpers import (
    AUTHORIZE_URL,
    REVOKE_URL,
    TOKEN_URL,
    create_app,
    decline_stats,
    log_in,
    log_in_as_bob,
    revoked_tokens,
    token_body,
)

from flask_tiktok import TikTok, signals
from flask_tiktok.state import get_state


def test_logout_by_get_logs_nobody_out(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/tiktok/logout").status_code == 405
    assert client.get("/me").status_code == 200
    assert not any(r.url == REVOKE_URL for r in tiktok_mock.request_history)


def logout_with(
    app: Flask, headers: dict[str, str], host: str | None = None
) -> tuple[int, int]:
    """Log in, POST the logout with ``headers``: its status, then /me's.
    ``host``: the ``Host`` of every request (what a proxy sends)."""
    client = app.test_client()
    if host is not None:
        client.environ_base["HTTP_HOST"] = host
    log_in(client)
    status = client.post("/tiktok/logout", headers=headers).status_code
    return status, client.get("/me").status_code


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_logout_is_refused(
    app: Flask, tiktok_mock: Any, headers: dict[str, str]
) -> None:
    assert logout_with(app, headers) == (403, 200)  # /me still served
    assert not any(r.url == REVOKE_URL for r in tiktok_mock.request_history)


@pytest.mark.parametrize(
    "headers", [{}, {"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}]
)
def test_same_site_logout_works(
    app: Flask, tiktok_mock: Any, headers: dict[str, str]
) -> None:
    assert logout_with(app, headers) == (302, 302)  # /me sends to the login


#: Behind a reverse proxy that rewrites Host, with no ProxyFix: the app sees
#: its upstream address, the browser the site's.
BEHIND_PROXY = "127.0.0.1:8000"
SITE = "https://app.example"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": SITE, "Sec-Fetch-Site": "same-origin"},
        {"Origin": SITE},  # no Sec-Fetch-Site (an older browser)
        {"Origin": "https://APP.example:443"},
    ],
)
def test_logout_behind_a_proxy_is_proved_by_the_pinned_redirect_uris_origin(
    tiktok_mock: Any, headers: dict[str, str]
) -> None:
    app = create_app(TIKTOK_REDIRECT_URI=f"{SITE}/tiktok/callback")
    assert logout_with(app, headers, BEHIND_PROXY) == (302, 302)
    assert revoked_tokens(tiktok_mock) == ["act.alice-1"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://app.example"},  # the site's host, over plain http
        {"Origin": "https://evil.example"},
        {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://app.example", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_an_origin_of_another_scheme_or_site_is_refused_behind_a_proxy(
    tiktok_mock: Any, headers: dict[str, str]
) -> None:
    app = create_app(TIKTOK_REDIRECT_URI=f"{SITE}/tiktok/callback")
    assert logout_with(app, headers, BEHIND_PROXY) == (403, 200)
    assert revoked_tokens(tiktok_mock) == []


def test_an_http_origin_is_refused_by_an_https_site(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    refused = client.post(
        "/tiktok/logout",
        base_url="https://localhost",
        headers={"Origin": "http://localhost"},
    )
    assert refused.status_code == 403
    assert client.get("/me").status_code == 200


def test_logout_survives_a_revoke_failure(app: Flask, tiktok_mock: Any) -> None:
    tiktok_mock.post(REVOKE_URL, text="<html>down</html>", status_code=503)
    client = app.test_client()
    log_in(client)
    response = client.post("/tiktok/logout", data={"next": "//evil.example"})
    assert response.headers["Location"] == "/"
    assert client.get("/me").status_code == 302


def test_logout_follows_a_safe_next(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    assert (
        client.post("/tiktok/logout", data={"next": "/bye"}).headers["Location"]
        == "/bye"
    )


def test_logout_after_expiry_refreshes_to_revoke(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TikTok revokes by access token; an expired one no longer names the
    authorization, so the logout trades the refresh token for a live one."""
    client = app.test_client()
    log_in(client)
    a_day_later = time.time() + 90_000
    monkeypatch.setattr(time, "time", lambda: a_day_later)
    tiktok_mock.post(
        TOKEN_URL, json=token_body(access_token="act.alice-2", refresh_token="rft.2")
    )
    response = client.post("/tiktok/logout")
    assert response.status_code == 302
    refresh = parse_qs(tiktok_mock.request_history[-2].text)
    assert refresh["grant_type"] == ["refresh_token"]
    assert refresh["refresh_token"] == ["rft.alice-1"]
    assert revoked_tokens(tiktok_mock) == ["act.alice-2"]
    assert client.get("/me").status_code == 302


def test_logout_with_a_live_token_revokes_it_without_a_refresh(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    client.post("/tiktok/logout")
    assert revoked_tokens(tiktok_mock) == ["act.alice-1"]
    grants = [parse_qs(r.text).get("grant_type") for r in tiktok_mock.request_history]
    assert ["refresh_token"] not in grants


def test_logout_with_everything_expired_calls_tiktok_not_at_all(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    tiktok_mock.post(TOKEN_URL, json=token_body(expires_in=60, refresh_expires_in=120))
    log_in(client)
    calls_at_login = tiktok_mock.call_count
    an_hour_later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: an_hour_later)
    assert client.get("/").get_data(as_text=True).startswith("Hello")  # still here
    assert client.post("/tiktok/logout").status_code == 302
    assert tiktok_mock.call_count == calls_at_login
    assert client.get("/me").status_code == 302


def test_logout_after_expiry_survives_a_refused_refresh(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    log_in(client)
    a_day_later = time.time() + 90_000
    monkeypatch.setattr(time, "time", lambda: a_day_later)
    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L7"})
    assert client.post("/tiktok/logout").status_code == 302
    assert revoked_tokens(tiktok_mock) == []
    assert client.get("/me").status_code == 302


def test_a_declined_scope_note_does_not_survive_logout(
    app: Flask, tiktok_mock: Any
) -> None:
    """Alice's note must not turn Bob's first visit of /stats, in the same
    browser after her logout, into a "permission not granted" page: Bob was
    never asked."""
    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)
    assert client.post("/tiktok/logout").status_code == 302

    log_in_as_bob(client, tiktok_mock)
    assert "Bob" in client.get("/").get_data(as_text=True)
    response = client.get("/stats")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(AUTHORIZE_URL)


def test_logout_user_without_a_user_sends_nothing(app: Flask) -> None:

    seen: list[Any] = []
    with (
        signals.tiktok_logged_out.connected_to(lambda s, **kw: seen.append(kw), app),
        app.test_request_context(),
    ):
        app.extensions["test_tiktok"].logout_user()
        assert app.extensions["test_tiktok"].storage is get_state().storage
    assert seen == []


def test_the_logout_route_ends_the_login_through_logout_user(
    tiktok_mock: Any,
) -> None:
    """An app that overrides ``TikTok.logout_user`` sees every logout."""
    seen: list[str] = []

    class AuditedTikTok(TikTok):
        def logout_user(self, reason: str = "logout") -> None:
            seen.append(reason)
            super().logout_user(reason)

    client = create_app(extension=AuditedTikTok).test_client()
    log_in(client)
    assert client.post("/tiktok/logout").status_code == 302
    assert seen == ["logout"]
    assert revoked_tokens(tiktok_mock) == ["act.alice-1"]
    assert client.get("/me").status_code == 302
