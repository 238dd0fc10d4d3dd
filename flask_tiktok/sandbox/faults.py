"""Injected failures: what TikTok (or the network in front of it) does on a bad day."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Literal

from flask import Response

from . import ids
from .errors import POSTING_ERRORS

#: The kinds :meth:`Sandbox.inject_fault` accepts.
FaultKind = Literal[
    "error_200",
    "error_400",
    "html_502",
    "rate_limit",
    "slow",
    "server_error",
    "api_error",
    "post_failed",
    "drop_connection",
    "lose_chunk",
    "expired_upload",
]
#: Faults the view itself acts on (the chunk upload, the inits), not the wrapper.
VIEW_FAULTS: frozenset[str] = frozenset(
    {"post_failed", "drop_connection", "lose_chunk", "expired_upload"}
)
FAULT_KINDS: frozenset[str] = frozenset(
    {"error_200", "error_400", "html_502", "rate_limit", "slow", "server_error"}
    | {"api_error"}
    | VIEW_FAULTS
)
#: The ``fail_reason`` values a ``post_failed`` fault may end a post with.
FAIL_REASONS: frozenset[str] = frozenset(
    {
        "file_format_check_failed",
        "duration_check_failed",
        "frame_rate_check_failed",
        "picture_size_check_failed",
        "internal",
        "video_pull_failed",
        "photo_pull_failed",
        "publish_cancelled",
        "auth_removed",
        "spam_risk_too_many_posts",
        "spam_risk_user_banned_from_posting",
        "spam_risk_text",
        "spam_risk",
    }
)
#: Refusals that ``creator_info`` answers with HTTP 200 (the creator can't post).
CREATOR_REFUSALS: frozenset[str] = frozenset(
    {
        "spam_risk_too_many_posts",
        "spam_risk_user_banned_from_posting",
        "reached_active_user_cap",
    }
)

_DEFAULT_STATUS = {
    "error_200": 200,
    "error_400": 400,
    "html_502": 502,
    "rate_limit": 429,
    "server_error": 500,
}
_ERROR_CODES = {
    "error_200": ("invalid_request", "Sandbox injected fault: the request failed."),
    "error_400": ("invalid_request", "Sandbox injected fault: the request failed."),
    "rate_limit": (
        "rate_limit_exceeded",
        "API rate limit was exceeded, please try again later.",
    ),
    "server_error": (
        "internal_error",
        "Something went wrong. Please try again later.",
    ),
}
_GATEWAY_PAGE = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>Tengine</center>
</body>
</html>
"""
OAUTH_ENDPOINTS = frozenset({"authorize", "token", "revoke"})


@dataclass
class Fault:
    """One injected failure, used up after ``remaining`` requests."""

    kind: str
    remaining: int
    status: int | None
    delay: float
    retry_after: int | float | None
    #: The error code of an ``api_error``.
    code: str | None = None
    #: The ``fail_reason`` of a ``post_failed``.
    fail_reason: str | None = None


class FaultQueue:
    """Per-endpoint queues of faults, consumed by the sandbox's views."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def add(self, endpoint: str, fault: Fault) -> None:
        """Queue ``fault`` behind any already waiting for ``endpoint``."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(
                f"Unknown fault kind {fault.kind!r}; use one of {sorted(FAULT_KINDS)}."
            )
        with self._lock:
            self._faults.setdefault(endpoint, []).append(fault)

    def take(self, endpoint: str) -> Fault | None:
        """Use up one request's worth of the first fault queued for ``endpoint``."""
        with self._lock:
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()


def fault_response(fault: Fault, endpoint: str) -> Response | None:
    """The response ``fault`` stands for, or None to answer normally.

    A ``slow`` fault sleeps here, then lets the request through; so do the
    :data:`VIEW_FAULTS`, which the view acts on.
    """
    if fault.kind in VIEW_FAULTS:
        return None
    if fault.kind == "slow":
        time.sleep(fault.delay)
        return None
    if fault.delay:
        time.sleep(fault.delay)
    if fault.kind == "html_502":
        return Response(_GATEWAY_PAGE, fault.status or 502, mimetype="text/html")
    if fault.kind == "api_error":
        code = fault.code or "internal_error"
        default, message = POSTING_ERRORS.get(code, (400, "The request failed."))
        if endpoint == "creator_info" and code in CREATOR_REFUSALS:
            default = 200
        status = fault.status or default
    else:
        status = fault.status or _DEFAULT_STATUS[fault.kind]
        code, message = _ERROR_CODES[fault.kind]
    body: object
    if endpoint in OAUTH_ENDPOINTS:
        body = {"error": code, "error_description": message, "log_id": ids.new_log_id()}
    else:
        body = {
            "data": {},
            "error": {"code": code, "message": message, "log_id": ids.new_log_id()},
        }
    response = Response(json.dumps(body), status, content_type="application/json")
    if fault.kind == "rate_limit" and fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response
