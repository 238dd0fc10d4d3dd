"""current_tiktok_user and tiktok_login_required: who the request is, and what a
protected view answers an anonymous or under-scoped user."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from helpers import create_app, log_in

from flask_tiktok import current_tiktok_user, tiktok_login_required
from flask_tiktok.storage import StoredUser
from flask_tiktok.user import AnonymousTikTokUser, TikTokUser


def test_user_objects_never_invent_attributes() -> None:
    user = TikTokUser(StoredUser("oid", ["user.info.basic"], {"display_name": "A"}))
    assert repr(user) == "<TikTokUser 'oid'>"
    assert user.display_name == "A" and user.follower_count is None
    assert user.has_scopes("user.info.basic")
    assert not user.has_scopes("user.info.basic", "video.list")
    with pytest.raises(AttributeError):
        _ = user.access_token
    anonymous = AnonymousTikTokUser()
    assert repr(anonymous) == "<AnonymousTikTokUser>"
    assert anonymous.display_name is None and not anonymous.has_scopes()
    with pytest.raises(AttributeError):
        _ = anonymous.access_token


def test_templates_see_the_user(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "Anonymous"
    log_in(client)
    assert client.get("/").get_data(as_text=True) == "Hello Alice &lt;Creator&gt;"


def test_current_user_outside_a_request_is_anonymous() -> None:

    assert current_tiktok_user.is_authenticated is False
    assert current_tiktok_user.display_name is None


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


def test_missing_scope_as_json_is_403(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    response = client.get("/stats", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["missing_scopes"] == ["user.info.stats"]


def test_login_required_with_a_string_scope() -> None:
    """``@tiktok_login_required(scopes="user.info.basic")`` is a TypeError at
    decoration: a string would be read as the scopes "u", "s", "e", ..."""
    with pytest.raises(TypeError, match="not a string"):
        tiktok_login_required(scopes="user.info.basic")  # type: ignore[arg-type]


def test_decorator_works_on_async_views(tiktok_mock: Any) -> None:
    pytest.importorskip("asgiref")

    app = create_app()

    @app.get("/async")
    @tiktok_login_required
    async def view() -> str:
        return "async ok"

    client = app.test_client()
    assert client.get("/async").status_code == 302
    log_in(client)
    assert client.get("/async").get_data(as_text=True) == "async ok"
