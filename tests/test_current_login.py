"""The request's login (``flask_tiktok.current``): one object on ``g``, the
storage read once a request, tokens refreshed through the refresher, and
ending a login in one place."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, g, render_template_string, session
from helpers import (
    ALICE,
    TOKEN_URL,
    USER_INFO_URL,
    calls,
    create_app,
    log_in,
    refresh_form,
    refreshes,
    token_body,
)

from flask_tiktok import (
    BaseStorage,
    OAuth2Tokens,
    SessionStorage,
    StoredUser,
    TikTokLoginRequired,
    current_tiktok_user,
    signals,
)
from flask_tiktok.current import current_login, drop_current_login


class CountingStorage(BaseStorage):
    """The cookie storage, counting the extension's reads of it."""

    def __init__(self) -> None:
        self.inner = SessionStorage()
        self.user_reads = 0
        self.token_reads = 0

    def get_user(self) -> StoredUser | None:
        self.user_reads += 1
        return self.inner.get_user()

    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        self.token_reads += 1
        return self.inner.get_tokens(open_id)

    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        self.inner.set(user, tokens)

    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        self.inner.set_tokens(open_id, tokens)

    def delete(self, open_id: str | None = None) -> None:
        self.inner.delete(open_id)


def test_without_a_user_or_tokens_there_are_no_tokens(app: Flask) -> None:
    with app.test_request_context():
        assert current_login().tokens() is None
    with app.test_request_context():
        session["_tiktok"] = {"u": {"open_id": "o"}, "s": ""}
        assert current_login().stored is not None
        assert current_login().tokens() is None


def test_one_request_reads_the_storage_once_and_keeps_one_g_key(
    tiktok_mock: Any,
) -> None:
    storage = CountingStorage()
    app = create_app(storage=storage)
    tiktok = app.extensions["test_tiktok"]
    seen: dict[str, Any] = {}

    @app.get("/page")
    def page() -> str:
        html = render_template_string(
            "{% for _ in range(16) %}{{ current_tiktok_user.display_name }}{% endfor %}"
        )
        tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        seen["keys"] = [k for k in vars(g._get_current_object()) if "tiktok" in k]
        return html

    client = app.test_client()
    log_in(client)
    storage.user_reads = storage.token_reads = 0
    response = client.get("/page")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("Alice &lt;Creator&gt;") == 16
    assert (storage.user_reads, storage.token_reads) == (1, 1)
    assert seen["keys"] == ["_tiktok_login"]
    assert len(calls(tiktok_mock, USER_INFO_URL)) == 3  # login + two calls


def test_a_dropped_login_is_read_again(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    with client:
        client.get("/")
        assert current_tiktok_user.open_id == ALICE
        first = current_login()
        drop_current_login()
        assert current_login() is not first
        assert current_login().stored is not None


def test_end_deletes_forgets_and_signals_once(app: Flask, tiktok_mock: Any) -> None:
    @app.post("/end")
    def end() -> str:
        before = current_tiktok_user.is_authenticated
        current_login().end("logout")
        after = current_tiktok_user.is_authenticated
        current_login().end("logout")  # nobody left: no second signal
        return f"{before} {after} {'_tiktok' in session}"

    client = app.test_client()
    log_in(client)
    ended: list[dict[str, Any]] = []

    def receiver(sender: Flask, **kwargs: Any) -> None:
        ended.append(kwargs)

    with signals.tiktok_logged_out.connected_to(receiver, app):
        assert client.post("/end").get_data(as_text=True) == "True False False"
    assert ended == [{"open_id": ALICE, "reason": "logout"}]
    assert client.get("/me").status_code == 302


def test_a_refused_refresh_ends_the_requests_login(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    tiktok_mock.post(
        TOKEN_URL,
        [{"json": token_body(expires_in=-1)}, {"json": {"error": "invalid_grant"}}],
    )
    log_in(client)
    with client:
        client.get("/")
        assert current_tiktok_user.is_authenticated
        with pytest.raises(TikTokLoginRequired):
            current_login().tokens()
        assert not current_tiktok_user.is_authenticated
        assert current_login().stored is None
    assert refreshes(tiktok_mock) == [refresh_form()]
