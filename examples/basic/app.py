"""flask-tiktok's basic example: log in with TikTok, see your profile and videos.

Run it from the repository root::

    pip install -e ".[test]"
    flask --app examples/basic/app.py run

With ``TIKTOK_CLIENT_KEY`` and ``TIKTOK_CLIENT_SECRET`` in the environment it
talks to TikTok (set ``TIKTOK_REDIRECT_URI`` to the https URI registered for
your app). Without them it starts flask-tiktok's sandbox, a local stand-in for
TikTok, on a free loopback port and says so on every page.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, render_template

from flask_tiktok import TikTok, current_tiktok_user, tiktok_login_required
from flask_tiktok.sandbox import Sandbox, SandboxApp

tiktok = TikTok()
site = Blueprint("site", __name__)

#: How the profile page labels the ``user/info/`` fields it shows.
FIELD_LABELS = {
    "bio_description": "Bio",
    "is_verified": "Verified",
    "profile_deep_link": "Profile",
    "follower_count": "Followers",
    "following_count": "Following",
    "likes_count": "Likes",
    "video_count": "Videos",
}

#: What the sandbox grants at login; a real app may only ask for scopes
#: TikTok approved for it, and ``user.info.basic`` needs no review.
SANDBOX_SCOPES = ["user.info.basic", "user.info.profile", "user.info.stats"]


@site.get("/")
def home() -> str:
    """The front page: a login link, or a greeting."""
    return render_template("home.html")


@site.get("/profile")
@tiktok_login_required
def profile() -> str:
    """The logged-in user's TikTok profile: every field the granted scopes allow."""
    fields = [
        (name, label, current_tiktok_user.profile[name])
        for name, label in FIELD_LABELS.items()
        if name in current_tiktok_user.profile
    ]
    return render_template("profile.html", fields=fields)


@site.get("/videos")
@tiktok_login_required(scopes=["video.list"])
def videos() -> str:
    """The user's latest videos; asks TikTok for ``video.list`` the first time."""
    return render_template("videos.html", videos=tiktok.videos(limit=24))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Make the example app.

    ``config`` wins over the environment. With no TikTok client key in either,
    the app is wired to a sandbox served from a background thread (kept in
    ``app.extensions["tiktok_sandbox"]``, its server in
    ``app.extensions["tiktok_sandbox_server"]``).
    """
    app = Flask(__name__)
    app.config.update(config or {})
    for name in (
        "TIKTOK_CLIENT_KEY",
        "TIKTOK_CLIENT_SECRET",
        "TIKTOK_REDIRECT_URI",
        "TIKTOK_SCOPES",
    ):
        if name not in app.config and os.environ.get(name):
            app.config[name] = os.environ[name]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or _from_reloader(
            "FLASK_TIKTOK_EXAMPLE_SECRET_KEY", lambda: _dev_secret_key(app)
        )
    app.config.setdefault("SANDBOX_URL", None)
    if not app.config.get("TIKTOK_CLIENT_KEY"):
        _use_sandbox(app)
    tiktok.init_app(app)
    app.register_blueprint(site)
    return app


def _from_reloader(name: str, make: Callable[[], str]) -> str:
    """``make()``, or what the reloader's process made (``flask run --debug``).

    Werkzeug's reloader loads the app in a watching process, then again in each
    child it restarts on a code change; the children reuse the watcher's
    sandbox and key (through the environment), so a login survives a reload.
    """
    value = os.environ.get(name)
    if not (value and os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        value = os.environ[name] = make()
    return value


def _dev_secret_key(app: Flask) -> str:
    app.logger.warning(
        "SECRET_KEY is not set: using a random key, so logins end when the"
        " server stops. Set SECRET_KEY in the environment to keep them."
    )
    return secrets.token_hex(32)


def _use_sandbox(app: Flask) -> None:
    """Point ``app`` at a sandbox served from a thread on a free loopback port."""
    prefix = app.config.get("TIKTOK_URL_PREFIX", "/tiktok")
    sandbox = Sandbox(
        apps=[
            SandboxApp(
                name="flask-tiktok basic example",
                # A loopback URI: the sandbox accepts it on any port and host name.
                redirect_uris=[f"http://127.0.0.1{prefix}/callback"],
            )
        ]
    )

    def start() -> str:
        server = sandbox.serve()
        app.extensions["tiktok_sandbox"] = sandbox
        app.extensions["tiktok_sandbox_server"] = server
        app.logger.warning(
            "No TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET: logins go to the"
            " flask-tiktok sandbox at %s, a local stand-in for TikTok.",
            server.url,
        )
        return server.url

    url = _from_reloader("FLASK_TIKTOK_EXAMPLE_SANDBOX_URL", start)
    app.config.update(sandbox.config_for(url))
    app.config["SANDBOX_URL"] = url
    app.config.setdefault("TIKTOK_SCOPES", SANDBOX_SCOPES)


def __getattr__(name: str) -> Flask:
    # ``app`` is made on first use, so that `flask --app examples/basic/app.py`
    # and WSGI servers find it while importing create_app starts nothing.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
