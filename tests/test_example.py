"""examples/basic: its wiring, pages and the README's run command."""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import click
import pytest
import requests
from example_support import (
    ROOT,
    clean_environment,
    example_app,
    example_sandbox,
    load_example,
)
from flask import Flask
from flask.cli import run_command

from flask_tiktok.testing import login_as

ALICE = "sandbox-open-id-alice"
VIDEO_FIELDS = "id,title,cover_image_url,share_url,create_time"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    clean_environment(monkeypatch)
    with example_app({"SECRET_KEY": "example-test-secret-key"}) as app:
        yield app


def test_without_credentials_it_runs_on_its_own_sandbox(app: Flask) -> None:
    sandbox = example_sandbox(app)
    url = app.config["SANDBOX_URL"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert app.config["TIKTOK_TOKEN_URL"] == f"{url}/v2/oauth/token/"
    assert app.config["TIKTOK_API_BASE_URL"] == f"{url}/v2/"
    assert app.config["TIKTOK_CLIENT_KEY"] == sandbox.apps[0].client_key
    assert requests.get(f"{url}/", timeout=5).status_code == 200

    page = app.test_client().get("/").get_data(as_text=True)

    assert 'id="sandbox-banner"' in page
    assert f'<a href="{url}/">{url}</a>, not to TikTok' in page
    assert 'href="/tiktok/login?next=/profile">Log in with TikTok</a>' in page


def test_with_credentials_it_talks_to_tiktok(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "real-key")
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", "real-secret")
    monkeypatch.setenv("TIKTOK_REDIRECT_URI", "https://example.com/tiktok/callback")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")

    with example_app() as app:
        assert "tiktok_sandbox" not in app.extensions
        assert app.config["SECRET_KEY"] == "from-the-environment"
        client = app.test_client()
        assert "sandbox-banner" not in client.get("/").get_data(as_text=True)
        login = client.get("/tiktok/login")

    authorize = urlsplit(login.location)
    assert authorize.netloc == "www.tiktok.com"
    query = parse_qs(authorize.query)
    assert query["client_key"] == ["real-key"]
    assert query["scope"] == ["user.info.basic"]
    assert query["redirect_uri"] == ["https://example.com/tiktok/callback"]


def test_a_missing_secret_key_is_generated_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_environment(monkeypatch)
    with caplog.at_level(logging.WARNING), example_app() as app:
        assert len(app.config["SECRET_KEY"]) == 64
    assert "SECRET_KEY is not set" in caplog.text


def test_profile_page_shows_the_granted_fields_and_a_logout_form(app: Flask) -> None:
    client = app.test_client()
    login_as(client, example_sandbox(app), ALICE, next_url="/profile")

    page = client.get("/profile").get_data(as_text=True)

    assert re.search(r'<img class="avatar" id="avatar" src="http://127\.0\.0', page)
    assert '<h1 id="display-name">Alice Sandbox</h1>' in page
    assert "<dt>Followers</dt>\n      <dd>128,400</dd>" in page
    assert "<dt>Verified</dt>\n      <dd>Yes</dd>" in page
    assert "<dd>Dancing through the sandbox." in page
    assert '<form method="post" action="/tiktok/logout"' in page
    assert "<code>user.info.profile</code>" in page


def test_logout_posts_and_revokes(app: Flask) -> None:
    client = app.test_client()
    sandbox = example_sandbox(app)
    login_as(client, sandbox, ALICE)

    home = client.post("/tiktok/logout", follow_redirects=True)

    assert 'id="login"' in home.get_data(as_text=True)
    assert len(sandbox.calls_to("revoke")) == 1
    assert sandbox.authorizations() == []


def test_cancel_flashes_a_message_on_the_home_page(app: Flask) -> None:
    client = app.test_client()
    state = parse_qs(urlsplit(client.get("/tiktok/login").location).query)["state"]

    home = client.get(
        f"/tiktok/callback?error=access_denied&state={state[0]}", follow_redirects=True
    )

    assert home.status_code == 200
    assert (
        '<div class="flash flash-info" role="status">TikTok login was cancelled.</div>'
        in home.get_data(as_text=True)
    )


def test_my_videos_asks_for_video_list_then_shows_the_grid(app: Flask) -> None:
    client = app.test_client()
    sandbox = example_sandbox(app)
    login_as(client, sandbox, ALICE, next_url="/profile")

    again = client.get("/videos")

    assert again.status_code == 302
    query = parse_qs(urlsplit(again.location).query)
    assert query["scope"] == [
        "user.info.basic,user.info.profile,user.info.stats,video.list"
    ]
    login_as(client, sandbox, ALICE, query["scope"][0], next_url="/videos")
    page = client.get("/videos").get_data(as_text=True)

    assert page.count('<li class="video">') == 24
    assert re.search(
        r'<a href="https://www\.tiktok\.com/@alice\.sandbox/video/\d+" target="_blank"',
        page,
    )
    assert re.search(r'<img src="http://127\.0\.0\.1:\d+/static/cover/\d+\.svg"', page)
    lists = sandbox.calls_to("video_list")
    # 24 videos: a page of 20, then 4 asked and (a short page) 3 given, then 1.
    assert [call.json.get("max_count") for call in lists] == [20, 4, 1]
    assert all(call.args["fields"] == VIDEO_FIELDS for call in lists)


def test_importing_the_example_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    module = load_example()

    assert "app" not in vars(module)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_readme_run_command_serves_the_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``flask --app examples/basic/app.py run``, from the repository root."""
    clean_environment(monkeypatch)
    command = [sys.executable, "-m", "flask", "--app", "examples/basic/app.py"]
    with subprocess.Popen(  # noqa: S603 (our own interpreter and example)
        [*command, "run", "--port", "0"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + 20
            url = None
            while url is None and time.monotonic() < deadline:
                line = process.stderr.readline()
                assert line, "flask run exited before serving"
                found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
                url = found.group(1) if found else None
            assert url is not None
            page = requests.get(f"{url}/", timeout=5).text
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()

    assert 'id="sandbox-banner"' in page
    assert "Log in with TikTok" in page


def test_served_beyond_loopback_without_credentials_it_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``flask run --host 0.0.0.0``, debug off, no credentials: remote users
    could not reach the sandbox (on 127.0.0.1), so the app does not start."""
    clean_environment(monkeypatch)
    command = [sys.executable, "-m", "flask", "--app", "examples/basic/app.py"]
    output: list[str] = []
    with subprocess.Popen(  # noqa: S603 (our own interpreter and example)
        [*command, "run", "--host", "0.0.0.0", "--port", "0"],  # noqa: S104
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (line := process.stderr.readline()):
                output.append(line)
                assert "Running on" not in line, "it served the sandbox publicly"
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
    assert process.returncode not in (0, None)
    assert "Set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET" in "".join(output)


@pytest.mark.parametrize(
    ("host", "config", "falls_back"),
    [
        ("127.0.0.1", {}, True),
        ("localhost", {}, True),
        ("::1", {}, True),
        ("0.0.0.0", {"DEBUG": True}, True),  # noqa: S104
        ("0.0.0.0", {}, False),  # noqa: S104
        ("192.168.1.20", {}, False),
        (None, {}, False),  # a WSGI server: where it listens is unknown
    ],
)
def test_the_sandbox_fallback_is_for_loopback_or_debug(
    monkeypatch: pytest.MonkeyPatch,
    host: str | None,
    config: dict[str, object],
    falls_back: bool,
) -> None:
    clean_environment(monkeypatch)
    factory = load_example().create_app
    context = click.Context(run_command, info_name="run")
    if host is not None:
        context.params["host"] = host
    with context if host is not None else contextlib.nullcontext():
        if not falls_back:
            with pytest.raises(RuntimeError, match="TIKTOK_CLIENT_SECRET"):
                factory({"SECRET_KEY": "k", **config})
            return
        app = factory({"SECRET_KEY": "k", **config})
    app.extensions["tiktok_sandbox_server"].shutdown()
    assert app.config["SANDBOX_URL"].startswith("http://127.0.0.1:")


def test_a_reloader_child_reuses_the_watchers_sandbox_and_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``flask run --debug``: one sandbox for the whole session, logins kept."""
    clean_environment(monkeypatch)
    with example_app() as watcher:
        assert "tiktok_sandbox_server" in watcher.extensions
        monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
        with example_app() as child:
            assert "tiktok_sandbox_server" not in child.extensions
            assert child.config["SANDBOX_URL"] == watcher.config["SANDBOX_URL"]
            assert child.config["SECRET_KEY"] == watcher.config["SECRET_KEY"]
            assert (
                child.config["TIKTOK_TOKEN_URL"] == (watcher.config["TIKTOK_TOKEN_URL"])
            )
