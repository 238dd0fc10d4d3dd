"""Single-flight token refresh: one call to TikTok per expired token.

TikTok rotates refresh tokens, so two requests that refresh the same token
race: the second spends a dead token and its user is logged out. Refreshes of
one user run under the storage's lock; inside it the tokens are re-read, and a
short-lived record of "old refresh token -> new tokens" serves requests that
still carry the old token (a cookie sent before the first refresh answered).

Every refresh goes through :meth:`TokenRefresher.ensure_fresh`: a request's
(``tiktok.api``), a job's (``tiktok.api_for``), the logout's before it revokes,
and ``flask tiktok refresh``. Nothing else calls
:meth:`~flask_tiktok.TikTokClient.refresh_access_token`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NoReturn

from .client import TikTokClient
from .errors import (
    TRANSIENT_OAUTH_ERRORS,
    OAuth2RequestError,
    TikTokError,
    TikTokLoginRequired,
)
from .logs import loggable, logger
from .storage.base import BaseStorage
from .tokens import OAuth2Tokens

# TRANSIENT_OAUTH_ERRORS: 0.1's import path (its home is flask_tiktok.errors).
__all__ = ["TRANSIENT_OAUTH_ERRORS", "TokenRefresher"]


class _RotationRecord:
    """Recently rotated refresh tokens (by hash) and what replaced them."""

    def __init__(self, ttl: float, size: int) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, tuple[float, OAuth2Tokens]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(refresh_token: str) -> str:
        return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()

    def get(self, refresh_token: str) -> OAuth2Tokens | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(self._key(refresh_token))
        if entry is None or entry[0] < now:
            return None
        return entry[1]

    def put(self, refresh_token: str, tokens: OAuth2Tokens) -> None:
        now = time.monotonic()
        with self._lock:
            self._entries[self._key(refresh_token)] = (now + self._ttl, tokens)
            while self._entries and (
                len(self._entries) > self._size
                or next(iter(self._entries.values()))[0] < now
            ):
                self._entries.popitem(last=False)


class TokenRefresher:
    """Returns a user's valid access token, refreshing at most once.

    ``on_refreshed(open_id, tokens)`` runs after a refresh is stored;
    ``on_refused(open_id, reason)`` runs when the login cannot go on (TikTok
    refused the refresh token, or it expired), after which
    :class:`~flask_tiktok.errors.TikTokLoginRequired` is raised.
    """

    def __init__(
        self,
        client: TikTokClient,
        storage: BaseStorage,
        *,
        leeway: float = 60.0,
        on_refreshed: Callable[[str, OAuth2Tokens], None] | None = None,
        on_refused: Callable[[str, str], None] | None = None,
        rotation_ttl: float = 300.0,
    ) -> None:
        self.client = client
        self.storage = storage
        self.leeway = leeway
        self._on_refreshed = on_refreshed
        self._on_refused = on_refused
        self._rotated = _RotationRecord(rotation_ttl, 10_000)

    def ensure_fresh(
        self,
        open_id: str,
        tokens: OAuth2Tokens,
        *,
        force: bool = False,
        leeway: float | None = None,
    ) -> OAuth2Tokens:
        """``tokens`` if still valid, else the refreshed pair (stored).

        "Valid" means not expiring within ``leeway`` seconds (default: the
        refresher's). ``force`` refreshes valid tokens too, unless another
        holder of the lock replaced ``tokens`` meanwhile.
        """
        margin = self.leeway if leeway is None else leeway
        if not force and not tokens.access_token_expired(margin):
            return tokens
        try:
            return self._refresh(open_id, tokens, force, margin)
        except _Refused as refused:
            # Outside the lock: a receiver of tiktok_logged_out may write the
            # user's row, or refresh, without waiting on this thread's lock.
            if self._on_refused is not None:
                self._on_refused(open_id, refused.reason)
            raise TikTokLoginRequired(f"TikTok login ended: {refused.reason}") from None

    def revoke(self, open_id: str) -> None:
        """Revoke ``open_id``'s authorization at TikTok, best effort.

        TikTok revokes by access token, and an expired one can no longer name
        the authorization: it is refreshed first (as any refresh, under the
        lock). A login whose refresh token has expired too is left to lapse;
        a failure is logged, never raised. The stored tokens are not deleted
        here.
        """
        tokens = self.storage.get_tokens(open_id)
        if tokens is None:
            return
        try:
            if tokens.access_token_expired():
                if tokens.refresh_token_expired():
                    return
                tokens = self.ensure_fresh(open_id, tokens)
            self.client.revoke_token(tokens.access_token)
        except TikTokLoginRequired:
            return  # TikTok refused the refresh: the authorization is over there
        except TikTokError as exc:
            logger.warning(
                "TikTok token revocation failed (going on): %s", loggable(exc)
            )

    def _refresh(
        self, open_id: str, tokens: OAuth2Tokens, force: bool, leeway: float
    ) -> OAuth2Tokens:
        with self.storage.lock_or_wait(open_id) as waited:
            if waited is None:
                fresh, refreshed = self._holding(open_id, tokens, force, leeway)
        if waited is not None:
            if _serves(waited, tokens, force, leeway):
                return waited  # another process's refresh, read with its waiters
            with self.storage.refresh_lock(open_id):
                fresh, refreshed = self._holding(open_id, tokens, force, leeway)
        if refreshed and self._on_refreshed is not None:
            self._on_refreshed(open_id, fresh)
        return fresh

    def _holding(
        self, open_id: str, tokens: OAuth2Tokens, force: bool, leeway: float
    ) -> tuple[OAuth2Tokens, bool]:
        """Under the lock: the stored tokens if another holder refreshed them
        meanwhile, else a refresh (stored); whether TikTok was called."""
        current = self.storage.get_tokens(open_id) or tokens
        if _serves(current, tokens, force, leeway):
            return current, False
        refresh_token = current.refresh_token
        rotated = self._rotated.get(refresh_token) if refresh_token else None
        if rotated is not None:
            self.storage.set_tokens(open_id, rotated)
            return rotated, False
        if refresh_token is None or current.refresh_token_expired():
            self._refuse(open_id, "refresh_expired")
        try:
            fresh = self.client.refresh_access_token(refresh_token)
        except OAuth2RequestError as exc:
            if exc.transient:
                raise  # answered as any TikTok failure; the login stands
            logger.warning(
                "TikTok refused to refresh the token of %s (logged out): %s",
                loggable(open_id),
                loggable(exc),
            )
            self._refuse(open_id, "refresh_refused")
        if fresh.refresh_token is None:
            # TikTok always rotates; keep the old one if an answer omits it.
            fresh = OAuth2Tokens(
                fresh.data | {"refresh_token": refresh_token}, fresh.issued_at
            )
        self._rotated.put(refresh_token, fresh)
        self.storage.set_tokens(open_id, fresh)
        return fresh, True

    def _refuse(self, open_id: str, reason: str) -> NoReturn:
        # Raised inside the lock, whose release keeps the deletion.
        self.storage.delete(open_id)
        raise _Refused(reason)


def _serves(
    current: OAuth2Tokens, tokens: OAuth2Tokens, force: bool, leeway: float
) -> bool:
    """Whether ``current`` (stored now) serves a caller who held ``tokens``:
    valid, and for a forced refresh, replaced by another holder meanwhile."""
    replaced = current.access_token != tokens.access_token
    return not current.access_token_expired(leeway) and (not force or replaced)


class _Refused(Exception):
    """The login cannot go on (inside the refresh lock)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
