"""Server-side storage on SQLAlchemy 2.x: logins in a table keyed by ``open_id``.

Every worker and host sees the same tokens, so a user can be called for when
they are not there (``tiktok.api_for(open_id)`` in a job or CLI command), and a
refresh is serialised across processes by a row lock. Install with
``pip install flask-tiktok[sqlalchemy]``; nothing else in flask-tiktok imports
this module.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from flask import has_app_context, has_request_context, session
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import (
    DBAPIError,
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
        self._held: ContextVar[dict[str, Session] | None] = ContextVar(
            f"flask_tiktok_sqla_lock_{id(self)}", default=None
        )
        self._purge_clock = itertools.count()
        self._owner_columns: bool | None = None

    def create_all(self) -> None:
        """Create the accounts and delivery tables where missing."""
        with self._transaction() as db:
            connection = db.connection()
            self.table.create(connection, checkfirst=True)
            self.delivery_table.create(connection, checkfirst=True)

    # -- the browser's login ------------------------------------------------

    def get_user(self) -> StoredUser | None:
        reference = _browser_reference()
        if reference is None:
            return None
        open_id, login_id = reference
        t = self.table
        with self._transaction() as db:
            row = db.execute(
                select(t.c.scopes, t.c.profile, t.c.login_id, t.c.logged_in_at).where(
                    t.c.open_id == open_id, t.c.sealed_tokens.is_not(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(
            (row.login_id or "").encode(), login_id.encode()
        ):
            # Logged out, refused or forgotten since this cookie was issued.
            session.pop(_KEY, None)
            return None
        return StoredUser(
            open_id,
            split_list(row.scopes),
            dict(row.profile or {}),
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
        return _again_if_raced(lambda: self._upsert_once(open_id, values))

    def _upsert_once(self, open_id: str, values: dict[str, Any]) -> str:
        t = self.table
        with self._transaction(open_id) as db:
            row = db.execute(
                select(t.c.login_id, t.c.sealed_tokens.is_not(None).label("live"))
                .where(t.c.open_id == open_id)
                .with_for_update()
            ).first()
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
        t = self.table
        with self._transaction(open_id) as db:
            row = db.execute(
                select(t.c.sealed_tokens, t.c.scopes).where(t.c.open_id == open_id)
            ).first()
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
                db.connection()
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
        if tokens.scopes:
            values["scopes"] = join_list(tokens.scopes)
        t = self.table
        with self._transaction(open_id) as db:
            # A refresh that ends after a logout does not bring the login back.
            db.execute(
                update(t)
                .where(t.c.open_id == open_id, t.c.sealed_tokens.is_not(None))
                .values(**values)
            )

    def delete(self, open_id: str | None = None) -> None:
        """Delete the user's stored tokens (the current request's user when
        ``open_id`` is None); every browser logged in as them is logged out.
        The profile stays until :meth:`forget`.

        A logout (``open_id`` None) of a TikTok account that is also connected
        to an owner ends the browser logins only: the owner's connection, and
        its tokens, stay.
        """
        t = self.table
        ended = {
            "sealed_tokens": None,
            "login_id": None,
            "access_token_expires_at": None,
            "refresh_token_expires_at": None,
            "updated_at": _now(),
        }
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
            db.execute(update(t).where(t.c.open_id == open_id).values(**ended))

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
            row = db.execute(
                select(t.c.owner_id, t.c.connected_at)
                .where(t.c.open_id == user.open_id)
                .with_for_update()
            ).first()
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
                found = inspect(db.connection()).get_columns(t.name, schema=t.schema)
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

    def _lock_row(self, db: Session, open_id: str) -> None:
        """On SQLite (no row locks, and a transaction that reads first takes no
        lock), take the database write lock now with a no-op UPDATE, so a
        check-then-write below is atomic; elsewhere ``FOR UPDATE`` serves."""
        if db.connection().dialect.name == "sqlite":
            t = self.table
            db.execute(
                update(t).where(t.c.open_id == open_id).values(login_id=t.c.login_id)
            )

    @contextmanager
    def refresh_lock(self, open_id: str) -> Iterator[None]:
        with _outage(), super().refresh_lock(open_id), self._factory() as db:
            db.begin()
            t = self.table
            dialect = db.connection().dialect.name
            if dialect == "sqlite":
                self._lock_row(db, open_id)
            else:
                if dialect == "postgresql" and self.lock_timeout > 0:
                    db.execute(
                        select(
                            func.set_config(
                                "lock_timeout",
                                f"{int(self.lock_timeout * 1000)}ms",
                                True,
                            )
                        )
                    )
                db.execute(
                    select(t.c.open_id).where(t.c.open_id == open_id).with_for_update()
                )
            token = self._held.set((self._held.get() or {}) | {open_id: db})
            try:
                yield
            except SQLAlchemyError:
                db.rollback()
                raise
            except BaseException:
                # What the holder wrote (a refused login's deletion) stands.
                db.commit()
                raise
            else:
                db.commit()
            finally:
                self._held.reset(token)

    # -- webhook deliveries --------------------------------------------------

    def remember_delivery(self, key: str, ttl: float) -> bool:
        """Record a webhook delivery for ``ttl`` seconds; True when first seen.

        Atomic across processes: the primary key admits one insert, and an
        expired record is taken over by one conditional update.
        """
        d = self.delivery_table
        now = _now()
        expires = now + timedelta(seconds=ttl)
        try:
            with self._transaction() as db:
                if next(self._purge_clock) % 256 == 0:
                    db.execute(delete(d).where(d.c.expires_at <= now))
                taken = (
                    db.connection()
                    .execute(
                        update(d)
                        .where(d.c.key == key, d.c.expires_at <= now)
                        .values(expires_at=expires)
                    )
                    .rowcount
                )
                if not taken:
                    db.execute(insert(d).values(key=key, expires_at=expires))
        except IntegrityError:
            return False
        return True

    def forget_delivery(self, key: str) -> None:
        """Drop a recorded delivery whose handling failed, so a retry runs it."""
        d = self.delivery_table
        with self._transaction() as db:
            db.execute(delete(d).where(d.c.key == key))

    # -- helpers -------------------------------------------------------------

    @contextmanager
    def _transaction(self, open_id: str | None = None) -> Iterator[Session]:
        """A transaction of its own, or the refresh lock's while it is held
        for ``open_id`` in this thread (committed when the lock is released)."""
        held = self._held.get()
        if held and open_id in held:
            yield held[open_id]
            return
        with _outage(), self._factory() as db, db.begin():
            yield db

    def _detach_browser(self, open_id: str) -> None:
        reference = _browser_reference()
        if reference is not None and reference[0] == open_id:
            session.pop(_KEY, None)


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
        lost = isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        if not lost:
            raise
        # The driver's exception type only: its text may name hosts and users.
        kind = type(getattr(exc, "orig", None) or exc).__name__
        raise StorageUnavailable(f"the database is unavailable ({kind})") from exc


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
    if not has_request_context():
        return None
    value = session.get(_KEY)
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, str) for v in value)
    ):
        return value[0], value[1]
    return None


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


def _epoch(value: datetime | None) -> float | None:
    aware = _aware(value)
    return None if aware is None else aware.timestamp()


def _datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)
