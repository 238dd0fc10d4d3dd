"""What connected accounts cost: listing an owner's accounts, and refreshing many.

Run by hand (``pip install -e ".[dev]"`` first)::

    python benchmarks/bench_accounts.py [--database URL] [--rounds 15]
        [--requests 200] [--accounts 1000] [--concurrency 8]

``--database`` is a SQLAlchemy URL (default: a SQLite file in a temporary
folder; ``$TIKTOK_TEST_POSTGRES_URL`` when set). Measures, in one process:

- ``GET /accounts`` of an owner with 50 connected accounts (``tiktok.accounts()``
  rendered in a template) against a protected request of a TikTok login
  (``@tiktok_login_required`` + ``current_tiktok_user``) on the same storage,
  in interleaved rounds (medians), and the SQL statements each issues;
- ``flask tiktok refresh --all`` over ``--accounts`` accounts whose tokens
  have expired, against flask-tiktok's sandbox served on loopback: wall time,
  refresh calls TikTok received, and the peak number in flight at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from typing import Any

from flask import Flask, render_template_string, session
from sqlalchemy import create_engine, delete, event

from flask_tiktok import TikTok, tiktok_login_required
from flask_tiktok.cli import _refresh_many
from flask_tiktok.sandbox import Sandbox, SandboxUser
from flask_tiktok.sqla import SQLAlchemyStorage, TikTokAccount
from flask_tiktok.state import get_state
from flask_tiktok.storage import StoredUser
from flask_tiktok.testing import login_as
from flask_tiktok.tokens import OAuth2Tokens

OWNER = "owner-1"


def make_app(engine: Any, sandbox_url: str, sandbox: Sandbox) -> Flask:
    storage = SQLAlchemyStorage(engine)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="bench-secret", **sandbox.config_for(sandbox_url))
    tiktok = TikTok(app, storage=storage)
    tiktok.owner_loader(lambda: session.get("uid"))
    with app.app_context():
        storage.create_all()

    @app.get("/signin")
    def signin() -> str:
        session["uid"] = OWNER
        return "ok"

    @app.get("/accounts")
    def accounts() -> str:
        return render_template_string(
            "{% for a in accounts %}<img src='{{ a.avatar_url }}'>"
            "{{ a.display_name }}{% endfor %}",
            accounts=tiktok.accounts(),
        )

    @app.get("/me")
    @tiktok_login_required
    def me() -> str:
        return render_template_string(
            "<img src='{{ current_tiktok_user.avatar_url }}'>"
            "{{ current_tiktok_user.display_name }}"
        )

    app.extensions["bench_tiktok"] = tiktok
    return app


def store_accounts(app: Flask, sandbox: Sandbox, owner: str, ids: list[str]) -> None:
    storage = get_state(app).storage
    client_key = app.config["TIKTOK_CLIENT_KEY"]
    with app.app_context():
        for open_id in ids:
            tokens = OAuth2Tokens(
                sandbox.authorize(client_key, open_id, "user.info.basic")
            )
            user = StoredUser(open_id, tokens.scopes, {"display_name": open_id})
            storage.set_account(owner, user, tokens, previous_owner_id=None)


def timed(client: Any, path: str, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        response = client.get(path)
        assert response.status_code == 200, response.status_code
    return (time.perf_counter() - start) / count * 1e6


def statements(engine: Any, client: Any, path: str) -> int:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", default=os.environ.get("TIKTOK_TEST_POSTGRES_URL")
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    url = args.database or f"sqlite:///{folder}/bench.db"
    engine = create_engine(url)
    ids = [f"acct-{n:04d}" for n in range(args.accounts)]
    sandbox = Sandbox(users=[SandboxUser(open_id=o) for o in ["viewer", *ids]])
    with sandbox.serve() as server:
        app = make_app(engine, server.url, sandbox)
        with app.app_context():
            engine_table = TikTokAccount.__table__
            with engine.begin() as connection:
                connection.execute(delete(engine_table))
        print(f"database: {engine.dialect.name}")

        # -- 50 accounts listed vs a protected request --------------------------
        store_accounts(app, sandbox, OWNER, ids[:50])
        owner = app.test_client()
        owner.get("/signin")
        viewer = app.test_client()
        login_as(viewer, sandbox, "viewer")
        listing, protected = [], []
        for _ in range(args.rounds):
            listing.append(timed(owner, "/accounts", args.requests))
            protected.append(timed(viewer, "/me", args.requests))
        list_us, me_us = statistics.median(listing), statistics.median(protected)
        print(
            f"GET /accounts (50 accounts)  {list_us:8.1f} us/request,"
            f" {statements(engine, owner, '/accounts')} SQL statements"
        )
        print(
            f"GET /me (protected login)    {me_us:8.1f} us/request,"
            f" {statements(engine, viewer, '/me')} SQL statements"
        )
        print(f"ratio accounts/protected: {list_us / me_us:.2f}")

        # -- refresh --all over many expired accounts ---------------------------
        store_accounts(app, sandbox, "owner-2", ids[50:])
        sandbox.expire_all_access_tokens()
        state = get_state(app)
        refresh = state.client.refresh_access_token
        in_flight, peak, lock = [0], [0], threading.Lock()

        def counted(refresh_token: str) -> OAuth2Tokens:
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            try:
                return refresh(refresh_token)
            finally:
                with lock:
                    in_flight[0] -= 1

        state.client.refresh_access_token = counted  # type: ignore[method-assign]
        before = len(sandbox.calls_to("token"))
        start = time.perf_counter()
        with app.app_context():
            outcomes = _refresh_many(state, ids, args.concurrency, None)
        wall = time.perf_counter() - start
        calls = len(sandbox.calls_to("token")) - before
        done = sum(1 for o in outcomes.values() if o == "refreshed")
        print(
            f"refresh --all: {len(ids)} accounts in {wall:.2f} s"
            f" ({wall / len(ids) * 1e3:.2f} ms/account), {done} refreshed,"
            f" {calls} refresh calls to TikTok, peak {peak[0]} in flight"
            f" (--concurrency {args.concurrency})"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
