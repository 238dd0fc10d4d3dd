"""The Display API helpers: list_videos, iter_videos, query_videos, tiktok.videos."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from helpers import TOKEN_URL, create_app, log_in, token_body

from flask_tiktok import (
    TikTok,
    TikTokAPIError,
    TikTokClient,
    UnexpectedResponseError,
    signals,
)
from flask_tiktok.client import VideoPage
from flask_tiktok.sandbox import Sandbox
from flask_tiktok.testing import LiveSandbox, login_as

LIST_URL = "https://open.tiktokapis.com/v2/video/list/"
QUERY_URL = "https://open.tiktokapis.com/v2/video/query/"
FIELDS = ["id", "title", "cover_image_url"]
ALICE = "sandbox-open-id-alice"


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": "2026"}}


def page(ids: list[int], cursor: int, has_more: bool) -> dict[str, Any]:
    """A video/list/ answer of videos with these ids."""
    videos = [{"id": str(i), "title": f"video {i}"} for i in ids]
    return ok({"videos": videos, "cursor": cursor, "has_more": has_more})


def sent(request: Any) -> dict[str, Any]:
    """What a request to TikTok carried that TikTok reads."""
    return {
        "method": request.method,
        "path": urlsplit(request.url).path,
        "query": parse_qs(urlsplit(request.url).query),
        "json": request.json(),
        "content_type": request.headers["Content-Type"],
        "authorization": request.headers["Authorization"],
    }


@pytest.fixture
def client() -> Iterator[TikTokClient]:
    client = TikTokClient("client-key-1", "client-secret-1", None)
    yield client
    client.close()


@pytest.fixture
def mock() -> Iterator[requests_mock.Mocker]:
    with requests_mock.Mocker() as mocker:
        yield mocker


def test_list_videos_sends_tiktoks_request(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    mock.post(LIST_URL, json=page([1, 2], cursor=1_700_000_000_000, has_more=True))

    result = client.list_videos("act.1", FIELDS)

    assert sent(mock.last_request) == {
        "method": "POST",
        "path": "/v2/video/list/",
        "query": {"fields": ["id,title,cover_image_url"]},
        "json": {"max_count": 20},
        "content_type": "application/json",
        "authorization": "Bearer act.1",
    }
    assert isinstance(result, VideoPage)
    assert [v["id"] for v in result.videos] == ["1", "2"]
    assert result.cursor == 1_700_000_000_000
    assert result.has_more is True


def test_list_videos_passes_the_cursor_and_page_size(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    mock.post(LIST_URL, json=page([], cursor=0, has_more=False))

    result = client.list_videos("act.1", ["id"], cursor=1_643_332_803_000, max_count=5)

    assert mock.last_request.json() == {"max_count": 5, "cursor": 1_643_332_803_000}
    assert result.videos == []
    assert result.has_more is False


@pytest.mark.parametrize("max_count", [0, 21])
def test_list_videos_refuses_a_page_size_tiktok_refuses(
    client: TikTokClient, mock: requests_mock.Mocker, max_count: int
) -> None:
    with pytest.raises(ValueError, match="max_count is 1 to 20"):
        client.list_videos("act.1", ["id"], max_count=max_count)
    assert mock.call_count == 0


def test_fields_must_be_a_list_of_names(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    with pytest.raises(TypeError, match="list of field names"):
        client.list_videos("act.1", "id,title")
    with pytest.raises(ValueError, match="invalid fields"):
        client.list_videos("act.1", [])
    with pytest.raises(TypeError, match="list of field names"):
        client.query_videos("act.1", ["1"], "id")
    with pytest.raises(TypeError, match="list of video ids"):
        client.query_videos("act.1", "7300000", ["id"])
    assert mock.call_count == 0


def test_iter_videos_follows_short_pages_until_has_more_is_false(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    # Pages shorter than asked while has_more is true, as TikTok's filtering does.
    mock.post(
        LIST_URL,
        [
            {"json": page([1, 2, 3], cursor=300, has_more=True)},
            {"json": page([4], cursor=200, has_more=True)},
            {"json": page([5, 6], cursor=100, has_more=False)},
        ],
    )

    videos = list(client.iter_videos("act.1", FIELDS))

    assert [v["id"] for v in videos] == ["1", "2", "3", "4", "5", "6"]
    assert [r.json() for r in mock.request_history] == [
        {"max_count": 20},
        {"max_count": 20, "cursor": 300},
        {"max_count": 20, "cursor": 200},
    ]
    assert all(
        sent(r)["query"] == {"fields": ["id,title,cover_image_url"]}
        for r in mock.request_history
    )


def test_iter_videos_stops_at_the_limit_mid_page(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    # TikTok answers fewer than asked, then (a misbehaving page) more than asked.
    mock.post(
        LIST_URL,
        [
            {"json": page([1, 2, 3], cursor=300, has_more=True)},
            {"json": page([4, 5, 6], cursor=200, has_more=True)},
        ],
    )

    videos = list(client.iter_videos("act.1", ["id"], limit=4))

    assert [v["id"] for v in videos] == ["1", "2", "3", "4"]
    assert [r.json() for r in mock.request_history] == [
        {"max_count": 4},
        {"max_count": 1, "cursor": 300},
    ]


def test_iter_videos_with_a_limit_inside_the_first_page_makes_one_call(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    mock.post(LIST_URL, json=page([1, 2, 3], cursor=300, has_more=True))

    iterator = client.iter_videos("act.1", ["id"], limit=2)

    assert mock.call_count == 0  # nothing is asked before the first video is
    assert [v["id"] for v in iterator] == ["1", "2"]
    assert [r.json() for r in mock.request_history] == [{"max_count": 2}]
    assert list(client.iter_videos("act.1", ["id"], limit=0)) == []
    assert mock.call_count == 1
    with pytest.raises(ValueError, match="limit"):
        list(client.iter_videos("act.1", ["id"], limit=-1))


def test_iter_videos_stops_when_the_cursor_does_not_move(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    mock.post(
        LIST_URL,
        [
            {"json": page([1], cursor=300, has_more=True)},
            {"json": page([], cursor=300, has_more=True)},
            {"json": page([2], cursor=200, has_more=False)},
        ],
    )

    assert [v["id"] for v in client.iter_videos("act.1", ["id"])] == ["1"]
    assert mock.call_count == 2


def test_query_videos_asks_20_ids_a_call(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    ids = [str(7_300_000_000 + i) for i in range(45)]

    def answer(request: Any, context: Any) -> dict[str, Any]:
        asked = request.json()["filters"]["video_ids"]
        return ok({"videos": [{"id": video_id} for video_id in asked]})

    mock.post(QUERY_URL, json=answer)

    videos = client.query_videos("act.1", ids, ["id", "title"])

    assert [v["id"] for v in videos] == ids
    calls = [sent(r) for r in mock.request_history]
    assert [c["json"]["filters"]["video_ids"] for c in calls] == [
        ids[:20],
        ids[20:40],
        ids[40:],
    ]
    assert {(c["method"], c["path"], c["content_type"]) for c in calls} == {
        ("POST", "/v2/video/query/", "application/json")
    }
    assert all(c["query"] == {"fields": ["id,title"]} for c in calls)
    assert all(c["authorization"] == "Bearer act.1" for c in calls)
    assert all(set(c["json"]) == {"filters"} for c in calls)


@pytest.mark.parametrize(
    "data", [{"videos": {"id": "1"}}, {"videos": ["1", "2"]}, {"videos": "none"}]
)
def test_a_video_list_that_is_not_tiktoks_is_unexpected(
    client: TikTokClient, mock: requests_mock.Mocker, data: dict[str, Any]
) -> None:
    mock.post(LIST_URL, json=ok(data))

    with pytest.raises(UnexpectedResponseError):
        client.list_videos("act.1", ["id"])


def test_a_cursor_that_is_not_a_number_ends_the_iteration(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    mock.post(
        LIST_URL, json=ok({"videos": [{"id": "1"}], "cursor": "x", "has_more": True})
    )

    assert [v["id"] for v in client.iter_videos("act.1", ["id"])] == ["1"]
    assert mock.call_count == 1


def test_query_videos_with_no_ids_asks_nothing(
    client: TikTokClient, mock: requests_mock.Mocker
) -> None:
    assert client.query_videos("act.1", [], ["id"]) == []
    assert mock.call_count == 0


@pytest.mark.parametrize("url", [LIST_URL, QUERY_URL])
def test_scope_not_authorized_raises_tiktok_api_error(
    client: TikTokClient, mock: requests_mock.Mocker, url: str
) -> None:
    body = {
        "data": {},
        "error": {
            "code": "scope_not_authorized",
            "message": "The user did not authorize the scope required.",
            "log_id": "202611240001",
        },
    }
    mock.post(url, status_code=401, json=body)

    with pytest.raises(TikTokAPIError) as caught:
        if url == LIST_URL:
            client.list_videos("act.1", ["id"])
        else:
            client.query_videos("act.1", ["1"], ["id"])

    assert caught.value.code == "scope_not_authorized"
    assert caught.value.status_code == 401
    assert caught.value.log_id == "202611240001"


# -- against the sandbox: an independent reading of the same wire format --------


@pytest.fixture
def sandbox_client(tiktok_sandbox: LiveSandbox) -> Iterator[TikTokClient]:
    config = tiktok_sandbox.config_for(tiktok_sandbox.url)
    client = TikTokClient(
        config["TIKTOK_CLIENT_KEY"],
        config["TIKTOK_CLIENT_SECRET"],
        None,
        api_base_url=config["TIKTOK_API_BASE_URL"],
    )
    yield client
    client.close()


def sandbox_token(sandbox: Sandbox, scopes: str) -> str:
    token: str = sandbox.authorize("sandbox-client-key", ALICE, scopes)["access_token"]
    return token


def test_iter_videos_reads_every_video_from_the_sandbox(
    tiktok_sandbox: LiveSandbox, sandbox_client: TikTokClient
) -> None:
    token = sandbox_token(tiktok_sandbox, "user.info.basic,video.list")
    alice = tiktok_sandbox.find_user(ALICE)
    assert alice is not None
    newest_first = sorted(alice.videos, key=lambda v: v.create_time, reverse=True)

    videos = list(sandbox_client.iter_videos(token, ["id", "create_time", "title"]))

    assert [v["id"] for v in videos] == [v.id for v in newest_first]
    assert videos[0] == {
        "id": newest_first[0].id,
        "create_time": newest_first[0].create_time,
        "title": newest_first[0].title,
    }
    calls = tiktok_sandbox.calls_to("video_list")
    # 45 videos: 20, then a short page of 19 (has_more still true), then 6.
    assert len(calls) == 3
    assert calls[0].json == {"max_count": 20}
    assert all(isinstance(call.json.get("cursor"), int) for call in calls[1:])
    assert {call.headers["Content-Type"] for call in calls} == {"application/json"}


def test_iter_videos_limit_against_the_sandbox(
    tiktok_sandbox: LiveSandbox, sandbox_client: TikTokClient
) -> None:
    token = sandbox_token(tiktok_sandbox, "video.list")

    videos = list(sandbox_client.iter_videos(token, ["id"], limit=30))

    assert len(videos) == 30
    assert len({v["id"] for v in videos}) == 30
    asked = [call.json["max_count"] for call in tiktok_sandbox.calls_to("video_list")]
    assert asked[0] == 20
    assert sum(asked) >= 30


def test_query_videos_against_the_sandbox(
    tiktok_sandbox: LiveSandbox, sandbox_client: TikTokClient
) -> None:
    token = sandbox_token(tiktok_sandbox, "video.list")
    alice = tiktok_sandbox.find_user(ALICE)
    assert alice is not None
    ids = [v.id for v in alice.videos] + ["7999999999999999999"]

    videos = sandbox_client.query_videos(token, ids, ["id", "share_url"])

    assert [v["id"] for v in videos] == ids[:45]
    assert videos[0]["share_url"].endswith(f"/video/{ids[0]}")
    calls = tiktok_sandbox.calls_to("video_query")
    assert [len(call.json["filters"]["video_ids"]) for call in calls] == [20, 20, 6]


def test_the_sandbox_refuses_videos_without_video_list(
    tiktok_sandbox: LiveSandbox, sandbox_client: TikTokClient
) -> None:
    token = sandbox_token(tiktok_sandbox, "user.info.basic")

    with pytest.raises(TikTokAPIError) as caught:
        sandbox_client.list_videos(token, ["id"])

    assert caught.value.code == "scope_not_authorized"
    assert caught.value.status_code == 401


# -- tiktok.videos(): the current user's videos through tiktok.api ---------------


def add_videos_route(app: Flask) -> None:
    tiktok: TikTok = app.extensions["test_tiktok"]

    @app.get("/videos")
    def videos() -> ResponseReturnValue:
        limit = app.config.get("VIDEO_LIMIT", 20)
        return jsonify(tiktok.videos(limit=limit))


def test_videos_refreshes_an_expired_token_first() -> None:
    app = create_app()
    add_videos_route(app)
    client = app.test_client()
    refreshed: list[str] = []
    with requests_mock.Mocker() as mock:
        mock.get(
            "https://open.tiktokapis.com/v2/user/info/",
            json=ok({"user": {"open_id": "open-id-alice", "display_name": "A"}}),
        )
        mock.post(TOKEN_URL, json=token_body(expires_in=30))  # expired: leeway 60
        log_in(client)
        mock.post(
            TOKEN_URL,
            json=token_body(access_token="act.alice-2", refresh_token="rft.alice-2"),
        )
        mock.post(LIST_URL, json=page([1, 2], cursor=100, has_more=False))

        with signals.tiktok_token_refreshed.connected_to(
            lambda sender, open_id, **kw: refreshed.append(open_id), app
        ):
            response = client.get("/videos")

        assert response.get_json() == [
            {"id": "1", "title": "video 1"},
            {"id": "2", "title": "video 2"},
        ]
        token_calls = [r for r in mock.request_history if r.url == TOKEN_URL]
        assert [parse_qs(r.text)["grant_type"] for r in token_calls] == [
            ["authorization_code"],
            ["refresh_token"],
        ]
        video_call = sent(mock.last_request)
        assert video_call["authorization"] == "Bearer act.alice-2"
        assert video_call["json"] == {"max_count": 20}
        assert video_call["query"] == {
            "fields": ["id,title,cover_image_url,share_url,create_time"]
        }
    assert refreshed == ["open-id-alice"]


def test_videos_for_nobody_is_a_login_redirect() -> None:
    app = create_app()
    add_videos_route(app)
    with requests_mock.Mocker() as mock:
        response = app.test_client().get("/videos")
        assert mock.call_count == 0

    assert response.status_code == 302
    assert response.location == "/tiktok/login?next=/videos"


def test_videos_against_the_sandbox_with_an_expired_token(
    tiktok_sandbox: LiveSandbox,
    tiktok_sandbox_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(**tiktok_sandbox_config, VIDEO_LIMIT=None)
    add_videos_route(app)
    client = app.test_client()
    login_as(client, tiktok_sandbox, ALICE, ["user.info.basic", "video.list"])
    tiktok_sandbox.expire_all_access_tokens()
    a_day_later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: a_day_later)

    first = client.get("/videos")
    second = client.get("/videos")

    assert first.status_code == second.status_code == 200
    assert len(first.get_json()) == 45
    assert first.get_json() == second.get_json()
    assert len(tiktok_sandbox.calls_to("token", grant_type="refresh_token")) == 1
    bearers = {
        c.headers["Authorization"] for c in tiktok_sandbox.calls_to("video_list")
    }
    assert len(bearers) == 1  # every page went with the refreshed token


REVOKED = {
    "data": {},
    "error": {"code": "access_token_invalid", "message": "revoked", "log_id": "L9"},
}


@pytest.fixture
def alice(mock: requests_mock.Mocker) -> Any:
    """A test client logged in (token valid for a day) on an app with /videos."""
    app = create_app()
    add_videos_route(app)
    client = app.test_client()
    mock.get(
        "https://open.tiktokapis.com/v2/user/info/",
        json=ok({"user": {"open_id": "open-id-alice", "display_name": "A"}}),
    )
    mock.post(TOKEN_URL, json=token_body())
    log_in(client)
    return client


def test_videos_token_rejected_early_is_refreshed_and_the_listing_asked_again(
    alice: Any, mock: requests_mock.Mocker
) -> None:
    client = alice
    mock.post(
        TOKEN_URL,
        json=token_body(access_token="act.alice-2", refresh_token="rft.alice-2"),
    )
    mock.post(
        LIST_URL,
        [
            {"json": page([1, 2], cursor=10, has_more=True)},
            {"json": REVOKED, "status_code": 401},
            {"json": page([1, 2], cursor=10, has_more=True)},
            {"json": page([3], cursor=20, has_more=False)},
        ],
    )
    response = client.get("/videos")
    assert response.status_code == 200
    assert [v["id"] for v in response.get_json()] == ["1", "2", "3"]
    calls = [sent(r) for r in mock.request_history if r.url.startswith(LIST_URL)]
    assert [(c["authorization"], c["json"]) for c in calls] == [
        ("Bearer act.alice-1", {"max_count": 20}),
        ("Bearer act.alice-1", {"max_count": 18, "cursor": 10}),
        ("Bearer act.alice-2", {"max_count": 20}),  # the listing, from the top
        ("Bearer act.alice-2", {"max_count": 18, "cursor": 10}),
    ]
    refreshes = [
        parse_qs(r.text)
        for r in mock.request_history
        if r.url == TOKEN_URL and "refresh_token" in parse_qs(r.text)
    ]
    assert [r["refresh_token"] for r in refreshes] == [["rft.alice-1"]]


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "scope_not_authorized"), (400, "access_token_invalid")],
)
def test_videos_other_errors_are_not_retried(
    alice: Any, mock: requests_mock.Mocker, status: int, code: str
) -> None:
    client = alice
    mock.post(
        LIST_URL,
        status_code=status,
        json={"data": {}, "error": {"code": code, "message": "", "log_id": "L"}},
    )
    response = client.get("/videos", headers={"Accept": "application/json"})
    assert response.status_code == 502
    assert response.get_json()["error"] == code
    assert len([r for r in mock.request_history if r.url.startswith(LIST_URL)]) == 1
    grants = [
        parse_qs(r.text)["grant_type"]
        for r in mock.request_history
        if r.url == TOKEN_URL
    ]
    assert grants == [["authorization_code"]]  # the login's; no refresh


def test_videos_token_revoked_at_the_sandbox_before_its_expiry(
    tiktok_sandbox: LiveSandbox, tiktok_sandbox_config: dict[str, Any]
) -> None:
    app = create_app(**tiktok_sandbox_config, VIDEO_LIMIT=None)
    add_videos_route(app)
    client = app.test_client()
    login_as(client, tiktok_sandbox, ALICE, ["user.info.basic", "video.list"])
    tiktok_sandbox.expire_all_access_tokens()  # our clock still says: valid

    response = client.get("/videos")

    assert response.status_code == 200
    assert len(response.get_json()) == 45
    assert len(tiktok_sandbox.calls_to("token", grant_type="refresh_token")) == 1
    bearers = [
        c.headers["Authorization"] for c in tiktok_sandbox.calls_to("video_list")
    ]
    assert len(set(bearers)) == 2  # the rejected one, then the refreshed one
    assert bearers.count(bearers[0]) == 1
