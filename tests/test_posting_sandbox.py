"""Posting end to end: TikTokClient against the sandbox over loopback HTTP.

The bytes the sandbox received equal the file's (sha256), through every
upload fault it injects: a dropped connection mid-chunk, a lost chunk (416
with a shorter range), a 500, an expired upload_url.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from example_support import serve
from flask import Flask
from helpers import bare_app, sha256_of, sparse_video

from flask_tiktok import TikTokAPIError, TikTokClient, TikTokUploadError
from flask_tiktok import upload as upload_module
from flask_tiktok.sandbox import Sandbox, SandboxApp, SandboxServer
from flask_tiktok.signals import tiktok_post_updated

KEY = "sandbox-client-key"
SECRET = "sandbox-client-secret"
ALICE = "sandbox-open-id-alice"
BOB = "sandbox-open-id-bob"
CAROL = "sandbox-open-id-carol"
SCOPES = ["user.info.basic", "video.publish", "video.upload"]
CHUNK = 5_242_880


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_module, "BACKOFF", 0.0)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(verified_url_prefixes=["https://media.example.com/"])


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with sandbox.serve() as running:
        yield running


@pytest.fixture
def client(server: SandboxServer) -> Iterator[TikTokClient]:
    tiktok = TikTokClient(
        KEY, SECRET, None, api_base_url=f"{server.url}/v2/", timeout=30
    )
    yield tiktok
    tiktok.close()


def token(sandbox: Sandbox, open_id: str = ALICE) -> str:
    return str(sandbox.authorize(KEY, open_id, SCOPES)["access_token"])


def video_file(tmp_path: Path, size: int) -> tuple[Path, str]:
    path = sparse_video(tmp_path, size)
    return path, sha256_of(path)


def received(sandbox: Sandbox, publish_id: str) -> tuple[str | None, int | None]:
    post = sandbox.find_post(publish_id)
    assert post is not None
    return post.sha256, post.uploaded_bytes


@pytest.mark.parametrize("size", [1, 4_999_999, 3 * CHUNK + 123])
def test_the_bytes_tiktok_received_are_the_files(
    sandbox: Sandbox, client: TikTokClient, tmp_path: Path, size: int
) -> None:
    path, sha = video_file(tmp_path, size)
    publish_id = client.publish_video(
        token(sandbox), path, privacy_level="SELF_ONLY", chunk_size=CHUNK
    )
    assert received(sandbox, publish_id) == (sha, size)
    status = client.wait_for_post(token(sandbox), publish_id, sleep=lambda s: None)
    assert status.status == "PUBLISH_COMPLETE"


@pytest.mark.parametrize("fault", ["drop_connection", "lose_chunk", "server_error"])
def test_the_upload_survives_each_fault(
    sandbox: Sandbox, client: TikTokClient, tmp_path: Path, fault: str
) -> None:
    path, sha = video_file(tmp_path, 3 * CHUNK)
    sandbox.inject_fault("video_upload", fault)
    publish_id = client.upload_video(token(sandbox), path, chunk_size=CHUNK)
    assert received(sandbox, publish_id) == (sha, 3 * CHUNK)
    status = client.wait_for_post(token(sandbox), publish_id, sleep=lambda s: None)
    assert status.status == "SEND_TO_USER_INBOX"


def test_an_expired_upload_url_raises(
    sandbox: Sandbox, client: TikTokClient, tmp_path: Path
) -> None:
    path, _ = video_file(tmp_path, 10)
    sandbox.inject_fault("video_upload", "expired_upload")
    with pytest.raises(TikTokUploadError) as caught:
        client.publish_video(token(sandbox), path, privacy_level="SELF_ONLY")
    assert caught.value.expired
    assert sandbox.find_post(caught.value.publish_id) is not None


def test_creator_info_per_account(sandbox: Sandbox, client: TikTokClient) -> None:
    alice = client.query_creator_info(token(sandbox, ALICE))
    bob = client.query_creator_info(token(sandbox, BOB))
    assert "PUBLIC_TO_EVERYONE" in alice.privacy_level_options
    assert alice.duet_disabled and not alice.comment_disabled
    assert "FOLLOWER_OF_CREATOR" in bob.privacy_level_options
    assert "PUBLIC_TO_EVERYONE" not in bob.privacy_level_options
    assert bob.comment_disabled and bob.stitch_disabled
    with pytest.raises(TikTokAPIError) as caught:
        client.query_creator_info(token(sandbox, CAROL))
    assert (caught.value.code, caught.value.status_code) == (
        "spam_risk_too_many_posts",
        200,
    )


def test_a_privacy_level_the_creator_lacks_is_refused_by_tiktok(
    sandbox: Sandbox, client: TikTokClient
) -> None:
    with pytest.raises(TikTokAPIError) as caught:
        client.publish_video(
            token(sandbox, BOB),
            "https://media.example.com/v/1.mp4",
            privacy_level="PUBLIC_TO_EVERYONE",
        )
    assert caught.value.code == "privacy_level_option_mismatch"


def test_a_failed_pull_is_a_failed_status(
    sandbox: Sandbox, client: TikTokClient
) -> None:
    # The sandbox has no network: media on a verified https:// prefix cannot
    # be fetched, as when TikTok cannot reach a URL.
    access = token(sandbox)
    publish_id = client.publish_video(
        access, "https://media.example.com/v/1.mp4", privacy_level="SELF_ONLY"
    )
    status = client.wait_for_post(access, publish_id, sleep=lambda s: None)
    assert (status.status, status.fail_reason) == ("FAILED", "video_pull_failed")


@pytest.mark.parametrize(
    "fail_reason", ["file_format_check_failed", "internal", "spam_risk_text"]
)
def test_a_processing_failure_reaches_the_status(
    sandbox: Sandbox,
    client: TikTokClient,
    tmp_path: Path,
    fail_reason: str,
) -> None:
    path, _ = video_file(tmp_path, 10)
    sandbox.inject_fault("video_init", "post_failed", fail_reason=fail_reason)
    access = token(sandbox)
    publish_id = client.publish_video(access, path, privacy_level="SELF_ONLY")
    status = client.wait_for_post(access, publish_id, sleep=lambda s: None)
    assert status.failed and status.fail_reason == fail_reason


def test_photos_go_through(sandbox: Sandbox, client: TikTokClient) -> None:
    publish_id = client.publish_photos(
        token(sandbox),
        ["https://media.example.com/p/1.jpg"],
        post_mode="MEDIA_UPLOAD",
    )
    post = sandbox.find_post(publish_id)
    assert post is not None and post.media_type == "PHOTO"


def test_the_status_limit_is_waited_out(
    sandbox: Sandbox, client: TikTokClient, tmp_path: Path
) -> None:
    sandbox.inject_fault("post_status", "api_error", code="rate_limit_exceeded")
    path, _ = video_file(tmp_path, 10)
    access = token(sandbox)
    publish_id = client.publish_video(access, path, privacy_level="SELF_ONLY")
    pauses: list[float] = []
    status = client.wait_for_post(access, publish_id, sleep=pauses.append)
    assert status.done
    assert pauses[0] == 60.0  # no Retry-After: a minute, TikTok's window


def test_the_sandbox_webhook_reaches_the_app_as_a_post_update(
    tmp_path: Path,
) -> None:
    updates: list[dict[str, Any]] = []
    app: Flask = bare_app(TIKTOK_CLIENT_KEY=KEY, TIKTOK_CLIENT_SECRET=SECRET)
    tiktok_post_updated.connect(
        lambda sender, **kw: updates.append(kw), app, weak=False
    )
    with serve(app) as app_url:
        sandbox = Sandbox(apps=[SandboxApp(webhook_url=f"{app_url}/tiktok/webhook")])
        with sandbox.serve() as server:
            client = TikTokClient(KEY, SECRET, None, api_base_url=f"{server.url}/v2/")
            path, _ = video_file(tmp_path, 10)
            access = token(sandbox)
            publish_id = client.upload_video(access, path)
            client.wait_for_post(access, publish_id, sleep=lambda s: None)
            deliveries = sandbox.flush_webhooks()
            client.close()
    assert [d.status_code for d in deliveries] == [200]
    assert updates == [
        {
            "open_id": ALICE,
            "publish_id": publish_id,
            "event": "post.publish.inbox_delivered",
            "content": {"publish_id": publish_id, "publish_type": "INBOX_SHARE"},
        }
    ]
