"""A thread-safe record of the requests the sandbox answered."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal, get_args

#: The names :attr:`Call.endpoint` takes.
Endpoint = Literal[
    "authorize",
    "token",
    "revoke",
    "user_info",
    "video_list",
    "video_query",
    "creator_info",
    "video_init",
    "inbox_video_init",
    "content_init",
    "post_status",
    "post_cancel",
    "video_upload",
]
ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)
#: The endpoints that create a post (and take ``post_failed`` faults).
INIT_ENDPOINTS: frozenset[str] = frozenset(
    {"video_init", "inbox_video_init", "content_init"}
)


@dataclass(frozen=True)
class Call:
    """One request to a TikTok endpoint of the sandbox, as it arrived."""

    #: One of :data:`ENDPOINTS`: ``"authorize"``, ``"token"``, ``"revoke"``,
    #: ``"user_info"``, ``"video_list"``, ``"video_query"``, and the Content
    #: Posting API's ``"creator_info"``, ``"video_init"``,
    #: ``"inbox_video_init"``, ``"content_init"``, ``"post_status"``,
    #: ``"post_cancel"`` and ``"video_upload"`` (a chunk ``PUT``).
    endpoint: str
    method: str
    path: str
    #: The query string parameters (first value of each).
    args: dict[str, str]
    #: The form body parameters (first value of each).
    form: dict[str, str]
    #: The parsed JSON body, or None.
    json: Any
    headers: dict[str, str]

    def get(self, name: str) -> Any:
        """A parameter from the form, else the query, else a JSON object body."""
        if name in self.form:
            return self.form[name]
        if name in self.args:
            return self.args[name]
        if isinstance(self.json, dict):
            return self.json.get(name)
        return None


class CallLog:
    """An append-only list of :class:`Call` shared between server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def append(self, call: Call) -> None:
        """Record ``call``."""
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[Call]:
        """A copy of the calls so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def filter(self, endpoint: str, **params: Any) -> list[Call]:
        """The calls to ``endpoint`` whose parameters equal every one of ``params``."""
        return [
            call
            for call in self.snapshot()
            if call.endpoint == endpoint
            and all(call.get(name) == value for name, value in params.items())
        ]

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._calls.clear()
