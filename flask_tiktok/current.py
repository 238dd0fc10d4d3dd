"""The request's TikTok login: one object, cached on ``g`` under one key.

:class:`CurrentLogin` is everything a request knows of its TikTok login: the
stored user (read once), the :class:`~flask_tiktok.TikTokUser` that
:data:`~flask_tiktok.current_tiktok_user` shows for it, and its valid tokens
(refreshed through the app's one refresher when a call needs them). Nothing
else in the extension keeps request state on ``g``.

A login is bound to the TikTok app that made it: the session carries a
fingerprint of the ``TIKTOK_CLIENT_KEY`` (:func:`bind_login`), and a login
made by another app sharing the ``SECRET_KEY`` is nobody here.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, session

from .context import request_session
from .errors import TikTokLoginRequired
from .flow import forget_declined_scopes
from .logs import logger
from .signals import tiktok_logged_out
from .state import TikTokState, get_state
from .storage.base import StorageUnavailable, StoredUser
from .tokens import OAuth2Tokens

__all__ = ["CurrentLogin", "bind_login", "current_login", "drop_current_login"]

#: The one ``g`` attribute the extension uses.
_G_KEY = "_tiktok_login"
#: The session key of the fingerprint of the client key the login was made for.
_APP_KEY = "_tiktok_app"
_UNREAD: Any = object()
_g: Any = g


class CurrentLogin:
    """The request's TikTok login (get it with :func:`current_login`)."""

    __slots__ = ("_outage", "_state", "_stored", "_tokens", "user")

    def __init__(self, state: TikTokState) -> None:
        self._state = state
        self._stored: StoredUser | None = _UNREAD
        self._tokens: OAuth2Tokens | None = None
        self._outage: StorageUnavailable | None = None
        #: The :class:`~flask_tiktok.TikTokUser` (or anonymous user) shown for
        #: it, made by :mod:`flask_tiktok.user` on first use.
        self.user: Any = None

    @property
    def stored(self) -> StoredUser | None:
        """The stored user, read from the storage once a request.

        A login TikTok removed (``authorization.removed`` remembered with
        ``TIKTOK_REMEMBER_REMOVED``) is ended here, on its next request; one
        another TikTok app made (:func:`bind_login`) is nobody.

        :raises StorageUnavailable: the storage cannot be reached (asked once
            a request: later uses raise at once).
        """
        if self._stored is _UNREAD:
            if self._outage is not None:
                raise self._outage
            state = self._state
            cookie = request_session()
            # A session without the mark holds a login made before 0.2.
            mark = cookie.get(_APP_KEY) if cookie is not None else None
            if mark is not None and mark != _fingerprint(state.settings.client_key):
                # Another TikTok app's login: nobody here, the storage unasked.
                self._stored = None
                return None
            try:
                user = state.storage.get_user()
            except StorageUnavailable as exc:
                logger.warning("TikTok login storage unavailable: %s", exc)
                self._outage = exc
                raise
            if (
                user is not None
                and state.settings.remember_removed
                and state.authorization_removed(user)
            ):
                state.storage.delete()
                _send_logged_out(user.open_id, "authorization_removed")
                user = None
            self._stored = user
        return self._stored

    def tokens(self) -> OAuth2Tokens | None:
        """Valid tokens, refreshed first when expired (once a request), or
        ``None`` with nobody logged in or no tokens stored."""
        refresher = self._state.refresher
        tokens = self._tokens
        if tokens is not None and not tokens.access_token_expired(refresher.leeway):
            return tokens
        user = self.stored
        if user is None:
            return None
        tokens = self._state.storage.get_tokens(user.open_id)
        if tokens is None:
            return None
        self._tokens = refresher.ensure_fresh(user.open_id, tokens)
        return self._tokens

    def renew(self, rejected: OAuth2Tokens) -> OAuth2Tokens:
        """New tokens after TikTok ``rejected`` these before their expiry."""
        user = self.stored
        if user is None:
            raise TikTokLoginRequired("no TikTok user is logged in")
        self._tokens = self._state.refresher.ensure_fresh(
            user.open_id, rejected, force=True
        )
        return self._tokens

    def end(self, reason: str) -> None:
        """End the login here: delete it from the storage, forget what this
        request read, drop the declined-scope note, send
        ``tiktok_logged_out`` (when somebody was logged in). TikTok is not
        asked anything."""
        user = self.stored
        self._state.storage.delete()
        drop_current_login()
        if has_request_context():
            forget_declined_scopes()
            session.pop(_APP_KEY, None)
        if user is not None:
            _send_logged_out(user.open_id, reason)


def current_login(state: TikTokState | None = None) -> CurrentLogin:
    """The request's :class:`CurrentLogin` (made on first use)."""
    # Every protected request runs this: resolve the ``g`` proxy only once.
    namespace = _g._get_current_object().__dict__
    login: CurrentLogin | None = namespace.get(_G_KEY)
    if login is None:
        login = namespace[_G_KEY] = CurrentLogin(state or get_state())
    return login


def bind_login(state: TikTokState) -> None:
    """At the callback, make the browser's new login this app's: mark it with
    the client key's fingerprint, and give the session a new id where the
    session interface can (Flask-Session's ``regenerate``), so that a session
    id planted before the login does not carry it (session fixation)."""
    session[_APP_KEY] = _fingerprint(state.settings.client_key)
    regenerate = getattr(current_app.session_interface, "regenerate", None)
    if callable(regenerate):
        regenerate(session)


@lru_cache(maxsize=8)
def _fingerprint(client_key: str) -> str:
    # Short (it is in the cookie): apps are told apart, nothing is secret.
    return hashlib.sha256(client_key.encode("utf-8")).hexdigest()[:16]


def drop_current_login() -> None:
    """Forget what this request read of its login (it changed or ended); the
    next use reads the storage again. Does nothing outside an app context."""
    if has_app_context():
        g.pop(_G_KEY, None)


def _send_logged_out(open_id: str, reason: str) -> None:
    tiktok_logged_out.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        open_id=open_id,
        reason=reason,
    )
