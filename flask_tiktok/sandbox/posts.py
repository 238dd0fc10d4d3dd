"""Posts made through the Content Posting API: their state and how it progresses.

A post moves one step at a time (on each status fetch, or
:meth:`Sandbox.advance_post <flask_tiktok.sandbox.Sandbox.advance_post>`):
``PULL_FROM_URL`` media is downloaded (``PROCESSING_DOWNLOAD``), an upload
waits for its last chunk (``PROCESSING_UPLOAD``), then processing ends in
``PUBLISH_COMPLETE`` (a direct post) or ``SEND_TO_USER_INBOX`` (a draft), and a
direct post that is not ``SELF_ONLY`` passes moderation and gets its public
post id. Each outcome is told to the app as a ``post.publish.*`` event.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import ids
from .chunks import ChunkLayout
from .pull import Pulled, PullFailed

#: Where a post is: waiting for its bytes, downloading, processing, in
#: moderation (published, no public id yet), or done (an outcome reached).
Stage = Literal["upload", "download", "processing", "moderation", "done"]
#: The fail reasons that happen while TikTok downloads the media.
PULL_FAILURES = frozenset({"video_pull_failed", "photo_pull_failed"})

#: ``notify(post, event, content)``: tell the app about an outcome.
Notify = Callable[["SandboxPost", str, dict[str, Any]], None]
#: ``fetch(url)``: download media for a ``PULL_FROM_URL`` post.
Fetch = Callable[[str], Pulled]


@dataclass
class SandboxPost:
    """A video or photo post an app started for a user, as the sandbox keeps it.

    ``sha256`` and ``uploaded_bytes`` (or ``downloaded_bytes``) are what TikTok
    received, to compare with the file that was sent.
    """

    publish_id: str
    client_key: str
    open_id: str
    #: ``"VIDEO"`` or ``"PHOTO"``.
    media_type: str
    #: ``"DIRECT_POST"`` or ``"MEDIA_UPLOAD"`` (a draft in the creator's inbox).
    post_mode: str
    #: ``"FILE_UPLOAD"`` or ``"PULL_FROM_URL"``.
    source: str
    post_info: dict[str, Any]
    source_info: dict[str, Any]
    created_at: float
    stage: Stage
    #: ``PROCESSING_UPLOAD``, ``PROCESSING_DOWNLOAD``, ``SEND_TO_USER_INBOX``,
    #: ``PUBLISH_COMPLETE`` or ``FAILED``.
    status: str
    fail_reason: str | None = None
    #: Why a pull failed, in words (not sent to the app).
    fail_detail: str = ""
    #: ``publicaly_available_post_id``: set once a public post passes moderation.
    post_ids: list[int] = field(default_factory=list)
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    #: The SHA-256 (hex) of each photo downloaded.
    image_sha256: list[str] = field(default_factory=list)
    upload_id: str | None = None
    upload_token: str | None = None
    upload_expires_at: float = 0.0
    #: The ``fail_reason`` an injected ``post_failed`` fault ends the post with.
    planned_failure: str | None = None
    #: The chunk layout of a ``FILE_UPLOAD``.
    layout: ChunkLayout | None = field(default=None, init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _digest: Any = field(default_factory=hashlib.sha256, init=False, repr=False)
    _chunk_digests: list[Any] = field(default_factory=list, init=False, repr=False)
    _pulled_sha256: str | None = field(default=None, init=False, repr=False)

    @property
    def publish_type(self) -> str:
        """``DIRECT_PUBLISH`` or ``INBOX_SHARE``, as the webhook events say."""
        return "DIRECT_PUBLISH" if self.post_mode == "DIRECT_POST" else "INBOX_SHARE"

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the video bytes received so far."""
        return self._pulled_sha256 or str(self._digest.hexdigest())

    @property
    def privacy_level(self) -> str | None:
        """The post's ``privacy_level``, or None for a draft."""
        value = self.post_info.get("privacy_level")
        return value if isinstance(value, str) else None

    def status_data(self) -> dict[str, Any]:
        """The ``data`` of ``status/fetch/`` for this post."""
        data: dict[str, Any] = {"status": self.status}
        if self.fail_reason:
            data["fail_reason"] = self.fail_reason
        data["publicaly_available_post_id"] = list(self.post_ids)
        if self.source == "FILE_UPLOAD":
            data["uploaded_bytes"] = self.uploaded_bytes
        else:
            data["downloaded_bytes"] = self.downloaded_bytes
        return data

    # -- the chunk upload (the caller holds ``lock``) ------------------------

    def chunk_digest(self) -> Any:
        """A copy of the running hash, to feed the next chunk into."""
        return self._digest.copy()

    def commit_chunk(self, digest: Any, length: int) -> None:
        """Accept a chunk of ``length`` bytes that ``digest`` has hashed."""
        self._chunk_digests.append(self._digest)
        self._digest = digest
        self.uploaded_bytes += length

    def lose_last_chunk(self) -> None:
        """Forget the last chunk accepted, as if it had never arrived."""
        if self.stage == "upload" and self._chunk_digests and self.layout:
            self._digest = self._chunk_digests.pop()
            self.uploaded_bytes = len(self._chunk_digests) * self.layout.chunk_size


class PostStore:
    """The sandbox's posts, and the steps that move them on."""

    def __init__(self, notify: Notify, fetch: Fetch) -> None:
        self._notify = notify
        self._fetch = fetch
        self._lock = threading.Lock()
        self._posts: dict[str, SandboxPost] = {}

    def add(self, post: SandboxPost) -> None:
        """Keep ``post``."""
        with self._lock:
            self._posts[post.publish_id] = post

    def get(self, publish_id: str) -> SandboxPost | None:
        """The post with ``publish_id``, or None."""
        with self._lock:
            return self._posts.get(publish_id)

    def by_upload(self, upload_id: str) -> SandboxPost | None:
        """The post whose upload URL has ``upload_id``, or None."""
        with self._lock:
            return next(
                (p for p in self._posts.values() if p.upload_id == upload_id), None
            )

    def all(self) -> list[SandboxPost]:
        """Every post, oldest first."""
        with self._lock:
            return list(self._posts.values())

    def reset(self) -> None:
        """Forget every post."""
        with self._lock:
            self._posts.clear()

    # -- progress -----------------------------------------------------------

    def step(self, post: SandboxPost) -> None:
        """Move ``post`` one step on (nothing while it waits for its upload)."""
        with post.lock:
            if post.stage == "download":
                self._download(post)
            elif post.stage == "processing":
                self._process(post)
            elif post.stage == "moderation":
                post.post_ids = [ids.new_post_id()]
                post.stage = "done"
                self._tell(post, "post.publish.publicly_available", public=True)

    def upload_received(self, post: SandboxPost) -> None:
        """The last chunk is in: processing starts (the caller holds its lock)."""
        post.stage = "processing"

    def fail(self, post: SandboxPost, reason: str) -> None:
        """End ``post`` as ``FAILED`` with ``reason`` (the caller holds its lock)."""
        post.status = "FAILED"
        post.fail_reason = reason
        post.stage = "done"
        self._notify(
            post,
            "post.publish.failed",
            {
                "publish_id": post.publish_id,
                "reason": reason,
                "publish_type": post.publish_type,
            },
        )

    def cancel(self, post: SandboxPost) -> bool:
        """Cancel a download still in progress; False if it cannot be cancelled."""
        with post.lock:
            if post.stage != "download":
                return False
            self.fail(post, "publish_cancelled")
            return True

    def take_down(self, post: SandboxPost) -> None:
        """Make a public post no longer public (``ValueError`` if it is not)."""
        with post.lock:
            if not post.post_ids:
                raise ValueError(f"Post {post.publish_id!r} is not public.")
            self._tell(post, "post.publish.no_longer_publicaly_available", public=True)
            post.post_ids = []

    def _download(self, post: SandboxPost) -> None:
        if post.planned_failure in PULL_FAILURES:
            self.fail(post, post.planned_failure or "")
            return
        try:
            if post.media_type == "PHOTO":
                for url in post.source_info["photo_images"]:
                    pulled = self._fetch(url)
                    post.image_sha256.append(pulled.sha256)
                    post.downloaded_bytes += pulled.size
            else:
                pulled = self._fetch(post.source_info["video_url"])
                post.downloaded_bytes = pulled.size
                post._pulled_sha256 = pulled.sha256
        except PullFailed as exc:
            post.fail_detail = str(exc)
            photo = post.media_type == "PHOTO"
            self.fail(post, "photo_pull_failed" if photo else "video_pull_failed")
        else:
            post.stage = "processing"

    def _process(self, post: SandboxPost) -> None:
        if post.planned_failure:
            self.fail(post, post.planned_failure)
        elif post.post_mode == "MEDIA_UPLOAD":
            post.status = "SEND_TO_USER_INBOX"
            post.stage = "done"
            self._tell(post, "post.publish.inbox_delivered")
        else:
            post.status = "PUBLISH_COMPLETE"
            public = post.privacy_level != "SELF_ONLY"
            post.stage = "moderation" if public else "done"
            self._tell(post, "post.publish.complete")

    def _tell(self, post: SandboxPost, event: str, *, public: bool = False) -> None:
        content: dict[str, Any] = {"publish_id": post.publish_id}
        if public:
            content["post_id"] = str(post.post_ids[0])
        content["publish_type"] = post.publish_type
        self._notify(post, event, content)
