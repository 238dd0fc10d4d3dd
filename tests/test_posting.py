"""The Content Posting API on the client: the exact wire format of each call,
the checks made before any call, TikTok's errors, status and waiting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock as rm
from helpers import CLIENT_KEY, CLIENT_SECRET, api_error_body, sparse_video

from flask_tiktok import (
    CreatorInfo,
    PostStatus,
    TikTokAPIError,
    TikTokClient,
    UnexpectedResponseError,
)
from flask_tiktok.posting import utf16_length

API = "https://open.tiktokapis.com/v2/post/publish/"
CREATOR_INFO_URL = API + "creator_info/query/"
VIDEO_INIT_URL = API + "video/init/"
INBOX_INIT_URL = API + "inbox/video/init/"
CONTENT_INIT_URL = API + "content/init/"
STATUS_URL = API + "status/fetch/"
CANCEL_URL = API + "cancel/"
UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=U1&upload_token=T1"
MEDIA = "https://media.example.com/videos/"


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": "L1"}}


CREATOR = {
    "creator_avatar_url": "https://p16.tiktokcdn.com/a.jpeg",
    "creator_username": "alice",
    "creator_nickname": "Alice",
    "privacy_level_options": [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ],
    "comment_disabled": False,
    "duet_disabled": True,
    "stitch_disabled": True,
    "max_video_post_duration_sec": 300,
}


@pytest.fixture
def client() -> TikTokClient:
    return TikTokClient(
        CLIENT_KEY,
        CLIENT_SECRET,
        "https://app.example/cb",
        verified_url_prefixes=[MEDIA, "https://cdn.example.org"],
    )


@pytest.fixture
def tiktok() -> Any:
    with rm.Mocker() as mock:
        yield mock


def assert_json_call(request: Any, body: dict[str, Any]) -> None:
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer act.1"
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(request.body) == body


# -- creator info ---------------------------------------------------------------


def test_creator_info_is_asked_and_read(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(CREATOR_INFO_URL, json=ok(CREATOR))
    info = client.query_creator_info("act.1")
    assert_json_call(tiktok.last_request, {})
    assert info == CreatorInfo(
        nickname="Alice",
        username="alice",
        avatar_url="https://p16.tiktokcdn.com/a.jpeg",
        privacy_level_options=[
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        ],
        comment_disabled=False,
        duet_disabled=True,
        stitch_disabled=True,
        max_video_post_duration_sec=300,
        data=CREATOR,
    )


@pytest.mark.parametrize(
    "code",
    [
        "spam_risk_too_many_posts",
        "spam_risk_user_banned_from_posting",
        "reached_active_user_cap",
    ],
)
def test_a_creator_who_cannot_post_raises_though_tiktok_says_200(
    client: TikTokClient, tiktok: Any, code: str
) -> None:
    tiktok.post(CREATOR_INFO_URL, status_code=200, json=api_error_body(code))
    with pytest.raises(TikTokAPIError) as caught:
        client.query_creator_info("act.1")
    assert caught.value.code == code
    assert caught.value.status_code == 200
    assert not caught.value.retryable


def test_creator_info_of_odd_types_is_read_safely() -> None:
    info = CreatorInfo.from_data(
        {
            "privacy_level_options": "SELF_ONLY",
            "comment_disabled": "yes",
            "max_video_post_duration_sec": True,
        }
    )
    assert info.privacy_level_options == []
    assert info.comment_disabled is False
    assert info.max_video_post_duration_sec is None
    assert info.nickname == ""


# -- direct post from a file ------------------------------------------------------


def test_a_video_file_is_initialised_then_uploaded(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    path = tmp_path / "clip.mov"
    path.write_bytes(b"0123456789")
    tiktok.post(
        VIDEO_INIT_URL, json=ok({"publish_id": "v_pub~1", "upload_url": UPLOAD_URL})
    )
    received: list[bytes] = []
    tiktok.put(
        UPLOAD_URL,
        status_code=201,
        headers={"Content-Range": "bytes 0-9/10"},
        text=lambda request, context: received.append(request.body.read()) or "",
    )
    publish_id = client.publish_video(
        "act.1",
        str(path),
        privacy_level="MUTUAL_FOLLOW_FRIENDS",
        title="Hi #fyp @bob",
        disable_duet=True,
        cover_timestamp_ms=1000,
        brand_organic=True,
        is_aigc=True,
    )
    assert publish_id == "v_pub~1"
    init, put = tiktok.request_history
    assert init.url == VIDEO_INIT_URL
    assert_json_call(
        init,
        {
            "post_info": {
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
                "title": "Hi #fyp @bob",
                "disable_comment": False,
                "disable_duet": True,
                "disable_stitch": False,
                "video_cover_timestamp_ms": 1000,
                "brand_content_toggle": False,
                "brand_organic_toggle": True,
                "is_aigc": True,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 10,
                "chunk_size": 10,
                "total_chunk_count": 1,
            },
        },
    )
    assert put.method == "PUT"
    assert put.url == UPLOAD_URL  # the whole URL, its query included
    assert put.headers["Content-Type"] == "video/quicktime"
    assert put.headers["Content-Length"] == "10"
    assert put.headers["Content-Range"] == "bytes 0-9/10"
    assert "Authorization" not in put.headers
    assert received == [b"0123456789"]


def test_a_file_object_is_read_from_its_position_and_left_open(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    path = tmp_path / "clip.webm"
    path.write_bytes(b"HEADERvideo-bytes")
    received: list[bytes] = []

    def upload(request: Any, context: Any) -> str:
        received.append(request.body.read())
        context.headers["Content-Range"] = "bytes 0-10/11"
        context.status_code = 201
        return ""

    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p", "upload_url": UPLOAD_URL}))
    tiktok.put(UPLOAD_URL, text=upload)
    with path.open("rb") as file:
        file.seek(6)
        client.publish_video("act.1", file, privacy_level="SELF_ONLY")
        assert not file.closed
    assert received == [b"video-bytes"]
    assert tiktok.request_history[1].headers["Content-Type"] == "video/webm"
    assert json.loads(tiktok.request_history[0].body)["source_info"]["video_size"] == 11


def test_a_direct_post_sends_only_the_defaults_it_must(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p"}))
    client.publish_video("act.1", MEDIA + "1.mp4", privacy_level="SELF_ONLY")
    assert json.loads(tiktok.last_request.body) == {
        "post_info": {
            "privacy_level": "SELF_ONLY",
            "disable_comment": False,
            "disable_duet": False,
            "disable_stitch": False,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
            "is_aigc": False,
        },
        "source_info": {"source": "PULL_FROM_URL", "video_url": MEDIA + "1.mp4"},
    }


def test_an_init_without_upload_url_is_an_unexpected_answer(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p"}))
    with pytest.raises(UnexpectedResponseError):
        client.publish_video(
            "act.1", sparse_video(tmp_path, 10), privacy_level="SELF_ONLY"
        )


def test_an_init_without_publish_id_is_an_unexpected_answer(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"upload_url": UPLOAD_URL}))
    with pytest.raises(UnexpectedResponseError):
        client.publish_video("act.1", MEDIA + "1.mp4", privacy_level="SELF_ONLY")


# -- inbox draft, photos, status, cancel ------------------------------------------


def test_an_inbox_draft_sends_only_the_source(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    tiktok.post(INBOX_INIT_URL, json=ok({"publish_id": "d1", "upload_url": UPLOAD_URL}))
    tiktok.put(UPLOAD_URL, status_code=201)
    assert client.upload_video("act.1", sparse_video(tmp_path, 3)) == "d1"
    assert_json_call(
        tiktok.request_history[0],
        {
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 3,
                "chunk_size": 3,
                "total_chunk_count": 1,
            }
        },
    )


def test_photos_are_posted_from_urls(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(CONTENT_INIT_URL, json=ok({"publish_id": "ph1"}))
    urls = [MEDIA + "1.jpg", "https://cdn.example.org/2.webp"]
    publish_id = client.publish_photos(
        "act.1",
        urls,
        privacy_level="PUBLIC_TO_EVERYONE",
        title="Two",
        description="Photos #fyp",
        cover_index=1,
        auto_add_music=True,
    )
    assert publish_id == "ph1"
    assert_json_call(
        tiktok.last_request,
        {
            "post_info": {
                "title": "Two",
                "description": "Photos #fyp",
                "privacy_level": "PUBLIC_TO_EVERYONE",
                "disable_comment": False,
                "auto_add_music": True,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 1,
                "photo_images": urls,
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
        },
    )


def test_photos_to_the_inbox_need_no_privacy(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(CONTENT_INIT_URL, json=ok({"publish_id": "ph2"}))
    client.publish_photos("act.1", [MEDIA + "1.jpg"], post_mode="MEDIA_UPLOAD")
    body = json.loads(tiktok.last_request.body)
    assert body["post_mode"] == "MEDIA_UPLOAD"
    assert body["post_info"] == {}


def test_status_is_fetched_and_read(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(
        STATUS_URL,
        json=ok(
            {
                "status": "PUBLISH_COMPLETE",
                "publicaly_available_post_id": [7301234567890123456],
                "uploaded_bytes": 10,
            }
        ),
    )
    status = client.get_post_status("act.1", "p1")
    assert_json_call(tiktok.last_request, {"publish_id": "p1"})
    assert status.post_ids == ["7301234567890123456"]
    assert status.uploaded_bytes == 10
    assert status.downloaded_bytes is None
    assert status.done and not status.failed


@pytest.mark.parametrize(
    ("data", "done", "failed", "reason"),
    [
        ({"status": "PROCESSING_UPLOAD"}, False, False, None),
        ({"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 5}, False, False, None),
        ({"status": "SEND_TO_USER_INBOX"}, True, False, None),
        (
            {"status": "FAILED", "fail_reason": "duration_check_failed"},
            True,
            True,
            "duration_check_failed",
        ),
        (
            {"status": "PUBLISH_COMPLETE", "publicly_available_post_id": [1]},
            True,
            False,
            None,
        ),
    ],
)
def test_statuses(data: dict[str, Any], done: bool, failed: bool, reason: Any) -> None:
    status = PostStatus.from_data("p", data)
    assert (status.done, status.failed, status.fail_reason) == (done, failed, reason)


def test_cancel_sends_the_publish_id(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(CANCEL_URL, json=ok({}))
    assert client.cancel_post("act.1", "p1") is None
    assert_json_call(tiktok.last_request, {"publish_id": "p1"})


# -- TikTok's errors -------------------------------------------------------------

INIT_ERRORS = [
    (400, "invalid_param", False),
    (400, "app_version_check_failed", False),
    (403, "spam_risk_too_many_posts", False),
    (403, "spam_risk_user_banned_from_posting", False),
    (403, "reached_active_user_cap", False),
    (403, "unaudited_client_can_only_post_to_private_accounts", False),
    (403, "url_ownership_unverified", False),
    (403, "privacy_level_option_mismatch", False),
    (401, "access_token_invalid", False),
    (401, "scope_not_authorized", False),
    (429, "rate_limit_exceeded", True),
    (500, "internal_error", True),
]


@pytest.mark.parametrize(("status", "code", "retryable"), INIT_ERRORS)
def test_each_init_error_is_raised_with_its_code(
    client: TikTokClient,
    tiktok: Any,
    tmp_path: Path,
    status: int,
    code: str,
    retryable: bool,
) -> None:
    tiktok.post(VIDEO_INIT_URL, status_code=status, json=api_error_body(code))
    with pytest.raises(TikTokAPIError) as caught:
        client.publish_video(
            "act.1", sparse_video(tmp_path, 10), privacy_level="SELF_ONLY"
        )
    assert (caught.value.code, caught.value.status_code) == (code, status)
    assert caught.value.retryable is retryable
    assert len(tiktok.request_history) == 1  # no chunk sent


def test_the_inbox_draft_cap(client: TikTokClient, tiktok: Any, tmp_path: Path) -> None:
    tiktok.post(
        INBOX_INIT_URL,
        status_code=403,
        json=api_error_body("spam_risk_too_many_pending_share"),
    )
    with pytest.raises(TikTokAPIError, match="spam_risk_too_many_pending_share"):
        client.upload_video("act.1", sparse_video(tmp_path, 10))


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_publish_id"),
        (403, "token_not_authorized_for_specified_publish_id"),
        (400, "publish_not_cancellable"),
        (401, "access_token_invalid"),
        (429, "rate_limit_exceeded"),
        (503, "internal_error"),
    ],
)
def test_each_status_and_cancel_error_is_raised(
    client: TikTokClient, tiktok: Any, status: int, code: str
) -> None:
    for url in (STATUS_URL, CANCEL_URL):
        tiktok.post(url, status_code=status, json=api_error_body(code))
    with pytest.raises(TikTokAPIError) as caught:
        client.get_post_status("act.1", "p1")
    assert caught.value.code == code
    with pytest.raises(TikTokAPIError) as caught:
        client.cancel_post("act.1", "p1")
    assert caught.value.code == code


# -- checks before any call ------------------------------------------------------


def refused(client: TikTokClient, tiktok: Any, match: str, call: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
    assert tiktok.request_history == []


def test_a_title_is_counted_in_utf16_units(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p", "upload_url": UPLOAD_URL}))
    tiktok.put(UPLOAD_URL, status_code=201)
    video = sparse_video(tmp_path, 10)
    longest = "😀" * 1100  # 1,100 characters, 2,200 UTF-16 units
    assert utf16_length(longest) == 2200
    client.publish_video("act.1", video, privacy_level="SELF_ONLY", title=longest)
    tiktok.reset_mock()
    refused(
        client,
        tiktok,
        "title is over TikTok's 2,200 UTF-16 units",
        lambda: client.publish_video(
            "act.1", video, privacy_level="SELF_ONLY", title=longest + "a"
        ),
    )


@pytest.mark.parametrize(
    ("size", "options", "match"),
    [
        (0, {}, "the video file is empty"),
        (4 * 1024**3 + 1, {}, "over TikTok's 4 GB limit"),
        (10, {"chunk_size": 5_000_000}, "chunk_size must be 5,242,880 to 64,000,000"),
        (10, {"chunk_size": 64_000_001}, "chunk_size must be"),
        (10, {"brand_content": True}, r"branded content .* cannot be private"),
        (10, {"cover_timestamp_ms": -1}, "cover_timestamp_ms"),
        (10, {"content_type": "video/avi"}, "content_type is one of"),
    ],
)
def test_a_video_is_checked_before_any_call(
    client: TikTokClient,
    tiktok: Any,
    tmp_path: Path,
    size: int,
    options: dict[str, Any],
    match: str,
) -> None:
    video = sparse_video(tmp_path, size)
    refused(
        client,
        tiktok,
        match,
        lambda: client.publish_video(
            "act.1", video, privacy_level="SELF_ONLY", **options
        ),
    )


@pytest.mark.parametrize("level", ["PUBLIC", "", None, "self_only"])
def test_an_unknown_privacy_level_is_refused(
    client: TikTokClient, tiktok: Any, level: Any
) -> None:
    refused(
        client,
        tiktok,
        "privacy_level is one of",
        lambda: client.publish_video("act.1", MEDIA + "1.mp4", privacy_level=level),
    )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://media.example.com/videos/1.mp4", "must be an https:// URL"),
        ("https://93.184.216.34/videos/1.mp4", "not an IP address"),
        ("https://[2001:db8::1]/videos/1.mp4", "not an IP address"),
        ("https://user:pw@media.example.com/videos/1.mp4", "user name or password"),
        ("https://media.example.com/other/1.mp4", "not under a URL prefix verified"),
        ("https://cdn.example.org.evil.example/1.mp4", "not under a URL prefix"),
        ("https://evil.example/?u=https://media.example.com/videos/", "not under"),
        (MEDIA + "../private/1.mp4", "'.' or '..' segments"),
        (MEDIA + "%2e%2E/private/1.mp4", "'.' or '..' segments"),
        (MEDIA + "..%2fprivate/1.mp4", "%2F / %5C"),
        (MEDIA + "a%5C..%5Cb.mp4", "%2F / %5C"),
        (MEDIA + "./1.mp4", "'.' or '..' segments"),
        (MEDIA + "1.mp4\n", "control characters"),
        (MEDIA + "1 .mp4", "spaces"),
        ("https://media.example.com:99999/videos/1.mp4", "invalid port"),
        ("https://media.example.com:8443/videos/1.mp4", "not under a URL prefix"),
        (MEDIA + "1.mp4#x", "a fragment"),
        ("https://media.example.com\\@evil.example/videos/1.mp4", "a backslash"),
        ("https://127.1/videos/1.mp4", "not an IP address"),
        ("https://2130706433/videos/1.mp4", "not an IP address"),
        ("https://0x7f000001/videos/1.mp4", "not an IP address"),
        ("https://127.0.0.1./videos/1.mp4", "not an IP address"),
    ],
)
def test_a_pull_url_is_checked_before_any_call(
    client: TikTokClient, tiktok: Any, url: str, match: str
) -> None:
    refused(
        client,
        tiktok,
        match,
        lambda: client.publish_video("act.1", url, privacy_level="SELF_ONLY"),
    )
    refused(
        client,
        tiktok,
        match,
        lambda: client.publish_photos("act.1", [url], privacy_level="SELF_ONLY"),
    )


def test_the_url_sent_is_the_url_checked(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p"}))
    client.publish_video(
        "act.1",
        "https://MEDIA.example.com:443/videos/a.mp4?v=1",
        privacy_level="SELF_ONLY",
    )
    sent = json.loads(tiktok.last_request.body)["source_info"]["video_url"]
    assert sent == "https://media.example.com/videos/a.mp4?v=1"


def test_prefixes_match_hosts_case_insensitively(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p"}))
    client.publish_video(
        "act.1", "HTTPS://Media.Example.com/videos/a.mp4", privacy_level="SELF_ONLY"
    )
    assert tiktok.call_count == 1


def test_without_prefixes_any_https_url_goes_to_tiktok(tiktok: Any) -> None:
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p"}))
    client = TikTokClient(CLIENT_KEY, CLIENT_SECRET, None)
    client.publish_video(
        "act.1", "https://anywhere.example/1.mp4", privacy_level="SELF_ONLY"
    )
    assert tiktok.call_count == 1


@pytest.mark.parametrize(
    ("prefixes", "match"),
    [
        (["http://media.example.com/"], "must be an https:// URL"),
        (["https://10.0.0.1/"], "not an IP address"),
        ("https://media.example.com/", "a list of URL prefixes"),
    ],
)
def test_bad_verified_prefixes_are_refused(prefixes: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        TikTokClient(CLIENT_KEY, CLIENT_SECRET, None, verified_url_prefixes=prefixes)


@pytest.mark.parametrize(
    ("photos", "options", "match"),
    [
        ([], {}, "1 to 35 images, not 0"),
        ([MEDIA + "p.jpg"] * 36, {}, "1 to 35 images, not 36"),
        (MEDIA + "p.jpg", {}, "not one string"),
        ([MEDIA + "p.jpg"], {"cover_index": 1}, "cover_index is 0 to 0"),
        ([MEDIA + "p.jpg"], {"title": "x" * 91}, "over TikTok's 90 UTF-16 units"),
        ([MEDIA + "p.jpg"], {"description": "x" * 4001}, "4,000 UTF-16 units"),
        ([MEDIA + "p.jpg"], {"post_mode": "DRAFT"}, "post_mode is DIRECT_POST or"),
        ([MEDIA + "p.jpg"], {"privacy_level": None}, "needs a privacy_level"),
        ([MEDIA + "p.jpg"], {"brand_content": True}, "cannot be private"),
    ],
)
def test_photos_are_checked_before_any_call(
    client: TikTokClient,
    tiktok: Any,
    photos: Any,
    options: dict[str, Any],
    match: str,
) -> None:
    options = {"privacy_level": "SELF_ONLY", **options}
    refused(
        client, tiktok, match, lambda: client.publish_photos("act.1", photos, **options)
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"disable_comments": True}, "unknown option 'disable_comments'"),
        ({"brand_content": "false"}, "brand_content is True or False, not 'false'"),
        ({"disable_duet": 1}, "disable_duet is True or False"),
        ({"title": "a\ud800b"}, "lone surrogate"),
    ],
)
def test_video_options_are_checked(
    client: TikTokClient, tiktok: Any, options: dict[str, Any], match: str
) -> None:
    refused(
        client,
        tiktok,
        match,
        lambda: client.publish_video(
            "act.1", MEDIA + "1.mp4", privacy_level="SELF_ONLY", **options
        ),
    )


@pytest.mark.parametrize(
    "options",
    [
        {"privacy_level": "SELF_ONLY"},
        {"disable_comment": True},
        {"auto_add_music": True},
    ],
)
def test_a_photo_draft_takes_no_direct_post_options(
    client: TikTokClient, tiktok: Any, options: dict[str, Any]
) -> None:
    refused(
        client,
        tiktok,
        "are for a direct post",
        lambda: client.publish_photos(
            "act.1", [MEDIA + "1.jpg"], post_mode="MEDIA_UPLOAD", **options
        ),
    )


def test_an_upload_url_in_clear_is_refused(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    plain = "http://open-upload.tiktokapis.com/video/?upload_id=U"
    tiktok.post(VIDEO_INIT_URL, json=ok({"publish_id": "p", "upload_url": plain}))
    with pytest.raises(UnexpectedResponseError):
        client.publish_video(
            "act.1", sparse_video(tmp_path, 10), privacy_level="SELF_ONLY"
        )
    assert [r.method for r in tiktok.request_history] == ["POST"]


def test_a_text_file_is_refused(
    client: TikTokClient, tiktok: Any, tmp_path: Path
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_text("x")
    with path.open() as text:
        refused(
            client,
            tiktok,
            "binary mode",
            lambda: client.publish_video("act.1", text, privacy_level="SELF_ONLY"),
        )


def test_a_stream_that_cannot_seek_is_refused(
    client: TikTokClient, tiktok: Any
) -> None:
    class Pipe:
        def read(self, size: int = -1) -> bytes:
            return b""

        def seekable(self) -> bool:
            return False

    refused(
        client,
        tiktok,
        "must be seekable",
        lambda: client.upload_video("act.1", Pipe()),  # type: ignore[arg-type]
    )


def test_something_else_is_refused(client: TikTokClient, tiktok: Any) -> None:
    refused(
        client,
        tiktok,
        "video is a path, a binary file object or an https:// URL",
        lambda: client.upload_video("act.1", 42),  # type: ignore[arg-type]
    )


# -- waiting for the outcome --------------------------------------------------------


def test_waiting_polls_with_a_growing_pause_until_done(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(
        STATUS_URL,
        [
            {"json": ok({"status": "PROCESSING_UPLOAD"})},
            {"json": ok({"status": "PROCESSING_UPLOAD"})},
            {"json": ok({"status": "PROCESSING_UPLOAD"})},
            {"json": ok({"status": "SEND_TO_USER_INBOX"})},
        ],
    )
    pauses: list[float] = []
    status = client.wait_for_post("act.1", "p1", interval=1, sleep=pauses.append)
    assert status.status == "SEND_TO_USER_INBOX"
    assert pauses == [2.0, 3.0, 4.5]  # never under 2 s: 30 status calls a minute


def test_waiting_waits_out_a_rate_limit(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(
        STATUS_URL,
        [
            {
                "status_code": 429,
                "json": api_error_body("rate_limit_exceeded"),
                "headers": {"Retry-After": "7"},
            },
            {"status_code": 429, "json": api_error_body("rate_limit_exceeded")},
            {"json": ok({"status": "FAILED", "fail_reason": "internal"})},
        ],
    )
    pauses: list[float] = []
    status = client.wait_for_post("act.1", "p1", sleep=pauses.append)
    assert status.failed and status.fail_reason == "internal"
    assert pauses == [7.0, 60.0]


def test_waiting_gives_up_at_its_timeout(client: TikTokClient, tiktok: Any) -> None:
    tiktok.post(STATUS_URL, json=ok({"status": "PROCESSING_DOWNLOAD"}))
    pauses: list[float] = []
    with pytest.raises(TimeoutError, match="'p1' is not done after 60 s"):
        client.wait_for_post("act.1", "p1", timeout=60, sleep=pauses.append)
    assert sum(pauses) <= 60
    assert tiktok.call_count == len(pauses) + 1


def test_waiting_rides_out_a_transient_failure(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(
        STATUS_URL,
        [
            {"exc": requests.exceptions.ConnectionError("reset")},
            {"status_code": 503, "text": "<html>busy</html>"},
            {"json": ok({"status": "PUBLISH_COMPLETE"})},
        ],
    )
    pauses: list[float] = []
    assert client.wait_for_post("act.1", "p1", sleep=pauses.append).done
    assert pauses == [5.0, 5.0]


@pytest.mark.parametrize(
    "bounds", [{"interval": float("nan")}, {"timeout": 0}, {"interval": -1}]
)
def test_waiting_refuses_bounds_that_bound_nothing(
    client: TikTokClient, tiktok: Any, bounds: dict[str, float]
) -> None:
    with pytest.raises(ValueError, match="numbers of seconds above 0"):
        client.wait_for_post("act.1", "p1", sleep=lambda s: None, **bounds)
    assert tiktok.call_count == 0


def test_waiting_raises_what_is_not_a_rate_limit(
    client: TikTokClient, tiktok: Any
) -> None:
    tiktok.post(STATUS_URL, status_code=400, json=api_error_body("invalid_publish_id"))
    with pytest.raises(TikTokAPIError, match="invalid_publish_id"):
        client.wait_for_post("act.1", "p1", sleep=lambda s: None)
