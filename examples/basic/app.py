"""flask-tiktok's basic example: log in with TikTok, see your profile and videos.

Run it from the repository root::

    pip install -e ".[test]"
    flask --app examples/basic/app.py run

With ``TIKTOK_CLIENT_KEY`` and ``TIKTOK_CLIENT_SECRET`` in the environment it
talks to TikTok (set ``TIKTOK_REDIRECT_URI`` to the https URI registered for
your app). Without them it starts flask-tiktok's sandbox, a local stand-in for
TikTok, on a free loopback port and says so on every page; only on your own
machine (``flask run`` on 127.0.0.1, or ``--debug``): served anywhere else
without credentials it stops and says which two settings it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, render_template

from flask_tiktok import TikTok, current_tiktok_user, tiktok_login_required
from flask_tiktok.sandbox.dev import configure_dev_app

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
    configure_dev_app(app, name="flask-tiktok basic example", scopes=SANDBOX_SCOPES)
    tiktok.init_app(app)
    app.register_blueprint(site)
    return app


def __getattr__(name: str) -> Flask:
    # ``app`` is made on first use, so that `flask --app examples/basic/app.py`
    # and WSGI servers find it while importing create_app starts nothing.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
