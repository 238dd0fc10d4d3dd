"""Row 5: a job over stored accounts whose tokens expired, calling TikTok as
each (``tiktok.api_for``) against a hand-written Authlib loop; TikTok is the
sandbox on loopback, the database PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from sqlalchemy import Column, MetaData, String, Table, Text, select, update

from flask_tiktok import TikTok
from flask_tiktok.sandbox import Sandbox, SandboxUser
from flask_tiktok.storage import StoredUser
from flask_tiktok.storage.sqla import SQLAlchemyStorage
from flask_tiktok.tokens import OAuth2Tokens

from .common import SECRET_KEY, engine, interleaved, summary

FIELDS = {"fields": "open_id,display_name"}


class Jobs:
    """Both loops, on accounts stored afresh (expired) before each run."""

    def __init__(
        self, database: str, sandbox: Sandbox, url: str, accounts: int
    ) -> None:
        self.sandbox = sandbox
        self.ids = [f"job-{n:04d}" for n in range(accounts)]
        sandbox.users.extend(SandboxUser(open_id=o) for o in self.ids)
        self.config = sandbox.config_for(url)
        self.app = Flask("jobs_bench")
        self.app.config.update(SECRET_KEY=SECRET_KEY, **self.config)
        self.storage = SQLAlchemyStorage(engine(database))
        self.tiktok = TikTok(self.app, storage=self.storage)
        with self.app.app_context():
            self.storage.create_all()
        self.engine = engine(database)
        self.table = Table(
            "bench_tokens",
            MetaData(),
            Column("open_id", String(64), primary_key=True),
            Column("token", Text),
        )
        self.table.drop(self.engine, checkfirst=True)
        self.table.create(self.engine)
        self.oauth = OAuth2Session(
            self.config["TIKTOK_CLIENT_KEY"],
            self.config["TIKTOK_CLIENT_SECRET"],
            token_endpoint_auth_method="client_secret_post",
        )

    def _expired(self) -> list[dict[str, Any]]:
        key = self.config["TIKTOK_CLIENT_KEY"]
        bodies = [self.sandbox.authorize(key, o, "user.info.basic") for o in self.ids]
        for body in bodies:
            self.sandbox.expire_access_token(body["access_token"])
        return bodies

    def flask_tiktok(self) -> float:
        past = time.time() - 90000
        with self.app.app_context():
            for open_id, body in zip(self.ids, self._expired(), strict=True):
                user = StoredUser(open_id, ["user.info.basic"], {"open_id": open_id})
                self.storage.set(user, OAuth2Tokens(body, past))
            start = time.perf_counter()
            for open_id in self.ids:
                data = self.tiktok.api_for(open_id).call(
                    "GET", "user/info/", params=FIELDS
                )
                assert data["user"]["open_id"] == open_id
            return (time.perf_counter() - start) / len(self.ids)

    def hand_written(self) -> float:
        past = time.time() - 90000
        with self.engine.begin() as connection:
            connection.execute(self.table.delete())
            connection.execute(
                self.table.insert(),
                [
                    {"open_id": o, "token": json.dumps(b | {"expires_at": past})}
                    for o, b in zip(self.ids, self._expired(), strict=True)
                ],
            )
        t = self.table
        token_url = self.config["TIKTOK_TOKEN_URL"]
        info_url = self.config["TIKTOK_API_BASE_URL"] + "user/info/"
        key = self.config["TIKTOK_CLIENT_KEY"]
        start = time.perf_counter()
        for open_id in self.ids:
            with self.engine.begin() as connection:
                stored = connection.execute(
                    select(t.c.token).where(t.c.open_id == open_id).with_for_update()
                ).scalar_one()
                token = json.loads(stored)
                if token["expires_at"] < time.time() + 60:
                    token = self.oauth.refresh_token(
                        token_url, refresh_token=token["refresh_token"], client_key=key
                    )
                    connection.execute(
                        update(t)
                        .where(t.c.open_id == open_id)
                        .values(token=json.dumps(token))
                    )
            self.oauth.token = token
            answer = self.oauth.get(info_url, params=FIELDS)
            assert answer.json()["data"]["user"]["open_id"] == open_id
        return (time.perf_counter() - start) / len(self.ids)


def jobs_row(database: str, rounds: int, accounts: int) -> dict[str, Any]:
    sandbox = Sandbox()
    with sandbox.serve() as server:
        jobs = Jobs(database, sandbox, server.url, accounts)
        figures = interleaved(
            {
                "flask-tiktok": jobs.flask_tiktok,
                "hand-written Authlib": jobs.hand_written,
            },
            rounds,
        )
    return summary(figures, "hand-written Authlib", "s/account")
