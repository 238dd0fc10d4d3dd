"""The ``upload_url`` of a ``FILE_UPLOAD``: chunk ``PUT`` requests, streamed.

Each chunk is hashed as it arrives and never kept: a 4 GB upload costs no more
memory than a 1 MB one. Every answer to a known upload carries
``Content-Range: bytes 0-{last byte received}/{video_size}`` (``bytes
*/{video_size}`` while nothing is received).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import time
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import ClientDisconnected

from .endpoints import current_sandbox, tiktok_endpoint
from .faults import Fault, fault_response
from .posts import SandboxPost

upload = Blueprint("sandbox_upload", __name__)

VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_READ_SIZE = 1 << 20


def _progress(post: SandboxPost) -> str:
    assert post.layout is not None
    total = post.layout.video_size
    if not post.uploaded_bytes:
        return f"bytes */{total}"
    return f"bytes 0-{post.uploaded_bytes - 1}/{total}"


def _read_into(digest: Any, length: int) -> int:
    """Feed up to ``length`` bytes of the body to ``digest``; the count read."""
    remaining = length
    try:
        while remaining:
            block = request.stream.read(min(_READ_SIZE, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    except ClientDisconnected:
        pass
    return length - remaining


def _drain() -> None:
    """Read the rest of the body, so the client sees the answer, not a reset."""
    _read_into(hashlib.sha256(), request.content_length or 0)


def _answer(status: int, post: SandboxPost | None, message: str = "") -> Response:
    _drain()
    response = Response(message, status, mimetype="text/plain")
    if post is not None:
        response.headers["Content-Range"] = _progress(post)
    return response


def _drop_connection() -> Response:
    """Take half the chunk, then close the connection without an answer."""
    _read_into(hashlib.sha256(), (request.content_length or 0) // 2)
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        connection.shutdown(socket.SHUT_RDWR)
    # Only a test client, which has no socket to drop, sees this.
    return Response("connection dropped", 500, mimetype="text/plain")


def _faulty(fault: Fault, post: SandboxPost) -> Response | None:
    """The answer ``fault`` makes, or None to go on (after its effect)."""
    if fault.kind == "slow":
        time.sleep(fault.delay)
        return None
    if fault.kind == "drop_connection":
        return _drop_connection()
    if fault.kind == "lose_chunk":
        with post.lock:
            post.lose_last_chunk()
        return None
    if fault.kind == "expired_upload":
        return _answer(403, post, "The upload_url has expired.")
    _drain()
    response = fault_response(fault, "video_upload")
    if response is not None:
        response.headers["Content-Range"] = _progress(post)
    return response


def _chunk(post: SandboxPost) -> tuple[int, int] | Response:
    """The chunk's first byte and length from its headers, or the refusal."""
    assert post.layout is not None
    if request.mimetype not in VIDEO_TYPES:
        return _answer(
            400, post, f"Content-Type must be one of {', '.join(sorted(VIDEO_TYPES))}."
        )
    declared = request.headers.get("Content-Length", "")
    match = _RANGE.fullmatch(request.headers.get("Content-Range", "").strip())
    if not declared.isdigit():
        return _answer(400, post, "Content-Length is required.")
    if match is None:
        return _answer(400, post, "Content-Range must be bytes {first}-{last}/{total}.")
    first, last, total = map(int, match.groups())
    if total != post.layout.video_size:
        return _answer(400, post, f"The total must be video_size {total}.")
    if last < first or last - first + 1 != int(declared):
        return _answer(400, post, "Content-Length must be the length of the range.")
    if first != post.uploaded_bytes:
        return _answer(416, post, "Content-Range does not start where the upload is.")
    index = post.layout.chunk_starting_at(first)
    if index is None or post.layout.chunk_range(index) != (first, last):
        return _answer(400, post, "The chunk does not match the declared chunk layout.")
    return first, int(declared)


@upload.put("/upload/video/<upload_id>/")
@tiktok_endpoint("video_upload", streams_body=True)
def put_chunk(upload_id: str) -> Response:
    """Receive one chunk: 206 (more expected) or 201 (all received)."""
    sandbox = current_sandbox()
    post = sandbox.post_store.by_upload(upload_id)
    token = request.args.get("upload_token", "").encode()
    if post is None or not hmac.compare_digest(
        token, (post.upload_token or "").encode()
    ):
        return _answer(404, None, "No upload task at this URL (query included).")
    fault = sandbox.faults.take("video_upload")
    if fault is not None:
        answer = _faulty(fault, post)
        if answer is not None:
            return answer
    with post.lock:
        if post.status == "FAILED":
            return _answer(404, post, "This upload was cancelled or failed.")
        if sandbox.clock() >= post.upload_expires_at:
            return _answer(403, post, "The upload_url has expired.")
        chunk = _chunk(post)
        if isinstance(chunk, Response):
            return chunk
        digest = post.chunk_digest()
    offset, length = chunk
    if _read_into(digest, length) != length:
        return Response("The chunk ended early.", 400, mimetype="text/plain")
    with post.lock:
        if post.uploaded_bytes != offset or post.stage != "upload":
            return _answer(416, post, "Another request moved the upload on.")
        post.commit_chunk(digest, length)
        assert post.layout is not None
        done = post.uploaded_bytes == post.layout.video_size
        if done:
            sandbox.post_store.upload_received(post)
        return _answer(201 if done else 206, post)
