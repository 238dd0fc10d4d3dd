"""SQLAlchemyStorage on SQLite and PostgreSQL: logins, encryption at rest,
refresh under a database lock, offline access, the CLI, webhook deliveries."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from flask_sqlalchemy import SQLAlchemy
from helpers import (
    ALICE,
    INVALID_GRANT,
    PROFILE,
    REVOKE_URL,
    ROTATED,
    TOKEN_URL,
    create_app,
    event_body,
    expired,
    expired_login,
    form,
    log_in,
    log_in_as_bob,
    post,
    refresh_form,
    refreshes,
    row,
    store,
    token_body,
)
from sqla_support import Database
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from flask_tiktok import (
    current_tiktok_user,
    signals,
)
from flask_tiktok.sqla import (
    SQLAlchemyStorage,
    TikTokAccount,
    TikTokAccountMixin,
)
from flask_tiktok.storage import StorageUnavailable, StoredUser
from flask_tiktok.storage.sealing import seal_tokens
from flask_tiktok.tokens import OAuth2Tokens


@pytest.fixture
def app(storage: SQLAlchemyStorage) -> Flask:
    return create_app(storage=storage)


def cookie_session(app: Flask, client: Any) -> dict[str, Any]:
    cookie = client.get_cookie("session")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    loaded: dict[str, Any] = serializer.loads(cookie.value)
    return loaded


def logged_in_twice(app: Flask) -> tuple[Any, Any]:
    """Alice logged in on two devices (two browsers): her laptop and phone."""
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop)
    log_in(phone)
    return laptop, phone


# -- login, the cookie, encryption at rest ------------------------------------


def test_login_keeps_tokens_and_profile_in_the_table_and_only_a_reference_in_the_cookie(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    stored = row(engine)
    assert stored.profile == PROFILE
    assert stored.scopes == "user.info.basic"
    assert stored.access_token_expires_at is not None
    assert "act.alice-1" not in stored.sealed_tokens
    assert "rft.alice-1" not in stored.sealed_tokens
    assert cookie_session(app, client)["_tiktok_id"] == [ALICE, stored.login_id]
    cookie = client.get_cookie("session").value
    assert "alice-1" not in cookie and "Alice" not in cookie
    assert "Alice &lt;Creator&gt;" in client.get("/me").get_data(as_text=True)
    with app.app_context():
        tokens = app.extensions["tiktok"].storage.get_tokens(ALICE)
    assert tokens.access_token == "act.alice-1"
    assert tokens.refresh_token == "rft.alice-1"
    assert tokens.scopes == ["user.info.basic"]


def test_a_protected_request_costs_one_primary_key_read(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    def no_transaction(connection: Any, *args: Any) -> None:
        dbapi = connection.connection.dbapi_connection
        # PostgreSQL: autocommit, no BEGIN; SQLite's driver begins none itself.
        began = not dbapi.autocommit if hasattr(dbapi, "info") else dbapi.in_transaction
        transactions.append(began)

    transactions: list[bool] = []
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "before_cursor_execute", no_transaction)
    try:
        assert client.get("/me").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "before_cursor_execute", no_transaction)
    assert len(statements) == 1
    assert statements[0].lstrip().startswith("SELECT")
    assert "tiktok_accounts.open_id =" in statements[0]
    assert "sealed_tokens IS NOT NULL" in statements[0]
    assert transactions == [False]
    assert len(tiktok_mock.request_history) == 2  # the login's two calls only


def test_a_user_cache_serves_repeat_requests_without_a_read_and_ends_with_writes(
    engine: Engine, tiktok_mock: Any
) -> None:
    """``user_cache_seconds``: the second request reads nothing; a logout in
    this process ends the login at once; another process's deletion ends it
    here once the cache's seconds are over."""
    storage = SQLAlchemyStorage(engine, user_cache_seconds=0.5)
    storage.create_all()
    app = create_app(storage=storage)
    laptop, phone = logged_in_twice(app)
    assert laptop.get("/me").status_code == 200
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert laptop.get("/me").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []
    assert laptop.post("/tiktok/logout").status_code == 302
    assert phone.get("/me").status_code == 302  # the same process: at once

    log_in(laptop)
    assert laptop.get("/me").status_code == 200
    SQLAlchemyStorage(engine).delete(ALICE)  # another process's deletion
    assert laptop.get("/me").status_code == 200  # served from memory
    time.sleep(0.6)
    assert laptop.get("/me").status_code == 302


def test_unobserved_reads_go_through_the_driver_and_leave_the_pool_as_found(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine, tiktok_mock: Any
) -> None:
    """With no listener on the engine the protected read skips SQLAlchemy's
    execution machinery: same user, same tokens, the pooled connection
    handed back idle and no longer in autocommit."""
    client = app.test_client()
    log_in(client)
    assert "Alice &lt;Creator&gt;" in client.get("/me").get_data(as_text=True)
    with app.app_context():
        tokens = storage.get_tokens(ALICE)
        assert tokens is not None and tokens.access_token == "act.alice-1"
        assert storage.get_tokens("nobody") is None
        driver_reads = storage._binding().driver_reads
    assert driver_reads  # the reads above took the driver's path
    with engine.connect() as connection:
        dbapi: Any = connection.connection.dbapi_connection
        if hasattr(dbapi, "info"):  # psycopg
            assert dbapi.autocommit is False
            assert dbapi.info.transaction_status.name == "IDLE"
        else:
            assert dbapi.in_transaction is False


def test_a_driver_read_keeps_one_cursor_per_connection_and_drops_it_with_it(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine, db: Database
) -> None:
    """Reads reuse the cursor kept with their pooled connection; a connection
    lost under a read is an outage, and the next read, on a new connection,
    makes a new cursor (the dead one is never used again)."""
    store(app, storage, expired())
    with app.app_context():
        assert storage.get_tokens(ALICE) is not None
        with engine.connect() as connection:
            kept = connection.connection.info.get("flask_tiktok.cursor")
            first_dbapi = connection.connection.dbapi_connection
        assert kept is not None
        assert storage.get_tokens(ALICE) is not None
        with engine.connect() as connection:
            assert connection.connection.info.get("flask_tiktok.cursor") is kept
    if not engine.url.get_backend_name().startswith("postgresql"):
        return
    with engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    admin = db.engine()
    with admin.connect() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")
    admin.dispose()
    with app.app_context():
        with pytest.raises(StorageUnavailable):
            storage.get_tokens(ALICE)
        tokens = storage.get_tokens(ALICE)
    assert tokens is not None and tokens.access_token == "act.alice-1"
    with engine.connect() as connection:
        again = connection.connection.info.get("flask_tiktok.cursor")
        assert connection.connection.dbapi_connection is not first_dbapi
    assert again is not None and again is not kept


def _alice_stored_in(engine: Engine) -> tuple[Flask, SQLAlchemyStorage]:
    """An app on a storage of its own on ``engine``, Alice's tokens stored."""
    storage = SQLAlchemyStorage(engine)
    storage.create_all()
    app = create_app(storage=storage)
    store(app, storage, expired())
    return app, storage


def _rolled_back(connection: Connection) -> bool:
    """Whether what ``connection`` writes and rolls back is gone (it was in
    a transaction, not in autocommit)."""
    connection.execute(text("CREATE TEMPORARY TABLE scratch (n int)"))
    connection.rollback()
    gone = connection.execute(text("SELECT to_regclass('scratch')")).scalar()
    return gone is None


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_reads_leave_autocommit_on_and_the_apps_checkout_gets_its_transactions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads switch a pooled connection to autocommit once and leave it so
    (the next read needs no switch); anyone else's checkout gets it back in
    transaction mode, the app's own checkout listeners included."""
    import psycopg

    switches: list[bool] = []
    flag = psycopg.Connection.autocommit

    def counted(connection: Any, value: bool) -> None:
        switches.append(value)
        flag.fset(connection, value)

    monkeypatch.setattr(psycopg.Connection, "autocommit", property(flag.fget, counted))
    engine = db.engine(pool_size=1, max_overflow=0)  # one connection for all
    seen_by_the_app: list[bool] = []
    event.listen(
        engine, "checkout", lambda dbapi, *_: seen_by_the_app.append(dbapi.autocommit)
    )
    try:
        app, storage = _alice_stored_in(engine)
        with app.app_context():
            switches.clear()
            assert storage.get_tokens(ALICE) is not None
            assert storage.get_tokens(ALICE) is not None
        assert switches == [True]
        seen_by_the_app.clear()
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection.autocommit is False
            assert _rolled_back(connection)
        assert seen_by_the_app == [False]
        assert switches == [True, False]
        with app.app_context():  # the storage's own transactions too
            assert storage.get_tokens(ALICE) is not None
            storage.set_tokens(ALICE, expired())
            assert storage.get_tokens(ALICE) is not None
        assert switches == [True, False, True, False, True]
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("pool", [StaticPool, SingletonThreadPool])
def test_where_holders_share_a_connection_a_read_gives_it_back_as_lent(
    db: Database, pool: type
) -> None:
    """StaticPool and SingletonThreadPool lend one connection to several
    holders at once: a read in the middle of the app's use of it switches it
    back at once, so the app's next transaction is one."""
    engine = db.engine(poolclass=pool)
    try:
        app, storage = _alice_stored_in(engine)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.commit()
            with app.app_context():
                assert storage.get_tokens(ALICE) is not None
            assert connection.connection.dbapi_connection.autocommit is False
            assert _rolled_back(connection)
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_connection_that_cannot_leave_autocommit_is_replaced(db: Database) -> None:
    """A read's connection that can no longer be switched back (closed while
    pooled) is discarded at the next checkout: SQLAlchemy lends a new one."""
    engine = db.engine(pool_size=1, max_overflow=0)
    returned: list[Any] = []
    event.listen(engine, "checkin", lambda dbapi, record: returned.append(dbapi))
    try:
        app, storage = _alice_stored_in(engine)
        with app.app_context():
            assert storage.get_tokens(ALICE) is not None
        read_on = returned[-1]
        assert read_on.autocommit is True
        read_on.close()
        with engine.connect() as connection:
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not read_on
            assert dbapi.autocommit is False
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_driver_read_on_an_autocommit_engine_leaves_it_in_autocommit(
    db: Database, tiktok_mock: Any
) -> None:
    """An engine whose connections are in autocommit (the app's choice) gets
    them back so: reads switch only connections lent inside a transaction
    (PostgreSQL's driver flag)."""
    engine = db.engine(isolation_level="AUTOCOMMIT")
    try:
        storage = SQLAlchemyStorage(engine)
        storage.create_all()
        app = create_app(storage=storage)
        client = app.test_client()
        log_in(client)
        assert client.get("/me").status_code == 200
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection.autocommit is True
    finally:
        engine.dispose()


def test_a_driver_read_raises_sqlalchemy_errors(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine
) -> None:
    store(app, storage, expired())
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE tiktok_accounts"))
    with app.app_context(), pytest.raises(Exception) as caught:
        storage.get_tokens(ALICE)
    # A SQLAlchemy error (SQLite's "no such table" is an OperationalError,
    # which the storage also takes for an outage), never the driver's own.
    error = caught.value
    if isinstance(error, StorageUnavailable):
        error = error.__cause__
    assert isinstance(error, DBAPIError)
    # The connection went back as it was lent, without the failed cursor.
    with engine.connect() as connection:
        assert "flask_tiktok.cursor" not in connection.connection.info
        dbapi: Any = connection.connection.dbapi_connection
        if hasattr(dbapi, "info"):  # psycopg
            assert dbapi.autocommit is False
            assert dbapi.info.transaction_status.name == "IDLE"


def test_no_cursor_is_kept_where_threads_share_one_connection() -> None:
    """``StaticPool`` (Flask-SQLAlchemy's for an in-memory SQLite) lends one
    connection to every thread at once: a cursor kept with it would be used
    by several threads together (that crashed the interpreter, or raised
    "Recursive use of cursors"), so each read makes its own there."""
    engine = create_engine(
        "sqlite://",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )
    try:
        storage = SQLAlchemyStorage(engine)
        storage.create_all()
        app = create_app(storage=storage)
        ids = [f"open-id-{n}" for n in range(4)]
        with app.test_request_context():
            for open_id in ids:
                tokens = OAuth2Tokens(
                    token_body(open_id=open_id, access_token=f"act.{open_id}")
                )
                storage.set(StoredUser(open_id, ["user.info.basic"]), tokens)

        def read(open_id: str) -> str:
            with app.app_context():
                tokens = storage.get_tokens(open_id)
                assert storage._binding().driver_reads  # the driver's path
            return tokens.access_token if tokens else "none"

        # One thread after another: SQLite's driver does not promise more
        # for one connection (Python 3.12's refuses concurrent use outright).
        with ThreadPoolExecutor(1) as pool:
            seen = list(pool.map(read, ids * 3))
        assert seen == [f"act.{open_id}" for open_id in ids * 3]
        with engine.connect() as connection:
            assert "flask_tiktok.cursor" not in connection.connection.info
    finally:
        engine.dispose()


def test_a_profile_column_the_app_decodes_itself_is_read_through_it(
    db: Database, tiktok_mock: Any
) -> None:
    """An engine with its own ``json_deserializer`` reads the profile through
    it (the storage decodes the column's text itself only for plain JSON)."""

    def deserialize(text: str) -> Any:
        value = json.loads(text)
        return value | {"seen_by": "the app"} if isinstance(value, dict) else value

    engine = db.engine(json_deserializer=deserialize)
    try:
        app, storage = _alice_stored_in(engine)
        client = app.test_client()
        log_in(client)
        with app.test_request_context(
            headers={"Cookie": f"session={client.get_cookie('session').value}"}  # type: ignore[union-attr]
        ):
            user = storage.get_user()
        assert user is not None and user.profile["seen_by"] == "the app"
    finally:
        engine.dispose()


def test_tokens_are_bound_to_the_open_id_and_the_secret_key(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine
) -> None:
    store(app, storage, expired())
    with app.test_request_context():
        storage.set(
            StoredUser("open-id-bob", [], {"display_name": "Bob"}),
            OAuth2Tokens(token_body(open_id="open-id-bob", access_token="act.bob")),
        )
    t = TikTokAccount.__table__
    with engine.begin() as connection:
        connection.execute(
            update(t)
            .where(t.c.open_id == "open-id-bob")
            .values(sealed_tokens=row(engine).sealed_tokens)
        )
    with app.app_context():
        assert storage.get_tokens("open-id-bob") is None
        assert storage.get_tokens(ALICE) is not None
    rotated = create_app(
        storage=storage,
        SECRET_KEY="a-new-secret-key-9876543210",
        SECRET_KEY_FALLBACKS=["test-secret-key-0123456789"],
    )
    with rotated.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"
    with create_app(storage=storage, SECRET_KEY="another-key-000000").app_context():
        assert storage.get_tokens(ALICE) is None


def test_a_forged_or_stale_cookie_reference_is_anonymous(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    with client.session_transaction() as session:
        session["_tiktok_id"] = [ALICE, "not-the-login-id"]
    assert client.get("/").get_data(as_text=True) == "Anonymous"
    assert "_tiktok_id" not in cookie_session(app, client)
    with client.session_transaction() as session:
        session["_tiktok_id"] = "garbage"
    assert client.get("/").get_data(as_text=True) == "Anonymous"


def test_devices_share_a_login_and_logout_revokes_and_ends_it_everywhere(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    laptop, phone = logged_in_twice(app)
    first_login = row(engine).login_id
    assert cookie_session(app, phone)["_tiktok_id"] == [ALICE, first_login]
    assert phone.get("/me").status_code == 200

    assert laptop.post("/tiktok/logout").status_code == 302
    revoke = [r for r in tiktok_mock.request_history if r.url == REVOKE_URL]
    assert form(revoke[0]) == {
        "client_key": "client-key-1",
        "client_secret": "client-secret-1",
        "token": "act.alice-1",
    }
    stored = row(engine)
    assert stored.sealed_tokens is None
    assert stored.login_id is None
    assert stored.profile == PROFILE  # kept until forget()
    assert phone.get("/me").status_code == 302
    assert laptop.get("/me").status_code == 302

    stale = app.test_client()
    stale.set_cookie("session", phone.get_cookie("session").value)
    log_in(laptop)
    assert row(engine).login_id not in (None, first_login)
    assert laptop.get("/me").status_code == 200
    # A cookie from before the logout does not come back with the new login.
    assert stale.get("/me").status_code == 302


def test_logging_in_as_someone_else_does_not_log_the_previous_user_out(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    log_in_as_bob(client, tiktok_mock)
    assert client.get("/").get_data(as_text=True) == "Hello Bob"
    assert row(engine).sealed_tokens is not None  # Alice's jobs keep working
    assert row(engine, "open-id-bob").sealed_tokens is not None


def test_set_retries_as_an_update_when_a_concurrent_first_login_inserted(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine, monkeypatch: Any
) -> None:
    # The path of databases without ON CONFLICT (PostgreSQL and SQLite upsert).
    monkeypatch.setattr(storage._sql, "login_upserts", {})
    real = storage._upsert_once
    calls: list[str] = []

    def racing(open_id: str, values: dict[str, Any]) -> str:
        calls.append(open_id)
        if len(calls) == 1:
            store(app, SQLAlchemyStorage(engine), expired(access_token="act.other"))
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return real(open_id, values)

    monkeypatch.setattr(storage, "_upsert_once", racing)
    store(app, storage, expired(access_token="act.mine"))
    assert calls == [ALICE, ALICE]
    with app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.mine"


# -- refresh ---------------------------------------------------------------------


def test_an_expired_token_is_refreshed_and_the_rotated_pair_stored(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    before = row(engine)
    assert client.get("/api/me").status_code == 200
    assert refreshes(tiktok_mock) == [refresh_form()]
    assert tiktok_mock.last_request.headers["Authorization"] == "Bearer act.alice-2"
    after = row(engine)
    assert after.sealed_tokens != before.sealed_tokens
    assert after.login_id == before.login_id
    assert after.access_token_expires_at > before.access_token_expires_at
    with app.app_context():
        assert app.extensions["tiktok"].storage.get_tokens(ALICE).refresh_token == (
            "rft.alice-2"
        )
    assert client.get("/api/me").status_code == 200
    assert len(refreshes(tiktok_mock)) == 1


def test_a_refused_refresh_deletes_the_stored_tokens(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    expired_login(client, tiktok_mock)
    tiktok_mock.post(
        TOKEN_URL,
        json={"error": "invalid_grant", "error_description": "revoked", "log_id": "L"},
    )
    ended: list[dict[str, Any]] = []
    with signals.tiktok_logged_out.connected_to(lambda s, **kw: ended.append(kw), app):
        response = client.get("/api/me")
    assert response.status_code == 302
    assert ended == [{"open_id": ALICE, "reason": "refresh_refused"}]
    assert row(engine).sealed_tokens is None
    assert client.get("/me").status_code == 302


def test_the_lock_waits_for_another_connection_and_rereads_its_commit(
    db: Database, app: Flask, storage: SQLAlchemyStorage
) -> None:
    """Another process holding the row: the lock waits for its commit, then
    the re-read inside the lock sees the tokens it committed."""
    store(app, storage, expired())
    with app.app_context():
        sealed = seal_tokens(
            ALICE, OAuth2Tokens(token_body(access_token="act.elsewhere"))
        )
    t = TikTokAccount.__table__
    entered_at: list[float] = []
    seen: list[str | None] = []

    def refresh_here() -> None:
        with app.app_context(), storage.refresh_lock(ALICE):
            entered_at.append(time.monotonic())
            tokens = storage.get_tokens(ALICE)
            seen.append(tokens.access_token if tokens else None)

    other = db.engine()
    try:
        with other.connect() as connection:
            if db.schema is None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(
                    select(t.c.open_id).where(t.c.open_id == ALICE).with_for_update()
                )
            worker = threading.Thread(target=refresh_here)
            worker.start()
            time.sleep(0.5)
            assert entered_at == []  # waiting for the other transaction
            connection.execute(
                update(t).where(t.c.open_id == ALICE).values(sealed_tokens=sealed)
            )
            released = time.monotonic()
            connection.commit()
        worker.join(10)
    finally:
        other.dispose()
    assert entered_at[0] >= released
    assert seen == ["act.elsewhere"]


def test_writes_inside_the_lock_use_its_transaction(
    db: Database, app: Flask, storage: SQLAlchemyStorage
) -> None:
    store(app, storage, expired())
    fresh = OAuth2Tokens(token_body(access_token="act.fresh"))
    observer = db.engine()
    try:
        with app.app_context():
            started = time.monotonic()
            with storage.refresh_lock(ALICE):
                storage.set_tokens(ALICE, fresh)
                assert storage.get_tokens(ALICE) == OAuth2Tokens(
                    fresh.data, int(fresh.issued_at)
                )
                if db.schema is not None:
                    # Not committed yet: another connection still reads the old row.
                    with observer.connect() as connection:
                        old = connection.execute(
                            text("SELECT sealed_tokens FROM tiktok_accounts")
                        )
                        assert old.scalar() == row(observer).sealed_tokens
            assert time.monotonic() - started < 3  # no wait on a row we hold
            assert storage.get_tokens(ALICE).access_token == "act.fresh"  # type: ignore[union-attr]
            with storage.refresh_lock(ALICE):
                storage.delete(ALICE)
            assert storage.get_tokens(ALICE) is None
    finally:
        observer.dispose()


@contextmanager
def row_held_elsewhere(db: Database, engine: Engine) -> Iterator[Any]:
    """Another process's transaction holding Alice's row (SQLite: the whole
    database's write lock); commit it to release."""
    t = TikTokAccount.__table__
    with engine.connect() as connection:
        if db.schema is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(
                select(t.c.open_id).where(t.c.open_id == ALICE).with_for_update()
            )
        yield connection


def test_waiters_on_another_process_refresh_all_go_on_with_its_tokens(
    db: Database, app: Flask, storage: SQLAlchemyStorage
) -> None:
    """PostgreSQL: every waiter is handed the tokens the holder committed, and
    none takes the row lock after it (SQLite, without row locks: the first
    waiter takes the lock, the threads queued behind it read its result)."""
    store(app, storage, expired())
    with app.app_context():
        sealed = seal_tokens(ALICE, OAuth2Tokens(token_body(access_token="act.new")))
    t = TikTokAccount.__table__
    seen: list[str | None] = []

    def wait() -> None:
        with app.app_context(), storage.lock_or_wait(ALICE) as waited:
            seen.append(None if waited is None else waited.access_token)

    other = db.engine()
    try:
        with row_held_elsewhere(db, other) as connection:
            first = threading.Thread(target=wait)
            first.start()
            time.sleep(0.3)  # the first waiter is at the database, the others
            rest = [threading.Thread(target=wait) for _ in range(5)]  # behind it
            for thread in rest:
                thread.start()
            time.sleep(0.3)
            assert seen == []
            connection.execute(
                update(t).where(t.c.open_id == ALICE).values(sealed_tokens=sealed)
            )
            connection.commit()
        for thread in [first, *rest]:
            thread.join(10)
    finally:
        other.dispose()
    if db.schema is None:
        assert sorted(seen, key=str) == [None] + ["act.new"] * 5
    else:
        assert seen == ["act.new"] * 6


def test_a_waiter_whose_holder_did_not_refresh_takes_the_lock_and_refreshes(
    db: Database, app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(app, storage, expired())
    tiktok_mock.post(TOKEN_URL, json=ROTATED)
    tiktok_ = app.extensions["test_tiktok"]
    got: list[str] = []

    def call() -> None:
        with app.app_context():
            got.append(tiktok_.api_for(ALICE).access_token)

    other = db.engine()
    try:
        with row_held_elsewhere(db, other) as connection:
            worker = threading.Thread(target=call)
            worker.start()
            time.sleep(0.3)
            connection.commit()  # released, the tokens still expired
        worker.join(10)
    finally:
        other.dispose()
    assert got == ["act.alice-2"]
    assert len(refreshes(tiktok_mock)) == 1


def test_concurrent_threads_refresh_once(
    app: Flask, storage: SQLAlchemyStorage, tiktok_mock: Any
) -> None:
    store(app, storage, expired())

    def slow_refresh(request: Any, context: Any) -> dict[str, Any]:
        time.sleep(0.3)
        return ROTATED

    tiktok_mock.post(TOKEN_URL, json=slow_refresh)
    tiktok_ = app.extensions["test_tiktok"]

    def call() -> str:
        with app.app_context():
            token: str = tiktok_.api_for(ALICE).access_token
            return token

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: call(), range(8)))
    assert tokens == ["act.alice-2"] * 8
    assert len(refreshes(tiktok_mock)) == 1


# -- offline access, forget, the CLI -------------------------------------------


def test_a_lost_connection_inside_the_lock_rolls_its_writes_back(
    app: Flask, storage: SQLAlchemyStorage
) -> None:
    store(app, storage, expired())
    with app.app_context():
        with pytest.raises(StorageUnavailable), storage.refresh_lock(ALICE):
            storage.set_tokens(ALICE, OAuth2Tokens(token_body(access_token="lost")))
            raise OperationalError("UPDATE", {}, Exception("connection lost"))
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"  # type: ignore[union-attr]


def test_logging_out_nobody_writes_nothing(
    app: Flask, storage: SQLAlchemyStorage, engine: Engine
) -> None:
    store(app, storage, expired())
    with app.test_request_context():
        app.extensions["test_tiktok"].logout_user()
    assert row(engine).sealed_tokens is not None


def test_forget_removes_the_user_entirely(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    with app.test_request_context():
        app.extensions["test_tiktok"].forget(ALICE)
    assert row(engine) is None
    assert client.get("/me").status_code == 302
    log_in(client)
    reference = cookie_session(app, client)["_tiktok_id"]
    with app.test_request_context():
        # The current browser's reference goes too.
        session["_tiktok_id"] = reference
        assert current_tiktok_user.open_id == ALICE
        app.extensions["test_tiktok"].forget(ALICE)
        assert "_tiktok_id" not in session
        assert not current_tiktok_user.is_authenticated


# -- webhook deliveries ----------------------------------------------------------


def test_a_delivery_is_remembered_once_across_connections(
    db: Database, storage: SQLAlchemyStorage
) -> None:
    assert storage.remember_delivery("event-1", 3600) is True
    assert storage.remember_delivery("event-1", 3600) is False
    engine = db.engine()
    other = SQLAlchemyStorage(engine)
    try:
        assert other.remember_delivery("event-1", 3600) is False
        storage.forget_delivery("event-1")
        assert other.remember_delivery("event-1", 3600) is True
        assert storage.remember_delivery("short", 0) is True
        assert storage.remember_delivery("short", 3600) is True  # it had expired
        with ThreadPoolExecutor(8) as pool:
            firsts = list(
                pool.map(lambda _: other.remember_delivery("race", 60), range(8))
            )
    finally:
        engine.dispose()
    assert firsts.count(True) == 1


def test_authorization_removed_webhook_logs_out_everywhere_and_is_handled_once(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    laptop, phone = logged_in_twice(app)
    body = event_body("authorization.removed", content={"reason": 1})
    assert post(laptop, body).get_json() == {"status": "ok"}
    assert row(engine).sealed_tokens is None
    assert phone.get("/me").status_code == 302
    assert laptop.get("/me").status_code == 302
    # The retry reaches another worker: the record is in the database.
    other_worker = create_app(storage=SQLAlchemyStorage(engine))
    assert post(other_worker.test_client(), body).get_json() == {"status": "duplicate"}
    with engine.connect() as connection:
        deliveries = connection.execute(
            text("SELECT key FROM tiktok_webhook_deliveries")
        )
        assert len(deliveries.all()) == 1


def test_a_removal_is_recorded_and_its_login_ended_in_one_transaction(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    body = event_body("authorization.removed", content={"reason": 1})
    seen: list[str] = []
    errors: list[Any] = []

    def statement(*args: Any) -> None:
        seen.append(" ".join(args[2].split()[:3]))

    listeners: list[tuple[str, Any]] = [
        ("before_cursor_execute", statement),
        ("begin", lambda *a: seen.append("BEGIN")),
        ("commit", lambda *a: seen.append("COMMIT")),
        ("handle_error", errors.append),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        assert post(client, body).get_json() == {"status": "ok"}
        first = list(seen)
        seen.clear()
        assert post(client, body).get_json() == {"status": "duplicate"}
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
    purge = "DELETE FROM tiktok_webhook_deliveries"  # expired records, now and then
    assert [s for s in first if s != purge] == [
        "BEGIN",
        "INSERT INTO tiktok_webhook_deliveries",
        "UPDATE tiktok_accounts SET",
        "COMMIT",
    ]
    # A duplicate: one statement that refuses nothing (no database error).
    assert [s for s in seen if s not in {"BEGIN", "COMMIT"}] == [
        "INSERT INTO tiktok_webhook_deliveries"
    ]
    assert errors == []
    assert row(engine).sealed_tokens is None


def test_a_redelivered_removal_leaves_a_later_login_alone(
    app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    body = event_body("authorization.removed", content={"reason": 1})
    assert post(client, body).get_json() == {"status": "ok"}
    log_in(client)  # the user authorizes the app again (same browser)
    assert post(client, body).get_json() == {"status": "duplicate"}
    assert client.get("/me").status_code == 200
    assert row(engine).sealed_tokens is not None


# -- set-up variants ---------------------------------------------------------------


def test_flask_sqlalchemy_with_a_model_of_the_app(
    tmp_path: Path, tiktok_mock: Any
) -> None:
    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class User(db.Model):  # type: ignore[name-defined, misc]
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(80))

    class Account(TikTokAccountMixin, db.Model):  # type: ignore[name-defined, misc]
        __tablename__ = "tiktok_account"
        user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    for bind in (db.session, db):
        storage = SQLAlchemyStorage(bind, model=Account)
        app = create_app(
            storage=storage,
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'app.db'}",
        )
        db.init_app(app)
        try:
            with app.app_context():
                db.drop_all()
                db.create_all()
                storage.create_all()
                db.session.add(User(id=1, name="alice"))
                db.session.commit()

            def link(sender: Flask, user: Any, **kw: Any) -> None:
                db.session.get(Account, user.open_id).user_id = 1
                db.session.commit()

            client = app.test_client()
            with signals.tiktok_logged_in.connected_to(link, app):
                log_in(client)
            log_in(client)  # a second login keeps the app's own column
            with app.app_context():
                account = db.session.get(Account, ALICE)
                assert account is not None and account.user_id == 1
                assert account.profile == PROFILE
                # The storage's transactions leave the app's session alone.
                db.session.add(User(id=2, name="pending"))
                storage.get_tokens(ALICE)
                storage.set_tokens(ALICE, OAuth2Tokens(token_body(access_token="x")))
                db.session.rollback()
                assert db.session.get(User, 2) is None
                assert storage.get_tokens(ALICE).access_token == "x"  # type: ignore[union-attr]
            assert client.get("/me").status_code == 200
        finally:
            with app.app_context():  # each app's engine, and its connections
                for engine in db.engines.values():
                    engine.dispose()


def test_sessionmaker_and_table_binds_and_bad_arguments(engine: Engine) -> None:
    table = Table(
        "my_tiktok",
        MetaData(),
        *(c._copy() for c in TikTokAccount.__table__.columns),
        Column("note", String(20)),
    )
    storage = SQLAlchemyStorage(sessionmaker(engine), model=table)
    storage.create_all()
    app = create_app(storage=storage)
    store(app, storage, expired())
    assert [u.user.open_id for u in storage.list_users()] == [ALICE]
    with app.app_context():
        made_here = SQLAlchemyStorage(lambda: Session(engine), model=table)
        assert made_here.get_tokens(ALICE) == storage.get_tokens(ALICE)
    with pytest.raises(ValueError, match="lacks the column"):
        SQLAlchemyStorage(
            engine, model=Table("t", MetaData(), Column("open_id", String))
        )
    with pytest.raises(TypeError, match="mapped class or a Table"):
        SQLAlchemyStorage(engine, model=object())
    with pytest.raises(TypeError, match="needs an Engine"):
        SQLAlchemyStorage("sqlite://")  # type: ignore[arg-type]


def test_importing_flask_tiktok_does_not_need_sqlalchemy() -> None:
    code = """
import sys
sys.modules["sqlalchemy"] = None
import flask, flask_tiktok
from flask_tiktok import TikTok
app = flask.Flask("x")
app.config.update(SECRET_KEY="k", TIKTOK_CLIENT_KEY="a", TIKTOK_CLIENT_SECRET="b")
TikTok(app)
try:
    from flask_tiktok import SQLAlchemyStorage
except ImportError as exc:
    print("ImportError:", exc)
"""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'flask-tiktok[sqlalchemy]'" in result.stdout


def test_every_import_path_names_the_same_class() -> None:
    """``flask_tiktok.storage.SQLAlchemyStorage`` is the documented path; 0.1's
    ``flask_tiktok.SQLAlchemyStorage`` and ``flask_tiktok.sqla`` keep working."""
    import flask_tiktok
    import flask_tiktok.sqla as old_module
    import flask_tiktok.storage.sqla as module
    from flask_tiktok import crypto, storage
    from flask_tiktok.storage import sealing

    assert (
        flask_tiktok.SQLAlchemyStorage
        is storage.SQLAlchemyStorage
        is module.SQLAlchemyStorage
        is SQLAlchemyStorage
    )
    assert old_module.__all__ == module.__all__
    assert all(getattr(old_module, n) is getattr(module, n) for n in module.__all__)
    assert crypto.TokenCipher is sealing.TokenCipher
    assert SQLAlchemyStorage.shared is True
    with pytest.raises(AttributeError):
        flask_tiktok.NoSuchThing  # noqa: B018
    with pytest.raises(AttributeError):
        storage.NoSuchThing  # noqa: B018


def test_logged_out_receiver_may_touch_the_users_row(
    tmp_path: Path, tiktok_mock: Any
) -> None:
    """A ``tiktok_logged_out`` receiver of a refused refresh may write the
    user's row (an app column on the accounts model): it is not made to wait
    on the refresh lock its own thread holds (SQLite would answer "database is
    locked" and roll the deletion back; PostgreSQL would hang), and the dead
    tokens are deleted."""
    engine = create_engine(
        f"sqlite:///{tmp_path / 'r.db'}", connect_args={"timeout": 0.5}
    )
    try:
        storage = SQLAlchemyStorage(engine)
        storage.create_all()
        app = create_app(storage=storage)
        client = app.test_client()
        expired_login(client, tiktok_mock)
        tiktok_mock.post(TOKEN_URL, json=INVALID_GRANT)
        t = TikTokAccount.__table__

        def on_logged_out(sender: Any, open_id: str, reason: str) -> None:
            with engine.begin() as connection:
                connection.execute(
                    update(t).where(t.c.open_id == open_id).values(profile={})
                )

        with signals.tiktok_logged_out.connected_to(on_logged_out, app):
            response = client.get("/api/me")
        assert response.status_code == 302
        with engine.connect() as connection:
            sealed = connection.execute(select(t.c.sealed_tokens)).scalar_one()
        assert sealed is None
    finally:
        engine.dispose()
