"""Server-side storage on SQLAlchemy 2.x: logins in a table keyed by ``open_id``.

Every worker and host sees the same tokens, so a user can be called for when
they are not there (``tiktok.api_for(open_id)`` in a job or CLI command), and a
refresh is serialised across processes by a row lock. Install with
``pip install flask-tiktok[sqlalchemy]``; nothing else in flask-tiktok imports
this module.
"""

from __future__ import annotations

import copy
import hmac
import itertools
import json
import secrets
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, TypeVar, cast
from weakref import WeakKeyDictionary

from flask import current_app, has_app_context, has_request_context, session
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Row,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from ..context import request_session
from ..expiring import ExpiringRecord
from ..tokens import OAuth2Tokens
from ..wire import join_list, split_list
from .base import (
    AccountTaken,
    BaseStorage,
    Resealed,
    StorageUnavailable,
    StoredAccount,
    StoredLogin,
    StoredUser,
)
from .sealing import open_tokens, seal_tokens

T = TypeVar("T")

__all__ = [
    "SQLAlchemyStorage",
    "TikTokAccount",
    "TikTokAccountMixin",
    "TikTokDeliveryMixin",
    "TikTokWebhookDelivery",
    "metadata",
]

#: The Flask session key holding ``[open_id, login_id]``: signed by Flask, so
#: the browser keeps a reference to the login and never a token.
_KEY = "_tiktok_id"


class TikTokAccountMixin:
    """The columns :class:`SQLAlchemyStorage` keeps a login in.

    Mix it into a model of your own declarative base (``db.Model`` with
    Flask-SQLAlchemy) to add columns, such as a foreign key to your user
    model; extra columns must be nullable or have a default. Tokens are
    stored encrypted (AES-GCM, key from ``SECRET_KEY``, bound to ``open_id``);
    their expiry times are stored in clear so jobs can select on them.
    """

    #: TikTok's id of the user for this app.
    open_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The granted scopes, comma-separated.
    scopes: Mapped[str] = mapped_column(Text, default="")
    #: The fields ``user/info/`` returned at login.
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The encrypted token pair; NULL once logged out or refused.
    sealed_tokens: Mapped[str | None] = mapped_column(Text)
    #: Random id of the standing login, kept in the browser's session with
    #: ``open_id``; a new one after a logout makes older cookies worthless.
    login_id: Mapped[str | None] = mapped_column(String(64))
    #: When the user last logged in.
    logged_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the stored access token expires.
    access_token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    #: When the stored refresh token expires.
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    #: When the row last changed.
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The app's user this TikTok account is connected to (connected accounts);
    #: ``None`` for an account that is only a login.
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: When the account was connected to its owner.
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TikTokDeliveryMixin:
    """The columns of the record of webhook deliveries already handled."""

    #: The delivery's key (see :meth:`SQLAlchemyStorage.remember_delivery`).
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: When the record may be forgotten.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class _Base(DeclarativeBase):
    pass


class TikTokAccount(TikTokAccountMixin, _Base):
    """The default model: table ``tiktok_accounts``."""

    __tablename__ = "tiktok_accounts"


class TikTokWebhookDelivery(TikTokDeliveryMixin, _Base):
    """The default delivery record: table ``tiktok_webhook_deliveries``."""

    __tablename__ = "tiktok_webhook_deliveries"


#: The metadata of the default tables, for ``create_all`` or Alembic's
#: ``target_metadata``.
metadata = _Base.metadata

#: The columns connected accounts add (0.2); a 0.1 table without them still
#: serves logins, and connected accounts say which migration they need.
_OWNER_COLUMNS = frozenset({"owner_id", "connected_at"})
_ACCOUNT_COLUMNS = (
    frozenset(c.key for c in TikTokAccount.__table__.columns) - _OWNER_COLUMNS
)
_DELIVERY_COLUMNS = frozenset(c.key for c in TikTokWebhookDelivery.__table__.columns)


@event.listens_for(TikTokAccountMixin, "instrument_class", propagate=True)
def _add_delivery_table(mapper: Any, cls: type) -> None:
    # Every model built on the mixin brings the delivery record onto its own
    # metadata, so the app's create_all() and Alembic's autogenerate see it.
    if isinstance(mapper.local_table, Table):
        _delivery_table_beside(mapper.local_table)


class _HasSession(Protocol):
    """Flask-SQLAlchemy's ``db`` (anything with a ``scoped_session``)."""

    session: scoped_session[Any]


Bind = (
    Engine
    | sessionmaker[Any]
    | scoped_session[Any]
    | _HasSession
    | Callable[[], Session]
)


class SQLAlchemyStorage(BaseStorage):
    """Keeps logins in a database table every worker and host shares.

    ``bind`` is an :class:`~sqlalchemy.Engine`, a ``sessionmaker``, or with
    Flask-SQLAlchemy ``db`` or ``db.session``. The storage runs its own short
    transactions on its own sessions (made like the given ones, so
    Flask-SQLAlchemy's binds apply): it never commits or rolls back the
    application's session. ``model`` is the accounts model or table (default
    :class:`TikTokAccount`; see :class:`TikTokAccountMixin` to extend it),
    ``delivery_model`` the webhook delivery record's. Create the tables with
    :meth:`create_all` (or ``db.create_all()`` / a migration for models of
    your own).

    After login the browser's session holds only ``[open_id, login_id]``,
    signed by Flask. :meth:`get_user` is one primary-key read per request (the
    extension caches it on ``g``): a profile copy kept in the cookie would
    survive a logout elsewhere, a refused refresh or a deletion request, which
    a read of the row does not. Tokens are decrypted only by
    :meth:`get_tokens`.

    ``user_cache_seconds`` (default 0: off) lets each process serve a login
    it read within that many seconds without reading it again: the protected
    request then costs no round trip, and a logout, refused refresh,
    deletion or ``authorization.removed`` that happens in *another* process
    ends the login here up to that many seconds later (one made in this
    process, at once). Tokens are never cached.

    Refresh across processes (:meth:`refresh_lock`): threads of one process
    first queue on an in-process lock, so each process holds at most one
    connection per user; then the lock's own transaction takes the database
    lock. On PostgreSQL (and MySQL, Oracle, SQL Server) that is
    ``SELECT ... FOR UPDATE`` of the user's row, waiting at most
    ``lock_timeout`` seconds on PostgreSQL. SQLite has no row locks: the
    transaction's first statement is a no-op ``UPDATE`` of the row, which takes
    SQLite's database write lock (``BEGIN IMMEDIATE`` would too, but fails
    when the driver has already begun a transaction, as Python's ``sqlite3``
    does in some modes); other writers wait up to the connection's busy
    timeout (5 s by default in ``sqlite3``). Reads and writes of that user made
    inside the lock go through the lock's transaction, which commits when the
    lock is released, so the refresher's re-read sees the row a previous
    holder committed and nothing waits on a row its own thread holds. Use
    ``READ COMMITTED`` (PostgreSQL's default) and not autocommit.
    """

    shared = True

    def __init__(
        self,
        bind: Bind,
        *,
        model: Any = None,
        delivery_model: Any = None,
        lock_timeout: float = 30.0,
        user_cache_seconds: float = 0.0,
    ) -> None:
        self._factory = _session_factory(bind)
        #: The accounts table.
        self.table = _table(
            TikTokAccount if model is None else model, _ACCOUNT_COLUMNS, "model"
        )
        if delivery_model is None:
            delivery_model = _delivery_table_beside(self.table)
        #: The webhook delivery record's table (by default on the accounts
        #: table's metadata).
        self.delivery_table = _table(
            delivery_model, _DELIVERY_COLUMNS, "delivery_model"
        )
        #: Seconds a refresh waits for another process's (PostgreSQL only).
        self.lock_timeout = lock_timeout
        self._held: ContextVar[dict[str, _Held] | None] = ContextVar(
            f"flask_tiktok_sqla_lock_{id(self)}", default=None
        )
        self._purge_clock = itertools.count()
        self._owner_columns: bool | None = None
        self._sql = _Statements(self.table, self.delivery_table)
        self._bindings: WeakKeyDictionary[object, _Binding] = WeakKeyDictionary()
        #: Seconds this process may serve a login read from the database
        #: without reading it again (0: every request reads it). Writes made
        #: here take effect at once; another process's logout, refused
        #: refresh or ``authorization.removed`` within this many seconds.
        self.user_cache_seconds = user_cache_seconds
        self._users: ExpiringRecord[Any] = ExpiringRecord(100_000)

    def create_all(self) -> None:
        """Create the accounts and delivery tables where missing."""
        with self._transaction() as db:
            connection = _bare(db)
            self.table.create(connection, checkfirst=True)
            self.delivery_table.create(connection, checkfirst=True)

    # -- the browser's login ------------------------------------------------

    def get_user(self) -> StoredUser | None:
        reference = _browser_reference()
        if reference is None:
            return None
        open_id, login_id = reference
        row = self._users.get(open_id) if self.user_cache_seconds > 0 else None
        if row is None:
            binding = self._binding()
            row = self._read(binding.user_read, open_id, binding)
            if row is not None and self.user_cache_seconds > 0:
                self._users.put(open_id, row, self.user_cache_seconds)
        if row is None or not hmac.compare_digest(
            (row.login_id or "").encode(), login_id.encode()
        ):
            # Logged out, refused or forgotten since this cookie was issued.
            session.pop(_KEY, None)
            return None
        return StoredUser(
            open_id,
            split_list(row.scopes),
            _profile_of(row.profile),
            logged_in_at=_epoch(row.logged_in_at),
        )

    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        now = _now()
        values = _token_values(user.open_id, tokens) | {
            "scopes": join_list(user.scopes),
            "profile": user.profile | {"open_id": user.open_id},
            "logged_in_at": _datetime(user.logged_in_at) or now,
            "updated_at": now,
        }
        login_id = self._upsert(user.open_id, values)
        if has_request_context():
            session[_KEY] = [user.open_id, login_id]

    def _upsert(self, open_id: str, values: dict[str, Any]) -> str:
        upsert = self._sql.login_upserts.get(self._binding().dialect)
        if upsert is None:
            return _again_if_raced(lambda: self._upsert_once(open_id, values))
        # One statement: devices logged in as the user share the standing
        # login; a new login_id only where none is live.
        params = _params(open_id, values | {"login_id": secrets.token_hex(16)})
        held = self._held.get()
        lock = held.get(open_id) if held else None
        with nullcontext(lock.db) if lock is not None else self._autocommit() as db:
            login_id: str = db.execute(upsert, params).scalar_one()
        if lock is not None:
            lock.row = None
        self._users.discard(open_id)
        return login_id

    def _upsert_once(self, open_id: str, values: dict[str, Any]) -> str:
        t = self.table
        with self._transaction(open_id) as db:
            row = db.execute(self._sql.login_for_update, {"oid": open_id}).first()
            # Devices logged in as the user share the standing login.
            if row is not None and row.live and row.login_id:
                login_id: str = row.login_id
            else:
                login_id = secrets.token_hex(16)
            if row is None:
                db.execute(
                    insert(t).values(open_id=open_id, login_id=login_id, **values)
                )
            else:
                db.execute(
                    update(t)
                    .where(t.c.open_id == open_id)
                    .values(login_id=login_id, **values)
                )
        return login_id

    # -- tokens --------------------------------------------------------------

    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        held = self._held.get()
        lock = held.get(open_id) if held else None
        if lock is not None and lock.row is not None:
            row: Row[Any, Any] | None = lock.row  # read by the lock's own statement
        else:
            row = self._read(self._sql.tokens, open_id)
        if row is None or row.sealed_tokens is None:
            return None
        opened = open_tokens(row.sealed_tokens, open_id, row.scopes)
        if opened is None:
            return None
        if opened.stale:
            self._reseal(open_id, row.sealed_tokens, opened.tokens)
        return opened.tokens

    def _reseal(self, open_id: str, sealed: str, tokens: OAuth2Tokens) -> bool:
        """Seal ``tokens`` again with the current key, unless the row changed
        since ``sealed`` was read (a refresh, a logout); whether it was."""
        t = self.table
        with self._transaction(open_id) as db:
            done = (
                _bare(db)
                .execute(
                    update(t)
                    .where(t.c.open_id == open_id, t.c.sealed_tokens == sealed)
                    .values(sealed_tokens=seal_tokens(open_id, tokens))
                )
                .rowcount
            )
        return bool(done)

    def reseal_tokens(self) -> Resealed:
        """Seal every stored token pair a fallback key (or 0.1's binding)
        opens again with the current ``SECRET_KEY``, row by row."""
        t = self.table
        with self._transaction() as db:
            rows = db.execute(
                select(t.c.open_id, t.c.sealed_tokens, t.c.scopes)
                .where(t.c.sealed_tokens.is_not(None))
                .order_by(t.c.open_id)
            ).all()
        report = Resealed()
        for row in rows:
            opened = open_tokens(row.sealed_tokens, row.open_id, row.scopes)
            if opened is None:
                report.unreadable.append(row.open_id)
            elif not opened.stale:
                report.current += 1
            elif self._reseal(row.open_id, row.sealed_tokens, opened.tokens):
                report.resealed += 1
            else:
                report.current += 1  # rewritten meanwhile, with the current key
        return report

    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        values = _token_values(open_id, tokens) | {"updated_at": _now()}
        statement = self._sql.new_tokens
        if tokens.scopes:
            values["scopes"] = join_list(tokens.scopes)
            statement = self._sql.new_tokens_and_scopes
        with self._transaction(open_id) as db:
            db.execute(statement, _params(open_id, values))

    def delete(self, open_id: str | None = None) -> None:
        """Delete the user's stored tokens (the current request's user when
        ``open_id`` is None); every browser logged in as them is logged out.
        The profile stays until :meth:`forget`.

        A logout (``open_id`` None) of a TikTok account that is also connected
        to an owner ends the browser logins only: the owner's connection, and
        its tokens, stay.
        """
        t = self.table
        ended = _ended()
        if open_id is None:
            user = self.get_user()
            if has_request_context():
                session.pop(_KEY, None)
            if user is None:
                return
            open_id = user.open_id
            if self._has_owner_columns():
                with self._transaction(open_id) as db:
                    db.execute(
                        update(t)
                        .where(t.c.open_id == open_id, t.c.owner_id.is_not(None))
                        .values(login_id=None, updated_at=ended["updated_at"])
                    )
                    db.execute(
                        update(t)
                        .where(t.c.open_id == open_id, t.c.owner_id.is_(None))
                        .values(**ended)
                    )
                return
        else:
            self._detach_browser(open_id)
        with self._transaction(open_id) as db:
            db.execute(self._sql.end_login, _params(open_id, ended))

    def forget(self, open_id: str) -> None:
        """Delete the user's row: tokens, profile and all."""
        self._detach_browser(open_id)
        t = self.table
        with self._transaction(open_id) as db:
            db.execute(delete(t).where(t.c.open_id == open_id))

    def list_users(self) -> list[StoredLogin]:
        """Every stored user, by ``open_id``."""
        t = self.table
        with self._transaction() as db:
            rows = db.execute(
                select(
                    t.c.open_id,
                    t.c.scopes,
                    t.c.profile,
                    t.c.sealed_tokens,
                    t.c.logged_in_at,
                    t.c.access_token_expires_at,
                    t.c.refresh_token_expires_at,
                    t.c.updated_at,
                ).order_by(t.c.open_id)
            ).all()
        return [
            StoredLogin(
                user=StoredUser(
                    row.open_id,
                    split_list(row.scopes),
                    dict(row.profile or {}),
                    logged_in_at=_epoch(row.logged_in_at),
                ),
                has_tokens=row.sealed_tokens is not None,
                readable=_readable(row),
                access_token_expires_at=_aware(row.access_token_expires_at),
                refresh_token_expires_at=_aware(row.refresh_token_expires_at),
                updated_at=_aware(row.updated_at),
            )
            for row in rows
        ]

    # -- connected accounts --------------------------------------------------

    def set_account(
        self,
        owner_id: str,
        user: StoredUser,
        tokens: OAuth2Tokens,
        *,
        previous_owner_id: str | None,
    ) -> None:
        values = _token_values(user.open_id, tokens) | {
            "scopes": join_list(user.scopes),
            "profile": user.profile | {"open_id": user.open_id},
            "owner_id": owner_id,
            "updated_at": _now(),
        }
        _again_if_raced(
            lambda: self._set_account_once(owner_id, user, values, previous_owner_id)
        )

    def _set_account_once(
        self,
        owner_id: str,
        user: StoredUser,
        values: dict[str, Any],
        previous_owner_id: str | None,
    ) -> None:
        t = self.table
        with self._transaction(user.open_id) as db:
            self._lock_row(db, user.open_id)
            row = db.execute(self._sql.owner_for_update, {"oid": user.open_id}).first()
            owner = None if row is None else row.owner_id
            if owner != previous_owner_id:
                raise AccountTaken(user.open_id, owner)
            same = row is not None and owner == owner_id and row.connected_at
            connected_at = row.connected_at if row and same else values["updated_at"]
            if row is None:
                db.execute(
                    insert(t).values(
                        open_id=user.open_id, connected_at=connected_at, **values
                    )
                )
            else:
                db.execute(
                    update(t)
                    .where(t.c.open_id == user.open_id)
                    .values(connected_at=connected_at, **values)
                )

    def get_account(self, open_id: str) -> StoredAccount | None:
        t = self.table
        if not set(t.columns.keys()) >= _OWNER_COLUMNS:
            return None  # a 0.1 table: no account is connected
        with self._transaction(open_id) as db:
            row = db.execute(
                self._account_columns().where(
                    t.c.open_id == open_id, t.c.owner_id.is_not(None)
                )
            ).first()
        return None if row is None else _account(row)

    def list_accounts(self, owner_id: str | None = None) -> list[StoredAccount]:
        t = self.table
        owned = (
            t.c.owner_id.is_not(None) if owner_id is None else t.c.owner_id == owner_id
        )
        with self._transaction() as db:
            rows = db.execute(
                self._account_columns()
                .where(owned)
                .order_by(t.c.connected_at, t.c.open_id)
            ).all()
        return [_account(row) for row in rows]

    def _has_owner_columns(self) -> bool:
        """Whether the model and the database both have 0.2's owner columns
        (the database is asked once per storage)."""
        if self._owner_columns is None:
            t = self.table
            with self._transaction() as db:
                found = inspect(_bare(db)).get_columns(t.name, schema=t.schema)
            present = {c["name"] for c in found} & set(t.columns.keys())
            self._owner_columns = present >= _OWNER_COLUMNS
        return self._owner_columns

    def _account_columns(self) -> Any:
        t = self.table
        if not self._has_owner_columns():
            raise RuntimeError(
                f"Table {t.name!r} has no connected_at or owner_id column:"
                " connected accounts need flask-tiktok 0.2's columns (run the"
                " migration in the docs, 'Upgrading a 0.1 database')."
            )
        return select(
            t.c.open_id,
            t.c.scopes,
            t.c.profile,
            t.c.owner_id,
            t.c.connected_at,
            t.c.logged_in_at,
            t.c.sealed_tokens.is_not(None).label("live"),
        )

    # -- cross-process refresh lock ------------------------------------------

    def _lock_row(self, db: _DB, open_id: str) -> None:
        """On SQLite (no row locks, and a transaction that reads first takes no
        lock), take the database write lock now with a no-op UPDATE, so a
        check-then-write below is atomic; elsewhere ``FOR UPDATE`` serves."""
        if self._binding().dialect == "sqlite":
            db.execute(self._sql.touch, {"oid": open_id})

    def _set_lock_timeout(self, db: _DB) -> None:
        if self._binding().dialect == "postgresql" and self.lock_timeout > 0:
            timeout = f"{int(self.lock_timeout * 1000)}ms"
            db.execute(self._sql.lock_timeout, {"timeout": timeout})

    @contextmanager
    def refresh_lock(self, open_id: str) -> Iterator[None]:
        with _outage(), super().refresh_lock(open_id), self._connection() as db:
            db.begin()
            row: Row[Any, Any] | None = None
            if self._binding().dialect == "sqlite":
                self._lock_row(db, open_id)
            else:
                self._set_lock_timeout(db)
                # The lock's statement reads the tokens too: the refresher's
                # re-read inside the lock costs no round trip.
                locked = db.execute(self._sql.tokens_for_update, {"oid": open_id})
                row = locked.first()
            with self._holding(db, open_id, row):
                yield

    @contextmanager
    def lock_or_wait(self, open_id: str) -> Iterator[OAuth2Tokens | None]:
        """On PostgreSQL: the row lock taken with ``SKIP LOCKED`` (no wait, so
        no ``lock_timeout`` to set: one statement after ``BEGIN``), or, when
        another process holds it, a shared lock waited for, which every
        waiter is granted at once when the refresher commits: they read the
        new tokens together instead of taking the row lock one by one.
        Elsewhere as :meth:`.BaseStorage.lock_or_wait`.
        """
        held = self._held.get()
        stripe = self._stripe(open_id)
        if (
            self._binding().dialect != "postgresql"
            or (held and open_id in held)
            or stripe.locked()  # a thread of this process: wait for it there
        ):
            with super().lock_or_wait(open_id) as waited:
                yield waited
            return
        with stripe, _outage(), self._connection() as db:
            db.begin()
            row = db.execute(self._sql.tokens_skip_locked, {"oid": open_id}).first()
            if row is not None:
                with self._holding(db, open_id, row):
                    yield None
                return
            self._set_lock_timeout(db)
            shared = db.execute(self._sql.tokens_shared, {"oid": open_id}).first()
            db.commit()
        waited = _unsealed(shared, open_id)
        if waited is not None:
            yield waited
            return
        with self.refresh_lock(open_id):  # no row, or its login ended: as before
            yield None

    @contextmanager
    def _holding(
        self, db: _DB, open_id: str, row: Row[Any, Any] | None
    ) -> Iterator[None]:
        """The refresh lock's transaction while its holder runs: this thread's
        reads and writes of ``open_id`` go through it; committed at the end
        (what the holder wrote stands, a refused login's deletion too), rolled
        back on a database error."""
        token = self._held.set((self._held.get() or {}) | {open_id: _Held(db, row)})
        try:
            yield
        except SQLAlchemyError:
            db.rollback()
            raise
        except BaseException:
            db.commit()
            raise
        else:
            db.commit()
        finally:
            self._held.reset(token)
            self._users.discard(open_id)

    # -- webhook deliveries --------------------------------------------------

    def remember_delivery(self, key: str, ttl: float) -> bool:
        """Record a webhook delivery for ``ttl`` seconds; True when first seen.

        Atomic across processes. On PostgreSQL and SQLite one statement,
        outside any transaction of its own: ``INSERT ... ON CONFLICT DO
        UPDATE`` that takes over only an expired record, so a duplicate
        changes nothing and raises no error (none in the server's log).
        Elsewhere the primary key admits one insert, and an expired record is
        taken over by one conditional update.
        """
        binding = self._binding()
        upsert = self._sql.upserts.get(binding.dialect)
        if (
            upsert is None
            or binding.driver_reads is None
            or _instrumented(binding.writer)
        ):
            with self._autocommit() as db:
                return self._remember(db, key, ttl)
        values = self._delivery_values(key, ttl)
        with _outage():
            return binding.driver_read(upsert).first(values) is not None

    def remember_removal(self, key: str, ttl: float, open_id: str) -> bool:
        """Record the delivery and end ``open_id``'s login in one transaction
        (see :meth:`remember_delivery` and :meth:`delete`)."""
        with self._transaction(open_id) as db:
            first = self._remember(db, key, ttl)
            if first:
                db.execute(self._sql.end_login, _params(open_id, _ended()))
        if first:
            self._detach_browser(open_id)
        return first

    def _delivery_values(
        self, key: str, ttl: float, db: _DB | None = None
    ) -> dict[str, Any]:
        """The parameters of a delivery's record; every 256th call first
        deletes the expired records (through ``db``, or a connection of its
        own)."""
        now = _now()
        if next(self._purge_clock) % 256 == 0:
            d = self.delivery_table
            with nullcontext(db) if db is not None else self._autocommit() as purge:
                purge.execute(delete(d).where(d.c.expires_at <= now))
        return {"k": key, "exp": now + timedelta(seconds=ttl), "now": now}

    def _remember(self, db: _DB, key: str, ttl: float) -> bool:
        d = self.delivery_table
        values = self._delivery_values(key, ttl, db)
        upsert = self._sql.upserts.get(self._binding().dialect)
        if upsert is not None:
            return db.execute(upsert, values).first() is not None
        try:
            if not _rowcount(db.execute(self._sql.take_over, values)):
                db.execute(insert(d), {"key": key, "expires_at": values["exp"]})
        except IntegrityError:
            return False
        return True

    def forget_delivery(self, key: str) -> None:
        """Drop a recorded delivery whose handling failed, so a retry runs it."""
        d = self.delivery_table
        with self._transaction() as db:
            db.execute(delete(d).where(d.c.key == key))

    # -- helpers -------------------------------------------------------------

    def _binding(self) -> _Binding:
        """Where the storage's statements run, resolved once per app (the
        bind of Flask-SQLAlchemy's session depends on the app)."""
        app: object = (
            current_app._get_current_object()  # type: ignore[attr-defined]
            if has_app_context()
            else _NO_APP
        )
        binding = self._bindings.get(app)
        if binding is None:
            with self._factory() as db:
                bind = db.get_bind(clause=self._sql.user)
            binding = self._bindings[app] = _Binding.of(bind, self._sql)
        return binding

    @contextmanager
    def _connection(self, *, read: bool = False) -> Iterator[_DB]:
        """A connection of the storage's own: for reads (``read``) one that
        begins no transaction on the server. A session when bound to a
        connection rather than an engine."""
        binding = self._binding()
        engine = binding.reader if read else binding.writer
        with (
            _outage(),
            engine.connect() if engine is not None else self._factory() as db,
        ):
            yield db

    @contextmanager
    def _autocommit(self) -> Iterator[_DB]:
        """A connection whose every statement commits by itself (a
        transaction, committed at the end, when bound to a connection)."""
        with _outage():
            engine = self._binding().autocommit
            with engine.connect() if engine is not None else self._transaction() as db:
                yield db

    def _read(
        self, statement: Any, open_id: str, binding: _Binding | None = None
    ) -> Any:
        """One row of ``statement`` for ``open_id``: one round trip, or
        through the refresh lock's transaction while this thread holds it
        (``binding``: :meth:`_binding`'s, when the caller has it already)."""
        held = self._held.get()
        lock = held.get(open_id) if held else None
        if lock is not None:
            return lock.db.execute(statement, {"oid": open_id}).first()
        try:  # _outage(), without a context manager's cost on every request
            binding = binding or self._binding()
            if binding.driver_reads is not None and not _instrumented(binding.writer):
                return binding.driver_read(statement).first({"oid": open_id})
            with self._connection(read=True) as db:
                return db.execute(statement, {"oid": open_id}).first()
        except SQLAlchemyError as exc:
            if (down := _unavailable(exc)) is None:
                raise
            raise down from exc

    @contextmanager
    def _transaction(self, open_id: str | None = None) -> Iterator[_DB]:
        """A transaction of its own, or the refresh lock's while it is held
        for ``open_id`` in this thread (committed when the lock is released)."""
        held = self._held.get()
        lock = held.get(open_id) if held and open_id is not None else None
        if lock is not None:
            lock.row = None  # written: the lock's read is stale
            yield lock.db
            return
        with _outage(), self._connection() as db, db.begin():
            yield db
        if open_id is not None:
            self._users.discard(open_id)  # committed: not served from memory

    def _detach_browser(self, open_id: str) -> None:
        reference = _browser_reference()
        if reference is not None and reference[0] == open_id:
            session.pop(_KEY, None)


#: What the storage's statements run on: a Core connection, or a session
#: when the storage is bound to a connection rather than an engine.
_DB = Connection | Session


class _Held:
    """The refresh lock this thread holds for one user: its transaction, and
    the tokens row its locking statement read (until something is written)."""

    __slots__ = ("db", "row")

    def __init__(self, db: _DB, row: Row[Any, Any] | None) -> None:
        self.db = db
        self.row = row


class _NoApp:
    """The key of the binding resolved outside an app context."""


_NO_APP = _NoApp()


class _Binding(NamedTuple):
    """The engines of one app's storage (``None``: a session on the bound
    connection serves instead)."""

    #: Transactions: writes and the refresh lock.
    writer: Engine | None
    #: Reads, beginning no transaction on the server (autocommit, except on
    #: SQLite, whose driver begins none for a SELECT).
    reader: Engine | None
    #: Single statements that commit by themselves.
    autocommit: Engine | None
    dialect: str
    #: The hot reads sent through the driver, by statement (on PostgreSQL
    #: and SQLite, bound to an engine); None where they are not.
    driver_reads: dict[int, _DriverRead] | None
    #: The protected request's read: the profile as JSON text where that is
    #: plain JSON the storage decodes itself, else as the column's type reads.
    user_read: Any

    @classmethod
    def of(cls, bind: Engine | Connection, sql: _Statements) -> _Binding:
        name = bind.dialect.name
        dialect: Any = bind.dialect
        as_text = (
            name in _DRIVER_READS
            and sql.profile_is_plain_json
            and getattr(dialect, "_json_deserializer", None) is None
        )
        user_read = sql.user_as_text if as_text else sql.user
        if not isinstance(bind, Engine):
            return cls(None, None, None, name, None, user_read)
        autocommit = bind.execution_options(isolation_level="AUTOCOMMIT")
        reads: dict[int, _DriverRead] | None = {} if name in _DRIVER_READS else None
        return cls(
            bind,
            bind if name == "sqlite" else autocommit,
            autocommit,
            name,
            reads,
            user_read,
        )

    def driver_read(self, statement: Any) -> _DriverRead:
        assert self.driver_reads is not None and self.writer is not None
        read = self.driver_reads.get(id(statement))
        if read is None:
            read = self.driver_reads[id(statement)] = _DriverRead(
                statement, self.writer
            )
        return read


#: Where a read needs no transaction: PostgreSQL in autocommit, SQLite whose
#: driver begins none for a SELECT.
_DRIVER_READS = {"postgresql": True, "sqlite": False}


class _DriverRead:
    """One statement that returns at most one row (a primary-key SELECT, an
    upsert's RETURNING), sent straight through the driver's cursor outside
    any transaction: the same single round trip as through a Connection,
    without the per-execution work SQLAlchemy does around it (which costs
    more than the round trip on loopback). Compiled once for the dialect;
    each parameter's bind processor and each column's result processor
    applied; driver errors raised as SQLAlchemy's, a lost connection
    invalidated. Used only while nobody listens to the engine's execution
    events, so that query logging and tracing see every statement."""

    def __init__(self, statement: Any, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._sql = compiled.string
        self._positional = compiled.positiontup is not None
        self._binds = [
            (name, bind.type.dialect_impl(dialect).bind_processor(dialect))
            for name, bind in compiled.binds.items()
        ]
        if compiled.positiontup is not None:
            order = {name: i for i, name in enumerate(compiled.positiontup)}
            self._binds.sort(key=lambda named: order[named[0]])
        columns = (
            [c["expr"] for c in statement.returning_column_descriptions]
            if hasattr(statement, "returning_column_descriptions")
            else list(statement.selected_columns)
        )
        self._processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in columns
        ]
        self._row = namedtuple("_row", [c.key for c in columns])  # type: ignore[misc]
        self._autocommit = _DRIVER_READS[dialect.name]
        self._keep_cursor = not isinstance(engine.pool, StaticPool)
        # Autocommit left on between reads only where each checkout has its
        # connection to itself and runs the checkout event (StaticPool and
        # SingletonThreadPool lend one connection to holders at once).
        self._leave_on = self._autocommit and isinstance(
            engine.pool, QueuePool | NullPool
        )
        if self._leave_on and not event.contains(
            engine, "checkout", _restore_transactions
        ):
            # First among the engine's checkout listeners: the app's own see
            # the connection as it was lent.
            event.listen(engine, "checkout", _restore_transactions, insert=True)

    def first(self, values: dict[str, Any]) -> Any:
        """The first row for the parameters ``values``, or None."""
        dialect = self._engine.dialect
        bound = [(n, values[n] if p is None else p(values[n])) for n, p in self._binds]
        params: Any = tuple(v for _, v in bound) if self._positional else dict(bound)
        raw = self._lend()
        dbapi = cast(Any, raw.dbapi_connection)
        switched = invalidated = False
        try:
            if self._autocommit and not dbapi.autocommit:
                # Autocommit for reads (the driver's flag: SQLAlchemy's
                # isolation-level switch costs a round trip on pg8000, and
                # work on the others). Left on while the connection is
                # pooled, so that the next read needs no switch (anyone
                # else's checkout gets it back as it was lent:
                # _restore_transactions); else switched back below.
                dbapi.autocommit = True
                if self._leave_on:
                    raw.info[_AUTOCOMMIT] = True
                else:
                    switched = True
            cursor = self._kept_cursor(raw) if self._keep_cursor else raw.cursor()
            try:
                cursor.execute(self._sql, params)
                found = cursor.fetchone()
            finally:
                if not self._keep_cursor:
                    cursor.close()
            if not self._autocommit:
                dbapi.commit()  # SQLite: what an INSERT began (a read began none)
        except BaseException as exc:
            # A cursor an error (or an interrupt) left is not used again.
            raw.info.pop(_CURSOR, None)
            if not isinstance(exc, dialect.loaded_dbapi.Error):
                raise
            invalidated = dialect.is_disconnect(exc, dbapi, None)
            if invalidated:
                raw.invalidate(exc)
            raise DBAPIError.instance(
                self._sql,
                params,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=dialect,
            ) from exc
        finally:
            try:
                if switched and not invalidated:
                    dbapi.autocommit = False
            finally:
                raw.close()
        if found is None:
            return None
        return self._row(
            *(
                v if p is None else p(v)
                for p, v in zip(self._processors, found, strict=True)
            )
        )

    def _lend(self) -> Any:
        """A connection from the engine's pool, lent as a read's (which
        :func:`_restore_transactions` leaves in autocommit)."""
        dialect = self._engine.dialect
        reading = _READING.set(True)
        try:
            return self._engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # could not connect
            raise DBAPIError.instance(
                None,
                None,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=True,
                dialect=dialect,
            ) from exc
        finally:
            _READING.reset(reading)

    def _kept_cursor(self, raw: Any) -> Any:
        """The cursor kept with the lent connection ``raw`` (SQLAlchemy drops
        ``info`` with the connection): made once, not per read. Not where a
        pool lends one connection to several threads at once
        (``StaticPool``, as Flask-SQLAlchemy uses for an in-memory SQLite):
        there each read makes its own."""
        cursor = raw.info.get(_CURSOR)
        if cursor is None:
            cursor = raw.info[_CURSOR] = raw.cursor()
        return cursor


#: The key of a driver connection's cursor in its pool record's ``info``.
_CURSOR = "flask_tiktok.cursor"
#: Set in a pool record's ``info`` while a read has its connection in
#: autocommit (the app lent it in transaction mode).
_AUTOCOMMIT = "flask_tiktok.autocommit"
#: Whether this thread is checking a connection out for a driver read.
_READING: ContextVar[bool] = ContextVar("flask_tiktok_reading", default=False)


def _restore_transactions(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """The engine's ``checkout`` event (PostgreSQL): a connection a read left
    in autocommit goes to anyone else (the app, the storage's transactions)
    in the transaction mode it was lent in, or, if that cannot be done, is
    replaced by a new one."""
    if record.info.get(_AUTOCOMMIT) and not _READING.get():
        del record.info[_AUTOCOMMIT]
        try:
            dbapi_connection.autocommit = False
        except Exception as exc:  # a broken connection: the pool replaces it
            raise DisconnectionError(str(exc)) from exc


def _instrumented(engine: Engine | None) -> bool:
    """Whether anything listens to ``engine``'s statements (query logs,
    tracing): then every read goes through a Connection, where they see it."""
    dispatch = engine.dispatch if engine is not None else None
    return dispatch is None or bool(
        dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or dispatch.before_execute
        or dispatch.after_execute
        or engine.echo  # type: ignore[union-attr]
    )


_UPSERTING = (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
#: Column types whose value is JSON text on the server, decoded as is.
_PLAIN_JSON = (JSON, postgresql.JSON, postgresql.JSONB, sqlite.JSON)


class _Statements:
    """Every statement of the hot paths, built once per storage (SQLAlchemy
    then finds each one compiled in its cache)."""

    def __init__(self, t: Table, d: Table) -> None:
        by_id = t.c.open_id == bindparam("oid", type_=t.c.open_id.type)
        #: The protected request's read.
        user = (t.c.scopes, t.c.login_id, t.c.logged_in_at)
        logged_in = by_id, t.c.sealed_tokens.is_not(None)
        self.user = select(*user, t.c.profile).where(*logged_in)
        #: The same, the profile as its JSON text (decoded by _profile_of(),
        #: once per distinct text) where the column is plain JSON.
        self.user_as_text = select(
            *user, sql_cast(t.c.profile, Text).label("profile")
        ).where(*logged_in)
        self.profile_is_plain_json = type(t.c.profile.type) in _PLAIN_JSON
        #: ``tiktok.api``'s and ``api_for``'s read.
        self.tokens = select(t.c.sealed_tokens, t.c.scopes).where(by_id)
        self.tokens_for_update = self.tokens.with_for_update()
        self.tokens_skip_locked = self.tokens.with_for_update(skip_locked=True)
        self.tokens_shared = self.tokens.with_for_update(read=True)
        self.lock_timeout = select(
            func.set_config("lock_timeout", bindparam("timeout", type_=String()), True)
        )
        self.touch = update(t).where(by_id).values(login_id=t.c.login_id)
        self.login_for_update = (
            select(t.c.login_id, t.c.sealed_tokens.is_not(None).label("live"))
            .where(by_id)
            .with_for_update()
        )
        self.owner_for_update = (
            select(t.c.owner_id, t.c.connected_at).where(by_id).with_for_update()
        )
        self.end_login = _setting(t, by_id, _ended())
        # A refresh that ends after a logout does not bring the login back.
        live = t.c.sealed_tokens.is_not(None)
        token_columns = ["sealed_tokens", *_EXPIRIES, "updated_at"]
        self.new_tokens = _setting(t, by_id & live, token_columns)
        self.new_tokens_and_scopes = _setting(
            t, by_id & live, [*token_columns, "scopes"]
        )
        expired = d.c.expires_at <= bindparam("now", type_=d.c.expires_at.type)
        self.take_over = (
            update(d)
            .where(d.c.key == bindparam("k"), expired)
            .values(expires_at=bindparam("exp", type_=d.c.expires_at.type))
        )
        #: A login's ``INSERT ... ON CONFLICT DO UPDATE``, per dialect.
        self.login_upserts: dict[str, Any] = {}
        #: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired``, per dialect.
        self.upserts: dict[str, Any] = {}
        login_columns = [*token_columns, "scopes", "profile", "logged_in_at"]
        standing = and_(t.c.sealed_tokens.is_not(None), t.c.login_id.is_not(None))
        for name, dialect_insert in _UPSERTING:
            login = dialect_insert(t).values(
                _binds(t, [*login_columns, "login_id"])
                | {"open_id": bindparam("oid", type_=t.c.open_id.type)}
            )
            new = login.excluded
            self.login_upserts[name] = login.on_conflict_do_update(
                index_elements=[t.c.open_id],
                set_={c: new[c] for c in login_columns}
                | {"login_id": case((standing, t.c.login_id), else_=new.login_id)},
            ).returning(t.c.login_id)
        for name, dialect_insert in _UPSERTING:
            upsert = dialect_insert(d).values(
                key=bindparam("k", type_=d.c.key.type),
                expires_at=bindparam("exp", type_=d.c.expires_at.type),
            )
            # A row comes back when inserted or taken over, none for a
            # duplicate (the drivers' rowcount is not reliable for upserts).
            self.upserts[name] = upsert.on_conflict_do_update(
                index_elements=[d.c.key],
                set_={"expires_at": upsert.excluded.expires_at},
                where=expired,
            ).returning(d.c.key)


def _bare(db: _DB) -> Connection:
    return db if isinstance(db, Connection) else db.connection()


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


def _unsealed(row: Row[Any, Any] | None, open_id: str) -> OAuth2Tokens | None:
    if row is None or row.sealed_tokens is None:
        return None
    opened = open_tokens(row.sealed_tokens, open_id, row.scopes)
    return None if opened is None else opened.tokens


def _params(open_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a statement of :func:`_setting` for ``open_id``."""
    return {"oid": open_id} | {f"v_{name}": value for name, value in values.items()}


def _setting(t: Table, where: Any, names: Iterable[str]) -> Any:
    """``UPDATE t SET name = :v_name, ... WHERE where``, built once."""
    return update(t).where(where).values(_binds(t, names))


def _binds(t: Table, names: Iterable[str]) -> dict[str, Any]:
    """``{name: :v_name}``, each parameter typed as its column."""
    return {n: bindparam(f"v_{n}", type_=t.c[n].type) for n in names}


def _ended() -> dict[str, Any]:
    """The columns of a login that ended (the profile stays)."""
    return {
        "sealed_tokens": None,
        "login_id": None,
        "access_token_expires_at": None,
        "refresh_token_expires_at": None,
        "updated_at": _now(),
    }


def _session_factory(bind: Bind) -> Callable[[], Session]:
    if isinstance(bind, Engine):
        return sessionmaker(bind)
    if isinstance(bind, scoped_session):
        return bind.session_factory
    if isinstance(bind, sessionmaker):
        return bind
    scoped = getattr(bind, "session", None)
    if isinstance(scoped, scoped_session):
        return scoped.session_factory
    if callable(bind):
        return bind
    raise TypeError(
        "SQLAlchemyStorage needs an Engine, a sessionmaker, or Flask-SQLAlchemy's"
        f" db or db.session, not {bind!r}."
    )


@contextmanager
def _outage() -> Iterator[None]:
    """The database's connection failures (down, refusing, dropped, the pool
    exhausted) as :exc:`StorageUnavailable`; a failing query stays as it is."""
    try:
        yield
    except SQLAlchemyError as exc:
        if (down := _unavailable(exc)) is None:
            raise
        raise down from exc


def _unavailable(exc: SQLAlchemyError) -> StorageUnavailable | None:
    """:exc:`StorageUnavailable` for ``exc`` when it is a lost connection;
    ``None`` for a failing query (raised as it is)."""
    lost = isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not lost:
        return None
    # The driver's exception type only: its text may name hosts and users.
    kind = type(getattr(exc, "orig", None) or exc).__name__
    return StorageUnavailable(f"the database is unavailable ({kind})")


def _again_if_raced(write: Callable[[], T]) -> T:
    """``write()``, run once more if it lost a race to insert the same row
    (the primary key refused it): the second run finds the row and checks
    or updates it."""
    try:
        return write()
    except IntegrityError:
        return write()


def _readable(row: Any) -> bool:
    """Whether a key of the app opens the row's tokens (listed outside an app
    context, where there is no key to try: assumed so)."""
    if row.sealed_tokens is None or not has_app_context():
        return True
    return open_tokens(row.sealed_tokens, row.open_id, row.scopes) is not None


def _account(row: Any) -> StoredAccount:
    return StoredAccount(
        user=StoredUser(
            row.open_id,
            split_list(row.scopes),
            dict(row.profile or {}),
            logged_in_at=_epoch(row.logged_in_at),
        ),
        owner_id=row.owner_id,
        connected_at=_aware(row.connected_at),
        has_tokens=bool(row.live),
    )


def _delivery_table_beside(accounts: Table) -> Table:
    """The delivery record on the accounts table's own metadata, so that the
    app's ``create_all()`` and Alembic's autogenerate see every table."""
    if accounts.metadata is metadata:
        return TikTokWebhookDelivery.__table__  # type: ignore[return-value]
    default: Table = TikTokWebhookDelivery.__table__  # type: ignore[assignment]
    existing = accounts.metadata.tables.get(default.name)
    return existing if existing is not None else default.to_metadata(accounts.metadata)


def _table(model: Any, required: frozenset[str], name: str) -> Table:
    table = model if isinstance(model, Table) else getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{name} must be a mapped class or a Table, not {model!r}.")
    missing = sorted(required - set(table.columns.keys()))
    if missing:
        raise ValueError(
            f"Table {table.name!r} lacks the column(s) {', '.join(missing)}: build"
            " the model on flask_tiktok.storage.sqla's mixins."
        )
    return table


def _browser_reference() -> tuple[str, str] | None:
    # Every protected request reads this: the session taken once.
    cookie = request_session()
    if cookie is None:
        return None
    value = cookie.get(_KEY)
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, str) for v in value)
    ):
        return value[0], value[1]
    return None


_EXPIRIES = ("access_token_expires_at", "refresh_token_expires_at")


def _token_values(open_id: str, tokens: OAuth2Tokens) -> dict[str, Any]:
    return {
        "sealed_tokens": seal_tokens(open_id, tokens),
        "access_token_expires_at": tokens.access_token_expires_at,
        "refresh_token_expires_at": tokens.refresh_token_expires_at,
    }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _profile_of(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """The profile column's value as a new dict: the JSON text decoded (once
    per distinct text, remembered: a login's row is read on each of its
    requests), or the object the column's type read."""
    if isinstance(value, str):
        profile, plain = _decoded_profile(value)
        return dict(profile) if plain else copy.deepcopy(profile)
    return dict(value) if isinstance(value, dict) else {}


@lru_cache(maxsize=256)
def _decoded_profile(text: str) -> tuple[dict[str, Any], bool]:
    # Shared by every request that reads the same text: _profile_of copies
    # it (deeply when a field holds a list or an object).
    try:
        profile = json.loads(text)
    except (ValueError, RecursionError):
        profile = None
    if not isinstance(profile, dict):
        return {}, True
    return profile, not any(isinstance(v, dict | list) for v in profile.values())


def _epoch(value: datetime | None) -> float | None:
    aware = _aware(value)
    return None if aware is None else aware.timestamp()


def _datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)
