"""flask-tiktok's creator example: your own users connect their TikTok accounts.

A small creator tool with users of its own (Flask-Login, Flask-SQLAlchemy on a
SQLite file, a sign-up form): each signed-in user connects one or more TikTok
accounts, sees them, lists each one's videos, posts a video to one (a "Post to
TikTok" page that follows TikTok's required posting UX, then the post's status
as TikTok processes it) and disconnects them. TikTok is not the login here; it
is the accounts the app acts for.

Run it from the repository root::

    pip install -e ".[test]"
    flask --app examples/creator/app.py run

With no ``TIKTOK_CLIENT_KEY`` / ``TIKTOK_CLIENT_SECRET`` in the environment it
runs on flask-tiktok's sandbox (two demo TikTok accounts to pick from), on
your own machine only (``flask run`` on 127.0.0.1, or ``--debug``). A cron
job refreshes every account's tokens before they expire with::

    flask --app examples/creator/app.py tiktok refresh --all --expiring-within 3600
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from flask_tiktok import (
    CreatorInfo,
    TikTok,
    TikTokAccount,
    TikTokAPIError,
    TikTokError,
)
from flask_tiktok.sandbox.dev import configure_dev_app
from flask_tiktok.sqla import TikTokAccountMixin
from flask_tiktok.storage import SQLAlchemyStorage
from flask_tiktok.upload import CONTENT_TYPES

db = SQLAlchemy()
login_manager = LoginManager()
csrf = CSRFProtect()
site = Blueprint("site", __name__)

#: The video fields the videos page shows.
VIDEO_FIELDS = ["id", "title", "cover_image_url", "share_url"]
#: TikTok's privacy levels as its own app names them.
PRIVACY_LABELS = {
    "PUBLIC_TO_EVERYONE": "Everyone",
    "MUTUAL_FOLLOW_FRIENDS": "Friends",
    "FOLLOWER_OF_CREATOR": "Followers",
    "SELF_ONLY": "Only me",
}
#: Why TikTok says a creator cannot post now.
CANNOT_POST = {
    "spam_risk_too_many_posts": "This account has reached today's posting limit.",
    "spam_risk_user_banned_from_posting": "TikTok does not let this account post.",
    "reached_active_user_cap": "Too many people are posting through this app today.",
}
#: What a post's status means to its creator.
STATUS_TEXT = {
    "PROCESSING_UPLOAD": "TikTok is processing your video. This can take a few"
    " minutes.",
    "PROCESSING_DOWNLOAD": "TikTok is fetching your video. This can take a few"
    " minutes.",
    "PUBLISH_COMPLETE": "Posted to TikTok.",
    "SEND_TO_USER_INBOX": "Sent to your TikTok inbox: finish the post in the"
    " TikTok app.",
    "FAILED": "TikTok could not post this video",
}


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A user of this site (not a TikTok account)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class TikTokAccountRow(TikTokAccountMixin, db.Model):  # type: ignore[name-defined,misc]
    """The connected TikTok accounts, on the app's own metadata (so
    ``db.create_all()`` makes this table and flask-tiktok's webhook record)."""

    __tablename__ = "tiktok_accounts"


tiktok = TikTok(storage=SQLAlchemyStorage(db, model=TikTokAccountRow))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@tiktok.owner_loader
def current_owner() -> str | None:
    """The signed-in user owns the TikTok accounts they connect."""
    return current_user.get_id() if current_user.is_authenticated else None


@site.get("/")
def home() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("site.accounts"))
    return render_template("home.html")


@site.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response:
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        if "@" not in email or len(password) < 8:
            flash("An email address and a password of 8 characters or more.", "error")
        elif db.session.scalar(select(User).where(User.email == email)):
            flash("That email address already has an account: sign in.", "error")
        else:
            user = User(email=email, password_hash=generate_password_hash(password))
            db.session.add(user)
            db.session.commit()
            login_user(user)
            return redirect(url_for("site.accounts"))
    return render_template("auth.html", action="Sign up")


@site.route("/signin", methods=["GET", "POST"])
def signin() -> str | Response:
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        password = request.form.get("password", "")
        if user and check_password_hash(user.password_hash, password):
            login_user(user)
            return redirect(url_for("site.accounts"))
        flash("Wrong email address or password.", "error")
    return render_template("auth.html", action="Sign in")


@site.post("/signout")
def signout() -> Response:
    logout_user()  # the TikTok accounts stay connected, for the jobs
    return redirect(url_for("site.home"))


@site.get("/accounts")
@login_required
def accounts() -> str:
    """The signed-in user's TikTok accounts (one query for them all)."""
    return render_template("accounts.html", accounts=tiktok.accounts())


@site.get("/accounts/<open_id>/videos")
@login_required
def videos(open_id: str) -> str:
    """One of the user's accounts and its latest videos; never another's."""
    account = tiktok.account(open_id)
    if account is None:
        abort(404)
    found = account.api.with_token(
        lambda token: list(tiktok.client.iter_videos(token, VIDEO_FIELDS, limit=12))
    )
    return render_template("videos.html", account=account, videos=found)


def owned_account(open_id: str) -> TikTokAccount:
    """One of the signed-in user's accounts (404 for anyone else's)."""
    account = tiktok.account(open_id)
    if account is None:
        abort(404)
    return account


def creator_or_stop(account: TikTokAccount) -> CreatorInfo | str:
    """TikTok's creator info, fetched now, or why the creator cannot post."""
    try:
        return account.api.creator_info()
    except TikTokAPIError as exc:
        if exc.retryable:
            raise  # the extension's error page: try again later
        return CANNOT_POST.get(
            exc.code, f"TikTok does not allow a post now ({exc.code})."
        )


@site.get("/accounts/<open_id>/post")
@login_required
def post_form(open_id: str) -> str:
    """The "Post to TikTok" page, as TikTok's audit wants it."""
    account = owned_account(open_id)
    info = creator_or_stop(account)
    if isinstance(info, str):
        return render_template("post.html", account=account, stop=info)
    return render_template(
        "post.html", account=account, info=info, labels=PRIVACY_LABELS, form={}
    )


def _post_problem(info: CreatorInfo) -> str | None:
    """What is wrong with the submitted form (the page checks it first)."""
    form = request.form
    video = request.files.get("video")
    if video is None or not video.filename:
        return "Choose a video to post."
    if form.get("privacy") not in info.privacy_level_options:
        return "Choose who can view this video."
    if form.get("commercial"):
        if not (form.get("your_brand") or form.get("branded")):
            return "Say whether the video promotes your brand or a third party's."
        if form.get("branded") and form.get("privacy") == "SELF_ONLY":
            return "Branded content cannot be private."
    return None


@site.post("/accounts/<open_id>/post")
@login_required
def post_submit(open_id: str) -> str | Response | tuple[str, int]:
    """Send the video to TikTok, then show its status."""
    account = owned_account(open_id)
    info = creator_or_stop(account)
    if isinstance(info, str):
        return render_template("post.html", account=account, stop=info), 403
    problem = _post_problem(info)
    form = request.form
    video = request.files["video"] if problem is None else None
    if video is not None:
        commercial = bool(form.get("commercial"))
        try:
            publish_id = account.api.publish_video(
                video.stream,
                privacy_level=form["privacy"],
                title=form.get("title", ""),
                disable_comment=info.comment_disabled or not form.get("comment"),
                disable_duet=info.duet_disabled or not form.get("duet"),
                disable_stitch=info.stitch_disabled or not form.get("stitch"),
                brand_organic=commercial and bool(form.get("your_brand")),
                brand_content=commercial and bool(form.get("branded")),
                content_type=CONTENT_TYPES.get(
                    os.path.splitext(video.filename or "")[1].lower()
                ),
            )
        except ValueError as exc:
            problem = str(exc)
        except TikTokError as exc:  # refused, upload failed, or unreachable
            problem = f"TikTok did not take the post: {exc}"
        else:
            return redirect(
                url_for("site.post_status", open_id=open_id, publish_id=publish_id)
            )
    return (
        render_template(
            "post.html",
            account=account,
            info=info,
            labels=PRIVACY_LABELS,
            form=form,
            problem=problem,
        ),
        400,
    )


@site.get("/accounts/<open_id>/posts/<publish_id>")
@login_required
def post_status(open_id: str, publish_id: str) -> str:
    """The post's status, updated by the page as TikTok processes it."""
    return render_template(
        "post_status.html", account=owned_account(open_id), publish_id=publish_id
    )


@site.get("/accounts/<open_id>/posts/<publish_id>/status")
@login_required
def post_status_json(open_id: str, publish_id: str) -> tuple[dict[str, Any], int]:
    """``status/fetch/`` for the page (it asks every 5 s: TikTok allows 30 a
    minute per token); a refusal says whether asking again may help."""
    try:
        status = owned_account(open_id).api.post_status(publish_id)
    except TikTokAPIError as exc:
        answer = {
            "status": "UNKNOWN",
            "done": False,
            "retryable": exc.retryable,
            "text": f"TikTok did not say how the post is doing ({exc.code}).",
        }
        return answer, 502 if exc.retryable else 400
    text = STATUS_TEXT.get(status.status, status.status)
    if status.failed:
        text = f"{text}: {status.fail_reason or 'no reason given'}."
    return {
        "status": status.status,
        "done": status.done,
        "failed": status.failed,
        "fail_reason": status.fail_reason,
        "post_ids": status.post_ids,
        "text": text,
    }, 200


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Make the creator example (a SQLite file in the instance folder unless
    ``SQLALCHEMY_DATABASE_URI`` says otherwise)."""
    app = Flask(__name__)
    app.config.update(config or {})
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        os.environ.get("DATABASE_URL")
        or f"sqlite:///{os.path.join(app.instance_path, 'creator.db')}",
    )
    configure_dev_app(
        app,
        name="flask-tiktok creator example",
        scopes=["user.info.basic", "user.info.profile", "video.list", "video.publish"],
    )
    # Videos are posted through this app: up to 256 MB per request, spooled to
    # a temporary file by Werkzeug and streamed to TikTok from there.
    app.config.setdefault("MAX_CONTENT_LENGTH", 256 * 1024 * 1024)
    # Every form carries a CSRF token (Flask-WTF), and the cookies stay home
    # on cross-site requests: nothing is posted to TikTok but by the user.
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    login_manager.login_view = "site.signin"
    tiktok.init_app(app)
    app.register_blueprint(site)
    with app.app_context():
        db.create_all()
    return app


def __getattr__(name: str) -> Flask:
    # ``app`` is made on first use: importing create_app starts nothing.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
