"""Streamed, resumable chunk uploads of a video file to TikTok's ``upload_url``.

A file is sent in TikTok's chunk layout (:func:`~flask_tiktok.posting.chunk_layout`),
one ``PUT`` per chunk with ``Content-Type``, ``Content-Length`` and
``Content-Range``, read from the file a block at a time: never more than one
block of it is in memory. A chunk that meets a 5xx, a 429 or a dropped
connection is sent again (with a pause that doubles); a 416 resumes from the
bytes TikTok says it has; anything else ends the upload with
:class:`~flask_tiktok.TikTokUploadError`.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from typing import IO, Any, Union

import requests

from .errors import TikTokFetchError, TikTokUploadError
from .posting import ChunkLayout

__all__ = [
    "CONTENT_TYPES",
    "MIN_UPLOAD_RATE",
    "VideoFile",
    "VideoSource",
    "is_url",
    "upload_chunks",
]

#: A video to post: a path, a binary file object, or an ``https://`` URL.
VideoSource = Union[str, "os.PathLike[str]", IO[bytes]]

#: The media types TikTok takes, by file name extension.
CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm"}

#: The slowest upload a chunk's deadline allows for (bytes per second, on top
#: of the client's timeout): 64 MB may take about four minutes.
MIN_UPLOAD_RATE = 250_000

#: How many times one chunk is sent again after a 5xx or a dropped connection.
RETRIES = 3
#: The first pause before a chunk is sent again (then 2x, 4x).
BACKOFF = 1.0

_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+)\s*$")

#: ``put(url, body, headers, deadline) -> response``: one chunk's request.
Put = Callable[[str, "_Window", dict[str, str], float], requests.Response]


_UNSEEKABLE = (
    "the video file object must be seekable: its size is sent before its"
    " bytes, and a chunk may be sent again"
)


def is_url(video: Any) -> bool:
    """Whether ``video`` is a URL for TikTok to pull (rather than a path)."""
    return isinstance(video, str) and video[:8].lower().startswith(
        ("https://", "http://")
    )


class VideoFile:
    """A video to upload, opened: its file, where it starts, its size, its type.

    A path is opened (and closed on exit); a file object is used from its
    current position and left open. Use as a context manager.
    """

    def __init__(self, video: VideoSource, content_type: str | None = None) -> None:
        if isinstance(video, str | os.PathLike):
            self.file: IO[bytes] = open(video, "rb", buffering=0)  # noqa: SIM115
            self._owned = True
        elif isinstance(video, io.TextIOBase):
            raise TypeError("open the video in binary mode ('rb'), not text mode")
        elif callable(getattr(video, "read", None)):
            self.file = video
            self._owned = False
        else:
            raise TypeError(
                "video is a path, a binary file object or an https:// URL,"
                f" not {type(video).__name__}"
            )
        try:
            # (Python 3.10's SpooledTemporaryFile, Werkzeug's upload, seeks
            # but has no seekable().)
            seekable = getattr(self.file, "seekable", None)
            if seekable is not None and not seekable():
                raise ValueError(_UNSEEKABLE)
            try:
                self.start = self.file.tell()
                self.file.seek(0, io.SEEK_END)
                self.size = self.file.tell() - self.start
                self.file.seek(self.start)
            except (AttributeError, OSError):
                raise ValueError(_UNSEEKABLE) from None
            self.content_type = _content_type(
                content_type, getattr(self.file, "name", None)
            )
        except BaseException:
            self.close()
            raise

    def check_unchanged(self, publish_id: str) -> None:
        """Raise if the file is shorter than it was when measured (a chunk
        would stall short of its ``Content-Length``)."""
        try:
            now = os.fstat(self.file.fileno()).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            return  # not a file on disk: nothing to ask
        if now < self.start + self.size:
            raise TikTokUploadError(
                f"the file shrank during the upload ({self.start + self.size:,}"
                f" bytes measured, {now:,} now)",
                publish_id=publish_id,
            )

    def close(self) -> None:
        """Close the file if it was opened here."""
        if self._owned:
            self.file.close()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _content_type(given: str | None, name: Any) -> str:
    if given is not None:
        if given not in CONTENT_TYPES.values():
            raise ValueError(
                f"content_type is one of {', '.join(CONTENT_TYPES.values())},"
                f" not {given!r}"
            )
        return given
    if isinstance(name, str):
        return CONTENT_TYPES.get(os.path.splitext(name)[1].lower(), "video/mp4")
    return "video/mp4"


class _Window:
    """``length`` bytes of a file from ``start``, read a block at a time."""

    def __init__(self, file: IO[bytes], start: int, length: int) -> None:
        file.seek(start)
        self._file = file
        self._left = length

    def __len__(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        wanted = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(wanted)
        self._left -= len(data)
        return data


def upload_chunks(
    put: Put,
    upload_url: str,
    video: VideoFile,
    layout: ChunkLayout,
    *,
    timeout: float,
    publish_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send ``video`` to ``upload_url`` chunk by chunk, as ``layout`` cuts it."""
    index = attempts = resumes = 0
    while index < layout.count:
        start, length = layout.chunk(index)
        last = index == layout.count - 1
        video.check_unchanged(publish_id)
        headers = {
            "Content-Type": video.content_type,
            "Content-Length": str(length),
            "Content-Range": f"bytes {start}-{start + length - 1}/{layout.size}",
        }
        deadline = timeout + length / MIN_UPLOAD_RATE
        cause: Exception | None = None
        try:
            response = put(
                upload_url,
                _Window(video.file, video.start + start, length),
                headers,
                deadline,
            )
        except TikTokFetchError as exc:
            cause, status, received = exc, None, None
        else:
            status, received = response.status_code, _received(response)
            if (status == 206 and not last) or (status == 201 and last):
                index, attempts = index + 1, 0
                continue
            if status == 416:
                if received == layout.size:
                    return  # TikTok has it all (an earlier answer was lost)
                resume = None if received is None else layout.index_at(received)
                if resume is None or resumes >= layout.count:
                    raise TikTokUploadError(
                        "TikTok's upload progress does not match a chunk"
                        f" (it has {received} of {layout.size:,} bytes)",
                        publish_id=publish_id,
                        status_code=416,
                        uploaded_bytes=received,
                    )
                index, attempts, resumes = resume, 0, resumes + 1
                continue
            if status < 500 and status != 429:
                raise _refused(status, index, layout, publish_id, received)
        attempts += 1
        if attempts > RETRIES:
            error = TikTokUploadError(
                f"chunk {index + 1} of {layout.count} failed {attempts} times"
                f" ({'no answer' if status is None else f'HTTP {status}'})",
                publish_id=publish_id,
                status_code=status,
                uploaded_bytes=received,
            )
            raise error from cause
        sleep(BACKOFF * 2 ** (attempts - 1))


def _refused(
    status: int,
    index: int,
    layout: ChunkLayout,
    publish_id: str,
    received: int | None,
) -> TikTokUploadError:
    if status == 403:
        text = "the upload_url has expired (TikTok keeps it one hour): post again"
    elif status == 404:
        text = "TikTok has no upload task at this upload_url"
    elif status in (201, 206):
        text = (
            f"TikTok answered {status} to chunk {index + 1} of {layout.count}:"
            " it does not count the chunks as sent"
        )
    else:
        text = f"TikTok refused chunk {index + 1} of {layout.count} (HTTP {status})"
    return TikTokUploadError(
        text, publish_id=publish_id, status_code=status, uploaded_bytes=received
    )


def _received(response: requests.Response) -> int | None:
    """How many bytes TikTok says it has (its ``Content-Range``), if it says."""
    match = _RANGE.match(response.headers.get("Content-Range", "").strip())
    if match is None:
        return None
    if match.group(2) is None:
        return 0
    return int(match.group(2)) + 1
