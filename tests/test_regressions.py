"""Defects found in review: each test failed before its fix."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import TOKEN_URL, create_app, log_in, token_body
from flask import Flask

from flask_tiktok import TikTokClient

ROTATED = token_body(access_token="act.alice-2", refresh_token="rft.alice-2")
INVALID_TOKEN = {
    "data": {},
    "error": {"code": "access_token_invalid", "message": "revoked", "log_id": "L5"},
}
VIDEO_INIT = "https://open.tiktokapis.com/v2/post/publish/video/init/"


def _drain(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | str):
        return body.encode() if isinstance(body, str) else body
    if hasattr(body, "read"):
        return bytes(body.read())
    return b"".join(body)


@pytest.mark.parametrize("kind", ["generator", "file"])
def test_one_shot_body_is_not_resent_empty(
    app: Flask, tiktok_mock: Any, kind: str
) -> None:
    """api.request's docstring: bodies readable once are not resent; the retry
    must not go out with an empty body (a lost upload)."""
    sent: list[bytes] = []
    answers = iter(
        [
            ({"status_code": 401}, INVALID_TOKEN),
            ({"status_code": 200}, {"data": {}, "error": {"code": "ok"}}),
        ]
    )

    def answer(request: Any, context: Any) -> Any:
        sent.append(_drain(request.body))
        meta, body = next(answers)
        context.status_code = meta["status_code"]
        return body

    tiktok_mock.post(VIDEO_INIT, json=answer)
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    client = app.test_client()
    log_in(client)
    tiktok = app.extensions["test_tiktok"]
    payload = b'{"source_info": {"source": "PULL_FROM_URL"}}'
    with client:
        client.get("/")
        data: Any = (
            (chunk for chunk in [payload])
            if kind == "generator"
            else io.BytesIO(payload)
        )
        response = tiktok.api.post("post/publish/video/init/", data=data)
    # Either no retry, or a retry with the whole body: never an empty one.
    assert sent == [payload]
    assert response.status_code == 401  # TikTok's answer, for the caller to retry
    refreshed = [r for r in tiktok_mock.request_history if r.url == TOKEN_URL]
    assert "grant_type=refresh_token" in refreshed[-1].text


def test_logged_out_receiver_may_touch_the_users_row(
    tmp_path: Any, tiktok_mock: Any
) -> None:
    """A ``tiktok_logged_out`` receiver of a refused refresh runs inside the
    refresh lock (``on_refused`` is called in it, ``on_refreshed`` is not): a
    receiver writing the user's row (an app column on the accounts model)
    waits on the lock its own thread holds. SQLite: "database is locked" and
    the deletion of the dead tokens is rolled back; PostgreSQL: it hangs."""
    from sqlalchemy import create_engine, update

    from flask_tiktok import signals
    from flask_tiktok.sqla import SQLAlchemyStorage, TikTokAccount

    engine = create_engine(
        f"sqlite:///{tmp_path / 'r.db'}", connect_args={"timeout": 0.5}
    )
    storage = SQLAlchemyStorage(engine)
    storage.create_all()
    app = create_app(storage=storage)
    client = app.test_client()
    tiktok_mock.post(TOKEN_URL, json=token_body(expires_in=30))
    log_in(client)
    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
    t = TikTokAccount.__table__

    def on_logged_out(sender: Any, open_id: str, reason: str) -> None:
        with engine.begin() as connection:
            connection.execute(
                update(t).where(t.c.open_id == open_id).values(profile={})
            )

    with signals.tiktok_logged_out.connected_to(on_logged_out, app):
        response = client.get("/api/me")
    engine.dispose()
    assert response.status_code == 302
    with engine.connect() as connection:
        from sqlalchemy import select

        sealed = connection.execute(select(t.c.sealed_tokens)).scalar_one()
    assert sealed is None


def test_get_user_info_refuses_a_string_of_fields(tiktok_mock: Any) -> None:
    """list_videos/query_videos refuse a string of fields; get_user_info sent
    ``fields=o,p,e,n,_,i,d`` to TikTok."""
    client = TikTokClient("ck", "cs", "https://app.example/cb")
    with pytest.raises(TypeError):
        client.get_user_info("act.x", "open_id")  # type: ignore[arg-type]
    assert [r.url for r in tiktok_mock.request_history] == []


def test_login_required_with_a_string_scope() -> None:
    """``@tiktok_login_required(scopes="user.info.basic")`` required the
    scopes "u", "s", "e", ...: a user who granted user.info.basic was sent
    to TikTok asking for scope=user.info.basic,u,s,e,r,.,i,n,f,o,b,a,c."""
    from flask_tiktok import tiktok_login_required

    with pytest.raises(TypeError, match="not a string"):
        tiktok_login_required(scopes="user.info.basic")  # type: ignore[arg-type]


def test_deeply_nested_answer_is_an_unexpected_response(
    app: Flask, tiktok_mock: Any
) -> None:
    """A token answer nested 100,000 deep raised RecursionError out of
    _json_object (which catches only ValueError): a 500 traceback instead of
    the 502 page every other malformed answer gets."""
    nested = "[" * 100_000 + "]" * 100_000
    tiktok_mock.post(TOKEN_URL, text=nested)
    response = log_in(app.test_client())
    assert response.status_code == 502


def test_space_separated_scopes_are_refused_at_init() -> None:
    """Settings says the TIKTOK_* config is "checked once", but
    TIKTOK_SCOPES = "user.info.basic video.list" (OAuth's usual separator)
    passed init_app and made every /login a 500 (ValueError in the client)."""
    with pytest.raises(ValueError, match="TIKTOK_SCOPES"):
        create_app(TIKTOK_SCOPES="user.info.basic video.list")


def test_webhook_body_already_read_by_the_app() -> None:
    """receive_webhook read ``request.stream``: after an app's before_request
    read the body (``request.get_data()``, e.g. to log it), the stream was
    empty and every genuine TikTok delivery got 401 invalid_signature."""
    from flask import request
    from test_webhooks import event_body, post

    app = create_app()
    app.before_request(lambda: (request.get_data(), None)[1])
    response = post(app.test_client(), event_body())
    assert response.status_code == 200, response.get_json()
