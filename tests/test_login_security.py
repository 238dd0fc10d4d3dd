"""Security properties of the login flow, each attacked directly."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, quote

import pytest
from conftest import REVOKE_URL, TOKEN_URL, log_in, start_login, token_body
from flask import Flask


def token_calls(mock: Any) -> int:
    return sum(1 for r in mock.request_history if r.url == TOKEN_URL)


@pytest.mark.parametrize(
    "query",
    [
        "code=c",
        "code=c&state=",
        "code=c&state=forged-state-value",
        "code=c&state=%00",
        "code=c&state=" + "x" * 5000,
    ],
)
def test_bad_state_never_reaches_the_token_endpoint(
    app: Flask, tiktok_mock: Any, query: str
) -> None:
    client = app.test_client()
    start_login(client)  # a real pending login exists in this session
    response = client.get(f"/tiktok/callback?{query}")
    assert response.status_code == 400
    assert token_calls(tiktok_mock) == 0


def test_state_is_single_use(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 302
    client.post("/tiktok/logout")
    replay = client.get(f"/tiktok/callback?code=c&state={state}")
    assert replay.status_code == 400
    assert token_calls(tiktok_mock) == 1


def test_state_expires(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 400
    assert token_calls(tiktok_mock) == 0


def test_state_of_another_browser_is_refused(app: Flask, tiktok_mock: Any) -> None:
    attacker = app.test_client()
    victim = app.test_client()
    state = start_login(attacker)["state"][0]
    # Login CSRF: the attacker's callback URL opened in the victim's browser.
    assert (
        victim.get(f"/tiktok/callback?code=attacker-code&state={state}").status_code
        == 400
    )
    assert token_calls(tiktok_mock) == 0
    assert victim.get("/").get_data(as_text=True) == "Anonymous"


def test_a_wrong_state_burns_nothing_but_itself(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    assert client.get("/tiktok/callback?code=c&state=guess").status_code == 400
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 302


def test_logins_in_several_tabs(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    first = start_login(client, "/one")["state"][0]
    second = start_login(client, "/two")["state"][0]
    assert (
        client.get(f"/tiktok/callback?code=c&state={first}").headers["Location"]
        == "/one"
    )
    assert (
        client.get(f"/tiktok/callback?code=c&state={second}").headers["Location"]
        == "/two"
    )


def test_every_login_has_fresh_state_and_verifier(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    seen = [start_login(client) for _ in range(5)]
    assert len({q["state"][0] for q in seen}) == 5
    assert len({q["code_challenge"][0] for q in seen}) == 5


UNSAFE_NEXT = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/\tevil",
    "/%09/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    "evil.example",
    "/\uff0fevil.example",  # full-width solidus
    "//user@evil.example",
    " /x",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_unsafe_next_falls_back(app: Flask, tiktok_mock: Any, target: str) -> None:
    client = app.test_client()
    response = log_in(client, quote(target, safe=""))
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/me", "/me?tab=videos&q=a%20b", "/@handle"])
def test_safe_next_is_followed(app: Flask, tiktok_mock: Any, target: str) -> None:
    response = log_in(app.test_client(), quote(target, safe=""))
    assert response.headers["Location"] == target


def test_logout_by_get_logs_nobody_out(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/tiktok/logout").status_code == 405
    assert client.get("/me").status_code == 200
    assert not any(r.url == REVOKE_URL for r in tiktok_mock.request_history)


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
    client = app.test_client()
    log_in(client)
    assert client.post("/tiktok/logout", headers=headers).status_code == 403
    assert client.get("/me").status_code == 200
    assert not any(r.url == REVOKE_URL for r in tiktok_mock.request_history)


@pytest.mark.parametrize(
    "headers", [{}, {"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}]
)
def test_same_site_logout_works(
    app: Flask, tiktok_mock: Any, headers: dict[str, str]
) -> None:
    client = app.test_client()
    log_in(client)
    assert client.post("/tiktok/logout", headers=headers).status_code == 302
    assert client.get("/me").status_code == 302


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


def revoked_tokens(mock: Any) -> list[str]:
    return [
        parse_qs(r.text)["token"][0]
        for r in mock.request_history
        if r.url == REVOKE_URL
    ]


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
