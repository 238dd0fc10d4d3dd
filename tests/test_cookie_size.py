"""The session cookie's budget is its whole encoded ``Set-Cookie``: a login
whose profile its own budget accepted, plus logins in progress with long
``next`` paths, stays within Werkzeug's 4,093 bytes (0.1 sent 4,295, and
browsers drop such a cookie, the login with it)."""

from __future__ import annotations

import json
import random
import string
from typing import Any

from flask import session
from helpers import (
    PROFILE,
    TOKEN_URL,
    USER_INFO_URL,
    bearers,
    cookie_payload,
    create_app,
    log_in,
    query_of,
    token_body,
    user_info_body,
    who,
)

from flask_tiktok.cookie import MAX_COOKIE_SIZE, session_cookie_size


def text(rnd: random.Random, n: int) -> str:
    """``n`` random letters and digits (they compress poorly)."""
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))


def set_cookie_size(response: Any) -> int:
    return len(response.headers.get("Set-Cookie", ""))


def test_a_full_login_and_two_pending_logins_fit_one_cookie(tiktok_mock: Any) -> None:
    rnd = random.Random(7)
    profile = dict(PROFILE, bio_description=text(rnd, 2500))
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    app = create_app()
    client = app.test_client()
    sizes = [set_cookie_size(log_in(client))]
    newest = None
    for _ in range(2):
        started = client.get("/tiktok/login?next=/" + text(rnd, 500))
        sizes.append(set_cookie_size(started))
        newest = query_of(started.headers["Location"])["state"][0]
    assert max(sizes) <= MAX_COOKIE_SIZE, sizes
    # The older login in progress went; the profile stayed whole.
    kept = json.loads(cookie_payload(client))
    assert len(kept["_tiktok_flows"]) == 1
    assert profile["bio_description"] in kept["_tiktok"]["p"]
    # The login stands (its tokens too), and the newest login in progress works.
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    assert client.get("/api/me").status_code == 200
    assert bearers(tiktok_mock)[-1] == "Bearer act.alice-1"
    tiktok_mock.post(TOKEN_URL, json=token_body(access_token="act.alice-2"))
    back = client.get(f"/tiktok/callback?code=c2&scopes=user.info.basic&state={newest}")
    assert back.status_code == 302
    assert set_cookie_size(back) <= MAX_COOKIE_SIZE
    assert client.get("/api/me").status_code == 200
    assert bearers(tiktok_mock)[-1] == "Bearer act.alice-2"


def test_the_measured_size_is_the_header_flask_sends(tiktok_mock: Any) -> None:
    app = create_app(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax")
    client = app.test_client()
    response = log_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    with app.test_request_context(headers={"Cookie": f"session={cookie.value}"}):
        measured = session_cookie_size(app, session)
    assert measured == set_cookie_size(response)
