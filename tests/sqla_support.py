"""Databases for the SQLAlchemy storage tests.

SQLite (a file: several connections, several processes) always; PostgreSQL
when ``TIKTOK_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts one). Each
PostgreSQL test gets a schema of its own, dropped afterwards, so runs sharing
a server do not meet. Without the variable the PostgreSQL cases skip loudly,
and under CI (``CI=true``) they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

POSTGRES_ENV = "TIKTOK_TEST_POSTGRES_URL"
KINDS = ["sqlite", "postgresql"]


@dataclass(frozen=True)
class Database:
    """Where a test's tables live: a URL and, on PostgreSQL, a schema."""

    url: str
    schema: str | None = None

    def engine(self, **kwargs: object) -> Engine:
        """A new engine on this database (its own pool)."""
        if self.schema is not None:
            kwargs["connect_args"] = {"options": f"-csearch_path={self.schema}"}
        return create_engine(self.url, **kwargs)  # type: ignore[arg-type]


def postgres_url() -> str:
    """The test server's URL; skips (fails under CI) when none is set."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        message = (
            f"POSTGRESQL NOT TESTED: set {POSTGRES_ENV}, e.g."
            " postgresql+psycopg://postgres@127.0.0.1:54329/tiktok_test"
            " (.ci/run starts such a server)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; it is required under CI", pytrace=False)
        pytest.skip(message)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of ``kind`` for one test."""
    if kind == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'tiktok.db'}")
        return
    url = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        yield Database(url, schema)
    finally:
        with admin.begin() as connection:
            # A connection a failed test left in a transaction must not hang us.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
