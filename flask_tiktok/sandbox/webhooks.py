"""Signed webhook deliveries, built byte for byte the way TikTok sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
from dataclasses import dataclass, replace
from typing import Any

import requests


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``TikTok-Signature`` value: ``t=<ts>,s=<hex HMAC-SHA256>``.

    The signed payload is ``f"{timestamp}.{body}"`` keyed with the client secret.
    """
    payload = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def event_body(
    client_key: str,
    event: str,
    open_id: str,
    content: dict[str, Any],
    create_time: int,
) -> bytes:
    """The JSON body of an event; ``content`` travels as a JSON *string*."""
    return json.dumps(
        {
            "client_key": client_key,
            "event": event,
            "create_time": create_time,
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    ).encode()


def deliver(
    url: str, secret: str, body: bytes, timestamp: int, *, timeout: float = 10.0
) -> requests.Response:
    """POST ``body`` to ``url``, signed; return the receiver's response."""
    headers = {
        "Content-Type": "application/json",
        "TikTok-Signature": signature_header(secret, timestamp, body),
        "User-Agent": "flask-tiktok-sandbox-webhook",
    }
    with requests.Session() as session:
        return session.post(url, data=body, headers=headers, timeout=timeout)


@dataclass(frozen=True)
class WebhookDelivery:
    """An event the sandbox sent on its own (a post's outcome), and the answer."""

    event: str
    open_id: str
    content: dict[str, Any]
    url: str
    #: The receiver's HTTP status, or None if it could not be reached.
    status_code: int | None
    #: Why it could not be reached, else "".
    error: str = ""


#: How long the sending thread waits for another event before it ends.
_IDLE_SECONDS = 1.0


class WebhookSender:
    """Sends events from one background thread, in order, recording each answer.

    Events that happen while the sandbox answers a request (a status fetch, a
    last chunk) must not wait for the app's receiver, which may be the very app
    waiting for that answer.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[WebhookDelivery, str, bytes, int]]
        self._queue = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._sent: list[WebhookDelivery] = []

    def send(
        self,
        event: str,
        open_id: str,
        content: dict[str, Any],
        url: str,
        *,
        secret: str,
        body: bytes,
        timestamp: int,
    ) -> None:
        """Queue a delivery of ``body`` to ``url``, signed with ``secret``."""
        with self._idle:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tiktok-sandbox-webhooks", daemon=True
                )
                self._thread.start()
        target = WebhookDelivery(event, open_id, content, url, None)
        self._queue.put((target, secret, body, timestamp))

    def flush(self, timeout: float = 10.0) -> list[WebhookDelivery]:
        """Wait until every queued event is delivered; return all deliveries.

        Raises :class:`TimeoutError` if some are still pending after ``timeout``.
        """
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"{self._pending} webhook(s) still pending.")
            return list(self._sent)

    def clear(self) -> None:
        """Forget the deliveries made so far."""
        with self._idle:
            self._sent.clear()

    def _run(self) -> None:
        while True:
            try:
                target, secret, body, stamp = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._idle:
                    # send() counts an event before queueing it: none is coming.
                    if not self._pending:
                        self._thread = None
                        return
                continue
            try:
                answer = deliver(target.url, secret, body, stamp)
            except requests.RequestException as exc:
                delivery = replace(target, error=str(exc))
            else:
                delivery = replace(target, status_code=answer.status_code)
            with self._idle:
                self._sent.append(delivery)
                self._pending -= 1
                self._idle.notify_all()
