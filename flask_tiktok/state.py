"""What one app's extension keeps: its settings, client, storage and refresher."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, current_app

from .client import TikTokClient
from .config import Settings
from .expiring import ExpiringRecord
from .refresh import TokenRefresher
from .storage.base import BaseStorage, StoredUser

__all__ = ["EXTENSION_KEY", "ConnectHooks", "Extension", "TikTokState", "get_state"]

#: The key of :class:`TikTokState` in ``app.extensions``.
EXTENSION_KEY = "tiktok"


class Extension(Protocol):
    """What the routes and commands call on the registered
    :class:`~flask_tiktok.TikTok` (an app may override these methods)."""

    def logout_user(self, reason: str = "logout") -> None:
        """End the request's login without asking TikTok."""

    def forget(self, open_id: str) -> None:
        """Delete everything stored about ``open_id``."""

    def disconnect_account(self, open_id: str) -> None:
        """Revoke and delete the connected account ``open_id``."""


class ConnectHooks:
    """The app's callbacks for connected accounts (``@tiktok.owner_loader``,
    ``@tiktok.before_connect``), kept by the :class:`~flask_tiktok.TikTok`
    instance and shared with every app it serves."""

    def __init__(self) -> None:
        #: Returns the app's own user id for the request, or ``None``.
        self.owner_loader: Callable[[], Any] | None = None
        #: Called before a connection is stored; a response refuses it.
        self.before_connect: list[Callable[..., Any]] = []

    def owner(self) -> str | None:
        """The request's owner id as a string (an int is stored as its str)."""
        if self.owner_loader is None:
            raise RuntimeError(
                "Connected accounts need to know the app's user: register a"
                " function with @tiktok.owner_loader that returns the current"
                " user's id (or None)."
            )
        owner = self.owner_loader()
        return None if owner is None else str(owner)


class TikTokState:
    """What :meth:`TikTok.init_app <flask_tiktok.TikTok.init_app>` keeps in
    ``app.extensions["tiktok"]``: one app's parts, already made and checked.

    Read it with :func:`get_state` (or ``app.extensions["tiktok"]``); the
    :class:`~flask_tiktok.TikTok` instance is its :attr:`extension`. Made by
    ``init_app``, not by apps.
    """

    extension: Extension
    settings: Settings
    client: TikTokClient
    storage: BaseStorage
    refresher: TokenRefresher
    hooks: ConnectHooks
    removed_users: ExpiringRecord[float]

    def __init__(
        self,
        extension: Extension,
        settings: Settings,
        client: TikTokClient,
        storage: BaseStorage,
        refresher: TokenRefresher,
        hooks: ConnectHooks | None = None,
    ) -> None:
        #: The :class:`~flask_tiktok.TikTok` instance registered on the app.
        self.extension = extension
        #: The app's checked ``TIKTOK_*`` settings.
        self.settings = settings
        #: The app's :class:`~flask_tiktok.TikTokClient`.
        self.client = client
        #: Where logins are kept.
        self.storage = storage
        #: The one way tokens are refreshed: once per expiry, across processes.
        self.refresher = refresher
        #: The connected-account callbacks.
        self.hooks = hooks or ConnectHooks()
        #: ``open_id -> create_time`` of the ``authorization.removed`` events
        #: this process received (only with ``TIKTOK_REMEMBER_REMOVED``).
        self.removed_users = ExpiringRecord[float](100_000)

    def authorization_removed(self, user: StoredUser) -> bool:
        """Whether TikTok removed the authorization after ``user`` logged in."""
        if not self.removed_users:
            return False
        removed_at = self.removed_users.get(user.open_id)
        if removed_at is None:
            return False
        # A login TikTok removed; one made after the removal stands. A login of
        # unknown age is taken as older.
        return user.logged_in_at is None or user.logged_in_at < removed_at + 1


def get_state(app: Flask | None = None) -> TikTokState:
    """The state of ``app`` (default: the current app), with a helpful error."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        state: TikTokState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "flask-tiktok is not registered on this app: call TikTok(app) or"
            " tiktok.init_app(app) first."
        ) from None
    return state
