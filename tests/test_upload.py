"""Chunked uploads to TikTok's upload_url: the chunk layout, the bytes and
headers of each PUT, retries, resume on 416, and the failures that end it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock as rm
from helpers import CLIENT_KEY, CLIENT_SECRET, sha256_of, sparse_video

from flask_tiktok import TikTokClient, TikTokUploadError
from flask_tiktok import upload as upload_module
from flask_tiktok.posting import chunk_layout
from flask_tiktok.upload import VideoFile, upload_chunks

INIT_URL = "https://open.tiktokapis.com/v2/post/publish/inbox/video/init/"
UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=U&upload_token=T"


class FakeTikTok:
    """An upload endpoint keeping what it received (hashes, not bytes), with
    answers that can be scripted per PUT."""

    def __init__(self, size: int, script: list[Any] | None = None) -> None:
        self.size = size
        self.received = 0
        self.puts: list[dict[str, str]] = []
        self.hashes: list[str] = []
        self.script = list(script or [])

    def __call__(self, request: Any, context: Any) -> str:
        sha = hashlib.sha256()
        length = 0
        while block := request.body.read(1 << 20):
            sha.update(block)
            length += len(block)
        self.puts.append(
            {
                k: request.headers[k]
                for k in ("Content-Type", "Content-Length", "Content-Range")
            }
        )
        assert length == int(request.headers["Content-Length"])
        answer = self.script.pop(0) if self.script else None
        if answer is not None:
            if isinstance(answer, Exception):
                raise answer
            context.status_code, have = answer
        else:
            first = int(request.headers["Content-Range"].split()[1].split("-")[0])
            assert first == self.received
            self.received += length
            self.hashes.append(sha.hexdigest())
            have = self.received
            context.status_code = 201 if have == self.size else 206
        context.headers["Content-Range"] = f"bytes 0-{have - 1}/{self.size}"
        return ""


@pytest.fixture
def client() -> TikTokClient:
    return TikTokClient(CLIENT_KEY, CLIENT_SECRET, None)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_module, "BACKOFF", 0.0)


def upload(
    client: TikTokClient,
    path: Path,
    tiktok: Callable[[Any, Any], str],
    chunk_size: int | None = 10_000_000,
) -> Any:
    """Post ``path`` as a draft, its chunks answered by ``tiktok`` (a
    :class:`FakeTikTok`, or a wrapper of one); returns the init's source_info."""
    with rm.Mocker() as mock:
        mock.post(
            INIT_URL,
            json={
                "data": {"publish_id": "p1", "upload_url": UPLOAD_URL},
                "error": {"code": "ok"},
            },
        )
        mock.put(UPLOAD_URL, text=tiktok)
        client.upload_video("act.1", path, chunk_size=chunk_size)
        return json.loads(mock.request_history[0].body)["source_info"]


@pytest.mark.parametrize(
    ("size", "chunk_size", "chunks"),
    [
        (1, None, [1]),
        (4_999_999, None, [4_999_999]),
        (64_000_000, None, [64_000_000]),
        (64_000_001, None, [10_000_000] * 5 + [14_000_001]),
        (4_999_999, 10_000_000, [4_999_999]),
        (50_000_123, 10_000_000, [10_000_000] * 4 + [10_000_123]),
        (70_000_000, 35_000_000, [35_000_000] * 2),
        (6_000_000, 10_000_000, [6_000_000]),
        (20_000_000, 5_242_880, [5_242_880] * 2 + [9_514_240]),
    ],
)
def test_the_chunk_layout_and_the_bytes_sent(
    client: TikTokClient,
    tmp_path: Path,
    size: int,
    chunk_size: int | None,
    chunks: list[int],
) -> None:
    path = sparse_video(tmp_path, size)
    tiktok = FakeTikTok(size)
    source = upload(client, path, tiktok, chunk_size=chunk_size)
    assert source == {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunks[0],
        "total_chunk_count": len(chunks),
    }
    starts = [sum(chunks[:i]) for i in range(len(chunks))]
    assert tiktok.puts == [
        {
            "Content-Type": "video/mp4",
            "Content-Length": str(length),
            "Content-Range": f"bytes {start}-{start + length - 1}/{size}",
        }
        for start, length in zip(starts, chunks, strict=True)
    ]
    assert tiktok.hashes == [
        sha256_of(path, start, length)
        for start, length in zip(starts, chunks, strict=True)
    ]


def test_a_file_over_64_mb_in_one_chunk_is_refused(
    client: TikTokClient, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="must be sent in two chunks or more"):
        upload(
            client,
            sparse_video(tmp_path, 70_000_000),
            FakeTikTok(0),
            chunk_size=64_000_000,
        )


def test_without_a_chunk_size_64_mb_is_one_chunk_and_more_is_cut_in_10(
    tmp_path: Path,
) -> None:
    assert chunk_layout(64_000_000).count == 1
    assert chunk_layout(64_000_001).chunk_size == 10_000_000


def test_a_5xx_sends_that_chunk_again(client: TikTokClient, tmp_path: Path) -> None:
    size = 25_000_000
    path = sparse_video(tmp_path, size)
    tiktok = FakeTikTok(size, [None, (500, 10_000_000), None])
    upload(client, path, tiktok)
    ranges = [p["Content-Range"] for p in tiktok.puts]
    assert ranges == [
        "bytes 0-9999999/25000000",
        "bytes 10000000-24999999/25000000",
        "bytes 10000000-24999999/25000000",
    ]
    assert tiktok.hashes[1] == sha256_of(path, 10_000_000, 15_000_000)


def test_a_429_sends_that_chunk_again(client: TikTokClient, tmp_path: Path) -> None:
    tiktok = FakeTikTok(10, [(429, 0), None])
    upload(client, sparse_video(tmp_path, 10), tiktok)
    assert tiktok.received == 10 and len(tiktok.puts) == 2


def test_a_file_that_shrinks_ends_the_upload(
    client: TikTokClient, tmp_path: Path
) -> None:
    size = 20_000_000
    path = sparse_video(tmp_path, size)
    tiktok = FakeTikTok(size)
    shrink = tiktok.__call__

    def shrinking(request: Any, context: Any) -> str:
        answer = shrink(request, context)
        with path.open("r+b") as file:
            file.truncate(15_000_000)
        return answer

    with pytest.raises(TikTokUploadError, match="the file shrank"):
        upload(client, path, shrinking)
    assert len(tiktok.puts) == 1


def test_a_dropped_connection_sends_that_chunk_again(
    client: TikTokClient, tmp_path: Path
) -> None:
    size = 20_000_000
    path = sparse_video(tmp_path, size)
    drop = requests.exceptions.ConnectionError("connection reset by peer")
    tiktok = FakeTikTok(size, [drop, None, drop, None])
    upload(client, path, tiktok)
    assert tiktok.received == size
    assert len(tiktok.puts) == 4


def test_a_416_resumes_from_what_tiktok_has(
    client: TikTokClient, tmp_path: Path
) -> None:
    # TikTok lost the second chunk: its 416 to the third says it has 10 MB.
    size = 30_000_000
    path = sparse_video(tmp_path, size)
    tiktok = FakeTikTok(size, [None, None, (416, 10_000_000)])
    tiktok_lost = tiktok.__call__

    def lose_second(request: Any, context: Any) -> str:
        answer = tiktok_lost(request, context)
        if len(tiktok.puts) == 2:
            tiktok.received = 10_000_000  # it forgot the chunk it acknowledged
            tiktok.hashes.pop()
        return answer

    upload(client, path, lose_second)
    assert [p["Content-Range"].split()[1].split("-")[0] for p in tiktok.puts] == [
        "0",
        "10000000",
        "20000000",
        "10000000",
        "20000000",
    ]
    assert tiktok.received == size
    assert tiktok.hashes == [
        sha256_of(path, 0, 10_000_000),
        sha256_of(path, 10_000_000, 10_000_000),
        sha256_of(path, 20_000_000, 10_000_000),
    ]


def test_a_416_saying_all_arrived_ends_the_upload(
    client: TikTokClient, tmp_path: Path
) -> None:
    size = 20_000_000
    tiktok = FakeTikTok(size, [None, (416, size)])
    upload(client, sparse_video(tmp_path, size), tiktok)
    assert len(tiktok.puts) == 2


def test_a_416_between_chunks_cannot_resume(
    client: TikTokClient, tmp_path: Path
) -> None:
    size = 20_000_000
    tiktok = FakeTikTok(size, [(416, 1234)])
    with pytest.raises(TikTokUploadError) as caught:
        upload(client, sparse_video(tmp_path, size), tiktok)
    assert caught.value.status_code == 416
    assert caught.value.uploaded_bytes == 1234
    assert "does not match a chunk" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "match", "expired"),
    [
        (403, "the upload_url has expired", True),
        (404, "no upload task", False),
        (400, r"refused chunk 1 of 2 \(HTTP 400\)", False),
    ],
)
def test_a_refusal_ends_the_upload(
    client: TikTokClient, tmp_path: Path, status: int, match: str, expired: bool
) -> None:
    size = 20_000_000
    tiktok = FakeTikTok(size, [(status, 0)])
    with pytest.raises(TikTokUploadError, match=match) as caught:
        upload(client, sparse_video(tmp_path, size), tiktok)
    assert caught.value.publish_id == "p1"
    assert caught.value.expired is expired
    assert not caught.value.transient
    assert len(tiktok.puts) == 1


def test_retries_end(client: TikTokClient, tmp_path: Path) -> None:
    size = 10
    tiktok = FakeTikTok(size, [(503, 0)] * 4)
    with pytest.raises(TikTokUploadError, match="failed 4 times") as caught:
        upload(client, sparse_video(tmp_path, size), tiktok)
    assert caught.value.transient
    assert len(tiktok.puts) == 4


def test_answers_out_of_step_end_the_upload(
    client: TikTokClient, tmp_path: Path
) -> None:
    tiktok = FakeTikTok(10, [(206, 10)])
    with pytest.raises(TikTokUploadError, match="answered 206 to chunk 1 of 1"):
        upload(client, sparse_video(tmp_path, 10), tiktok)


def test_the_pauses_double_and_each_chunk_has_a_deadline_for_its_size(
    tmp_path: Path,
) -> None:
    size = 64_000_001
    layout = chunk_layout(size)
    sent: list[tuple[str, float]] = []
    answers = iter([500, 502, 206, 206, 206, 206, 206, 201])

    def put(url: str, body: Any, headers: dict[str, str], deadline: float) -> Any:
        sent.append((headers["Content-Range"], deadline))
        response = requests.Response()
        response.status_code = next(answers)
        return response

    pauses: list[float] = []
    with VideoFile(sparse_video(tmp_path, size)) as video:
        upload_chunks(
            put,
            UPLOAD_URL,
            video,
            layout,
            timeout=10,
            publish_id="p",
            sleep=pauses.append,
        )
    assert pauses == [0.0, 0.0]  # BACKOFF patched to 0 here
    assert sent[0][1] == 10 + 10_000_000 / 250_000
    assert sent[-1] == (f"bytes 50000000-64000000/{size}", 10 + 14_000_001 / 250_000)


def test_the_pause_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_module, "BACKOFF", 1.0)
    answers = iter([500, 500, 500, 201])

    def put(url: str, body: Any, headers: dict[str, str], deadline: float) -> Any:
        response = requests.Response()
        response.status_code = next(answers)
        return response

    pauses: list[float] = []
    with VideoFile(sparse_video(tmp_path, 10)) as video:
        upload_chunks(
            put,
            UPLOAD_URL,
            video,
            chunk_layout(10),
            timeout=10,
            publish_id="p",
            sleep=pauses.append,
        )
    assert pauses == [1.0, 2.0, 4.0]


def test_a_path_is_closed_after_the_upload(
    client: TikTokClient, tmp_path: Path
) -> None:
    path = sparse_video(tmp_path, 10)
    opened: list[Any] = []
    original = VideoFile.__init__

    def spy(self: VideoFile, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self.file)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VideoFile, "__init__", spy)
        upload(client, path, FakeTikTok(10))
    assert opened[0].closed


def test_the_upload_never_reads_a_chunk_whole(
    client: TikTokClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 20_000_000
    reads: list[int] = []
    real_read = upload_module._Window.read

    def spy(self: Any, n: int = -1) -> bytes:
        data = real_read(self, n)
        reads.append(len(data))
        return data

    monkeypatch.setattr(upload_module._Window, "read", spy)
    upload(client, sparse_video(tmp_path, size), FakeTikTok(size))
    assert sum(reads) == size
    assert max(reads) <= 1 << 20
