"""The sandbox's Content Posting API answers as TikTok's, over loopback HTTP.

Driven with plain ``requests``: creator info, the inits and their refusals, the
chunked upload at ``upload_url`` (sparse files, never a whole file in memory),
statuses that progress, ``PULL_FROM_URL`` from a loopback site, faults, and
the signed ``post.publish.*`` events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from flask_tiktok.sandbox import Sandbox, SandboxApp, SandboxServer, SandboxUser

KEY = "sandbox-client-key"
SECRET = "sandbox-client-secret"
ALICE = "sandbox-open-id-alice"  # public account, duets disabled
BOB = "sandbox-open-id-bob"  # private account, comments and stitches disabled
CAROL = "sandbox-open-id-carol"  # has hit the posting cap
POSTING = ["user.info.basic", "video.publish", "video.upload"]
MB = 1_000_000
PUBLISH = "/v2/post/publish"
MISMATCH = "privacy_level_option_mismatch"
SELF_ONLY = {"privacy_level": "SELF_ONLY"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Site:
    """A loopback web site: media files to pull, and a webhook receiver."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.events: list[tuple[dict[str, str], bytes]] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()

    def _app(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.method == "POST":
            self.events.append((dict(request.headers), request.get_data()))
            return Response("ok")(environ, start_response)
        path = self.files.get(request.path)
        if path is None:
            return Response("missing", 404)(environ, start_response)
        headers = {"Content-Length": str(path.stat().st_size)}
        body = wrap_file(environ, path.open("rb"))
        return Response(body, 200, headers, mimetype="video/mp4")(
            environ, start_response
        )

    def serve(self, name: str, path: Path) -> str:
        self.files[f"/media/{name}"] = path
        return f"{self.url}/media/{name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def sandbox(clock: FakeClock, site: Site, sandbox_options: dict[str, Any]) -> Sandbox:
    options: dict[str, Any] = {
        "clock": clock,
        "apps": [SandboxApp(webhook_url=f"{site.url}/webhook")],
        "verified_url_prefixes": [f"{site.url}/media/", "https://media.example.com/"],
        "pull_from_loopback": True,
    }
    options.update(sandbox_options)
    return Sandbox(**options)


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with sandbox.serve() as running:
        yield running


def grant(sandbox: Sandbox, open_id: str = ALICE, scopes: Any = POSTING) -> str:
    return str(sandbox.authorize(KEY, open_id, scopes)["access_token"])


def call(
    server: SandboxServer, path: str, access_token: str, body: Any = None
) -> requests.Response:
    return requests.post(
        f"{server.url}{PUBLISH}/{path}",
        data=json.dumps({} if body is None else body),
        headers={
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json; charset=UTF-8",
        },
        timeout=30,
    )


def ok_data(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"]["code"] == "ok"
    assert body["error"]["log_id"]
    data: dict[str, Any] = body["data"]
    return data


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["log_id"]


def post_info(**fields: Any) -> dict[str, Any]:
    return {"privacy_level": "SELF_ONLY", "title": "Hi #fyp", **fields}


def file_source(size: int, chunk_size: int | None = None) -> dict[str, Any]:
    chunk = size if chunk_size is None else chunk_size
    return {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": size // chunk,
    }


def init_upload(
    server: SandboxServer,
    access_token: str,
    size: int,
    chunk_size: int | None = None,
    **info: Any,
) -> tuple[str, str]:
    data = ok_data(
        call(
            server,
            "video/init/",
            access_token,
            {
                "post_info": post_info(**info),
                "source_info": file_source(size, chunk_size),
            },
        )
    )
    assert set(data) == {"publish_id", "upload_url"}
    return data["publish_id"], data["upload_url"]


def sparse_file(directory: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes with a marker every 1,000,000 bytes."""
    path = directory / f"video-{size}.mp4"
    with path.open("wb") as file:
        file.truncate(size)
        for offset in range(0, size, MB):
            file.seek(offset)
            file.write(f"<{offset}>".encode()[: size - offset])
        file.seek(size - 1)
        file.write(b"!")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


class FileSlice:
    """``length`` bytes of an open file from ``first``, read as requests sends."""

    def __init__(self, file: BinaryIO, first: int, length: int) -> None:
        file.seek(first)
        self._file = file
        self._left = length
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        block = self._file.read(size)
        self._left -= len(block)
        return block


def layout(size: int, chunk_size: int) -> list[tuple[int, int]]:
    """TikTok's chunks: one up to 64 MB, else the remainder joined to the last."""
    count = size // chunk_size
    ranges = [(i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count)]
    ranges[-1] = (ranges[-1][0], size - 1)
    return ranges


def put(
    upload_url: str,
    path: Path,
    first: int,
    last: int,
    *,
    total: int | None = None,
    content_type: str = "video/mp4",
    **headers: str,
) -> requests.Response:
    size = path.stat().st_size if total is None else total
    with path.open("rb") as file:
        return requests.put(
            upload_url,
            data=FileSlice(file, first, last - first + 1),
            headers={
                "Content-Type": content_type,
                "Content-Range": f"bytes {first}-{last}/{size}",
                **headers,
            },
            timeout=60,
        )


def answer(response: requests.Response) -> tuple[int, str]:
    """A chunk's answer: its status and ``Content-Range``."""
    return response.status_code, response.headers.get("Content-Range", "")


def assert_received(sandbox: Sandbox, publish_id: str, path: Path) -> None:
    """The bytes TikTok received are the file's."""
    post = sandbox.find_post(publish_id)
    assert post is not None
    assert (post.uploaded_bytes or post.downloaded_bytes) == path.stat().st_size
    assert post.sha256 == sha256_of(path)


def upload(upload_url: str, path: Path, chunk_size: int) -> list[requests.Response]:
    size = path.stat().st_size
    return [
        put(upload_url, path, first, last) for first, last in layout(size, chunk_size)
    ]


def status(server: SandboxServer, access_token: str, publish_id: str) -> dict[str, Any]:
    return ok_data(
        call(server, "status/fetch/", access_token, {"publish_id": publish_id})
    )


@dataclass
class Event:
    event: str
    open_id: str
    content: dict[str, Any]


def events(sandbox: Sandbox, site: Site) -> list[Event]:
    """The post.publish.* events the site received, each signature checked."""
    sandbox.flush_webhooks()
    found = []
    for headers, raw in site.events:
        parts = dict(
            part.split("=", 1) for part in headers["Tiktok-Signature"].split(",")
        )
        signed = parts["t"].encode() + b"." + raw
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, parts["s"])
        body = json.loads(raw)
        assert body["client_key"] == KEY
        assert body["create_time"] == int(parts["t"])
        found.append(
            Event(body["event"], body["user_openid"], json.loads(body["content"]))
        )
    return found


# -- creator info -----------------------------------------------------------------


def test_consent_page_offers_and_grants_the_posting_scopes(sandbox: Sandbox) -> None:
    client = sandbox.wsgi_app.test_client()
    query = {
        "client_key": KEY,
        "scope": "user.info.basic,video.publish,video.upload",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:5000/tiktok/callback",
        "state": "s",
        "code_challenge": "0" * 64,
        "code_challenge_method": "S256",
    }
    page = client.get("/v2/auth/authorize/", query_string=query).get_data(as_text=True)
    for scope in ("video.publish", "video.upload"):
        assert f'name="granted_scope" value="{scope}" checked>' in page
    signature = page.split('name="consent_signature" value="')[1].split('"')[0]
    form = {
        **query,
        "disable_auto_auth": "",
        "consent_signature": signature,
        "open_id": BOB,
        "action": "authorize",
        "granted_scope": ["video.publish", "video.upload"],
    }
    answer = client.post("/v2/auth/authorize/", data=form)
    assert answer.status_code == 302
    assert "scopes=user.info.basic%2Cvideo.publish%2Cvideo.upload" in answer.location


def test_creator_info_of_the_public_private_and_capped_accounts(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    alice = ok_data(call(server, "creator_info/query/", grant(sandbox, ALICE)))
    assert alice == {
        "creator_avatar_url": f"{server.url}/static/avatar/{ALICE}.svg",
        "creator_username": "alice.sandbox",
        "creator_nickname": "Alice Sandbox",
        "privacy_level_options": [
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        ],
        "comment_disabled": False,
        "duet_disabled": True,
        "stitch_disabled": False,
        "max_video_post_duration_sec": 600,
    }
    bob = ok_data(call(server, "creator_info/query/", grant(sandbox, BOB)))
    assert bob["privacy_level_options"] == [
        "FOLLOWER_OF_CREATOR",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert (bob["comment_disabled"], bob["duet_disabled"], bob["stitch_disabled"]) == (
        True,
        False,
        True,
    )
    assert bob["max_video_post_duration_sec"] == 180
    capped = call(server, "creator_info/query/", grant(sandbox, CAROL))
    assert capped.status_code == 200
    assert capped.json()["error"]["code"] == "spam_risk_too_many_posts"
    assert capped.json()["data"]["creator_nickname"] == "Carol Sandbox"


def test_posting_endpoints_check_the_token_and_its_scopes(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    assert_error(
        call(server, "creator_info/query/", "act.nope"), 401, "access_token_invalid"
    )
    upload_only = grant(sandbox, scopes=["user.info.basic", "video.upload"])
    publish_only = grant(sandbox, scopes=["user.info.basic", "video.publish"])
    video = {"post_info": post_info(), "source_info": file_source(1)}
    for path, token, body in [
        ("creator_info/query/", upload_only, {}),
        ("video/init/", upload_only, video),
        ("inbox/video/init/", publish_only, {"source_info": file_source(1)}),
        (
            "content/init/",
            upload_only,
            {"media_type": "PHOTO", "post_mode": "DIRECT_POST"},
        ),
        (
            "status/fetch/",
            grant(sandbox, scopes=["user.info.basic"]),
            {"publish_id": "x"},
        ),
    ]:
        assert_error(call(server, path, token, body), 401, "scope_not_authorized")


@pytest.mark.parametrize(
    ("path", "limit"),
    [("creator_info/query/", 20), ("video/init/", 6), ("status/fetch/", 30)],
)
def test_per_token_rate_limits(
    server: SandboxServer, sandbox: Sandbox, clock: FakeClock, path: str, limit: int
) -> None:
    access = grant(sandbox)
    publish_id, _ = init_upload(server, access, 10)
    body = {
        "video/init/": {"post_info": post_info(), "source_info": file_source(10)},
        "status/fetch/": {"publish_id": publish_id},
    }.get(path, {})
    used = 1 if path == "video/init/" else 0
    for _ in range(limit - used):
        ok_data(call(server, path, access, body))
    assert_error(call(server, path, access, body), 429, "rate_limit_exceeded")
    ok_data(call(server, path, grant(sandbox), body))  # the limit is per token
    clock.now += 60
    ok_data(call(server, path, access, body))


# -- init validations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunk_size", "count", "rule"),
    [
        (0, 0, 0, "video_size"),
        (4 * 1024**3 + 1, 10 * MB, 429, "video_size"),
        (4_999_999, 1_000_000, 4, "one chunk"),
        (64_000_001, 64_000_001, 1, "several chunks"),
        (50_000_123, 4_999_999, 10, "chunk_size"),
        (200 * MB, 65 * MB, 3, "chunk_size"),
        (50_000_123, 10 * MB, 6, "floor"),
        (50_000_123, 10 * MB, 4, "floor"),
        (20 * MB, 30 * MB, 0, "exceed"),
    ],
)
def test_video_init_refuses_a_layout_that_breaks_the_chunk_rules(
    server: SandboxServer,
    sandbox: Sandbox,
    size: int,
    chunk_size: int,
    count: int,
    rule: str,
) -> None:
    source = {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk_size,
        "total_chunk_count": count,
    }
    answer = call(
        server,
        "video/init/",
        grant(sandbox),
        {"post_info": post_info(), "source_info": source},
    )
    assert_error(answer, 400, "invalid_param")
    assert rule in answer.json()["error"]["message"]
    assert sandbox.posts == []


def pull(url: str) -> dict[str, Any]:
    return {"source": "PULL_FROM_URL", "video_url": url}


@pytest.mark.parametrize(
    ("info", "source", "status_code", "code"),
    [
        ({"title": "Hi"}, None, 400, "invalid_param"),
        ({"privacy_level": "FOLLOWER_OF_CREATOR"}, None, 403, MISMATCH),
        ({"title": "\U0001f600" * 1101}, None, 400, "invalid_param"),
        ({"title": 7}, None, 400, "invalid_param"),
        ({"disable_duet": "yes"}, None, 400, "invalid_param"),
        ({"video_cover_timestamp_ms": -1}, None, 400, "invalid_param"),
        ({"brand_content_toggle": True}, None, 400, "invalid_param"),
        ({}, {"source": "CAMERA"}, 400, "invalid_param"),
        ({}, {"source": "FILE_UPLOAD", "video_size": "10"}, 400, "invalid_param"),
        ({}, {"source": "PULL_FROM_URL"}, 400, "invalid_param"),
        ({}, pull("http://media.example.com/v.mp4"), 400, "invalid_param"),
        ({}, pull("https://10.1.2.3/v.mp4"), 400, "invalid_param"),
        ({}, pull("https://evil.example/v.mp4"), 403, "url_ownership_unverified"),
    ],
)
def test_video_init_checks_post_and_source_info(
    server: SandboxServer,
    sandbox: Sandbox,
    info: dict[str, Any],
    source: dict[str, Any] | None,
    status_code: int,
    code: str,
) -> None:
    fields = post_info(**info)
    if "title" in info and "privacy_level" not in info and len(info) == 1:
        del fields["privacy_level"]
    body = {"post_info": fields, "source_info": source or file_source(10)}
    assert_error(call(server, "video/init/", grant(sandbox), body), status_code, code)


def test_a_title_of_2200_utf16_units_is_taken(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    init_upload(server, grant(sandbox), 10, title="\U0001f600" * 1100)
    init_upload(server, grant(sandbox), 10, title="x" * 2200)


def test_a_non_object_body_is_invalid_param(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    assert_error(call(server, "video/init/", grant(sandbox), [1]), 400, "invalid_param")


def test_a_capped_creator_cannot_start_a_post(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    carol = grant(sandbox, CAROL)
    body = {"post_info": post_info(), "source_info": file_source(10)}
    assert_error(
        call(server, "video/init/", carol, body), 403, "spam_risk_too_many_posts"
    )
    assert_error(
        call(server, "inbox/video/init/", carol, {"source_info": file_source(10)}),
        403,
        "spam_risk_too_many_posts",
    )


@pytest.mark.parametrize(
    "sandbox_options",
    [
        {
            "apps": [SandboxApp(audited=False)],
            "users": [
                SandboxUser(f"user-{n}", private_account=n > 0) for n in range(7)
            ],
        }
    ],
)
def test_an_unaudited_app_posts_self_only_to_private_accounts_for_five_users(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    def init(open_id: str, privacy: str) -> requests.Response:
        body = {
            "post_info": post_info(privacy_level=privacy),
            "source_info": file_source(10),
        }
        return call(server, "video/init/", grant(sandbox, open_id), body)

    refused = "unaudited_client_can_only_post_to_private_accounts"
    assert_error(init("user-0", "SELF_ONLY"), 403, refused)  # a public account
    assert_error(init("user-1", "MUTUAL_FOLLOW_FRIENDS"), 403, refused)
    for n in range(1, 6):
        ok_data(init(f"user-{n}", "SELF_ONLY"))
    assert_error(init("user-6", "SELF_ONLY"), 403, "reached_active_user_cap")
    ok_data(init("user-1", "SELF_ONLY"))  # one of the five may go on


def test_inbox_init_and_the_pending_share_cap(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    access = grant(sandbox, BOB)
    for _ in range(5):
        data = ok_data(
            call(server, "inbox/video/init/", access, {"source_info": file_source(10)})
        )
        assert data["publish_id"].startswith("v_inbox_file~v2.")
        assert len(data["publish_id"]) <= 64
    assert_error(
        call(server, "inbox/video/init/", access, {"source_info": file_source(10)}),
        403,
        "spam_risk_too_many_pending_share",
    )


# -- the chunked upload ---------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunk_size", "chunks"),
    [
        (1, None, [1]),
        (4_999_999, None, [4_999_999]),
        (64_000_000, None, [64_000_000]),
        (64_000_001, 10 * MB, [10 * MB] * 5 + [14_000_001]),
        (50_000_123, 10 * MB, [10 * MB] * 4 + [10_000_123]),
    ],
)
def test_an_upload_in_tiktoks_chunk_layout_arrives_whole(
    server: SandboxServer,
    sandbox: Sandbox,
    tmp_path: Path,
    size: int,
    chunk_size: int | None,
    chunks: list[int],
) -> None:
    path = sparse_file(tmp_path, size)
    access = grant(sandbox)
    publish_id, upload_url = init_upload(server, access, size, chunk_size)
    assert upload_url.startswith(f"{server.url}/upload/video/")
    answers = upload(upload_url, path, chunk_size or size)
    assert [a.status_code for a in answers] == [206] * (len(chunks) - 1) + [201]
    ends = [sum(chunks[: n + 1]) - 1 for n in range(len(chunks))]
    assert [a.headers["Content-Range"] for a in answers] == [
        f"bytes 0-{end}/{size}" for end in ends
    ]
    assert_received(sandbox, publish_id, path)
    calls = sandbox.calls_to("video_upload")
    assert [int(c.headers["Content-Length"]) for c in calls] == chunks


def test_each_upload_has_its_own_url_that_needs_its_token(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 10)
    access = grant(sandbox)
    _, first_url = init_upload(server, access, 10)
    _, second_url = init_upload(server, access, 10)
    assert first_url.split("?")[0] != second_url.split("?")[0]
    missing = put(first_url.split("?")[0], path, 0, 9)
    assert missing.status_code == 404
    assert "Content-Range" not in missing.headers
    wrong = put(first_url.replace("upload_token=", "upload_token=x"), path, 0, 9)
    assert wrong.status_code == 404
    assert (
        put(f"{server.url}/upload/video/nope/?upload_token=x", path, 0, 9).status_code
        == 404
    )


def test_upload_refuses_bad_headers_with_400_and_its_progress(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 20 * MB)
    _, url = init_upload(server, grant(sandbox), 20 * MB, 10 * MB)
    assert (
        put(url, path, 0, 10 * MB - 1, content_type="video/x-msvideo").status_code
        == 400
    )
    assert put(url, path, 0, 10 * MB - 1, total=30 * MB).status_code == 400
    assert put(url, path, 0, 5 * MB - 1).status_code == 400  # not the layout's chunk
    no_range = requests.put(
        url, data=b"x" * 10, headers={"Content-Type": "video/mp4"}, timeout=10
    )
    assert no_range.status_code == 400
    short = requests.put(
        url,
        data=b"x" * 10,
        headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-19/{20 * MB}"},
        timeout=10,
    )
    assert short.status_code == 400
    assert short.headers["Content-Range"] == f"bytes */{20 * MB}"
    assert put(url, path, 0, 10 * MB - 1).status_code == 206
    bad = put(url, path, 10 * MB, 20 * MB - 1, content_type="text/plain")
    assert answer(bad) == (400, f"bytes 0-{10 * MB - 1}/{20 * MB}")


def test_a_chunk_out_of_order_gets_416_with_what_tiktok_has(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 30 * MB)
    _, url = init_upload(server, grant(sandbox), 30 * MB, 10 * MB)
    early = put(url, path, 10 * MB, 20 * MB - 1)
    assert answer(early) == (416, f"bytes */{30 * MB}")
    assert put(url, path, 0, 10 * MB - 1).status_code == 206
    again = put(url, path, 0, 10 * MB - 1)
    assert answer(again) == (416, f"bytes 0-{10 * MB - 1}/{30 * MB}")


@pytest.mark.parametrize(
    ("kind", "status_code", "kept"),
    [("lose_chunk", 416, 10 * MB), ("server_error", 500, 20 * MB)],
)
def test_a_chunk_fault_reports_where_to_resume_from(
    server: SandboxServer,
    sandbox: Sandbox,
    tmp_path: Path,
    kind: Any,
    status_code: int,
    kept: int,
) -> None:
    size = 30 * MB
    path = sparse_file(tmp_path, size)
    publish_id, url = init_upload(server, grant(sandbox), size, 10 * MB)
    assert put(url, path, 0, 10 * MB - 1).status_code == 206
    assert put(url, path, 10 * MB, 20 * MB - 1).status_code == 206
    sandbox.inject_fault("video_upload", kind)
    failed = put(url, path, 20 * MB, size - 1)
    assert answer(failed) == (status_code, f"bytes 0-{kept - 1}/{size}")
    rest = [(first, last) for first, last in layout(size, 10 * MB) if first >= kept]
    assert [put(url, path, *chunk).status_code for chunk in rest][-1] == 201
    assert_received(sandbox, publish_id, path)


def test_a_connection_dropped_mid_chunk_keeps_nothing_of_that_chunk(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    size = 20 * MB
    path = sparse_file(tmp_path, size)
    publish_id, url = init_upload(server, grant(sandbox), size, 10 * MB)
    sandbox.inject_fault("video_upload", "drop_connection")
    with pytest.raises(requests.ConnectionError):
        put(url, path, 0, 10 * MB - 1)
    post = sandbox.find_post(publish_id)
    assert post is not None
    assert post.uploaded_bytes == 0
    assert [a.status_code for a in upload(url, path, 10 * MB)] == [206, 201]
    assert_received(sandbox, publish_id, path)


def test_an_expired_upload_url_answers_403(
    server: SandboxServer, sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    size = 20 * MB
    path = sparse_file(tmp_path, size)
    _, url = init_upload(server, grant(sandbox), size, 10 * MB)
    assert put(url, path, 0, 10 * MB - 1).status_code == 206
    clock.now += 3599
    sandbox.inject_fault("video_upload", "expired_upload")
    assert put(url, path, 10 * MB, size - 1).status_code == 403
    clock.now += 1
    expired = put(url, path, 10 * MB, size - 1)
    assert answer(expired) == (403, f"bytes 0-{10 * MB - 1}/{size}")


@pytest.mark.parametrize("sandbox_options", [{"upload_url_lifetime": 10}])
def test_the_upload_url_lifetime_is_an_option(
    server: SandboxServer, sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 10)
    _, url = init_upload(server, grant(sandbox), 10)
    clock.now += 10
    assert put(url, path, 0, 9).status_code == 403


@pytest.mark.parametrize(
    ("content_type", "status_code"),
    [("video/mp4", 201), ("application/x-www-form-urlencoded", 400)],
)
def test_a_64_mb_chunk_is_streamed_not_kept(
    server: SandboxServer,
    sandbox: Sandbox,
    tmp_path: Path,
    content_type: str,
    status_code: int,
) -> None:
    path = sparse_file(tmp_path, 64_000_000)
    _, url = init_upload(server, grant(sandbox), 64_000_000)
    tracemalloc.start()
    try:
        sent = put(url, path, 0, 64_000_000 - 1, content_type=content_type)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent.status_code == status_code
    # Not the 64 MB (nor a form parsed from them): 1 MB reads, plus the 10 MB
    # buffer werkzeug's server allocates once per request to drain the socket.
    assert peak < 16 * MB


# -- statuses and events ------------------------------------------------------


def test_a_public_direct_post_progresses_and_tells_the_app(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox)
    publish_id, url = init_upload(
        server, access, 100, privacy_level="PUBLIC_TO_EVERYONE"
    )
    assert publish_id.startswith("v_pub_file~v2.")
    uploading = {
        "status": "PROCESSING_UPLOAD",
        "publicaly_available_post_id": [],
        "uploaded_bytes": 0,
    }
    assert status(server, access, publish_id) == uploading
    assert status(server, access, publish_id) == uploading  # waits for its bytes
    upload(url, path, 100)
    assert status(server, access, publish_id) == {**uploading, "uploaded_bytes": 100}
    assert status(server, access, publish_id) == {
        **uploading,
        "status": "PUBLISH_COMPLETE",
        "uploaded_bytes": 100,
    }
    public = status(server, access, publish_id)
    (post_id,) = public["publicaly_available_post_id"]
    assert isinstance(post_id, int)
    assert 0 < post_id < 2**63
    assert status(server, access, publish_id) == public
    sandbox.take_down_post(publish_id)
    assert status(server, access, publish_id)["publicaly_available_post_id"] == []
    assert events(sandbox, site) == [
        Event(
            "post.publish.complete",
            ALICE,
            {"publish_id": publish_id, "publish_type": "DIRECT_PUBLISH"},
        ),
        Event(
            "post.publish.publicly_available",
            ALICE,
            {
                "publish_id": publish_id,
                "post_id": str(post_id),
                "publish_type": "DIRECT_PUBLISH",
            },
        ),
        Event(
            "post.publish.no_longer_publicaly_available",
            ALICE,
            {
                "publish_id": publish_id,
                "post_id": str(post_id),
                "publish_type": "DIRECT_PUBLISH",
            },
        ),
    ]
    assert [d.status_code for d in sandbox.flush_webhooks()] == [200, 200, 200]


def test_a_self_only_post_completes_without_a_public_id(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox)
    publish_id, url = init_upload(server, access, 100)
    upload(url, path, 100)
    post = sandbox.advance_post(publish_id, steps=5)
    assert post.status == "PUBLISH_COMPLETE"
    assert status(server, access, publish_id)["publicaly_available_post_id"] == []
    assert [e.event for e in events(sandbox, site)] == ["post.publish.complete"]


def test_an_inbox_draft_ends_in_the_inbox(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox, BOB)
    data = ok_data(
        call(server, "inbox/video/init/", access, {"source_info": file_source(100)})
    )
    upload(data["upload_url"], path, 100)
    status(server, access, data["publish_id"])
    assert status(server, access, data["publish_id"]) == {
        "status": "SEND_TO_USER_INBOX",
        "publicaly_available_post_id": [],
        "uploaded_bytes": 100,
    }
    assert events(sandbox, site) == [
        Event(
            "post.publish.inbox_delivered",
            BOB,
            {"publish_id": data["publish_id"], "publish_type": "INBOX_SHARE"},
        )
    ]


@pytest.mark.parametrize("sandbox_options", [{"advance_posts_on_status": False}])
def test_posts_can_move_only_when_the_test_says(
    server: SandboxServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox)
    publish_id, url = init_upload(server, access, 100)
    upload(url, path, 100)
    for _ in range(3):
        assert status(server, access, publish_id)["status"] == "PROCESSING_UPLOAD"
    sandbox.advance_post(publish_id)
    assert status(server, access, publish_id)["status"] == "PUBLISH_COMPLETE"


def test_pull_from_url_downloads_from_a_verified_loopback_prefix(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 3 * MB + 7)
    access = grant(sandbox)
    source = {"source": "PULL_FROM_URL", "video_url": site.serve("clip.mp4", path)}
    data = ok_data(
        call(
            server,
            "video/init/",
            access,
            {"post_info": post_info(), "source_info": source},
        )
    )
    assert set(data) == {"publish_id"}
    publish_id = data["publish_id"]
    assert publish_id.startswith("v_pub_url~v2.")
    downloading = {
        "status": "PROCESSING_DOWNLOAD",
        "publicaly_available_post_id": [],
        "downloaded_bytes": 0,
    }
    assert status(server, access, publish_id) == downloading
    assert status(server, access, publish_id) == {
        **downloading,
        "downloaded_bytes": 3 * MB + 7,
    }
    assert status(server, access, publish_id)["status"] == "PUBLISH_COMPLETE"
    assert_received(sandbox, publish_id, path)


@pytest.mark.parametrize("sandbox_options", [{"pull_from_loopback": False}])
def test_plain_http_loopback_urls_need_the_option(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    url = site.serve("clip.mp4", sparse_file(tmp_path, 10))
    body = {
        "post_info": post_info(),
        "source_info": {"source": "PULL_FROM_URL", "video_url": url},
    }
    assert_error(
        call(server, "video/init/", grant(sandbox), body), 400, "invalid_param"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://media.example.com/v/1.mp4", "loopback only"),
        ("{site}/media/missing.mp4", "answered 404"),
    ],
)
def test_media_the_sandbox_cannot_pull_fails_the_post(
    server: SandboxServer, sandbox: Sandbox, site: Site, url: str, reason: str
) -> None:
    access = grant(sandbox)
    source = {"source": "PULL_FROM_URL", "video_url": url.format(site=site.url)}
    body = {"post_info": post_info(), "source_info": source}
    publish_id = ok_data(call(server, "video/init/", access, body))["publish_id"]
    post = sandbox.advance_post(publish_id)
    assert (post.status, post.fail_reason) == ("FAILED", "video_pull_failed")
    assert reason in post.fail_detail
    assert status(server, access, publish_id) == {
        "status": "FAILED",
        "fail_reason": "video_pull_failed",
        "publicaly_available_post_id": [],
        "downloaded_bytes": 0,
    }


def test_cancel_stops_a_download_and_nothing_else(
    server: SandboxServer, sandbox: Sandbox, site: Site
) -> None:
    access = grant(sandbox)
    source = {"source": "PULL_FROM_URL", "video_url": "https://media.example.com/a.mp4"}
    body = {"post_info": post_info(), "source_info": source}
    publish_id = ok_data(call(server, "video/init/", access, body))["publish_id"]
    assert ok_data(call(server, "cancel/", access, {"publish_id": publish_id})) == {}
    assert status(server, access, publish_id)["fail_reason"] == "publish_cancelled"
    assert_error(
        call(server, "cancel/", access, {"publish_id": publish_id}),
        400,
        "publish_not_cancellable",
    )
    uploading, _ = init_upload(server, access, 10)
    assert_error(
        call(server, "cancel/", access, {"publish_id": uploading}),
        400,
        "publish_not_cancellable",
    )
    assert events(sandbox, site) == [
        Event(
            "post.publish.failed",
            ALICE,
            {
                "publish_id": publish_id,
                "reason": "publish_cancelled",
                "publish_type": "DIRECT_PUBLISH",
            },
        )
    ]


@pytest.mark.parametrize("path", ["status/fetch/", "cancel/"])
def test_status_and_cancel_check_the_publish_id(
    server: SandboxServer, sandbox: Sandbox, path: str
) -> None:
    access = grant(sandbox)
    publish_id, _ = init_upload(server, access, 10)
    assert_error(call(server, path, access, {}), 400, "invalid_param")
    assert_error(
        call(server, path, access, {"publish_id": "v_pub_file~v2.1"}),
        400,
        "invalid_publish_id",
    )
    assert_error(
        call(server, path, grant(sandbox, BOB), {"publish_id": publish_id}),
        400,
        "token_not_authorized_for_specified_publish_id",
    )


@pytest.mark.parametrize(
    ("reason", "source"),
    [
        ("file_format_check_failed", "FILE_UPLOAD"),
        ("duration_check_failed", "FILE_UPLOAD"),
        ("internal", "FILE_UPLOAD"),
        ("video_pull_failed", "PULL_FROM_URL"),
        ("spam_risk_text", "PULL_FROM_URL"),
        ("auth_removed", "FILE_UPLOAD"),
    ],
)
def test_post_failed_faults_end_the_post_with_their_reason(
    server: SandboxServer,
    sandbox: Sandbox,
    site: Site,
    tmp_path: Path,
    reason: str,
    source: str,
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox)
    sandbox.inject_fault("video_init", "post_failed", fail_reason=reason)
    if source == "FILE_UPLOAD":
        publish_id, url = init_upload(server, access, 100)
        upload(url, path, 100)
    else:
        pull = {"source": source, "video_url": site.serve("clip.mp4", path)}
        body = {"post_info": post_info(), "source_info": pull}
        publish_id = ok_data(call(server, "video/init/", access, body))["publish_id"]
    steps = 2 if reason == "video_pull_failed" or source == "FILE_UPLOAD" else 3
    for _ in range(steps):
        last = status(server, access, publish_id)
    assert (last["status"], last["fail_reason"]) == ("FAILED", reason)
    assert events(sandbox, site) == [
        Event(
            "post.publish.failed",
            ALICE,
            {
                "publish_id": publish_id,
                "reason": reason,
                "publish_type": "DIRECT_PUBLISH",
            },
        )
    ]


@pytest.mark.parametrize(
    ("endpoint", "path", "code", "status_code"),
    [
        ("video_init", "video/init/", "spam_risk_user_banned_from_posting", 403),
        ("video_init", "video/init/", "reached_active_user_cap", 403),
        ("video_init", "video/init/", "app_version_check_failed", 400),
        ("video_init", "video/init/", "internal_error", 500),
        ("inbox_video_init", "inbox/video/init/", "spam_risk_too_many_posts", 403),
        ("content_init", "content/init/", "url_ownership_unverified", 403),
        ("creator_info", "creator_info/query/", "reached_active_user_cap", 200),
        ("creator_info", "creator_info/query/", "spam_risk_too_many_posts", 200),
        ("post_status", "status/fetch/", "invalid_publish_id", 400),
        ("post_cancel", "cancel/", "publish_not_cancellable", 400),
    ],
)
def test_api_error_faults_answer_tiktoks_status_for_the_code(
    server: SandboxServer,
    sandbox: Sandbox,
    endpoint: Any,
    path: str,
    code: str,
    status_code: int,
) -> None:
    sandbox.inject_fault(endpoint, "api_error", code=code)
    answer = call(server, path, grant(sandbox))
    assert (answer.status_code, answer.json()["error"]["code"]) == (status_code, code)
    assert len(sandbox.calls_to(endpoint)) == 1


def test_other_faults_work_on_the_posting_endpoints(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    sandbox.inject_fault("post_status", "rate_limit", retry_after=7)
    limited = call(server, "status/fetch/", grant(sandbox), {"publish_id": "x"})
    assert_error(limited, 429, "rate_limit_exceeded")
    assert limited.headers["Retry-After"] == "7"
    sandbox.inject_fault("video_init", "html_502")
    assert call(server, "video/init/", grant(sandbox)).status_code == 502


def test_fault_arguments_are_checked(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="video_upload"):
        sandbox.inject_fault("video_init", "lose_chunk")
    with pytest.raises(ValueError, match="fail_reason"):
        sandbox.inject_fault("video_init", "post_failed", fail_reason="bad_luck")
    with pytest.raises(ValueError, match="init endpoint"):
        sandbox.inject_fault("post_status", "post_failed", fail_reason="internal")
    with pytest.raises(ValueError, match="code"):
        sandbox.inject_fault("video_init", "api_error")


# -- photos ---------------------------------------------------------------------


def photo_body(
    urls: list[str], mode: str = "DIRECT_POST", **info: Any
) -> dict[str, Any]:
    return {
        "media_type": "PHOTO",
        "post_mode": mode,
        "post_info": {"title": "Trip", "description": "Day one", **info},
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 0,
            "photo_images": urls,
        },
    }


def test_photos_are_pulled_then_posted_or_sent_to_the_inbox(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    paths = [sparse_file(tmp_path, size) for size in (100, 200)]
    urls = [site.serve(f"p{n}.jpg", path) for n, path in enumerate(paths)]
    access = grant(sandbox)
    direct = ok_data(
        call(
            server, "content/init/", access, photo_body(urls, privacy_level="SELF_ONLY")
        )
    )["publish_id"]
    assert direct.startswith("p_pub_url~v2.")
    draft = ok_data(
        call(server, "content/init/", access, photo_body(urls, "MEDIA_UPLOAD"))
    )
    assert draft["publish_id"].startswith("p_inbox_url~v2.")
    for publish_id, final in [
        (direct, "PUBLISH_COMPLETE"),
        (draft["publish_id"], "SEND_TO_USER_INBOX"),
    ]:
        sandbox.advance_post(publish_id, steps=2)
        assert status(server, access, publish_id) == {
            "status": final,
            "publicaly_available_post_id": [],
            "downloaded_bytes": 300,
        }
        post = sandbox.find_post(publish_id)
        assert post is not None
        assert post.image_sha256 == [sha256_of(path) for path in paths]


def images(urls: list[str], cover: int = 0) -> dict[str, Any]:
    source = {"source": "PULL_FROM_URL", "photo_cover_index": cover}
    return {"source_info": {**source, "photo_images": urls}}


PHOTO = "https://media.example.com/p.jpg"


@pytest.mark.parametrize(
    ("change", "status_code", "code"),
    [
        ({"post_info": {"title": "x" * 91, **SELF_ONLY}}, 400, "invalid_param"),
        ({"post_info": {"description": "x" * 4001, **SELF_ONLY}}, 400, "invalid_param"),
        ({"post_info": {}}, 400, "invalid_param"),
        ({"post_info": {"privacy_level": "FOLLOWER_OF_CREATOR"}}, 403, MISMATCH),
        ({"media_type": "VIDEO"}, 400, "invalid_param"),
        ({"post_mode": "LATER"}, 400, "invalid_param"),
        ({"source_info": {"source": "FILE_UPLOAD"}}, 400, "invalid_param"),
        (images([PHOTO] * 36), 400, "invalid_param"),
        (images([PHOTO], cover=1), 400, "invalid_param"),
        (images(["https://evil.example/p.jpg"]), 403, "url_ownership_unverified"),
    ],
)
def test_photo_init_checks(
    server: SandboxServer,
    sandbox: Sandbox,
    change: dict[str, Any],
    status_code: int,
    code: str,
) -> None:
    body = {
        **photo_body(["https://media.example.com/p.jpg"], privacy_level="SELF_ONLY"),
        **change,
    }
    assert_error(call(server, "content/init/", grant(sandbox), body), status_code, code)


def test_a_failed_photo_pull_fails_as_photo_pull_failed(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    body = photo_body(["https://media.example.com/p.jpg"], "MEDIA_UPLOAD")
    publish_id = ok_data(call(server, "content/init/", grant(sandbox), body))[
        "publish_id"
    ]
    post = sandbox.advance_post(publish_id)
    assert (post.status, post.fail_reason) == ("FAILED", "photo_pull_failed")


def test_the_home_page_lists_posts_until_a_reset(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    assert "<h2>Posts</h2>" not in requests.get(server.url, timeout=10).text
    publish_id, _ = init_upload(server, grant(sandbox), 10)
    home = requests.get(server.url, timeout=10).text
    assert f"<code>{publish_id}</code>" in home
    assert "VIDEO DIRECT_POST FILE_UPLOAD" in home
    sandbox.reset()
    assert sandbox.posts == []


def test_the_event_thread_ends_when_idle_and_starts_again(
    server: SandboxServer, sandbox: Sandbox, site: Site, tmp_path: Path
) -> None:
    path = sparse_file(tmp_path, 100)
    access = grant(sandbox)
    first, url = init_upload(server, access, 100, privacy_level="PUBLIC_TO_EVERYONE")
    upload(url, path, 100)
    sandbox.advance_post(first)
    assert len(sandbox.flush_webhooks()) == 1

    def sending() -> bool:
        return any(t.name == "tiktok-sandbox-webhooks" for t in threading.enumerate())

    for _ in range(100):
        if not sending():
            break
        threading.Event().wait(0.1)
    assert not sending()
    sandbox.advance_post(first)
    assert [e.event for e in events(sandbox, site)] == [
        "post.publish.complete",
        "post.publish.publicly_available",
    ]
