"""The storage interface: what every backend keeps, and the records it hands out."""

from __future__ import annotations

import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ..expiring import ExpiringRecord
from ..tokens import OAuth2Tokens

__all__ = [
    "AccountTaken",
    "BaseStorage",
    "Resealed",
    "StorageUnavailable",
    "StoredAccount",
    "StoredLogin",
    "StoredUser",
]


@dataclass(slots=True)
class StoredUser:
    """What is known of a logged-in user without touching their tokens."""

    #: TikTok's id of the user for this app.
    open_id: str
    #: The scopes the user granted.
    scopes: list[str] = field(default_factory=list)
    #: The fields ``user/info/`` returned at login.
    profile: dict[str, Any] = field(default_factory=dict)
    #: When the user logged in (epoch seconds), if the backend records it;
    #: an authorization TikTok removed after that ends the login.
    logged_in_at: float | None = None


@dataclass
class StoredLogin:
    """A stored user and the state of their tokens, as listed for operators."""

    user: StoredUser
    #: Whether tokens are stored (False after a logout or a refused refresh).
    has_tokens: bool
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    updated_at: datetime | None = None
    #: False when tokens are stored but no key of this app opens them: sealed
    #: with a ``SECRET_KEY`` no longer in ``SECRET_KEY_FALLBACKS``, or by
    #: another TikTok app. The user must log in again.
    readable: bool = True


@dataclass
class Resealed:
    """What :meth:`~flask_tiktok.BaseStorage.reseal_tokens` did."""

    #: Token pairs sealed again with the current ``SECRET_KEY``.
    resealed: int = 0
    #: Token pairs already sealed with it.
    current: int = 0
    #: The users whose tokens no key of the app opens (left as they are).
    unreadable: list[str] = field(default_factory=list)


@dataclass
class StoredAccount:
    """A TikTok account connected to one of the app's own users (its owner)."""

    user: StoredUser
    #: The app's id of the user who connected it (always a string).
    owner_id: str
    #: When it was connected to this owner.
    connected_at: datetime | None = None
    #: Whether tokens are stored (False after a refused refresh or TikTok's
    #: ``authorization.removed``: the owner should reconnect it).
    has_tokens: bool = True


class AccountTaken(Exception):
    """:meth:`~flask_tiktok.BaseStorage.set_account` found the account held by
    another owner than the caller expected (it changed hands meanwhile);
    nothing was stored."""

    def __init__(self, open_id: str, owner_id: str | None) -> None:
        super().__init__(f"{open_id!r} is connected to another owner")
        self.open_id = open_id
        self.owner_id = owner_id


class StorageUnavailable(Exception):
    """The storage cannot be reached now (the database is down or refuses
    connections); nothing was read or written.

    The extension answers it with a 503 page; pages that only show
    :data:`~flask_tiktok.current_tiktok_user` render it anonymous (see
    :data:`TIKTOK_STORAGE_OUTAGE`). A backend raises it, from the driver's
    error, for failures of the connection, not for a bug in a query.
    """


class BaseStorage(ABC):
    """The interface every storage backend implements.

    A storage keeps, for each TikTok user (``open_id``), their profile and
    granted scopes (a :class:`StoredUser`) and their token pair (an
    :class:`~flask_tiktok.OAuth2Tokens`; the built-in backends keep it
    sealed with :func:`~flask_tiktok.storage.sealing.seal_tokens`). Its
    methods come in two kinds, and each says which it is:

    **The request's login** (need a request context; they read or write the
    browser's Flask session, which holds the login or a reference to it):

    - :meth:`get_user`: who the browser is logged in as.
    - :meth:`set`: store a new login and make it the browser's.
    - :meth:`delete` with no ``open_id``: end the request's user's login (a
      server-side backend ends it on every device: the login is the user's,
      the browser only refers to it).

    **A given user** (``open_id`` first; work in any app context, so jobs and
    CLI commands can use them when the backend is :attr:`shared`):

    - :meth:`get_tokens` / :meth:`set_tokens`: read, or replace after a
      refresh, that user's tokens.
    - :meth:`delete` with an ``open_id``: delete that user's tokens (every
      browser logged in as them is logged out); :meth:`forget`: delete
      everything about them.
    - :meth:`refresh_lock`: the lock under which their tokens are refreshed.
    - :meth:`list_users`: every stored user (server-side backends only).

    **Connected accounts** (server-side backends only; the defaults raise
    :exc:`NotImplementedError`): :meth:`set_account`, :meth:`get_account`,
    :meth:`list_accounts`. They never touch the browser's session: a
    connected account is not the browser's login.

    A backend that keeps logins in the browser (:class:`SessionStorage`) can
    reach only the request's own user: for another ``open_id`` its "given
    user" methods find nothing and change nothing.

    A backend must be safe to share between threads. :meth:`get_user` runs on
    every protected request, so it must not decrypt tokens or call TikTok;
    :meth:`get_tokens` runs only when a request calls TikTok.

    Refresh contract: :meth:`refresh_lock` serialises refreshes of one user.
    Inside it the refresher re-reads :meth:`get_tokens` and skips the call to
    TikTok when another holder of the lock already refreshed. The default lock
    serialises threads of one process; a backend shared by several processes
    overrides it with a lock they all see (a row lock, an advisory lock) and
    sets :attr:`shared` to true. Webhook deliveries are recorded with
    :meth:`remember_delivery` (in this process by default; a shared backend
    overrides it and :meth:`forget_delivery` with one record all see).

    The refresher takes its turn through :meth:`lock_or_wait` (the lock, or
    the tokens of a refresh it waited for), and an ``authorization.removed``
    delivery is recorded with :meth:`remember_removal`.

    A third backend (Redis, say) implements the five abstract methods, sets
    :attr:`shared`, and overrides :meth:`forget`, :meth:`list_users`,
    :meth:`refresh_lock`, :meth:`remember_delivery`, :meth:`forget_delivery`
    and the three connected-account methods (and may override
    :meth:`lock_or_wait` and :meth:`remember_removal`).
    """

    #: Whether every process sees the same tokens (a database, a cache).
    shared: bool = False

    _stripes: ClassVar[list[threading.Lock]] = [threading.Lock() for _ in range(64)]
    _deliveries_lock: ClassVar[threading.Lock] = threading.Lock()
    _delivery_record: ExpiringRecord[float] | None = None

    # -- the request's login ---------------------------------------------------

    @abstractmethod
    def get_user(self) -> StoredUser | None:
        """The request's login: the user the browser is logged in as, or ``None``.

        ``None`` outside a request, and when the login ended elsewhere (a
        logout on another device, a refused refresh, a deletion).
        """

    @abstractmethod
    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        """Store ``user``'s login with ``tokens``, and make it the request's.

        Replaces whatever the browser was logged in as. Outside a request the
        login is stored and no browser is attached to it.
        """

    @abstractmethod
    def delete(self, open_id: str | None = None) -> None:
        """End a login: the request's when ``open_id`` is ``None``, else that
        user's wherever they are logged in.

        Their tokens are deleted; a server-side backend may keep the profile
        until :meth:`forget`. Deleting nobody is not an error.
        """

    # -- a given user ----------------------------------------------------------

    @abstractmethod
    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        """``open_id``'s tokens, or ``None`` when none are stored (or reachable)."""

    @abstractmethod
    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        """Replace ``open_id``'s tokens after a refresh.

        A login deleted meanwhile stays deleted: nothing is stored then.
        """

    def forget(self, open_id: str) -> None:
        """Remove everything stored about ``open_id`` (a data-deletion request)."""
        self.delete(open_id)

    def list_users(self) -> list[StoredLogin]:
        """Every stored user; only storages that keep users server-side can.

        :raises NotImplementedError: the backend keeps logins in browsers.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot list users: it keeps each login in"
            " the user's own browser session. Use a server-side storage such as"
            " flask_tiktok.storage.SQLAlchemyStorage."
        )

    def reseal_tokens(self) -> Resealed:
        """Seal again with the current ``SECRET_KEY`` every stored token pair
        that only a ``SECRET_KEY_FALLBACKS`` key opens (or that 0.1 sealed),
        so that the fallback can be dropped (``flask tiktok reseal``).

        Tokens are also sealed again whenever :meth:`get_tokens` reads them.

        :raises NotImplementedError: the backend keeps logins in browsers
            (each is sealed again when its browser next uses it).
        """
        raise NotImplementedError(
            f"{type(self).__name__} keeps each login in the user's browser"
            " session: its tokens are sealed again when the browser next uses"
            " them. Keep the old key in SECRET_KEY_FALLBACKS until every session"
            " has been used or has expired (PERMANENT_SESSION_LIFETIME)."
        )

    # -- connected accounts ----------------------------------------------------

    def set_account(
        self,
        owner_id: str,
        user: StoredUser,
        tokens: OAuth2Tokens,
        *,
        previous_owner_id: str | None,
    ) -> None:
        """Store ``user``'s tokens and profile as an account of ``owner_id``.

        Atomic: the account's current owner must still be
        ``previous_owner_id`` (``None``: nobody), else
        :exc:`~flask_tiktok.storage.AccountTaken` is
        raised and nothing is stored. A connection to the same owner keeps its
        ``connected_at``; a new owner's starts now. The browser's login, and
        any device logged in as the account, are left as they are.
        """
        raise NotImplementedError(self._no_accounts())

    def get_account(self, open_id: str) -> StoredAccount | None:
        """``open_id``'s connected account (whoever owns it), or ``None``."""
        raise NotImplementedError(self._no_accounts())

    def list_accounts(self, owner_id: str | None = None) -> list[StoredAccount]:
        """``owner_id``'s accounts (``None``: every owner's), oldest connection
        first, in one query."""
        raise NotImplementedError(self._no_accounts())

    def _no_accounts(self) -> str:
        return (
            f"{type(self).__name__} cannot keep connected accounts: they need a"
            " storage every worker and job shares, such as"
            " flask_tiktok.storage.SQLAlchemyStorage."
        )

    @contextmanager
    def refresh_lock(self, open_id: str) -> Iterator[None]:
        """Hold the lock under which ``open_id``'s tokens are refreshed.

        The default serialises the threads of this process (64 striped
        locks); a :attr:`~flask_tiktok.BaseStorage.shared` backend holds a
        lock every process sees.
        """
        with self._stripe(open_id):
            yield

    @contextmanager
    def lock_or_wait(self, open_id: str) -> Iterator[OAuth2Tokens | None]:
        """Hold :meth:`refresh_lock` (yields ``None``), or, while another holds
        it, wait until it is released and yield the tokens stored then,
        without holding the lock.

        The refresher takes its turn through this method, so that requests
        waiting on one refresh all read its result when it ends instead of
        taking the lock one after another only to find the tokens fresh; if
        the tokens it yields do not serve, the refresher takes
        :meth:`refresh_lock`. The default waits for a thread of this process
        that holds the lock (other processes' locks are the backend's).
        """
        stripe = self._stripe(open_id)
        if stripe.locked():
            with stripe:
                pass
            waited = self.get_tokens(open_id)
            if waited is not None:
                yield waited
                return
        with self.refresh_lock(open_id):
            yield None

    def _stripe(self, open_id: str) -> threading.Lock:
        return self._stripes[zlib.crc32(open_id.encode("utf-8")) % len(self._stripes)]

    # -- webhook deliveries ----------------------------------------------------

    def remember_delivery(self, key: str, ttl: float) -> bool:
        """Record a webhook delivery for ``ttl`` seconds; True when first seen.

        TikTok delivers at least once and retries for 72 hours, so an event
        whose ``key`` is already recorded is acknowledged and not handled
        again. The default record lives in this process (at most 50,000
        deliveries, oldest forgotten first): with several worker processes a
        retry reaching another worker is handled twice. A server-side backend
        overrides this (and :meth:`forget_delivery`) with an atomic
        insert-if-absent every process sees.
        """
        return self._deliveries().add(key, 0.0, ttl)

    def remember_removal(self, key: str, ttl: float, open_id: str) -> bool:
        """:meth:`remember_delivery` of an ``authorization.removed`` event and,
        when first seen, :meth:`delete` of ``open_id``'s login; a backend that
        can (:class:`~flask_tiktok.storage.sqla.SQLAlchemyStorage`) does both
        in one transaction."""
        first = self.remember_delivery(key, ttl)
        if first:
            self.delete(open_id)
        return first

    def forget_delivery(self, key: str) -> None:
        """Drop a recorded delivery whose handling failed, so a retry runs it."""
        self._deliveries().discard(key)

    def _deliveries(self) -> ExpiringRecord[float]:
        # Created on first use: subclasses need not call an __init__.
        if self._delivery_record is None:
            with BaseStorage._deliveries_lock:
                if self._delivery_record is None:
                    self._delivery_record = ExpiringRecord(50_000)
        return self._delivery_record
