"""Rows 1-3: a protected request rendering 16 profile reads, on each storage."""

from __future__ import annotations

import inspect
from typing import Any

from sqlalchemy import event

from flask_tiktok.storage.sqla import SQLAlchemyStorage

from .apps import floor_app, peer_app, tiktok_app, tiktok_client
from .common import get_ok, interleaved, per_call, summary


def protected_row(database: str | None, rounds: int, requests: int) -> dict[str, Any]:
    """flask-tiktok (on a database: also with a 1-second user cache), the
    peer and the floor, interleaved; plus the SQL statements one
    flask-tiktok request sends."""
    app = tiktok_app(database)
    tiktok = tiktok_client(app)
    _, peer = peer_app(database)
    _, floor = floor_app()
    variants = {"flask-tiktok": get_ok(tiktok, "/me")}
    if database is not None and _has_user_cache():
        cached = tiktok_client(tiktok_app(database, user_cache_seconds=1.0))
        variants["flask-tiktok, 1 s user cache"] = get_ok(cached, "/me")
    variants["Flask-Login + Flask-Dance"] = get_ok(peer, "/me")
    variants["floor"] = get_ok(floor, "/me")
    figures = interleaved(
        {
            name: (lambda run=run: per_call(run, requests))
            for name, run in variants.items()
        },
        rounds,
    )
    result = summary(figures, "floor", "s/request")
    if database is not None:
        result["statements"] = _statements(app, tiktok)
    return result


def _has_user_cache() -> bool:
    """Whether this flask-tiktok's SQLAlchemyStorage has the opt-in cache."""
    parameters = inspect.signature(SQLAlchemyStorage).parameters
    return "user_cache_seconds" in parameters


def _statements(app: Any, client: Any) -> list[str]:
    engine = app.extensions["bench_engine"]
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(" ".join(args[2].split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/me")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen
