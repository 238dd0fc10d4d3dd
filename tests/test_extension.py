"""The TikTok extension end to end through Flask's test client."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    create_app,
    log_in,
    start_login,
    token_body,
    user_info_body,
)
from flask import Flask

from flask_tiktok import TikTok, signals


def cookie_payload(client: Any) -> str:
    """The session cookie's decoded payload, as a reader of the cookie sees it."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def form(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.text).items()}


def calls(mock: Any, url: str) -> list[Any]:
    return [r for r in mock.request_history if r.url.split("?")[0] == url]


# Registration and configuration


def test_init_app_registers_once_and_sets_defaults() -> None:
    app = Flask(__name__)
    app.config.update(TIKTOK_CLIENT_KEY="ck", TIKTOK_CLIENT_SECRET="cs")
    tiktok = TikTok()
    tiktok.init_app(app)
    assert app.extensions["tiktok"].extension is tiktok
    assert not hasattr(tiktok, "app")
    assert app.config["TIKTOK_SCOPES"] == ["user.info.basic"]
    assert app.config["TIKTOK_URL_PREFIX"] == "/tiktok"
    assert app.config["TIKTOK_PKCE"] == "hex"
    assert app.config["TIKTOK_HTTP_TIMEOUT"] == 10
    assert app.config["TIKTOK_WEBHOOK_TOLERANCE"] == 300
    with pytest.raises(RuntimeError, match="already registered"):
        tiktok.init_app(app)


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({}, "TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"),
        ({"TIKTOK_CLIENT_KEY": "ck"}, "TIKTOK_CLIENT_SECRET"),
        ({"TIKTOK_CLIENT_SECRET": "cs"}, "TIKTOK_CLIENT_KEY"),
    ],
)
def test_missing_credentials_are_named(config: dict[str, str], missing: str) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(RuntimeError, match=missing):
        TikTok(app)


@pytest.mark.parametrize(
    "config",
    [
        {"TIKTOK_PKCE": "plain"},
        {"TIKTOK_SCOPES": []},
        {"TIKTOK_SCOPES": [1]},
        {"TIKTOK_USER_FIELDS": ["display_name", 2]},
        {"TIKTOK_HTTP_TIMEOUT": "abc"},
        {"TIKTOK_HTTP_TIMEOUT": 0},
        {"TIKTOK_HTTP_TIMEOUT": True},
        {"TIKTOK_HTTP_TIMEOUT": float("nan")},
        {"TIKTOK_WEBHOOK_TOLERANCE": None},
        {"TIKTOK_WEBHOOK_TOLERANCE": -5},
        {"TIKTOK_URL_PREFIX": "tiktok"},
        {"TIKTOK_REDIRECT_URI": 5},
        {"TIKTOK_REDIRECT_URI": "/tiktok/callback"},
        {"TIKTOK_LOGIN_REDIRECT": None},
        {"TIKTOK_LOGIN_REDIRECT": "javascript:alert(1)"},
        {"TIKTOK_TOKEN_URL": "open.tiktokapis.com/v2/oauth/token/"},
        {"TIKTOK_API_BASE_URL": None},
        {"TIKTOK_CLIENT_SECRET_FALLBACKS": [""]},
    ],
)
def test_bad_config_is_refused_naming_the_key(config: dict[str, Any]) -> None:
    (key,) = config
    with pytest.raises(ValueError, match=key):
        create_app(**config)


def test_user_fields_error_speaks_of_fields() -> None:
    with pytest.raises(ValueError, match="list of field names"):
        create_app(TIKTOK_USER_FIELDS=[1])


@pytest.mark.parametrize(
    "config",
    [
        {"TIKTOK_HTTP_TIMEOUT": "2.5"},
        {"TIKTOK_URL_PREFIX": ""},
        {"TIKTOK_REDIRECT_URI": "https://example.com/tiktok/callback"},
        {"TIKTOK_LOGIN_REDIRECT": "https://example.com/home"},
        {"TIKTOK_SCOPES": "user.info.basic, video.list"},
        {"TIKTOK_TOKEN_URL": "mock://tiktok/v2/oauth/token/"},
    ],
)
def test_good_config_in_other_shapes_is_taken(config: dict[str, Any]) -> None:
    app = create_app(**config)
    settings = app.extensions["tiktok"].settings
    assert settings.timeout == (2.5 if "TIKTOK_HTTP_TIMEOUT" in config else 10)
    if "TIKTOK_SCOPES" in config:
        assert settings.scopes == ["user.info.basic", "video.list"]
    if "TIKTOK_URL_PREFIX" in config:
        assert app.url_map.bind("localhost").match("/login") == ("tiktok.login", {})


def test_without_init_app_the_error_says_what_to_do() -> None:
    app = Flask(__name__)
    with app.test_request_context(), pytest.raises(RuntimeError, match="init_app"):
        _ = TikTok().client


def test_one_extension_serves_two_apps(tiktok_mock: Any) -> None:
    tiktok = TikTok()
    apps = []
    for key in ("key-a", "key-b"):
        app = Flask(__name__)
        app.config.update(
            SECRET_KEY="s", TIKTOK_CLIENT_KEY=key, TIKTOK_CLIENT_SECRET="cs"
        )
        tiktok.init_app(app)
        apps.append(app)
    for app, key in zip(apps, ("key-a", "key-b"), strict=True):
        with app.test_request_context():
            assert tiktok.client.client_key == key
        assert start_login(app.test_client())["client_key"] == [key]


def test_scopes_config_accepts_a_comma_string() -> None:
    app = create_app(TIKTOK_SCOPES="user.info.basic, user.info.profile")
    assert start_login(app.test_client())["scope"] == [
        "user.info.basic,user.info.profile"
    ]


# The login flow


def test_login_end_to_end(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    query = start_login(client, "/me")
    assert query["client_key"] == ["client-key-1"]
    assert query["scope"] == ["user.info.basic"]
    assert query["redirect_uri"] == ["http://localhost/tiktok/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert tiktok_mock.call_count == 0

    response = client.get(
        f"/tiktok/callback?code=code-123&scopes=user.info.basic&state={query['state'][0]}"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"
    assert tiktok_mock.call_count == 2  # token + user info, nothing else
    token_call, info_call = tiktok_mock.request_history
    sent = form(token_call)
    assert sent["code"] == "code-123"
    assert sent["grant_type"] == "authorization_code"
    assert sent["redirect_uri"] == "http://localhost/tiktok/callback"
    assert (
        hashlib.sha256(sent["code_verifier"].encode()).hexdigest()
        == query["code_challenge"][0]
    )
    assert info_call.headers["Authorization"] == "Bearer act.alice-1"
    assert parse_qs(urlsplit(info_call.url).query)["fields"] == [
        "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name"
    ]

    page = client.get("/me")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Alice &lt;Creator&gt;</h1>" in html
    assert "https://p16.tiktokcdn.com/alice.jpeg" in html
    for _ in range(25):
        assert client.get("/me").status_code == 200
    assert tiktok_mock.call_count == 2

    response = client.post("/tiktok/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    revokes = calls(tiktok_mock, REVOKE_URL)
    assert len(revokes) == 1
    assert form(revokes[0]) == {
        "client_key": "client-key-1",
        "client_secret": "client-secret-1",
        "token": "act.alice-1",
    }
    assert client.get("/me").status_code == 302
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_templates_see_the_user(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "Anonymous"
    log_in(client)
    assert client.get("/").get_data(as_text=True) == "Hello Alice &lt;Creator&gt;"


def test_configured_user_fields_and_redirect_uri(tiktok_mock: Any) -> None:
    app = create_app(
        TIKTOK_USER_FIELDS=["open_id", "display_name"],
        TIKTOK_REDIRECT_URI="https://app.example/tiktok/callback",
    )
    client = app.test_client()
    assert start_login(client)["redirect_uri"] == [
        "https://app.example/tiktok/callback"
    ]
    log_in(client)
    token_call = calls(tiktok_mock, TOKEN_URL)[-1]
    assert form(token_call)["redirect_uri"] == "https://app.example/tiktok/callback"
    info_call = calls(tiktok_mock, USER_INFO_URL)[-1]
    assert parse_qs(urlsplit(info_call.url).query)["fields"] == ["open_id,display_name"]


def test_cookie_holds_no_token_and_stays_small(tiktok_mock: Any) -> None:
    long_url = (
        "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + "a" * 180 + ".jpeg"
    )
    profile = {
        "open_id": "-000Tu4AArq1kYnYzNsbIGBIDpsFB5PIzS9M",
        "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
        "avatar_url": long_url,
        "avatar_url_100": long_url + "?x=100",
        "avatar_large_url": long_url + "?x=1080",
        "display_name": "A creator with a long display name",
        "bio_description": "Bio " * 20,
        "profile_deep_link": "https://vm.tiktok.com/ZMabcdefg/",
        "is_verified": False,
        "username": "creator.name",
        "follower_count": 123456,
        "following_count": 321,
        "likes_count": 9876543,
        "video_count": 456,
    }
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(
            access_token="act." + "A" * 70,
            refresh_token="rft." + "B" * 70,
            open_id=profile["open_id"],
            scope="user.info.basic,user.info.profile,user.info.stats",
        ),
    )
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    app = create_app(
        TIKTOK_SCOPES=["user.info.basic", "user.info.profile", "user.info.stats"]
    )
    client = app.test_client()
    log_in(client)
    payload = cookie_payload(client)
    assert "A" * 70 not in payload and "B" * 70 not in payload
    assert "A creator with a long display name" in payload
    assert len(client.get_cookie("session").value) < 2048  # type: ignore[union-attr]
    assert client.get("/stats").get_data(as_text=True) == "followers: 123456"


def test_a_new_login_replaces_the_previous_user(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    tiktok_mock.post(
        TOKEN_URL, json=token_body(access_token="act.bob", open_id="open-id-bob")
    )
    tiktok_mock.get(
        USER_INFO_URL,
        json=user_info_body({"open_id": "open-id-bob", "display_name": "Bob"}),
    )
    log_in(client)
    assert client.get("/").get_data(as_text=True) == "Hello Bob"
    client.post("/tiktok/logout")
    assert form(calls(tiktok_mock, REVOKE_URL)[-1])["token"] == "act.bob"


def test_secret_key_rotation_keeps_users_logged_in(tiktok_mock: Any) -> None:
    old = create_app(SECRET_KEY="old-secret")
    client = old.test_client()
    log_in(client)
    cookie = client.get_cookie("session").value  # type: ignore[union-attr]
    new = create_app(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=["old-secret"])
    other = new.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/").get_data(as_text=True) == "Hello Alice &lt;Creator&gt;"
    other.post("/tiktok/logout")
    assert form(calls(tiktok_mock, REVOKE_URL)[-1])["token"] == "act.alice-1"


def test_signals_fire(app: Flask, tiktok_mock: Any) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def receive(sender: Flask, **kwargs: Any) -> None:
            assert sender is app
            seen.append((name, kwargs))

        return receive

    handlers = {
        "in": recorder("in"),
        "out": recorder("out"),
        "failed": recorder("failed"),
    }
    with (
        signals.tiktok_logged_in.connected_to(handlers["in"], app),
        signals.tiktok_logged_out.connected_to(handlers["out"], app),
        signals.tiktok_login_failed.connected_to(handlers["failed"], app),
    ):
        client = app.test_client()
        log_in(client)
        client.post("/tiktok/logout")
        client.get("/tiktok/callback?code=x&state=forged")
    names = [name for name, _ in seen]
    assert names == ["in", "out", "failed"]
    assert seen[0][1]["user"].display_name == "Alice <Creator>"
    assert seen[0][1]["tokens"].access_token == "act.alice-1"
    assert seen[1][1] == {"open_id": "open-id-alice", "reason": "logout"}
    assert seen[2][1]["error"] == "invalid_state"


# Failures end in a clear answer, never a 500


def test_user_cancel_returns_to_the_site_with_a_message(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(
        f"/tiktok/callback?error=access_denied&error_description=User+cancelled&state={state}"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert session["_flashes"] == [("info", "TikTok login was cancelled.")]
    assert tiktok_mock.call_count == 0


def answer_callback(app: Flask, **mocks: Any) -> Any:
    client = app.test_client()
    state = start_login(client)["state"][0]
    return client.get(f"/tiktok/callback?code=c&state={state}")


@pytest.mark.parametrize(
    ("token_answer", "status", "error"),
    [
        (
            {
                "json": {
                    "error": "invalid_grant",
                    "error_description": "expired",
                    "log_id": "L9",
                }
            },
            400,
            "token_error",
        ),
        (
            {"json": {"error": "invalid_client", "log_id": "L9"}, "status_code": 401},
            400,
            "token_error",
        ),
        (
            {"text": "<html>502 Bad Gateway</html>", "status_code": 502},
            502,
            "tiktok_error",
        ),
        ({"json": {"token_type": "Bearer"}}, 502, "tiktok_error"),
        ({"json": token_body(open_id=None)}, 502, "tiktok_error"),
        ({"exc": requests.exceptions.ConnectTimeout}, 504, "tiktok_unreachable"),
        ({"exc": requests.exceptions.ConnectionError}, 504, "tiktok_unreachable"),
    ],
)
def test_token_failures(
    app: Flask, tiktok_mock: Any, token_answer: dict[str, Any], status: int, error: str
) -> None:
    tiktok_mock.post(TOKEN_URL, **token_answer)
    failures: list[dict[str, Any]] = []
    with signals.tiktok_login_failed.connected_to(
        lambda s, **kw: failures.append(kw), app
    ):
        response = answer_callback(app)
    assert response.status_code == status
    assert error in response.get_data(as_text=True)
    assert [f["error"] for f in failures] == [error]
    assert app.test_client().get("/").get_data(as_text=True) == "Anonymous"


@pytest.mark.parametrize(
    "info_answer",
    [
        {
            "json": {
                "data": {},
                "error": {
                    "code": "access_token_invalid",
                    "message": "x",
                    "log_id": "L",
                },
            },
            "status_code": 401,
        },
        {"text": "<html>oops</html>", "status_code": 500},
        {"json": user_info_body({"open_id": "someone-else", "display_name": "Eve"})},
        {"exc": requests.exceptions.ReadTimeout},
    ],
)
def test_user_info_failures(
    app: Flask, tiktok_mock: Any, info_answer: dict[str, Any]
) -> None:
    tiktok_mock.get(USER_INFO_URL, **info_answer)
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(f"/tiktok/callback?code=c&state={state}")
    assert response.status_code in (502, 504)
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_authorization_errors_and_incomplete_callbacks(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    state = start_login(client)["state"][0]
    response = client.get(f"/tiktok/callback?error=invalid_scope&state={state}")
    assert response.status_code == 400
    state = start_login(client)["state"][0]
    assert client.get(f"/tiktok/callback?state={state}").status_code == 400
    assert tiktok_mock.call_count == 0


def test_error_page_as_json(app: Flask, tiktok_mock: Any) -> None:
    response = app.test_client().get(
        "/tiktok/callback?code=c&state=nope", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_state"


def test_error_page_is_overridable(tiktok_mock: Any, tmp_path: Any) -> None:
    (tmp_path / "tiktok").mkdir()
    (tmp_path / "tiktok" / "error.html").write_text("custom: {{ error }}")
    app = create_app()
    app.template_folder = str(tmp_path)
    response = app.test_client().get("/tiktok/callback?code=c&state=nope")
    assert response.get_data(as_text=True) == "custom: invalid_state"


# The decorator


def test_anonymous_html_is_sent_to_login_with_next(app: Flask) -> None:
    response = app.test_client().get("/me?tab=videos&x=%2F")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/tiktok/login"
    assert parse_qs(location.query) == {"next": ["/me?tab=videos&x=%2F"]}


def test_anonymous_json_gets_401(app: Flask) -> None:
    response = app.test_client().get("/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "tiktok_login_required"
    assert body["login_url"] == "/tiktok/login?next=/me"


def test_next_survives_the_round_trip(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    login_url = client.get("/me?tab=videos").headers["Location"]
    authorize = client.get(login_url).headers["Location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    response = client.get(f"/tiktok/callback?code=c&state={state}")
    assert response.headers["Location"] == "/me?tab=videos"


def test_missing_scope_goes_back_through_tiktok(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/stats")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["scope"] == ["user.info.basic,user.info.stats"]
    tiktok_mock.post(
        TOKEN_URL, json=token_body(scope="user.info.basic,user.info.stats")
    )
    tiktok_mock.get(
        USER_INFO_URL,
        json=user_info_body(dict(open_id="open-id-alice", follower_count=42)),
    )
    back = client.get(f"/tiktok/callback?code=c2&state={query['state'][0]}")
    assert back.headers["Location"] == "/stats"
    assert client.get("/stats").get_data(as_text=True) == "followers: 42"
    fields = parse_qs(urlsplit(calls(tiktok_mock, USER_INFO_URL)[-1].url).query)[
        "fields"
    ][0]
    assert "follower_count" in fields.split(",")


def decline_stats(client: Any, tiktok_mock: Any) -> Any:
    """Open /stats, and untick user.info.stats on TikTok's consent page."""
    authorize = client.get("/stats").headers["Location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    tiktok_mock.post(TOKEN_URL, json=token_body(scope="user.info.basic"))
    return client.get(f"/tiktok/callback?code=c2&state={state}")


def test_a_declined_scope_is_said_once_instead_of_asked_again(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    back = decline_stats(client, tiktok_mock)
    assert back.headers["Location"] == "/stats"

    page = client.get("/stats")
    assert page.status_code == 403
    text = page.get_data(as_text=True)
    assert "user.info.stats" in text
    assert "scope_declined" in text
    assert 'href="/stats"' in text  # "Try again" asks TikTok once more
    assert client.get("/").get_data(as_text=True).startswith("Hello")  # logged in

    again = client.get("/stats")
    assert again.status_code == 302
    query = parse_qs(urlsplit(again.headers["Location"]).query)
    assert query["scope"] == ["user.info.basic,user.info.stats"]


def test_a_declined_scope_does_not_block_other_pages(tiktok_mock: Any) -> None:
    from flask_tiktok import tiktok_login_required

    app = create_app()

    @app.get("/videos-page")
    @tiktok_login_required(scopes=["video.list"])
    def videos_page() -> str:
        return "videos"

    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)
    # A page needing another scope still goes to TikTok...
    other = client.get("/videos-page")
    assert other.status_code == 302
    assert (
        "video.list" in parse_qs(urlsplit(other.headers["Location"]).query)["scope"][0]
    )
    # ...and does not use up the note of the page that was declined.
    assert client.get("/stats").status_code == 403


def test_a_decline_long_ago_is_asked_again(
    app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    log_in(client)
    decline_stats(client, tiktok_mock)
    later = time.time() + 900  # past the ten minutes a decline is remembered
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/stats").status_code == 302


def test_missing_scope_as_json_is_403(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/stats", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["missing_scopes"] == ["user.info.stats"]


def test_decorator_works_on_async_views(tiktok_mock: Any) -> None:
    pytest.importorskip("asgiref")
    from flask_tiktok import tiktok_login_required

    app = create_app()

    @app.get("/async")
    @tiktok_login_required
    async def view() -> str:
        return "async ok"

    client = app.test_client()
    assert client.get("/async").status_code == 302
    log_in(client)
    assert client.get("/async").get_data(as_text=True) == "async ok"


def test_current_user_outside_a_request_is_anonymous() -> None:
    from flask_tiktok import current_tiktok_user

    assert current_tiktok_user.is_authenticated is False
    assert current_tiktok_user.display_name is None


def test_decoded_cookie_has_json_profile(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    record = json.loads(cookie_payload(client))["_tiktok"]
    assert record["u"]["open_id"] == "open-id-alice"
    assert record["s"] == "user.info.basic"
