"""The session cookie's budget is its whole encoded ``Set-Cookie``: a login
whose profile its own budget accepted, plus logins in progress with long
``next`` paths, stays within Werkzeug's 4,093 bytes (0.1 sent 4,295, and
browsers drop such a cookie, the login with it)."""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface, SessionInterface
from helpers import (
    CLIENT_KEY,
    CLIENT_SECRET,
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

from flask_tiktok import TikTok, current_tiktok_user
from flask_tiktok.cookie import (
    MAX_COOKIE_SIZE,
    FittedCookieSessionInterface,
    session_cookie_size,
)


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


def test_the_apps_own_data_later_still_leaves_the_login_a_cookie(
    tiktok_mock: Any,
) -> None:
    """The budget holds whoever changed the session: a later request of the
    app's own that fills it drops the profile's largest field (read as
    None), not the login (0.2 before this checked only in an after_request
    hook, which marked every response ``Vary: Cookie``)."""
    rnd = random.Random(11)
    profile = dict(PROFILE, bio_description=text(rnd, 2000))
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    app = create_app()

    @app.post("/cart")
    def cart() -> str:
        session["cart"] = text(rnd, 1800)
        return "ok"

    client = app.test_client()
    log_in(client)
    assert profile["bio_description"] in cookie_payload(client)
    answer = client.post("/cart")
    assert 0 < set_cookie_size(answer) <= MAX_COOKIE_SIZE
    kept = json.loads(cookie_payload(client))
    assert len(kept["cart"]) == 1800
    assert profile["bio_description"] not in cookie_payload(client)
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    assert client.get("/api/me").status_code == 200


def test_a_page_that_never_reads_the_session_does_not_vary_by_cookie(
    tiktok_mock: Any,
) -> None:
    """Shared caches may keep a public page: only a response that depends on
    the session says ``Vary: Cookie``."""
    app = create_app()

    @app.get("/about")
    def about() -> str:
        return "about"

    client = app.test_client()
    log_in(client)
    assert "Vary" not in client.get("/about").headers
    assert client.get("/me").headers["Vary"] == "Cookie"
    assert client.get("/").headers["Vary"] == "Cookie"


def app_with_interface(interface: SessionInterface, *, after: bool = False) -> Flask:
    """An app whose session interface is set before the extension comes (or
    ``after`` it), with a page that fills the session with the app's data."""
    app = Flask(__name__)
    if not after:
        app.session_interface = interface
    app.config.update(
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY=CLIENT_KEY,
        TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
    )
    TikTok(app)
    if after:
        app.session_interface = interface
    app.add_url_rule("/", "home", lambda: str(current_tiktok_user.display_name))

    @app.post("/cart")
    def cart() -> str:
        session["cart"] = text(random.Random(1), 1800)
        return "ok"

    return app


class Salted(SecureCookieSessionInterface):
    salt = "the-apps-own-salt"


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_an_apps_own_cookie_interface_is_kept_and_fitted(
    tiktok_mock: Any, after: bool
) -> None:
    """A subclass of Flask's cookie interface stays the app's, set before
    ``TikTok(app)`` or after it; the app's own data filling the cookie later
    still leaves the login a cookie (checked after each request)."""
    app = app_with_interface(Salted(), after=after)
    profile = dict(PROFILE, bio_description=text(random.Random(5), 2000))
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    client = app.test_client()
    log_in(client)
    assert type(app.session_interface) is Salted
    assert profile["bio_description"] in cookie_payload(client)
    answer = client.post("/cart")
    assert 0 < set_cookie_size(answer) <= MAX_COOKIE_SIZE
    assert profile["bio_description"] not in cookie_payload(client)
    assert client.get("/").get_data(as_text=True) == "Alice <Creator>"


def test_flasks_own_interface_set_after_the_extension_is_fitted_too(
    tiktok_mock: Any,
) -> None:
    app = app_with_interface(SecureCookieSessionInterface(), after=True)
    profile = dict(PROFILE, bio_description=text(random.Random(5), 2000))
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    client = app.test_client()
    log_in(client)
    assert isinstance(app.session_interface, FittedCookieSessionInterface)
    assert 0 < set_cookie_size(client.post("/cart")) <= MAX_COOKIE_SIZE
    assert profile["bio_description"] not in cookie_payload(client)
    assert client.get("/").get_data(as_text=True) == "Alice <Creator>"


def test_flasks_own_cookie_interface_is_fitted_with_its_settings_kept() -> None:
    """Flask's interface becomes the fitted one (what the app set on it
    kept); a server-side session's interface is left alone."""
    own = SecureCookieSessionInterface()
    own.salt = "changed-by-the-app"
    fitted = app_with_interface(own).session_interface
    assert isinstance(fitted, FittedCookieSessionInterface)
    assert fitted.salt == "changed-by-the-app"

    class ServerSide(SessionInterface):
        def open_session(self, app: Flask, request: Any) -> None:
            return None

        def save_session(self, app: Flask, session: Any, response: Any) -> None:
            return None

    server_side = ServerSide()
    assert app_with_interface(server_side).session_interface is server_side
