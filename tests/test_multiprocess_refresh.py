"""One expired token, 16 simultaneous requests, 4 gunicorn worker processes
sharing SQLAlchemyStorage: every request succeeds and the sandbox's token
endpoint sees exactly one refresh."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.sessions import SecureCookieSessionInterface
from sqla_support import KINDS, Database, database

from flask_tiktok.sandbox import Sandbox
from flask_tiktok.storage import StoredUser
from flask_tiktok.tokens import OAuth2Tokens

TESTS = Path(__file__).parent
WORKERS = 4
REQUESTS = 16
OPEN_ID = "sandbox-open-id-alice"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gunicorn(env: dict[str, str], ready_dir: Path) -> Iterator[str]:
    """Serve tests/gunicorn_app.py with 4 workers; yield its base URL."""
    port = free_port()
    log = (ready_dir.parent / "gunicorn.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            f"--workers={WORKERS}",
            "--worker-class=gthread",
            f"--threads={REQUESTS // WORKERS}",
            f"--bind=127.0.0.1:{port}",
            f"--chdir={TESTS}",
            "--graceful-timeout=5",
            "--log-level=warning",
            "--no-control-socket",
            "gunicorn_app:create_app()",
        ],
        env=os.environ | env | {"TT_READY_DIR": str(ready_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(ready_dir.iterdir())) < WORKERS:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {log.name}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.mark.parametrize("kind", KINDS)
def test_many_processes_refresh_an_expired_token_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    sandbox = Sandbox()
    with database(kind, tmp_path) as db, sandbox.serve() as server:
        config = sandbox.config_for(server.url)
        env = {
            "TT_DB_URL": db.url,
            "TT_DB_SCHEMA": db.schema or "",
            "TT_TIKTOK_CONFIG": json.dumps(config),
        }
        cookie = store_expired_login(db, sandbox, env, monkeypatch)
        ready = tmp_path / "ready"
        ready.mkdir()
        with gunicorn(env, ready) as url:
            # The first refresh takes a second: every request arrives meanwhile.
            sandbox.inject_fault("token", "slow", delay=1.0)
            answers = concurrent_requests(url, cookie)
        elapsed = time.monotonic() - started

    assert answers == [(200, answer) for _, answer in answers]
    assert {body["open_id"] for _, body in answers} == {OPEN_ID}
    refreshes = sandbox.calls_to("token", grant_type="refresh_token")
    assert len(refreshes) == 1
    assert refreshes[0].form["client_key"] == config["TIKTOK_CLIENT_KEY"]
    assert refreshes[0].form["refresh_token"] == cookie_tokens["refresh_token"]
    bearers = {c.headers["Authorization"] for c in sandbox.calls_to("user_info")}
    assert len(sandbox.calls_to("user_info")) == REQUESTS
    assert len(bearers) == 1
    assert bearers != {f"Bearer {cookie_tokens['access_token']}"}
    pids = {body["pid"] for _, body in answers}
    assert len(pids) >= 2, "the requests did not reach several processes"
    print(
        f"\n[{kind}] {REQUESTS} requests on {len(pids)} processes,"
        f" {len(refreshes)} refresh, {elapsed:.1f}s"
    )


cookie_tokens: dict[str, Any] = {}


def store_expired_login(
    db: Database, sandbox: Sandbox, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Store an expired login as a worker would; return its session cookie."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import gunicorn_app

    app = gunicorn_app.create_app()
    storage = app.extensions["tiktok"].storage
    try:
        storage.create_all()
        body = sandbox.authorize(
            sandbox.apps[0].client_key, OPEN_ID, ["user.info.basic"]
        )
        sandbox.expire_access_token(body["access_token"])
        cookie_tokens.clear()
        cookie_tokens.update(body)
        tokens = OAuth2Tokens(body, time.time() - body["expires_in"] - 60)
        with app.test_request_context() as context:
            storage.set(
                StoredUser(OPEN_ID, ["user.info.basic"], {"open_id": OPEN_ID}), tokens
            )
            serializer = SecureCookieSessionInterface().get_signing_serializer(app)
            assert serializer is not None
            cookie: str = serializer.dumps(dict(context.session))
    finally:
        storage._factory().get_bind().dispose()  # the engine gunicorn_app made
    return cookie


def concurrent_requests(url: str, cookie: str) -> list[tuple[int, dict[str, Any]]]:
    start = threading.Barrier(REQUESTS)

    def one(_: int) -> tuple[int, dict[str, Any]]:
        with requests.Session() as http:
            http.cookies.set("session", cookie)
            start.wait(30)
            response = http.get(f"{url}/me", timeout=60, allow_redirects=False)
            if response.status_code != 200:
                return response.status_code, {"body": response.text[:300]}
            return response.status_code, response.json()

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(one, range(REQUESTS)))
