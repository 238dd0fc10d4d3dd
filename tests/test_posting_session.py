"""Posting as a user through TikTokAPISession (tiktok.api, api_for): the token
refreshed first, an init retried once after an early revocation (no chunk
sent twice), and post.publish.* webhooks as tiktok_post_updated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import (
    ALICE,
    INVALID_TOKEN,
    ROTATED,
    TOKEN_URL,
    event_body,
    expired,
    log_in,
    post,
    refreshes,
    store,
    token_body,
)

from flask_tiktok import TikTokAPIError, TikTokLoginRequired
from flask_tiktok.signals import tiktok_post_updated, tiktok_webhook_received
from flask_tiktok.sqla import SQLAlchemyStorage
from flask_tiktok.tokens import OAuth2Tokens

API = "https://open.tiktokapis.com/v2/post/publish/"
UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=U&upload_token=T"


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}


def bearer(request: Any) -> str:
    return str(request.headers["Authorization"])


def test_an_init_refused_for_an_early_revoked_token_is_sent_again_once(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any, tmp_path: Path
) -> None:
    store(sqla_app, storage, OAuth2Tokens(token_body()))
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok_mock.post(
        API + "video/init/",
        [
            {"status_code": 401, "json": INVALID_TOKEN},
            {"json": ok({"publish_id": "p1", "upload_url": UPLOAD_URL})},
        ],
    )
    tiktok_mock.put(UPLOAD_URL, status_code=201)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"abc")
    with sqla_app.app_context():
        api = sqla_app.extensions["test_tiktok"].api_for(ALICE)
        with video.open("rb") as file:
            publish_id = api.publish_video(file, privacy_level="SELF_ONLY", title="t")
    assert publish_id == "p1"
    inits = [r for r in tiktok_mock.request_history if r.url == API + "video/init/"]
    assert [bearer(r) for r in inits] == ["Bearer act.alice-1", "Bearer act.alice-2"]
    assert json.loads(inits[0].body) == json.loads(inits[1].body)
    puts = [r for r in tiktok_mock.request_history if r.method == "PUT"]
    assert len(puts) == 1
    assert len(refreshes(tiktok_mock)) == 1


def test_the_token_is_refreshed_before_posting(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, expired())
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok_mock.post(API + "creator_info/query/", json=ok({"creator_nickname": "A"}))
    with sqla_app.app_context():
        info = sqla_app.extensions["test_tiktok"].api_for(ALICE).creator_info()
    assert info.nickname == "A"
    calls = [r for r in tiktok_mock.request_history if r.url.startswith(API)]
    assert [bearer(r) for r in calls] == ["Bearer act.alice-2"]


def test_a_chunk_is_never_resent_after_a_revocation(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any, tmp_path: Path
) -> None:
    # The upload_url needs no token: a revocation after the init does not
    # touch the chunks; only TikTok's 403 (expired) would end them.
    store(sqla_app, storage, OAuth2Tokens(token_body()))
    tiktok_mock.post(
        API + "inbox/video/init/",
        json=ok({"publish_id": "d", "upload_url": UPLOAD_URL}),
    )
    tiktok_mock.put(UPLOAD_URL, status_code=201)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"abc")
    with sqla_app.app_context():
        assert (
            sqla_app.extensions["test_tiktok"].api_for(ALICE).upload_video(video) == "d"
        )
    assert [r.method for r in tiktok_mock.request_history] == ["POST", "PUT"]


def test_each_session_call_reaches_its_endpoint(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, OAuth2Tokens(token_body()))
    tiktok_mock.post(API + "content/init/", json=ok({"publish_id": "ph"}))
    tiktok_mock.post(API + "status/fetch/", json=ok({"status": "PUBLISH_COMPLETE"}))
    tiktok_mock.post(API + "cancel/", json=ok({}))
    tiktok_mock.post(API + "video/init/", json=ok({"publish_id": "v"}))
    with sqla_app.app_context():
        api = sqla_app.extensions["test_tiktok"].api_for(ALICE)
        assert (
            api.publish_photos(
                ["https://m.example.com/1.jpg"], privacy_level="SELF_ONLY"
            )
            == "ph"
        )
        assert (
            api.publish_video("https://m.example.com/1.mp4", privacy_level="SELF_ONLY")
            == "v"
        )
        assert api.post_status("ph").done
        assert api.wait_for_post("ph", timeout=1).status == "PUBLISH_COMPLETE"
        assert api.cancel_post("v") is None
    paths = [r.path for r in tiktok_mock.request_history]
    assert paths == [
        "/v2/post/publish/content/init/",
        "/v2/post/publish/video/init/",
        "/v2/post/publish/status/fetch/",
        "/v2/post/publish/status/fetch/",
        "/v2/post/publish/cancel/",
    ]
    assert {bearer(r) for r in tiktok_mock.request_history} == {"Bearer act.alice-1"}


def test_posting_in_a_view_uses_the_login(app: Flask, tiktok_mock: Any) -> None:
    tiktok = app.extensions["test_tiktok"]

    @app.post("/post")
    def publish() -> str:
        return tiktok.api.publish_video(
            "https://m.example.com/1.mp4", privacy_level="SELF_ONLY"
        )

    tiktok_mock.post(API + "video/init/", json=ok({"publish_id": "v9"}))
    client = app.test_client()
    assert client.post("/post").status_code == 302  # to the login, as for a page
    log_in(client)
    assert client.post("/post").get_data(as_text=True) == "v9"


def test_posting_without_a_login_raises(app: Flask) -> None:
    with app.test_request_context(), pytest.raises(TikTokLoginRequired):
        app.extensions["test_tiktok"].api.creator_info()


def test_a_refused_init_reaches_the_caller(
    sqla_app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(sqla_app, storage, OAuth2Tokens(token_body()))
    tiktok_mock.post(
        API + "video/init/",
        status_code=403,
        json={"data": {}, "error": {"code": "privacy_level_option_mismatch"}},
    )
    with sqla_app.app_context(), pytest.raises(TikTokAPIError) as caught:
        sqla_app.extensions["test_tiktok"].api_for(ALICE).publish_video(
            "https://m.example.com/1.mp4", privacy_level="PUBLIC_TO_EVERYONE"
        )
    assert caught.value.code == "privacy_level_option_mismatch"
    assert not caught.value.retryable


# -- post.publish.* webhooks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "content"),
    [
        (
            "post.publish.failed",
            {
                "publish_id": "p1",
                "reason": "file_format_check_failed",
                "publish_type": "DIRECT_PUBLISH",
            },
        ),
        ("post.publish.complete", {"publish_id": "p1", "publish_type": "INBOX_SHARE"}),
        ("post.publish.inbox_delivered", {"publish_id": "p1"}),
        (
            "post.publish.publicly_available",
            {"publish_id": "p1", "post_id": "7301", "publish_type": "DIRECT_PUBLISH"},
        ),
        ("post.publish.no_longer_publicaly_available", {"publish_id": "p1"}),
        ("post.publish.no_longer_publicly_available", {"publish_id": "p1"}),
    ],
)
def test_post_events_send_tiktok_post_updated(
    app: Flask, event: str, content: dict[str, Any]
) -> None:
    updates: list[dict[str, Any]] = []
    with tiktok_post_updated.connected_to(lambda sender, **kw: updates.append(kw), app):
        response = post(app.test_client(), event_body(event, content=content))
    assert response.status_code == 200
    assert updates == [
        {"open_id": ALICE, "publish_id": "p1", "event": event, "content": content}
    ]


@pytest.mark.parametrize(
    "event", ["video.publish.completed", "video.upload.failed", "authorization.removed"]
)
def test_other_events_are_not_post_updates(app: Flask, event: str) -> None:
    updates: list[Any] = []
    received: list[Any] = []
    with (
        tiktok_post_updated.connected_to(lambda s, **kw: updates.append(kw), app),
        tiktok_webhook_received.connected_to(lambda s, **kw: received.append(kw), app),
    ):
        post(app.test_client(), event_body(event, content={"reason": 1}))
    assert updates == []
    assert len(received) == 1


def test_a_repeated_post_event_is_one_update(app: Flask) -> None:
    updates: list[Any] = []
    body = event_body("post.publish.complete")
    with tiktok_post_updated.connected_to(lambda s, **kw: updates.append(kw), app):
        client = app.test_client()
        post(client, body)
        assert post(client, body).get_json() == {"status": "duplicate"}
    assert len(updates) == 1
