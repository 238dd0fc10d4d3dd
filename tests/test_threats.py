"""The threat list: every promise of design.md attacked, one threat per test.

References: RFC 9700 (OAuth 2.0 Security Best Current Practice), RFC 6749
section 10 (Security Considerations), the OWASP OAuth 2.0 and Unvalidated
Redirects cheat sheets. Each test's docstring names the threat it stands for.
TikTok is either requests-mock (``tiktok_mock`` from conftest) or the
independent sandbox served on loopback, which enforces PKCE and one-use codes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import requests_mock
from flask import Flask, jsonify
from helpers import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    cookie_payload,
    create_app,
    form,
    log_in,
    start_login,
    token_body,
    token_calls,
    user_info_body,
    who,
)
from werkzeug.serving import make_server

from flask_tiktok import current_tiktok_user, signals
from flask_tiktok.redirects import is_safe_next
from flask_tiktok.sandbox import Sandbox
from flask_tiktok.storage.sealing import TokenCipher
from flask_tiktok.testing import login_as

SANDBOX_REDIRECT = "http://127.0.0.1/tiktok/callback"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The sandbox with 30-second access tokens: every API call refreshes."""
    box = Sandbox(access_token_lifetime=30)
    with box.serve() as server:
        box.url = server.url  # type: ignore[attr-defined]
        yield box


def sandbox_app(box: Sandbox, **config: Any) -> Flask:
    return create_app(
        TIKTOK_REDIRECT_URI=SANDBOX_REDIRECT,
        **box.config_for(box.url),  # type: ignore[attr-defined]
        **config,
    )


# -- state: forged, missing, replayed, expired (RFC 6749 10.12, RFC 9700 4.7) --


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("code=c", id="missing"),
        pytest.param("code=c&state=", id="empty"),
        pytest.param("code=c&state=forged", id="forged"),
        pytest.param("code=c&state={real}x", id="real-plus-suffix"),
        pytest.param("code=c&state={prefix}", id="real-prefix"),
        pytest.param("code=c&state={upper}", id="real-other-case"),
        pytest.param("code=c&state=%20{real}", id="real-with-space"),
        pytest.param("code=c&state=forged&state={real}", id="forged-first-of-two"),
        pytest.param("code=c&state[]={real}", id="renamed-param"),
        pytest.param("code=c&State={real}", id="param-case"),
        pytest.param("code=c&state=%EF%BC%A1{real}", id="unicode-prefix"),
        pytest.param("code=c&state=%FF%FE", id="not-utf8"),
    ],
)
def test_forged_or_missing_state_is_refused_before_any_token_call(
    app: Flask, tiktok_mock: Any, query: str
) -> None:
    """Threat: CSRF on the redirect endpoint with a forged or missing ``state``
    (RFC 6749 10.12, RFC 9700 4.7.1). No token call, no login, a failure signal,
    and the genuine pending login is not burned by the guess."""
    client = app.test_client()
    real = start_login(client)["state"][0]
    failures: list[str] = []
    with signals.tiktok_login_failed.connected_to(
        lambda s, **kw: failures.append(kw["error"]), app
    ):
        response = client.get(
            "/tiktok/callback?"
            + query.format(real=real, prefix=real[:-1], upper=real.swapcase())
        )
    assert response.status_code == 400
    assert failures == ["invalid_state"]
    assert token_calls(tiktok_mock) == []
    assert who(client) == "Anonymous"
    ok = client.get(f"/tiktok/callback?code=c&state={real}")
    assert ok.status_code == 302


def test_replayed_state_is_refused_while_logged_in(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: replay of a used callback URL (from history, a log, a Referer)
    to swap the session's account (RFC 6749 10.12: state is one-use)."""
    client = app.test_client()
    state = start_login(client)["state"][0]
    assert client.get(f"/tiktok/callback?code=c1&state={state}").status_code == 302
    tiktok_mock.post(TOKEN_URL, json=token_body(open_id="open-id-mallory"))
    replay = client.get(f"/tiktok/callback?code=c2&state={state}")
    assert replay.status_code == 400
    assert [c["code"] for c in token_calls(tiktok_mock)] == ["c1"]
    assert who(client) == "Hello Alice &lt;Creator&gt;"


@pytest.mark.parametrize(("age", "accepted"), [(599, True), (600, False)])
def test_state_expires_after_ten_minutes(
    app: Flask,
    tiktok_mock: Any,
    monkeypatch: pytest.MonkeyPatch,
    age: int,
    accepted: bool,
) -> None:
    """Threat: a stale login link used long after it was issued (RFC 9700
    4.7: a state lives only as long as the authorization attempt)."""
    now = 1_800_000_000.0
    monkeypatch.setattr(time, "time", lambda: now)
    client = app.test_client()
    state = start_login(client)["state"][0]
    monkeypatch.setattr(time, "time", lambda: now + age)
    response = client.get(f"/tiktok/callback?code=c&state={state}")
    assert response.status_code == (302 if accepted else 400)
    assert len(token_calls(tiktok_mock)) == (1 if accepted else 0)


def test_a_state_is_bound_to_its_own_verifier_and_redirect_uri(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: mix-up of two pending logins in one browser (RFC 9700 4.4, 4.5):
    the code exchange must carry the verifier of the flow whose state came back."""
    client = app.test_client()
    first = start_login(client)
    second = start_login(client)
    client.get(f"/tiktok/callback?code=c&state={second['state'][0]}")
    sent = token_calls(tiktok_mock)[0]
    challenge = hashlib.sha256(sent["code_verifier"].encode()).hexdigest()
    assert challenge == second["code_challenge"][0] != first["code_challenge"][0]
    assert sent["redirect_uri"] == second["redirect_uri"][0]


# -- authorization code replay and injection (RFC 6749 10.5, RFC 9700 4.5) --


def test_code_replayed_through_a_second_flow_gets_no_tokens(sandbox: Sandbox) -> None:
    """Threat: authorization code replay. One code, redeemed once through its
    own flow, is submitted again with the state of a second pending login. The
    app sends the second flow's verifier, the real provider refuses it, and
    the app logs nobody in on the replay (RFC 6749 10.5, RFC 9700 4.5)."""
    app = sandbox_app(sandbox)
    client = app.test_client()
    first = start_login_sandbox(client)
    second = start_login_sandbox(client)
    code = sandbox.issue_code(
        first["client_key"],
        "sandbox-open-id-alice",
        ["user.info.basic"],
        SANDBOX_REDIRECT,
        code_challenge=first["code_challenge"],
    )
    ok = client.get(f"/tiktok/callback?code={code}&state={first['state']}")
    assert ok.status_code == 302
    client.post("/tiktok/logout")
    replay = client.get(f"/tiktok/callback?code={code}&state={second['state']}")
    assert replay.status_code == 400
    assert "token_error" in replay.get_data(as_text=True)
    assert who(client) == "Anonymous"
    exchanges = sandbox.calls_to("token", grant_type="authorization_code")
    assert [c.get("code") for c in exchanges] == [code, code]
    assert exchanges[0].get("code_verifier") != exchanges[1].get("code_verifier")
    # ...and through the first (used) state it never reaches TikTok again.
    again = client.get(f"/tiktok/callback?code={code}&state={first['state']}")
    assert again.status_code == 400
    assert len(sandbox.calls_to("token", grant_type="authorization_code")) == 2


def test_injected_code_of_another_account_is_refused(sandbox: Sandbox) -> None:
    """Threat: authorization code injection. The attacker's own code (bound
    to the attacker's PKCE challenge) is delivered to the victim's pending
    login: the victim's verifier does not match, so no session is created for
    the attacker's account (RFC 9700 4.5, PKCE as the countermeasure)."""
    app = sandbox_app(sandbox)
    attacker, victim = app.test_client(), app.test_client()
    mine = start_login_sandbox(attacker)
    code = sandbox.issue_code(
        mine["client_key"],
        "sandbox-open-id-bob",
        ["user.info.basic"],
        SANDBOX_REDIRECT,
        code_challenge=mine["code_challenge"],
    )
    theirs = start_login_sandbox(victim)
    response = victim.get(f"/tiktok/callback?code={code}&state={theirs['state']}")
    assert response.status_code == 400
    assert who(victim) == "Anonymous"


def start_login_sandbox(client: Any) -> dict[str, str]:
    response = client.get("/tiktok/login")
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


# -- login CSRF: a callback delivered to another browser (RFC 6749 10.12) --


def test_callback_delivered_to_a_logged_in_victim_changes_nothing(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: login CSRF. The attacker starts a login, stops at the callback
    and makes a logged-in victim's browser open it (an <img>, a link): the
    victim must stay themselves, and their own pending login must survive."""
    attacker, victim = app.test_client(), app.test_client()
    log_in(victim)
    victim_state = start_login(victim)["state"][0]
    attacker_state = start_login(attacker)["state"][0]
    calls_before = len(token_calls(tiktok_mock))
    response = victim.get(f"/tiktok/callback?code=attacker-code&state={attacker_state}")
    assert response.status_code == 400
    assert len(token_calls(tiktok_mock)) == calls_before
    assert who(victim) == "Hello Alice &lt;Creator&gt;"
    assert (
        victim.get(f"/tiktok/callback?code=c&state={victim_state}").status_code == 302
    )
    # The attacker's own state still only works in the attacker's browser.
    assert (
        attacker.get(f"/tiktok/callback?code=c&state={attacker_state}").status_code
        == 302
    )


# -- open redirects through ``next`` (RFC 6749 10.15, RFC 9700 4.11, OWASP) --

UNSAFE_NEXT = [
    pytest.param("https://evil.example/", id="https"),
    pytest.param("HtTpS://evil.example", id="mixed-case-scheme"),
    pytest.param("http:/evil.example", id="scheme-one-slash"),
    pytest.param("http:evil.example", id="scheme-no-slash"),
    pytest.param("evil.example", id="bare-host"),
    pytest.param("//evil.example", id="protocol-relative"),
    pytest.param("///evil.example", id="triple-slash"),
    pytest.param("////evil.example", id="quad-slash"),
    pytest.param("/\\evil.example", id="slash-backslash"),
    pytest.param("\\\\evil.example", id="double-backslash"),
    pytest.param("\\/evil.example", id="backslash-slash"),
    pytest.param("/\\/evil.example", id="slash-backslash-slash"),
    pytest.param("/%2F%2Fevil.example", id="pct-slashes"),
    pytest.param("/%2f/evil.example", id="pct-slash-lower"),
    pytest.param("%2F%2Fevil.example", id="pct-leading"),
    pytest.param("/%252F%252Fevil.example", id="double-pct-slashes"),
    pytest.param("/%25252F%25252Fevil.example", id="triple-pct-slashes"),
    pytest.param("/%2525252F%2525252Fevil.example", id="quadruple-pct"),
    pytest.param("/%5Cevil.example", id="pct-backslash"),
    pytest.param("/%255Cevil.example", id="double-pct-backslash"),
    pytest.param("/\tevil.example", id="tab"),
    pytest.param("/\t/evil.example", id="tab-slash"),
    pytest.param("/%09/evil.example", id="pct-tab"),
    pytest.param("/\n/evil.example", id="newline"),
    pytest.param("/%0a/evil.example", id="pct-newline"),
    pytest.param("/%0d%0aSet-Cookie:%20x=1", id="pct-crlf-injection"),
    pytest.param("/\r\nLocation: https://evil.example", id="crlf-injection"),
    pytest.param("/%E2%80%A8/evil.example", id="pct-line-separator"),
    pytest.param("/\x00/evil.example", id="nul"),
    pytest.param("/%00", id="pct-nul"),
    pytest.param("/\uff0fevil.example", id="fullwidth-solidus"),
    pytest.param("\uff0f\uff0fevil.example", id="fullwidth-solidus-leading"),
    pytest.param("/\uff3cevil.example", id="fullwidth-reverse-solidus"),
    pytest.param("/%EF%BC%8F%EF%BC%8Fevil.example", id="pct-fullwidth-solidus"),
    pytest.param("/%EF%BC%BCevil.example", id="pct-fullwidth-backslash"),
    pytest.param("//evil\u3002example", id="ideographic-full-stop"),
    pytest.param("/%E3%80%82evil", id="pct-ideographic-full-stop"),
    pytest.param("/\u2215evil.example", id="division-slash"),
    pytest.param("/%EF%B9%A8evil.example", id="pct-small-reverse-solidus"),
    pytest.param("/%C0%AF/evil.example", id="overlong-utf8-slash"),
    pytest.param("//user@evil.example", id="userinfo"),
    pytest.param("https://app.example@evil.example", id="userinfo-lookalike"),
    pytest.param("//xn--80ak6aa92e.com", id="idn-punycode"),
    pytest.param("//\u0430pple.com", id="idn-homograph"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("JaVaScRiPt:alert(1)", id="javascript-mixed-case"),
    pytest.param("java\tscript:alert(1)", id="javascript-tab"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data-uri"),
    pytest.param("vbscript:msgbox(1)", id="vbscript"),
    pytest.param(" /x", id="leading-space"),
    pytest.param("/x ", id="trailing-space"),
    pytest.param("#//evil.example", id="fragment-only"),
    pytest.param("?next=//evil.example", id="query-only"),
    pytest.param("/" + "a" * 3000, id="overlong"),
]

SAFE_NEXT = [
    "/me",
    "/me?tab=videos&q=a%20b",
    "/@handle",
    "/x/y?z=1#frag",
    "/javascript:alert(1)",  # a path on this site, however it looks
    "/.evil.example",
    "/a%20b",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_is_safe_next_refuses_bypass_payloads(target: str) -> None:
    """Threat: open redirect (OWASP Unvalidated Redirects; RFC 9700 4.11):
    :func:`is_safe_next` over the bypass table."""
    assert is_safe_next(target) is False


@pytest.mark.parametrize("target", SAFE_NEXT)
def test_is_safe_next_accepts_local_paths(target: str) -> None:
    """The table's control: plain local paths are followed."""
    assert is_safe_next(target) is True


def login_with_next(client: Any, target: str) -> Any:
    """Log in through ``/login?next=target``; return the callback's response."""
    response = client.get("/tiktok/login", query_string={"next": target})
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    return client.get(f"/tiktok/callback?code=c&state={state}")


@pytest.fixture
def home_app() -> Flask:
    return create_app(TIKTOK_LOGIN_REDIRECT="/home")


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_open_redirect_through_login_next(
    home_app: Flask, tiktok_mock: Any, target: str
) -> None:
    """Threat: open redirect after login via ``/login?next=`` (RFC 9700 4.11):
    the callback falls back to TIKTOK_LOGIN_REDIRECT."""
    client = home_app.test_client()
    back = login_with_next(client, target)
    assert back.status_code == 302
    assert back.headers["Location"] == "/home"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_open_redirect_through_logout_next(
    home_app: Flask, tiktok_mock: Any, target: str
) -> None:
    """Threat: open redirect after logout via ``next`` in the form or query."""
    client = home_app.test_client()
    log_in(client)
    response = client.post("/tiktok/logout", data={"next": target})
    assert response.headers["Location"] == "/home"
    assert who(client) == "Anonymous"
    response = client.post("/tiktok/logout", query_string={"next": target})
    assert response.headers["Location"] == "/home"


@pytest.mark.parametrize("target", SAFE_NEXT)
def test_local_next_is_followed_at_login_and_logout(
    home_app: Flask, tiktok_mock: Any, target: str
) -> None:
    """The redirect tables' control: a local path survives both routes."""
    client = home_app.test_client()
    assert login_with_next(client, target).location == target
    assert client.post("/tiktok/logout", data={"next": target}).location == target


# -- logout CSRF (OWASP CSRF; design.md: POST from this site only) --


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        pytest.param("GET", {}, 405, id="get"),
        pytest.param("GET", {"Sec-Fetch-Site": "same-origin"}, 405, id="get-same"),
        pytest.param("PUT", {}, 405, id="put"),
        pytest.param("POST", {"Origin": "https://evil.example"}, 403, id="origin"),
        pytest.param("POST", {"Origin": "http://localhost:8080"}, 403, id="port"),
        pytest.param("POST", {"Origin": "http://evil.localhost"}, 403, id="sub"),
        pytest.param("POST", {"Origin": "http://localhost.evil"}, 403, id="suffix"),
        pytest.param(
            "POST", {"Origin": "http://localhost@evil.example"}, 403, id="userinfo"
        ),
        pytest.param("POST", {"Origin": "null"}, 403, id="null-origin"),
        pytest.param("POST", {"Sec-Fetch-Site": "cross-site"}, 403, id="fetch-site"),
        pytest.param(
            "POST",
            {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
            403,
            id="fetch-site-wins",
        ),
    ],
)
def test_logout_csrf_logs_nobody_out(
    app: Flask, tiktok_mock: Any, method: str, headers: dict[str, str], status: int
) -> None:
    """Threat: logout CSRF. A cross-site form, image or fetch ends the
    victim's login (and revokes their grant at TikTok)."""
    client = app.test_client()
    log_in(client)
    response = client.open("/tiktok/logout", method=method, headers=headers)
    assert response.status_code == status
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    assert not any(r.url == REVOKE_URL for r in tiktok_mock.request_history)


def test_refused_logout_answers_json_to_json_clients(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: logout CSRF through fetch(): the refusal is a 403 JSON error."""
    client = app.test_client()
    log_in(client)
    response = client.post(
        "/tiktok/logout",
        headers={"Origin": "https://evil.example", "Accept": "application/json"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "cross_site_logout"


# -- session fixation (RFC 6749 10.12 / OWASP Session Management) --


def test_planted_login_is_replaced_by_the_victims(tiktok_mock: Any) -> None:
    """Threat: session fixation with a logged-in cookie. Mallory plants her
    own logged-in session in the victim's browser; when the victim logs in,
    nothing of Mallory's login (profile, tokens) carries into it."""
    app = create_app()
    mallory = app.test_client()
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(access_token="act.mallory", open_id="open-id-mallory"),
    )
    tiktok_mock.get(
        USER_INFO_URL,
        json=user_info_body({"open_id": "open-id-mallory", "display_name": "Mal"}),
    )
    log_in(mallory)
    planted = mallory.get_cookie("session").value  # type: ignore[union-attr]

    victim = app.test_client()
    victim.set_cookie("session", planted)
    assert who(victim) == "Hello Mal"
    tiktok_mock.post(TOKEN_URL, json=token_body())
    tiktok_mock.get(USER_INFO_URL, json=user_info_body())
    log_in(victim)
    assert who(victim) == "Hello Alice &lt;Creator&gt;"
    record = json.loads(cookie_payload(victim))["_tiktok"]
    assert "mallory" not in json.dumps(record).lower()
    victim.post("/tiktok/logout")
    assert form(tiktok_mock.last_request) == {
        "client_key": "client-key-1",
        "client_secret": "client-secret-1",
        "token": "act.alice-1",
    }


@pytest.mark.parametrize("server_side", [False, True])
def test_a_cookie_copied_before_logout_outlives_it_only_in_the_cookie_storage(
    tiktok_mock: Any, tmp_path: Any, server_side: bool
) -> None:
    """Inherent to the cookie storage (documented): the login is the cookie,
    so a copy taken before the logout stays valid until it expires. A
    server-side storage ends every copy at logout."""
    from sqlalchemy import create_engine

    from flask_tiktok.sqla import SQLAlchemyStorage

    engine = create_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    storage = SQLAlchemyStorage(engine) if server_side else None
    if storage is not None:
        storage.create_all()
    app = create_app(storage=storage)
    client = app.test_client()
    log_in(client)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    client.post("/tiktok/logout")
    assert who(client) == "Anonymous"
    expected = "Anonymous" if server_side else "Hello Alice &lt;Creator&gt;"
    assert who(copy) == expected
    engine.dispose()


def test_planted_pending_login_does_not_let_the_planter_in(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: session fixation with a pending login. The planter keeps a copy
    of the cookie it planted (holding its own pending state); after the
    victim logs in, that copy is still anonymous and can read no token."""
    planter = app.test_client()
    start_login(planter)
    planted = planter.get_cookie("session").value  # type: ignore[union-attr]
    victim = app.test_client()
    victim.set_cookie("session", planted)
    log_in(victim)
    assert who(victim) == "Hello Alice &lt;Creator&gt;"
    assert who(planter) == "Anonymous"
    response = planter.get("/api/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    # The used flow (its state and PKCE verifier) left the victim's session.
    flows = json.loads(cookie_payload(victim)).get("_tiktok_flows", [])
    verifier = token_calls(tiktok_mock)[-1]["code_verifier"]
    assert verifier not in cookie_payload(victim)
    assert all(f["v"] != verifier for f in flows)


def test_tokens_are_encrypted_at_rest_in_the_cookie(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: token theft from a copied or logged cookie (RFC 6749 10.3:
    access tokens kept confidential in storage). The cookie holds no token in
    clear; the blob opens only with the app's SECRET_KEY and only as the
    user it was sealed for."""
    client = app.test_client()
    log_in(client)
    payload = cookie_payload(client)
    assert "act.alice-1" not in payload and "rft.alice-1" not in payload
    blob = json.loads(payload)["_tiktok"]["t"]
    assert b"act.alice-1" not in base64.urlsafe_b64decode(blob + "==")
    with app.test_request_context():
        from flask_tiktok.storage.sealing import unseal_tokens

        assert unseal_tokens(blob, "open-id-alice", "") is not None
        assert unseal_tokens(blob, "open-id-mallory", "") is None
    assert TokenCipher(["another-app-secret"]).decrypt(blob, "open-id-alice") is None
    tampered = blob[:-4] + ("AAAA" if blob[-4:] != "AAAA" else "BBBB")
    with app.test_request_context():
        assert unseal_tokens(tampered, "open-id-alice", "") is None


# -- secrets never in logs, URLs, pages (RFC 9700 4.2, RFC 6749 10.3/10.8) --


def test_tokens_and_secret_never_reach_logs_urls_or_pages(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Threat: credential leakage through logs, Location headers, error pages
    (RFC 9700 4.2; OWASP Logging). A whole life at DEBUG, every logger
    (flask_tiktok, urllib3, requests, werkzeug, authlib) captured, over real
    HTTP to the sandbox: login, refreshing API calls, a refused refresh, failed
    logins, a failed revoke, logout."""
    app = sandbox_app(sandbox)
    secrets: set[str] = {app.config["TIKTOK_CLIENT_SECRET"]}

    def keep(sender: Any, tokens: Any, **kw: Any) -> None:
        secrets.update(t for t in (tokens.access_token, tokens.refresh_token) if t)

    seen: list[Any] = []
    caplog.set_level(logging.DEBUG)
    with (
        signals.tiktok_logged_in.connected_to(keep, app),
        signals.tiktok_token_refreshed.connected_to(keep, app),
    ):
        client = app.test_client()
        seen.append(login_as(client, sandbox, "sandbox-open-id-alice"))
        for _ in range(3):
            seen.append(client.get("/api/me"))  # each refreshes (30 s tokens)
        sandbox.inject_fault("user_info", "server_error")
        seen.append(client.get("/api/me", headers={"Accept": "application/json"}))
        sandbox.inject_fault("revoke", "html_502")
        seen.append(client.post("/tiktok/logout"))
        seen.append(login_as(client, sandbox, "sandbox-open-id-bob"))
        sandbox.inject_fault("token", "error_200")  # a refused refresh
        seen.append(client.get("/api/me"))
        for kind in ("html_502", "error_400", "rate_limit"):
            sandbox.inject_fault("token", kind)
            seen.append(login_as(client, sandbox, "sandbox-open-id-alice"))
        sandbox.inject_fault("user_info", "error_200")
        seen.append(login_as(client, sandbox, "sandbox-open-id-alice"))
        seen.append(login_as(client, sandbox, "sandbox-open-id-alice"))
        seen.append(client.post("/tiktok/logout"))
    for call in sandbox.calls_to("token"):
        for name in ("code", "code_verifier"):
            if call.get(name):
                secrets.add(str(call.get(name)))
    assert len(secrets) > 10
    assert sum(r.status_code == 200 for r in seen) >= 3
    assert any(r.status_code >= 400 for r in seen)
    assert {r.name.split(".")[0] for r in caplog.records} >= {"flask_tiktok", "urllib3"}
    for record in caplog.records:
        text = " ".join(
            [record.getMessage(), record.exc_text or "", record.stack_info or ""]
        )
        leaked = [s for s in secrets if s in text]
        assert not leaked, (record.name, record.getMessage())
    for response in seen:
        exposed = response.headers.get("Location", "") + response.get_data(as_text=True)
        assert not [s for s in secrets if s in exposed]


def test_error_pages_escape_what_tiktok_or_the_attacker_sent(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: reflected XSS through the callback's ``error`` parameters or a
    hostile error code from the provider rendered on the error page."""
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(
        "/tiktok/callback",
        query_string={
            "state": state,
            "error": "<script>alert(1)</script>",
            "error_description": "<img src=x onerror=alert(1)>",
        },
    )
    assert response.status_code == 400
    assert "<script>" not in response.get_data(as_text=True)
    assert "<img src=x" not in response.get_data(as_text=True)
    log_in(client)
    tiktok_mock.get(
        USER_INFO_URL,
        status_code=400,
        json={"error": {"code": "<script>x()</script>", "log_id": "<b>L</b>"}},
    )
    page = client.get("/api/me").get_data(as_text=True)
    assert "<script>x()" not in page and "<b>L</b>" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "injected",
    [
        "x\n2026-01-01 CRITICAL flask_tiktok: admin logged in",
        "x\r\nforged line",
        "x\u2028forged line",
        "x\x1b[31mred\x1b[0m",
    ],
)
def test_callback_parameters_cannot_forge_log_lines(
    app: Flask,
    tiktok_mock: Any,
    caplog: pytest.LogCaptureFixture,
    injected: str,
) -> None:
    """Threat: log injection / forging (OWASP Logging cheat sheet, CWE-117):
    anyone can send a callback with their own state and a crafted ``error``
    or ``error_description``; the warning logged stays on one line."""
    client = app.test_client()
    state = start_login(client)["state"][0]
    caplog.set_level(logging.WARNING, logger="flask_tiktok")
    client.get(
        "/tiktok/callback",
        query_string={
            "state": state,
            "error": injected,
            "error_description": "y" * 5000 + injected,
        },
    )
    [record] = [r for r in caplog.records if r.name == "flask_tiktok"]
    message = record.getMessage()
    assert not any(c in message for c in "\n\r\u2028\x1b")
    assert "forged line" in message or "admin logged in" in message or "red" in message
    assert len(message) < 2000


# -- no token or profile crosses between concurrent users --


def test_concurrent_users_never_see_each_others_token_or_profile() -> None:
    """Threat: cross-user data leak under concurrency (a shared client or
    cache keeping one user's token for another's request). Two browsers, a
    real threaded server, 80 interleaved requests, expired tokens refreshing
    at the same time: every request acts with its own user's token and sees
    its own user's profile."""
    users = {
        "alice": {"open_id": "open-id-alice", "display_name": "Alice"},
        "bob": {"open_id": "open-id-bob", "display_name": "Bob"},
    }
    app = create_app()

    @app.get("/whoami")
    def whoami() -> Any:
        from flask import current_app

        tiktok = current_app.extensions["test_tiktok"]
        owner = tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        return jsonify(
            cookie_user=current_tiktok_user.open_id,
            name=current_tiktok_user.display_name,
            token_user=owner["user"]["open_id"],
        )

    lock = threading.Lock()
    refreshed: list[str] = []

    def token_answer(request: Any, context: Any) -> dict[str, Any]:
        sent = form(request)
        if sent["grant_type"] == "authorization_code":
            name = sent["code"]
            return token_body(
                access_token=f"act.{name}-1",
                refresh_token=f"rft.{name}-1",
                open_id=users[name]["open_id"],
                expires_in=30,
            )
        name = sent["refresh_token"].split(".")[1].split("-")[0]
        with lock:
            refreshed.append(sent["refresh_token"])
        time.sleep(0.05)
        return token_body(
            access_token=f"act.{name}-2",
            refresh_token=f"rft.{name}-2",
            open_id=users[name]["open_id"],
        )

    def user_answer(request: Any, context: Any) -> dict[str, Any]:
        name = request.headers["Authorization"].split(".")[1].split("-")[0]
        time.sleep(0.002)
        return user_info_body(dict(users[name]))

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with requests_mock.Mocker(real_http=True) as mock:
            mock.post(TOKEN_URL, json=token_answer)
            mock.get(USER_INFO_URL, json=user_answer)
            cookies = {}
            for name in users:
                browser = requests.Session()
                authorize = browser.get(f"{base}/tiktok/login", allow_redirects=False)
                query = parse_qs(urlsplit(authorize.headers["Location"]).query)
                params = urlencode({"code": name, "state": query["state"][0]})
                browser.get(f"{base}/tiktok/callback?{params}", allow_redirects=False)
                cookies[name] = browser.cookies.get("session")
                assert cookies[name]

            def fetch(i: int) -> tuple[str, Any]:
                name = "alice" if i % 2 else "bob"
                path = "/whoami" if i % 4 < 2 else "/"
                response = requests.get(
                    base + path,
                    cookies={"session": cookies[name]},
                    allow_redirects=False,
                    timeout=20,
                )
                assert response.status_code == 200, response.text
                if path == "/":
                    return name, response.text
                return name, response.json()

            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(fetch, range(80)))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    for name, body in results:
        expected = users[name]
        if isinstance(body, str):
            assert body == f"Hello {expected['display_name']}"
        else:
            assert body == {
                "cookie_user": expected["open_id"],
                "name": expected["display_name"],
                "token_user": expected["open_id"],
            }
    assert sorted(refreshed) == ["rft.alice-1", "rft.bob-1"]


def test_long_next_urls_cannot_overflow_the_session_cookie(
    app: Flask, tiktok_mock: Any
) -> None:
    """Threat: session-cookie overflow (denial of login). ``/login`` is a GET,
    so any page can make a browser start logins; with long, incompressible
    ``next`` values the pending logins outgrew the 4 KB cookie limit, the
    browser dropped the Set-Cookie, and the user's own login failed. (Under
    ``filterwarnings=error`` werkzeug's "cookie is too large" warning fails
    this test.)"""
    client = app.test_client()
    nexts = [
        "/" + "".join(hashlib.sha256(f"{n}{i}".encode()).hexdigest() for i in range(32))
        for n in range(4)
    ]
    for target in nexts:
        client.get("/tiktok/login", query_string={"next": target[:2000]})
        assert len(client.get_cookie("session").value) < 4000  # type: ignore[union-attr]
    for target in nexts:  # the longest kept: the oldest pending logins give way
        client.get("/tiktok/login", query_string={"next": target[:500]})
        assert len(client.get_cookie("session").value) < 4000  # type: ignore[union-attr]
    state = start_login(client, "/after")["state"][0]
    assert client.get(f"/tiktok/callback?code=c&state={state}").location == "/after"
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    assert len(client.get_cookie("session").value) < 4000  # type: ignore[union-attr]
