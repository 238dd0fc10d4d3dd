"""Shared fixtures: an app factory and a requests-mock double of TikTok."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock
from flask import Flask, jsonify, render_template_string

from flask_tiktok import (
    BaseStorage,
    TikTok,
    current_tiktok_user,
    tiktok_login_required,
)

TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"
REVOKE_URL = "https://open.tiktokapis.com/v2/oauth/revoke/"
USER_INFO_URL = "https://open.tiktokapis.com/v2/user/info/"
AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"

PROFILE = {
    "open_id": "open-id-alice",
    "union_id": "union-alice",
    "avatar_url": "https://p16.tiktokcdn.com/alice.jpeg",
    "display_name": "Alice <Creator>",
}


def token_body(**overrides: Any) -> dict[str, Any]:
    """A token answer in TikTok's exact form."""
    body: dict[str, Any] = {
        "access_token": "act.alice-1",
        "expires_in": 86400,
        "open_id": "open-id-alice",
        "refresh_expires_in": 31536000,
        "refresh_token": "rft.alice-1",
        "scope": "user.info.basic",
        "token_type": "Bearer",
    }
    body.update(overrides)
    return body


def user_info_body(user: dict[str, Any] | None = None) -> dict[str, Any]:
    """A user/info/ answer in TikTok's envelope."""
    return {
        "data": {"user": user if user is not None else dict(PROFILE)},
        "error": {"code": "ok", "message": "", "log_id": "20261124000000"},
    }


def create_app(*, storage: BaseStorage | None = None, **config: Any) -> Flask:
    """A small app with public, protected and scope-protected routes."""
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY="client-key-1",
        TIKTOK_CLIENT_SECRET="client-secret-1",
    )
    app.config.update(config)
    tiktok = TikTok(app, storage=storage)

    @app.get("/")
    def home() -> str:
        return render_template_string(
            "{% if current_tiktok_user.is_authenticated %}"
            "Hello {{ current_tiktok_user.display_name }}"
            "{% else %}Anonymous{% endif %}"
        )

    @app.get("/me")
    @tiktok_login_required
    def me() -> str:
        return render_template_string(
            "<img src='{{ current_tiktok_user.avatar_url }}'>"
            "<h1>{{ current_tiktok_user.display_name }}</h1>"
        )

    @app.get("/stats")
    @tiktok_login_required(scopes=["user.info.stats"])
    def stats() -> str:
        return f"followers: {current_tiktok_user.follower_count}"

    @app.get("/api/me")
    def api_me() -> Any:
        return jsonify(
            tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        )

    app.extensions["test_tiktok"] = tiktok
    return app


@pytest.fixture
def app() -> Flask:
    return create_app()


@pytest.fixture
def tiktok_mock() -> Iterator[requests_mock.Mocker]:
    """TikTok's endpoints answering as they do on success."""
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(REVOKE_URL, json={})
        yield mock


def start_login(client: Any, next_url: str | None = None) -> dict[str, list[str]]:
    """GET the login route; return the authorize URL's query."""
    url = "/tiktok/login" + (f"?next={next_url}" if next_url is not None else "")
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(AUTHORIZE_URL)
    return parse_qs(urlsplit(location).query)


def log_in(client: Any, next_url: str | None = None) -> Any:
    """Run login -> TikTok -> callback; return the callback's response."""
    query = start_login(client, next_url)
    state = query["state"][0]
    return client.get(
        f"/tiktok/callback?code=code-123&scopes=user.info.basic&state={state}"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it loudly when the PostgreSQL storage tests did not run."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "POSTGRESQL NOT TESTED" in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} PostgreSQL storage tests skipped:"
            " set TIKTOK_TEST_POSTGRES_URL to run them",
            yellow=True,
            bold=True,
        )
