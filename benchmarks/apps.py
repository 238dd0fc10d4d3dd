"""The apps measured: flask-tiktok's, the peer's (Flask-Login + Flask-Dance)
and the floor, each rendering the same profile page."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from flask import Flask, render_template, session
from flask.testing import FlaskClient
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String

from flask_tiktok import TikTok, tiktok_login_required
from flask_tiktok.storage import BaseStorage
from flask_tiktok.storage.sqla import SQLAlchemyStorage

from .common import (
    AUTHORIZE_URL,
    CLIENT_KEY,
    CLIENT_SECRET,
    PROFILE,
    SCOPES,
    SECRET_KEY,
    TOKEN_URL,
    add_templates,
    engine,
    follow_login,
    mocked_tiktok,
    on_close,
    profile_template,
    token_body,
)

# Flask-Dance (requests-oauthlib) refuses http:// callbacks and a scope
# written with commas, as TikTok writes it, unless told.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


def tiktok_app(database: str | None, user_cache_seconds: float = 0.0) -> Flask:
    """flask-tiktok: cookie storage (``database`` None) or SQLAlchemyStorage
    (with ``user_cache_seconds``, if that flask-tiktok has it)."""
    app = Flask("flask_tiktok_bench")
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        TIKTOK_CLIENT_KEY=CLIENT_KEY,
        TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
        TIKTOK_SCOPES=SCOPES,
    )
    storage: BaseStorage | None = None
    if database is not None:
        bound = app.extensions["bench_engine"] = engine(database)
        options = (
            {"user_cache_seconds": user_cache_seconds} if user_cache_seconds else {}
        )
        storage = SQLAlchemyStorage(bound, **options)
    TikTok(app, storage=storage)
    if isinstance(storage, SQLAlchemyStorage):
        with app.app_context():
            storage.create_all()
    add_templates(app, **{"me.html": profile_template("current_tiktok_user")})

    @app.get("/me")
    @tiktok_login_required
    def me() -> str:
        return render_template("me.html")

    return app


def tiktok_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    with mocked_tiktok():
        follow_login(client, "/tiktok/login")
    return client


def floor_app() -> tuple[Flask, FlaskClient]:
    """The floor: read the session, render the page from a plain object."""
    app = Flask("floor_bench")
    app.config["SECRET_KEY"] = SECRET_KEY
    add_templates(app, **{"me.html": profile_template("user")})

    @app.get("/me")
    def me() -> str:
        return render_template("me.html", user=SimpleNamespace(**session["profile"]))

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["profile"] = PROFILE
    return app, client


def peer_app(database: str | None) -> tuple[Flask, FlaskClient]:
    """Flask-Login + Flask-Dance: the user from memory (``database`` None) or
    from Flask-SQLAlchemy, the token in Flask-Dance's storage."""
    from flask_dance.consumer import OAuth2ConsumerBlueprint, oauth_authorized
    from flask_dance.consumer.storage.sqla import OAuthConsumerMixin
    from flask_dance.consumer.storage.sqla import SQLAlchemyStorage as DanceStorage
    from flask_login import (
        LoginManager,
        UserMixin,
        current_user,
        login_required,
        login_user,
    )
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("peer_bench")
    app.config.update(SECRET_KEY=SECRET_KEY, SQLALCHEMY_DATABASE_URI=database)
    blueprint = OAuth2ConsumerBlueprint(
        "tiktok",
        __name__,
        client_id=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        base_url="https://open.tiktokapis.com/v2/",
        token_url=TOKEN_URL,
        authorization_url=AUTHORIZE_URL,
        scope=",".join(SCOPES),
        token_url_params={"include_client_id": True},
    )
    manager = LoginManager(app)
    add_templates(app, **{"me.html": profile_template("current_user")})
    columns = {
        name: Column(
            Boolean
            if isinstance(v, bool)
            else Integer
            if isinstance(v, int)
            else String
        )
        for name, v in PROFILE.items()
    }
    if database is None:
        user = type("User", (UserMixin,), {"id": 1, **PROFILE})()
        manager.user_loader(lambda user_id: user if user_id == "1" else None)
    else:
        db = SQLAlchemy()
        db.init_app(app)

        def dispose() -> None:
            with app.app_context():
                db.engine.dispose()

        on_close(dispose)
        users = type(
            "User",
            (UserMixin, db.Model),
            {"__tablename__": "peer_users", "id": Column(Integer, primary_key=True)}
            | columns,
        )

        class OAuth(OAuthConsumerMixin, db.Model):  # type: ignore[name-defined,misc]
            __tablename__ = "peer_oauth"
            user_id = Column(Integer, ForeignKey("peer_users.id"))

        def token_row(token: dict[str, Any], user_id: int) -> Any:
            # created_at given: the mixin's default (utcnow) is deprecated.
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            return OAuth(
                provider="tiktok", token=token, user_id=user_id, created_at=now
            )

        blueprint.storage = DanceStorage(OAuth, db.session, user=current_user)
        manager.user_loader(lambda user_id: db.session.get(users, int(user_id)))

        @oauth_authorized.connect_via(blueprint)
        def logged_in(bp: Any, token: dict[str, Any]) -> bool:
            profile = bp.session.get(
                "user/info/", params={"fields": ",".join(PROFILE)}
            ).json()["data"]["user"]
            found = (
                db.session.query(users).filter_by(open_id=profile["open_id"]).first()
            )
            if found is None:
                found = users(**profile)
                db.session.add(found)
            db.session.flush()
            db.session.merge(token_row(token, found.id))
            db.session.commit()
            login_user(found)
            return False

        with app.app_context():
            db.drop_all()
            db.create_all()
            db.session.add(users(id=1, **PROFILE))
            db.session.flush()
            db.session.add(token_row(token_body(), 1))
            db.session.commit()
    app.register_blueprint(blueprint, url_prefix="/login")

    @app.get("/me")
    @login_required
    def me() -> str:
        return render_template("me.html")

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = "1"
        sess["_fresh"] = True
        if database is None:
            sess["tiktok_oauth_token"] = token_body()
    return app, client
