"""Row 4: new signed webhook events per second on PostgreSQL, and what 1,000
duplicates write to the server's log."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.dialects.postgresql import insert

from flask_tiktok import TikTok
from flask_tiktok.sandbox.webhooks import event_body, signature_header
from flask_tiktok.storage.sqla import SQLAlchemyStorage

from .common import (
    CLIENT_KEY,
    CLIENT_SECRET,
    OPEN_ID,
    SECRET_KEY,
    engine,
    interleaved,
    summary,
)

_serial = count()


def tiktok_receiver(database: str) -> FlaskClient:
    app = Flask("webhook_bench")
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        TIKTOK_CLIENT_KEY=CLIENT_KEY,
        TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
    )
    storage = SQLAlchemyStorage(engine(database))
    TikTok(app, storage=storage)
    with app.app_context():
        storage.create_all()
    return app.test_client()


def hand_written_receiver(database: str) -> FlaskClient:
    """Verify the signature, parse, ``INSERT ... ON CONFLICT DO NOTHING`` in
    one transaction: the least a correct receiver does."""
    bound = engine(database)
    deliveries = Table(
        "bench_deliveries",
        MetaData(),
        Column("key", String(64), primary_key=True),
        Column("expires_at", DateTime(timezone=True)),
    )
    deliveries.create(bound, checkfirst=True)
    app = Flask("hand_webhook_bench")

    @app.post("/tiktok/webhook")
    def receive() -> Any:
        body = request.get_data()
        fields = dict(
            p.split("=", 1) for p in request.headers["TikTok-Signature"].split(",")
        )
        signed = fields["t"].encode() + b"." + body
        digest = hmac.new(CLIENT_SECRET.encode(), signed, hashlib.sha256).hexdigest()
        if (
            not hmac.compare_digest(digest, fields["s"])
            or abs(time.time() - int(fields["t"])) > 300
        ):
            return jsonify(error="invalid_signature"), 401
        event = json.loads(body)
        json.loads(event["content"])
        key = hashlib.sha256(body).hexdigest()
        expires = datetime.now(timezone.utc) + timedelta(hours=73)
        with bound.begin() as connection:
            connection.execute(
                insert(deliveries)
                .values(key=key, expires_at=expires)
                .on_conflict_do_nothing()
            )
        return jsonify(status="ok")

    return app.test_client()


def signed_events(n: int) -> list[tuple[bytes, str]]:
    """``n`` new events (each a distinct delivery), signed now."""
    stamp = int(time.time())
    out = []
    for _ in range(n):
        content = {"publish_id": f"v_pub_{next(_serial)}"}
        body = event_body(CLIENT_KEY, "post.publish.complete", OPEN_ID, content, stamp)
        out.append((body, signature_header(CLIENT_SECRET, stamp, body)))
    return out


def post_all(client: FlaskClient, events: list[tuple[bytes, str]]) -> float:
    start = time.perf_counter()
    for body, signature in events:
        answer = client.post(
            "/tiktok/webhook",
            data=body,
            headers={"TikTok-Signature": signature},
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return len(events) / (time.perf_counter() - start)


def webhook_row(
    database: str, log: Path | None, rounds: int, events: int, duplicates: int
) -> dict[str, Any]:
    clients = {
        "flask-tiktok": tiktok_receiver(database),
        "hand-written ON CONFLICT": hand_written_receiver(database),
    }
    figures = interleaved(
        {
            name: (lambda c=c: post_all(c, signed_events(events)))
            for name, c in clients.items()
        },
        rounds,
    )
    result = summary(figures, "hand-written ON CONFLICT", "events/s", "higher")
    result["duplicates"] = duplicates
    result["log_lines_per_duplicates"] = {
        name: _log_lines(log, lambda c=c: post_all(c, signed_events(1) * duplicates))
        for name, c in clients.items()
    }
    return result


def _log_lines(log: Path | None, run: Any) -> int | None:
    """Lines the server's log gained while ``run()`` ran (None: no log known)."""
    before = _lines(log)
    run()
    time.sleep(0.2)  # the server writes its log on its own time
    after = _lines(log)
    return None if before is None or after is None else after - before


def _lines(log: Path | None) -> int | None:
    if log is None:
        return None
    try:
        with log.open("rb") as f:
            return sum(1 for _ in f)
    except PermissionError:
        return None
