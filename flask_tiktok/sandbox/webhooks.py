"""Signed webhook deliveries, built byte for byte the way TikTok sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
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
