"""What a protected route costs, and how many calls reach TikTok.

Run by hand (``pip install -e ".[dev]"`` first)::

    python benchmarks/bench_protected.py [--rounds 15] [--requests 400]

Measures, in one process and with interleaved rounds (medians reported):

- flask-tiktok: ``@tiktok_login_required`` + ``current_tiktok_user`` against a
  bare route that reads the same session cookie;
- Flask-Login: ``@login_required`` + ``current_user`` against its bare route;
- calls made to TikTok per login, per protected request and per refresh
  (TikTok is requests-mock; nothing leaves the machine);
- the session cookie's size after a login with every basic, profile and stats
  field.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests_mock
from flask import Flask, session
from flask.testing import FlaskClient

from flask_tiktok import TikTok, current_tiktok_user, tiktok_login_required

TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"
USER_INFO_URL = "https://open.tiktokapis.com/v2/user/info/"
AVATAR = "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + "a1b2c3d4" * 20
PROFILE = {
    "open_id": "-000Tu4AArq1kYnYzNsbIGBIDpsFB5PIzS9M",
    "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
    "avatar_url": AVATAR + ".jpeg",
    "avatar_url_100": AVATAR + "~100.jpeg",
    "avatar_large_url": AVATAR + "~1080.jpeg",
    "display_name": "A creator",
    "bio_description": "Making short videos about bread, bikes and the sea.",
    "profile_deep_link": "https://vm.tiktok.com/ZMabcdefg/",
    "is_verified": False,
    "username": "creator.name",
    "follower_count": 123456,
    "following_count": 321,
    "likes_count": 9876543,
    "video_count": 456,
}
SCOPES = ["user.info.basic", "user.info.profile", "user.info.stats"]


def token_body(n: int, expires_in: int = 86400) -> dict[str, Any]:
    return {
        "access_token": f"act.{n}" + "x" * 66,
        "expires_in": expires_in,
        "open_id": PROFILE["open_id"],
        "refresh_expires_in": 31536000,
        "refresh_token": f"rft.{n}" + "y" * 66,
        "scope": ",".join(SCOPES),
        "token_type": "Bearer",
    }


def tiktok_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="bench-secret",
        TIKTOK_CLIENT_KEY="ck",
        TIKTOK_CLIENT_SECRET="cs",
        TIKTOK_SCOPES=SCOPES,
    )
    tiktok = TikTok(app)

    @app.get("/protected")
    @tiktok_login_required
    def protected() -> str:
        return f"Hello {current_tiktok_user.display_name}"

    @app.get("/bare")
    def bare() -> str:
        return f"Hello {session['_tiktok']['u']['display_name']}"

    @app.get("/api")
    def api() -> str:
        return str(tiktok.api.call("GET", "user/info/", params={"fields": "open_id"}))

    return app


def tiktok_login(app: Flask, mock: requests_mock.Mocker) -> FlaskClient:
    client = app.test_client()
    location = client.get("/tiktok/login").headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    client.get(f"/tiktok/callback?code=c&state={state}")
    return client


def flask_login_app() -> tuple[Flask, FlaskClient]:
    from flask_login import (
        LoginManager,
        UserMixin,
        current_user,
        login_required,
        login_user,
    )

    class User(UserMixin):
        def __init__(self, user_id: str) -> None:
            self.id = user_id
            self.display_name = "A creator"

    users = {"1": User("1")}
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "bench-secret"
    manager = LoginManager(app)
    manager.user_loader(users.get)

    @app.get("/login")
    def login() -> str:
        login_user(users["1"])
        return "ok"

    @app.get("/protected")
    @login_required
    def protected() -> str:
        return f"Hello {current_user.display_name}"

    @app.get("/bare")
    def bare() -> str:
        return f"Hello {users[session['_user_id']].display_name}"

    client = app.test_client()
    client.get("/login")
    return app, client


def per_request(client: FlaskClient, path: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body(1))
        mock.get(
            USER_INFO_URL, json={"data": {"user": PROFILE}, "error": {"code": "ok"}}
        )
        app = tiktok_app()
        tt_client = tiktok_login(app, mock)
        calls_per_login = mock.call_count
        cookie = tt_client.get_cookie("session")
        assert cookie is not None
        cookie_size = len(cookie.value)

        mock.reset_mock()
        per_request(tt_client, "/protected", 100)
        calls_per_protected = mock.call_count / 100

        # A refresh: log in with an already expired access token, call the API.
        mock.post(TOKEN_URL, json=token_body(2, expires_in=1))
        refresh_client = tiktok_login(app, mock)
        mock.post(TOKEN_URL, json=token_body(3))
        mock.reset_mock()
        refresh_client.get("/api")
        token_calls = sum(1 for r in mock.request_history if r.url == TOKEN_URL)

        _, fl_client = flask_login_app()
        runs: dict[str, list[float]] = {k: [] for k in ("tt_p", "tt_b", "fl_p", "fl_b")}
        order: list[tuple[str, Callable[[], float]]] = [
            ("tt_p", lambda: per_request(tt_client, "/protected", args.requests)),
            ("tt_b", lambda: per_request(tt_client, "/bare", args.requests)),
            ("fl_p", lambda: per_request(fl_client, "/protected", args.requests)),
            ("fl_b", lambda: per_request(fl_client, "/bare", args.requests)),
        ]
        for _name, run in order:  # warm up
            run()
        for i in range(args.rounds):
            shift = i % len(order)
            for name, run in order[shift:] + order[:shift]:
                runs[name].append(run())

    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio_tt = statistics.median(
        p / b for p, b in zip(runs["tt_p"], runs["tt_b"], strict=True)
    )
    ratio_fl = statistics.median(
        p / b for p, b in zip(runs["fl_p"], runs["fl_b"], strict=True)
    )
    print(f"rounds={args.rounds} requests/round={args.requests}")
    print(f"flask-tiktok protected  {med['tt_p'] * 1e6:8.1f} us/request")
    print(f"flask-tiktok bare       {med['tt_b'] * 1e6:8.1f} us/request")
    print(f"flask-login  protected  {med['fl_p'] * 1e6:8.1f} us/request")
    print(f"flask-login  bare       {med['fl_b'] * 1e6:8.1f} us/request")
    print(
        f"ratio protected/bare: flask-tiktok {ratio_tt:.3f}, flask-login {ratio_fl:.3f}"
    )
    print(
        f"calls to TikTok: per login {calls_per_login}, per protected request "
        f"{calls_per_protected:g}, per refresh (token endpoint) {token_calls}"
    )
    print(f"session cookie after a basic+profile+stats login: {cookie_size} bytes")


if __name__ == "__main__":
    main()
