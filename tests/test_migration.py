"""The 0.1 → 0.2 upgrade of the accounts table, run from the docs' own Alembic
recipe on a 0.1-shaped database with rows in it (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from helpers import create_app, log_in, token_body, who
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

from flask_tiktok.sqla import SQLAlchemyStorage
from flask_tiktok.storage import StoredUser
from flask_tiktok.storage.sealing import seal_tokens
from flask_tiktok.tokens import OAuth2Tokens

DOCS = Path(__file__).resolve().parent.parent / "docs" / "accounts.rst"


def v01_table(metadata: MetaData) -> Table:
    """``tiktok_accounts`` exactly as flask-tiktok 0.1 made it."""
    return Table(
        "tiktok_accounts",
        metadata,
        Column("open_id", String(255), primary_key=True),
        Column("scopes", Text),
        Column("profile", JSON),
        Column("sealed_tokens", Text),
        Column("login_id", String(64)),
        Column("logged_in_at", DateTime(timezone=True)),
        Column("access_token_expires_at", DateTime(timezone=True)),
        Column("refresh_token_expires_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
    )


def the_docs_recipe() -> dict[str, Any]:
    """The ``upgrade``/``downgrade`` functions of docs/accounts.rst."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(
        r"With Alembic.*?\.\. code-block:: python\n\n(.*?)\n\S", text, re.S
    )
    assert block is not None, "the docs lost their migration recipe"
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(block.group(1)), namespace)  # noqa: S102 (our own docs)
    return namespace


def run(engine: Engine, step: Any) -> None:
    """Run a migration step as Alembic would, in one transaction."""
    with engine.begin() as connection:
        migration = MigrationContext.configure(connection)
        with Operations.context(migration):
            step()


def test_upgrading_a_01_database_keeps_every_row(
    engine: Engine, tiktok_mock: Any
) -> None:
    app = create_app(storage=SQLAlchemyStorage(engine))
    metadata = MetaData()
    old = v01_table(metadata)
    metadata.create_all(engine)
    with app.app_context():
        rows = [
            {
                "open_id": f"open-id-{n}",
                "scopes": "user.info.basic",
                "profile": {"open_id": f"open-id-{n}", "display_name": f"User {n}"},
                "sealed_tokens": seal_tokens(
                    f"open-id-{n}",
                    OAuth2Tokens(token_body(access_token=f"act.{n}"), 1_767_225_600),
                ),
                "login_id": f"login-{n}",
            }
            for n in range(3)
        ]
    with engine.begin() as connection:
        connection.execute(old.insert(), rows)

    recipe = the_docs_recipe()
    run(engine, recipe["upgrade"])
    columns = {c["name"] for c in inspect(engine).get_columns("tiktok_accounts")}
    assert {"owner_id", "connected_at"} <= columns
    assert "ix_tiktok_accounts_owner_id" in {
        i["name"] for i in inspect(engine).get_indexes("tiktok_accounts")
    }
    with engine.connect() as connection:
        kept = connection.execute(select(old).order_by(old.c.open_id)).mappings().all()
    assert [dict(row)["sealed_tokens"] for row in kept] == [
        row["sealed_tokens"] for row in rows
    ]
    assert [row["login_id"] for row in kept] == ["login-0", "login-1", "login-2"]

    storage = SQLAlchemyStorage(engine)
    with app.app_context():
        assert storage.get_tokens("open-id-1").access_token == "act.1"
        assert [login.user.open_id for login in storage.list_users()] == [
            "open-id-0",
            "open-id-1",
            "open-id-2",
        ]
        storage.set_account(
            "owner-1",
            StoredUser("open-id-2", ["user.info.basic"], {"display_name": "User 2"}),
            storage.get_tokens("open-id-2"),
            previous_owner_id=None,
        )
        [account] = storage.list_accounts("owner-1")
        assert account.user.open_id == "open-id-2"
        assert storage.get_tokens("open-id-2").access_token == "act.2"

    run(engine, recipe["downgrade"])
    columns = {c["name"] for c in inspect(engine).get_columns("tiktok_accounts")}
    assert columns == {c.name for c in old.columns}


def test_a_01_table_still_serves_logins_before_the_upgrade(
    engine: Engine, tiktok_mock: Any
) -> None:
    """Logins work on an un-upgraded table; connected accounts say what to do."""
    metadata = MetaData()
    v01_table(metadata)
    metadata.create_all(engine)
    storage = SQLAlchemyStorage(engine)
    app: Flask = create_app(storage=storage)
    client = app.test_client()
    log_in(client)
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    with app.app_context():
        with pytest.raises(RuntimeError, match=r"connected_at or owner_id.*migration"):
            storage.list_accounts("owner-1")
        with pytest.raises(RuntimeError, match="migration"):
            storage.get_account("open-id-alice")
