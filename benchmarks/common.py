"""What every row shares: the profile, the template, timing in interleaved
rounds, and the TikTok stand-ins."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests_mock
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import DictLoader
from sqlalchemy import Engine, create_engine

TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"
USER_INFO_URL = "https://open.tiktokapis.com/v2/user/info/"
AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
CLIENT_KEY = "bench-client-key"
CLIENT_SECRET = "bench-client-secret"
AVATAR = "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + "a1b2c3d4" * 20
OPEN_ID = "-000Tu4AArq1kYnYzNsbIGBIDpsFB5PIzS9M"
PROFILE: dict[str, Any] = {
    "open_id": OPEN_ID,
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

#: 16 profile reads, the page every protected request renders.
_READS = [
    "display_name", "avatar_url", "avatar_url_100", "avatar_large_url",
    "bio_description", "profile_deep_link", "is_verified", "username",
    "follower_count", "following_count", "likes_count", "video_count",
    "union_id", "open_id", "display_name", "username",
]  # fmt: skip


#: What :func:`close_all` runs: each row's engines are closed after it.
_cleanups: list[Callable[[], None]] = []


def engine(url: str, **options: Any) -> Engine:
    """A new engine, disposed of by :func:`close_all`."""
    made = create_engine(url, **options)
    _cleanups.append(made.dispose)
    return made


def on_close(cleanup: Callable[[], None]) -> None:
    _cleanups.append(cleanup)


def close_all() -> None:
    while _cleanups:
        _cleanups.pop()()


def profile_template(name: str) -> str:
    """The profile page, reading ``name`` (the user variable) 16 times."""
    return "".join(f"<p>{{{{ {name}.{field} }}}}</p>" for field in _READS)


def add_templates(app: Flask, **templates: str) -> None:
    """Named templates (compiled once, as files would be)."""
    app.jinja_loader = DictLoader(templates)


def token_body(n: int = 1, expires_in: int = 86400) -> dict[str, Any]:
    return {
        "access_token": f"act.{n}" + "x" * 66,
        "expires_in": expires_in,
        "open_id": OPEN_ID,
        "refresh_expires_in": 31536000,
        "refresh_token": f"rft.{n}" + "y" * 66,
        "scope": ",".join(SCOPES),
        "token_type": "Bearer",
    }


@contextmanager
def mocked_tiktok() -> Iterator[requests_mock.Mocker]:
    """TikTok's token and user-info endpoints, in process (requests-mock)."""
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(
            USER_INFO_URL, json={"data": {"user": PROFILE}, "error": {"code": "ok"}}
        )
        yield mock


def follow_login(client: FlaskClient, login_path: str) -> None:
    """GET ``login_path``, then the callback the provider would redirect to."""
    location = client.get(login_path).headers["Location"]
    query = parse_qs(urlsplit(location).query)
    redirect = urlsplit(query["redirect_uri"][0]).path
    answer = client.get(f"{redirect}?code=c&state={query['state'][0]}")
    assert answer.status_code == 302, (login_path, answer.status_code)


def per_call(run: Callable[[], object], count: int) -> float:
    """Seconds per ``run()``."""
    start = time.perf_counter()
    for _ in range(count):
        run()
    return (time.perf_counter() - start) / count


def get_ok(client: FlaskClient, path: str) -> Callable[[], None]:
    def run() -> None:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)

    return run


def interleaved(
    variants: dict[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Each variant once per round, the order rotated round by round (after
    one warm-up run each); every round's figures."""
    for run in variants.values():
        run()
    order = list(variants.items())
    figures: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(rounds):
        shift = i % len(order)
        for name, run in order[shift:] + order[:shift]:
            figures[name].append(run())
    return figures


def summary(
    figures: dict[str, list[float]], reference: str, unit: str, better: str = "lower"
) -> dict[str, Any]:
    """Medians, and each variant's median over the rounds of its ratio to
    ``reference`` in the same round (value / reference)."""
    ref = figures[reference]
    out: dict[str, Any] = {
        "unit": unit,
        "better": better,
        "reference": reference,
        "variants": {},
    }
    for name, values in figures.items():
        out["variants"][name] = {
            "median": statistics.median(values),
            "ratio": statistics.median(v / r for v, r in zip(values, ref, strict=True)),
            "rounds": values,
        }
    return out


def free_port() -> int:
    """A loopback port nobody listens on (for a server the benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
