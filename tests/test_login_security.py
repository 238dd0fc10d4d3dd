"""Security properties of the login flow, each attacked directly."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from helpers import log_in, start_login, token_calls


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
    assert token_calls(tiktok_mock) == []


def test_state_is_single_use(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 302
    client.post("/tiktok/logout")
    replay = client.get(f"/tiktok/callback?code=c&state={state}")
    assert replay.status_code == 400
    assert len(token_calls(tiktok_mock)) == 1


def test_state_expires(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 400
    assert token_calls(tiktok_mock) == []


def test_state_of_another_browser_is_refused(app: Flask, tiktok_mock: Any) -> None:
    attacker = app.test_client()
    victim = app.test_client()
    state = start_login(attacker)["state"][0]
    # Login CSRF: the attacker's callback URL opened in the victim's browser.
    assert (
        victim.get(f"/tiktok/callback?code=attacker-code&state={state}").status_code
        == 400
    )
    assert token_calls(tiktok_mock) == []
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
