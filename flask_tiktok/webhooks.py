"""TikTok's webhooks, framework-free: the ``TikTok-Signature`` check and a
strict parser of the event body.

TikTok signs each delivery with the app's client secret::

    TikTok-Signature: t=1633174587,s=<hex HMAC-SHA256(secret, t + "." + body)>

:func:`verify_webhook_signature` checks that header against the raw body
bytes (never a re-serialised body), and :func:`parse_webhook_event` turns the
body into a :class:`WebhookEvent`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import WebhookPayloadError, WebhookSignatureError

__all__ = [
    "AUTHORIZATION_REMOVED",
    "POST_PUBLISH_EVENTS",
    "WebhookEvent",
    "is_post_event",
    "parse_webhook_event",
    "verify_webhook_signature",
]

#: The event TikTok sends when a user disconnects the app, deletes their
#: account or is banned; their token is already revoked.
AUTHORIZATION_REMOVED = "authorization.removed"

#: The Content Posting API's events (``content`` holds ``publish_id``). TikTok
#: spells the last one "publicaly"; the correct spelling is taken as well.
#: (``video.upload.failed`` and ``video.publish.completed`` belong to the Share
#: Video API, retired in 2023.)
POST_PUBLISH_EVENTS = frozenset(
    {
        "post.publish.failed",
        "post.publish.complete",
        "post.publish.inbox_delivered",
        "post.publish.publicly_available",
        "post.publish.no_longer_publicaly_available",
        "post.publish.no_longer_publicly_available",
    }
)


def is_post_event(name: str) -> bool:
    """Whether ``name`` is a Content Posting API event (``post.publish.*``)."""
    return name.startswith("post.publish.")


_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_ITEM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_HEADER = 512


@dataclass(frozen=True)
class WebhookEvent:
    """One webhook event, checked field by field.

    ``content`` is TikTok's ``content`` string, decoded (for
    ``authorization.removed``: ``{"reason": 0..5}``).
    """

    #: The app the event is for (checked to be ours).
    client_key: str
    #: The event name, e.g. ``authorization.removed``.
    event: str
    #: When TikTok created the event, in epoch seconds.
    create_time: int
    #: The user the event is about.
    user_openid: str
    #: The decoded ``content`` object.
    content: dict[str, Any]

    @property
    def delivery_key(self) -> str:
        """A stable id of the event, the same on every retry of its delivery.

        TikTok gives no event id and signs each retry afresh, so the identity is
        a digest of every field (``content`` compared as data, not as text).
        """
        identity = [
            self.client_key,
            self.event,
            self.create_time,
            self.user_openid,
            self.content,
        ]
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def reason(self) -> int:
        """``content["reason"]`` of an ``authorization.removed`` event (0 when
        missing or not a number: TikTok's "unknown")."""
        reason = self.content.get("reason")
        if isinstance(reason, int) and not isinstance(reason, bool):
            return reason
        return 0


def _parse_header(header: str | None) -> tuple[str, str]:
    """The ``t`` and ``s`` of a ``TikTok-Signature`` header, or an error."""
    if not header:
        raise WebhookSignatureError("missing TikTok-Signature header")
    if len(header) > _MAX_HEADER:
        raise WebhookSignatureError("malformed TikTok-Signature header")
    items: dict[str, str] = {}
    for part in header.split(","):
        name, sep, value = part.partition("=")
        if not sep or not _ITEM_NAME.fullmatch(name) or name in items:
            raise WebhookSignatureError("malformed TikTok-Signature header")
        items[name] = value
    timestamp = items.get("t")
    signature = items.get("s")
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookSignatureError("malformed TikTok-Signature timestamp")
    if signature is None or not _SIGNATURE.fullmatch(signature):
        raise WebhookSignatureError("malformed TikTok-Signature signature")
    return timestamp, signature.lower()


def _secret_list(secret: str | bytes | Iterable[str | bytes]) -> list[bytes]:
    candidates = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    keys = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in candidates]
    keys = [key for key in keys if key]
    if not keys:
        raise ValueError("verify_webhook_signature needs a non-empty client secret")
    return keys


def verify_webhook_signature(
    secret: str | bytes | Iterable[str | bytes],
    header: str | None,
    body: bytes | str,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> int:
    """Check a webhook's ``TikTok-Signature`` header; return its timestamp.

    :param secret: the app's client secret, or several (the current one first,
        then older ones still accepted during a rotation); empty ones are
        skipped.
    :param header: the ``TikTok-Signature`` header, ``t=<epoch s>,s=<hex>``.
        Items are split on ``,`` then ``=``; ``t`` and ``s`` must each appear
        once, and nothing may be padded with spaces. Other well-formed items
        are ignored.
    :param body: the request body exactly as received.
    :param tolerance: how many seconds ``t`` may be from ``now``, either way;
        an older delivery may be a replay.
    :param now: the current epoch time (default: ``time.time()``).
    :raises WebhookSignatureError: the header is missing or malformed, the
        timestamp is outside the tolerance, or no secret produced the signature.
        The message never contains a secret or an expected signature.
    :raises ValueError: no non-empty secret was given.
    """
    keys = _secret_list(secret)
    timestamp, signature = _parse_header(header)
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise WebhookSignatureError("TikTok-Signature timestamp outside the tolerance")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    payload = timestamp.encode("ascii") + b"." + raw
    matched = False
    for key in keys:
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise WebhookSignatureError("TikTok-Signature does not match the body")
    return int(timestamp)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _strict_json(text: str | bytes) -> Any:
    """Decode JSON refusing what TikTok never sends but parsers disagree on:
    duplicate keys, NaN/Infinity, non-UTF-8 bytes."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(
        text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant
    )


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WebhookPayloadError(f"webhook {name} is missing or not a {kind.__name__}")
    return value


def parse_webhook_event(
    body: bytes | str, client_key: str | None = None
) -> WebhookEvent:
    """Parse a webhook body (already verified) into a :class:`WebhookEvent`.

    The body must be a JSON object with ``client_key`` (equal to
    ``client_key`` when given), ``event`` and ``user_openid`` (non-empty
    strings), ``create_time`` (a non-negative integer) and ``content`` (a JSON
    *string* holding an object). Unknown top-level fields are ignored.

    :raises WebhookPayloadError: anything else.
    """
    try:
        data = _strict_json(body)
    except (ValueError, RecursionError):
        raise WebhookPayloadError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookPayloadError("webhook body is not a JSON object")
    key = _field(data, "client_key", str)
    if client_key is not None and key != client_key:
        raise WebhookPayloadError("webhook client_key is not this app's")
    event = _field(data, "event", str)
    open_id = _field(data, "user_openid", str)
    create_time = _field(data, "create_time", int)
    raw_content = _field(data, "content", str)
    if not event or not open_id or create_time < 0:
        raise WebhookPayloadError("webhook event, user_openid or create_time is empty")
    try:
        content = _strict_json(raw_content)
    except (ValueError, RecursionError):
        raise WebhookPayloadError("webhook content is not a JSON string") from None
    if not isinstance(content, dict):
        raise WebhookPayloadError("webhook content is not a JSON object")
    return WebhookEvent(key, event, create_time, open_id, content)
