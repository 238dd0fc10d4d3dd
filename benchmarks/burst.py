"""Row 6: N gunicorn processes, one login, N simultaneous requests calling
TikTok as it; with an expired token (one refresh, TikTok slow to answer)
against a burst with a valid one. Waiters should wait for the refresh, not
for each other."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from flask_tiktok.sandbox import Sandbox
from flask_tiktok.storage import StoredUser
from flask_tiktok.storage.sqla import SQLAlchemyStorage
from flask_tiktok.tokens import OAuth2Tokens

from .common import SECRET_KEY, engine, free_port

ROOT = Path(__file__).resolve().parent.parent
OPEN_ID = "sandbox-open-id-alice"


@contextmanager
def gunicorn(workers: int, env: dict[str, str]) -> Iterator[str]:
    ready = Path(tempfile.mkdtemp(prefix="tiktok-bench-ready-"))
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            f"--workers={workers}",
            f"--bind=127.0.0.1:{port}",
            f"--backlog={max(2048, workers * 4)}",
            "--preload",
            "--config=python:benchmarks.burst_gunicorn",
            "--graceful-timeout=5",
            "--timeout=120",
            "--log-level=warning",
            "--no-control-socket",
            "benchmarks.burst_app:create_app()",
        ],
        cwd=ROOT,
        env=os.environ | env | {"BENCH_READY_DIR": str(ready)},
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while len(list(ready.iterdir())) < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start its workers")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        for item in ready.iterdir():
            item.unlink()
        ready.rmdir()


def _burst(url: str, cookie: str, count: int) -> list[float]:
    """``count`` requests released at once; each one's seconds."""
    start = threading.Barrier(count)
    took: list[float] = []
    failed: list[str] = []

    def one() -> None:
        with requests.Session() as http:
            start.wait()
            began = time.monotonic()
            answer = http.get(f"{url}/me", cookies={"session": cookie}, timeout=120)
            took.append(time.monotonic() - began)
            if answer.status_code != 200:
                failed.append(f"{answer.status_code}")

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise RuntimeError(f"{len(failed)} burst requests failed: {failed[:3]}")
    return took


class _Login:
    """Stores the login each burst uses and makes its session cookie."""

    def __init__(self, database: str, sandbox: Sandbox, config: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.app = Flask("burst_setup")
        self.app.config.update(SECRET_KEY=SECRET_KEY, **config)
        from flask_tiktok import TikTok

        self.storage = SQLAlchemyStorage(engine(database))
        TikTok(self.app, storage=self.storage)
        with self.app.app_context():
            self.storage.create_all()

    def cookie(self, expired: bool) -> str:
        body = self.sandbox.authorize(
            self.sandbox.apps[0].client_key, OPEN_ID, ["user.info.basic"]
        )
        issued = time.time()
        if expired:
            self.sandbox.expire_access_token(body["access_token"])
            issued -= body["expires_in"] + 60
        with self.app.test_request_context():
            from flask import session

            user = StoredUser(OPEN_ID, ["user.info.basic"], {"open_id": OPEN_ID})
            self.storage.set(user, OAuth2Tokens(body, issued))
            serializer = SecureCookieSessionInterface().get_signing_serializer(self.app)
            assert serializer is not None
            return str(serializer.dumps(dict(session)))


def burst_row(database: str, rounds: int, workers: int, delay: float) -> dict[str, Any]:
    sandbox = Sandbox()
    with sandbox.serve() as server:
        config = sandbox.config_for(server.url)
        login = _Login(database, sandbox, config)
        env = {"BENCH_DB_URL": database, "BENCH_TIKTOK": json.dumps(config)}
        figures: dict[str, list[float]] = {"no refresh": [], "one refresh": []}
        refreshes: list[int] = []
        with gunicorn(workers, env) as url:
            _burst(url, login.cookie(False), workers)  # warm up every worker
            for i in range(rounds):
                for kind in (
                    ["no refresh", "one refresh"]
                    if i % 2 == 0
                    else ["one refresh", "no refresh"]
                ):
                    expired = kind == "one refresh"
                    cookie = login.cookie(expired)
                    before = len(sandbox.calls_to("token", grant_type="refresh_token"))
                    if expired:
                        sandbox.inject_fault("token", "slow", delay=delay)
                    took = _burst(url, cookie, workers)
                    figures[kind].append(statistics.median(took))
                    if expired:
                        calls = sandbox.calls_to("token", grant_type="refresh_token")
                        refreshes.append(len(calls) - before)
    quiet, refreshed = (
        statistics.median(figures[k]) for k in ("no refresh", "one refresh")
    )
    return {
        "unit": "s (p50 of a burst)",
        "workers": workers,
        "tiktok_delay": delay,
        "refresh_calls_per_burst": refreshes,
        "variants": {
            k: {"median": statistics.median(v), "rounds": v} for k, v in figures.items()
        },
        "overhead": refreshed - quiet - delay,
    }
