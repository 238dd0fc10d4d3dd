"""Row 7: a login round trip (the login route, TikTok's redirect back, the
token exchange, the profile, the stored login) with PostgreSQL storage;
row 8: the session cookie a full-field login leaves. TikTok is
requests-mock, in process: the figures are CPU and the database."""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, abort, redirect, request, session, url_for
from flask.testing import FlaskClient
from sqlalchemy import JSON, Column, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import insert
from werkzeug.wrappers import Response

from .apps import peer_app, tiktok_app
from .common import (
    AUTHORIZE_URL,
    CLIENT_KEY,
    CLIENT_SECRET,
    PROFILE,
    SCOPES,
    SECRET_KEY,
    TOKEN_URL,
    USER_INFO_URL,
    engine,
    follow_login,
    interleaved,
    mocked_tiktok,
    per_call,
    summary,
)


def authlib_app(database: str | None) -> Flask:
    """A hand-written Authlib login: state in the session, the token
    exchange, the profile, then the login stored (a row in PostgreSQL, or
    the token and profile in the session when ``database`` is None)."""
    app = Flask("authlib_bench")
    app.config["SECRET_KEY"] = SECRET_KEY
    bound = None if database is None else engine(database)
    users = Table(
        "authlib_users",
        MetaData(),
        Column("open_id", String(255), primary_key=True),
        Column("profile", JSON),
        Column("token", Text),
    )
    if bound is not None:
        users.create(bound, checkfirst=True)

    def oauth(**kwargs: Any) -> OAuth2Session:
        return OAuth2Session(
            CLIENT_KEY,
            CLIENT_SECRET,
            scope=",".join(SCOPES),
            redirect_uri=url_for("callback", _external=True),
            token_endpoint_auth_method="client_secret_post",
            **kwargs,
        )

    @app.get("/login")
    def login() -> Response:
        uri, state = oauth().create_authorization_url(
            AUTHORIZE_URL, client_key=CLIENT_KEY
        )
        session["state"] = state
        return redirect(uri)

    @app.get("/callback")
    def callback() -> Response:
        state = session.pop("state", None)
        if not state or request.args.get("state") != state:
            abort(400)
        client = oauth(state=state)
        token = client.fetch_token(
            TOKEN_URL, code=request.args["code"], client_key=CLIENT_KEY
        )
        answer = client.get(USER_INFO_URL, params={"fields": ",".join(PROFILE)})
        profile = answer.json()["data"]["user"]
        if bound is None:
            session["token"] = dict(token)
            session["profile"] = profile
        else:
            row = {
                "open_id": profile["open_id"],
                "profile": profile,
                "token": json.dumps(token),
            }
            with bound.begin() as connection:
                connection.execute(
                    insert(users)
                    .values(row)
                    .on_conflict_do_update(index_elements=["open_id"], set_=row)
                )
            session["uid"] = profile["open_id"]
        return redirect("/")

    return app


def _login(app: Flask, path: str) -> FlaskClient:
    client = app.test_client()
    follow_login(client, path)
    return client


def login_row(database: str, rounds: int, logins: int) -> dict[str, Any]:
    apps = {
        "flask-tiktok": (tiktok_app(database), "/tiktok/login"),
        "Flask-Dance": (peer_app(database)[0], "/login/tiktok"),
        "hand-written Authlib": (authlib_app(database), "/login"),
    }
    with mocked_tiktok():
        figures = interleaved(
            {
                name: (lambda a=app, p=path: per_call(lambda: _login(a, p), logins))
                for name, (app, path) in apps.items()
            },
            rounds,
        )
    return summary(figures, "hand-written Authlib", "s/login")


def cookie_row() -> dict[str, Any]:
    """Bytes of the session cookie after a login that fetched every field."""
    apps = {
        "flask-tiktok": (tiktok_app(None), "/tiktok/login"),
        "Flask-Dance": (peer_app(None)[0], "/login/tiktok"),
        "hand-written Authlib": (authlib_app(None), "/login"),
    }
    sizes: dict[str, int] = {}
    with mocked_tiktok():
        for name, (app, path) in apps.items():
            cookie = _login(app, path).get_cookie("session")
            assert cookie is not None
            sizes[name] = len(cookie.value)
    return {"unit": "bytes", "variants": {k: {"median": v} for k, v in sizes.items()}}
