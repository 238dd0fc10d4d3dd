"""Where a user's TikTok login (tokens and profile) is kept.

:class:`SessionStorage`, the default, keeps it in Flask's session: the profile
signed (cheap to read on every request), the tokens encrypted. Server-side
backends implement :class:`BaseStorage`.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from flask import current_app, has_request_context, session

from .crypto import TokenCipher
from .expiring import ExpiringRecord
from .tokens import OAuth2Tokens

if TYPE_CHECKING:
    from .sqla import SQLAlchemyStorage as SQLAlchemyStorage

__all__ = ["BaseStorage", "SessionStorage", "StoredLogin", "StoredUser"]


def __getattr__(name: str) -> Any:
    # SQLAlchemy is an optional extra: import it only when asked for.
    if name == "SQLAlchemyStorage":
        try:
            from .sqla import SQLAlchemyStorage
        except ModuleNotFoundError as exc:
            raise ImportError(
                "SQLAlchemyStorage needs SQLAlchemy 2: pip install"
                f" 'flask-tiktok[sqlalchemy]' ({exc})"
            ) from exc
        return SQLAlchemyStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
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


class BaseStorage(ABC):
    """The interface every storage backend implements.

    A backend must be safe to share between threads. ``get_user`` runs on
    every protected request, so it must not decrypt tokens or call TikTok;
    ``get_tokens`` runs only when a request calls TikTok.

    Refresh contract: :meth:`refresh_lock` serialises refreshes of one user.
    Inside it the refresher re-reads :meth:`get_tokens` and skips the call to
    TikTok when another holder of the lock already refreshed. The default lock
    serialises threads of one process; a backend shared by several processes
    overrides it with a lock they all see (a row lock, an advisory lock) and
    sets :attr:`shared` to true.
    """

    #: Whether every process sees the same tokens (a database, a cache).
    shared: bool = False

    _stripes: ClassVar[list[threading.Lock]] = [threading.Lock() for _ in range(64)]
    _deliveries_lock: ClassVar[threading.Lock] = threading.Lock()
    _delivery_record: ExpiringRecord | None = None

    @abstractmethod
    def get_user(self) -> StoredUser | None:
        """The current request's user, or ``None``."""

    @abstractmethod
    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        """The user's tokens, or ``None`` when none are stored."""

    @abstractmethod
    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        """Store a login and make it the current request's user."""

    @abstractmethod
    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        """Replace the user's tokens after a refresh."""

    @abstractmethod
    def delete(self, open_id: str | None = None) -> None:
        """Forget a user (the current request's one when ``open_id`` is None)."""

    def forget(self, open_id: str) -> None:
        """Remove everything stored about a user (a data-deletion request)."""
        self.delete(open_id)

    def list_users(self) -> list[StoredLogin]:
        """Every stored user; only storages that keep users server-side can."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot list users: it keeps each login in"
            " the user's own browser session. Use a server-side storage such as"
            " flask_tiktok.storage.SQLAlchemyStorage."
        )

    @contextmanager
    def refresh_lock(self, open_id: str) -> Iterator[None]:
        """Hold the lock under which ``open_id``'s tokens are refreshed."""
        lock = self._stripes[zlib.crc32(open_id.encode("utf-8")) % len(self._stripes)]
        with lock:
            yield

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

    def forget_delivery(self, key: str) -> None:
        """Drop a recorded delivery whose handling failed, so a retry runs it."""
        self._deliveries().discard(key)

    def _deliveries(self) -> ExpiringRecord:
        # Created on first use: subclasses need not call an __init__.
        if self._delivery_record is None:
            with BaseStorage._deliveries_lock:
                if self._delivery_record is None:
                    self._delivery_record = ExpiringRecord(50_000)
        return self._delivery_record


_KEY = "_tiktok"


class SessionStorage(BaseStorage):
    """Keeps the login in Flask's session (by default a signed cookie).

    The profile and granted scopes are stored as they are: Flask signs the
    cookie, so they cannot be forged, and reading them costs no decryption.
    The tokens are encrypted with a key derived from ``SECRET_KEY`` (see
    :class:`~flask_tiktok.crypto.TokenCipher`); whoever reads the cookie sees
    no TikTok token. Only the current request's user can be read or written.
    """

    def get_user(self) -> StoredUser | None:
        record = session.get(_KEY) if has_request_context() else None
        if not isinstance(record, dict):
            return None
        profile = record.get("u")
        if not isinstance(profile, dict) or not isinstance(profile.get("open_id"), str):
            return None
        logged_in_at = record.get("a")
        return StoredUser(
            profile["open_id"],
            [s for s in str(record.get("s", "")).split(",") if s],
            profile,
            float(logged_in_at) if isinstance(logged_in_at, (int, float)) else None,
        )

    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        user = self.get_user()
        record = session.get(_KEY) if user and user.open_id == open_id else None
        if not record or not isinstance(record.get("t"), str):
            return None
        return _unseal(record["t"], open_id, str(record.get("s", "")))

    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        sealed = _seal(user.open_id, tokens)
        scopes = ",".join(user.scopes)
        room = _COOKIE_BUDGET - len(sealed) - len(scopes)
        session[_KEY] = {
            "u": _fitting_profile(user.profile, user.open_id, room),
            "s": scopes,
            "t": sealed,
            "a": round(user.logged_in_at or time.time(), 3),
        }

    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        user = self.get_user()
        if user is None or user.open_id != open_id:
            return
        if tokens.scopes:
            user = replace(user, scopes=tokens.scopes)
        # Through set(): the new tokens may be longer, and the profile must
        # still leave room for them within the cookie's budget.
        self.set(user, tokens)

    def delete(self, open_id: str | None = None) -> None:
        if not has_request_context():
            return
        user = self.get_user()
        if open_id is None or (user is not None and user.open_id == open_id):
            session.pop(_KEY, None)


#: Characters of the session cookie a login may take: browsers drop a cookie
#: over 4 KB, and the app's session holds pending logins and its own data.
_COOKIE_BUDGET = 3000


def _fitting_profile(
    profile: dict[str, Any], open_id: str, room: int
) -> dict[str, Any]:
    """``profile`` with its largest fields dropped until it fits ``room``.

    A profile too big for the cookie would make the browser drop the whole
    cookie, and the login with it; a dropped field reads as ``None``.
    """
    kept = profile | {"open_id": open_id}
    sizes = {k: len(json.dumps(v)) for k, v in kept.items() if k != "open_id"}
    total = len(json.dumps(kept))
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total <= room:
            break
        del kept[key]
        total = len(json.dumps(kept))
    return kept


def _seal(open_id: str, tokens: OAuth2Tokens) -> str:
    compact = [
        tokens.access_token,
        tokens.refresh_token,
        _seconds(tokens.data.get("expires_in")),
        _seconds(tokens.data.get("refresh_expires_in")),
        int(tokens.issued_at),
    ]
    return _cipher().encrypt(
        json.dumps(compact, separators=(",", ":")).encode(), open_id
    )


def _seconds(value: Any) -> float | None:
    """A lifetime as :class:`OAuth2Tokens` reads it, or None: never the raw
    value, which could be anything (a 100 kB string) in a hostile answer."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(seconds):
        return None
    return int(seconds) if seconds.is_integer() and abs(seconds) < 2**53 else seconds


def _unseal(text: str, open_id: str, scope: str) -> OAuth2Tokens | None:
    plain = _cipher().decrypt(text, open_id)
    if plain is None:
        return None
    access, refresh, expires_in, refresh_expires_in, issued_at = json.loads(plain)
    data: dict[str, Any] = {
        "access_token": access,
        "open_id": open_id,
        "scope": scope,
        "token_type": "Bearer",
    }
    if refresh:
        data["refresh_token"] = refresh
    if expires_in is not None:
        data["expires_in"] = expires_in
    if refresh_expires_in is not None:
        data["refresh_expires_in"] = refresh_expires_in
    return OAuth2Tokens(data, issued_at)


def _cipher() -> TokenCipher:
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or ()
    return _cipher_for((config.get("SECRET_KEY"), *fallbacks))


@lru_cache(maxsize=8)
def _cipher_for(secrets: tuple[str | bytes, ...]) -> TokenCipher:
    return TokenCipher(secrets)
