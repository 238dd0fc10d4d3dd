"""The app the multi-process refresh test serves under gunicorn.

Configured from the environment the test sets: the database
(``TT_DB_URL``, ``TT_DB_SCHEMA``), the sandbox's ``TIKTOK_*`` settings
(``TT_TIKTOK_CONFIG``, JSON) and a folder where each worker leaves a file
named after its pid once its app is built (``TT_READY_DIR``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqla_support import Database

from flask_tiktok import TikTok
from flask_tiktok.sqla import SQLAlchemyStorage

SECRET_KEY = "multi-process-secret-key-0123456789"


def create_app() -> Flask:
    """One worker's app: SQLAlchemyStorage on the test database."""
    database = Database(os.environ["TT_DB_URL"], os.environ.get("TT_DB_SCHEMA") or None)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET_KEY, **json.loads(os.environ["TT_TIKTOK_CONFIG"])
    )
    tiktok = TikTok(app, storage=SQLAlchemyStorage(database.engine(), lock_timeout=20))

    @app.get("/me")
    def me() -> ResponseReturnValue:
        data = tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        return jsonify(open_id=data["user"]["open_id"], pid=os.getpid())

    ready = os.environ.get("TT_READY_DIR")
    if ready:
        Path(ready, str(os.getpid())).touch()
    return app
