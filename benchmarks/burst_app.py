"""The app the refresh-burst row serves under gunicorn: ``GET /me`` calls
TikTok as the logged-in user (``tiktok.api``), on SQLAlchemyStorage.

Configured from the environment: ``BENCH_DB_URL`` and ``BENCH_TIKTOK``
(the sandbox's ``TIKTOK_*`` settings, JSON).
"""

from __future__ import annotations

import json
import os

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import create_engine

from flask_tiktok import TikTok
from flask_tiktok.storage.sqla import SQLAlchemyStorage

from .common import SECRET_KEY


def create_app() -> Flask:
    app = Flask("burst_bench")
    app.config.update(SECRET_KEY=SECRET_KEY, **json.loads(os.environ["BENCH_TIKTOK"]))
    # No pool kept idle across the fork: each worker connects on first use.
    engine = create_engine(os.environ["BENCH_DB_URL"], pool_size=1, max_overflow=2)
    tiktok = TikTok(app, storage=SQLAlchemyStorage(engine, lock_timeout=60))

    @app.get("/me")
    def me() -> ResponseReturnValue:
        data = tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        return jsonify(open_id=data["user"]["open_id"], pid=os.getpid())

    return app
