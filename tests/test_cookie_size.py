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
    start_login,
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


def full_profile(rnd: random.Random) -> dict[str, Any]:
    """Every field ``user/info/`` has, as TikTok writes them (signed avatar
    URLs: their signatures compress poorly)."""
    avatar = "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + text(rnd, 32)
    signed = "?x-expires=1764662400&x-signature=" + text(rnd, 28) + "%3D"
    return {
        "open_id": "-000" + text(rnd, 32),
        "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
        "avatar_url": avatar + "~c5_168x168.jpeg" + signed,
        "avatar_url_100": avatar + "~c5_100x100.jpeg" + signed,
        "avatar_large_url": avatar + "~c5_1080x1080.jpeg" + signed,
        "display_name": "A creator",
        "bio_description": "Making short videos about bread, bikes and the sea.",
        "profile_deep_link": "https://vm.tiktok.com/" + text(rnd, 9) + "/",
        "is_verified": False,
        "username": "creator.name",
        "follower_count": 123456,
        "following_count": 321,
        "likes_count": 9876543,
        "video_count": 456,
    }


def test_a_full_field_login_leaves_a_cookie_of_about_800_bytes(
    tiktok_mock: Any,
) -> None:
    """Every field, every ``user.info`` scope, TikTok-sized random tokens:
    the cookie holds the profile, the scopes, the sealed pair and the app's
    mark, and nothing empty (0.1 sent 1,065 bytes for this login)."""
    rnd = random.Random(17)
    profile = full_profile(rnd)
    scopes = "user.info.basic,user.info.profile,user.info.stats"
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(
            access_token="act." + text(rnd, 60) + "!6329.va",
            refresh_token="rft." + text(rnd, 60) + "!6320.va",
            open_id=profile["open_id"],
            scope=scopes,
        ),
    )
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    app = create_app(TIKTOK_SCOPES=scopes.split(","))
    client = app.test_client()
    log_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    # The sealed pair is random (its nonce), and so is how well the cookie
    # compresses: 792 to 803 bytes over 150 such logins.
    assert len(cookie.value) <= 820, len(cookie.value)
    assert set(json.loads(cookie_payload(client))) == {"_tiktok", "_tiktok_app"}
    assert who(client) == "Hello A creator"


def test_nothing_empty_is_left_in_the_cookie_after_a_login(tiktok_mock: Any) -> None:
    client = create_app().test_client()
    other_tab = start_login(client)["state"][0]
    log_in(client)
    assert len(json.loads(cookie_payload(client))["_tiktok_flows"]) == 1
    client.get(f"/tiktok/callback?code=c&scopes=user.info.basic&state={other_tab}")
    assert "_tiktok_flows" not in json.loads(cookie_payload(client))
    assert who(client) == "Hello Alice &lt;Creator&gt;"
