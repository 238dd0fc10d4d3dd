"""The ``TikTok`` Flask extension."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import requests
from flask import Flask, url_for

from .accounts import (
    TikTokAccount,
    account_disconnected,
    account_of,
    api_session,
    disconnect,
    owned_account,
)
from .api import TikTokAPISession
from .cli import cli
from .client import TikTokClient
from .config import Settings
from .cookie import fit_cookie_sessions
from .current import current_login, drop_current_login
from .errors import TikTokLoginRequired
from .receiver import exempt_from_csrf
from .refresh import TokenRefresher
from .signals import (
    tiktok_logged_out,
    tiktok_token_refreshed,
)
from .state import EXTENSION_KEY, ConnectHooks, TikTokState, get_state
from .storage.base import BaseStorage
from .storage.session import SessionStorage
from .tokens import OAuth2Tokens
from .user import template_context
from .views import blueprint, webhook
from .wire import scope_param

__all__ = ["TikTok"]

#: Default video fields for :meth:`TikTok.videos`.
DEFAULT_VIDEO_FIELDS = ("id", "title", "cover_image_url", "share_url", "create_time")


class TikTok:
    """Log in with TikTok for a Flask app.

    ``TikTok(app)``, or ``tiktok = TikTok()`` then ``tiktok.init_app(app)`` in
    an app factory. One instance may serve several apps; each gets its own
    client, storage and settings, and nothing is kept on ``self`` but the
    options given here.

    :param storage: where logins are kept (default: :class:`SessionStorage`,
        the Flask session).
    :param session: a ``requests.Session`` whose adapters carry every call to
        TikTok (retries, proxies, test doubles).
    :param refresh_leeway: seconds before expiry at which a token is refreshed.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        storage: BaseStorage | None = None,
        session: requests.Session | None = None,
        refresh_leeway: float = 60.0,
    ) -> None:
        self._storage = storage
        self._session = session
        self._refresh_leeway = refresh_leeway
        self._hooks = ConnectHooks()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the extension, its blueprint and its config defaults."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A 'TikTok' instance is already registered on this app. Call"
                " TikTok(app) or init_app(app) once, and import that instance"
                " where it is needed."
            )
        Settings.set_defaults(app.config)
        settings = Settings.from_config(app.config)
        client = TikTokClient(
            settings.client_key,
            settings.client_secret,
            settings.redirect_uri,
            authorization_url=settings.authorization_url,
            token_url=settings.token_url,
            revoke_url=settings.revoke_url,
            api_base_url=settings.api_base_url,
            pkce=settings.pkce,
            timeout=settings.timeout,
            max_response_bytes=settings.max_response_bytes,
            verified_url_prefixes=settings.verified_url_prefixes,
            session=self._session,
        )
        storage = self._storage or SessionStorage()
        if self._hooks.owner_loader is not None:
            _require_shared(storage, "@tiktok.owner_loader")

        def refreshed(open_id: str, tokens: OAuth2Tokens) -> None:
            tiktok_token_refreshed.send(app, open_id=open_id, tokens=tokens)

        def refused(open_id: str, reason: str) -> None:
            drop_current_login()
            # A connected account says so; a login (or both: it cannot tell)
            # is a logout.
            state = get_state(app)
            if not account_disconnected(app, state, open_id, "refresh_refused"):
                tiktok_logged_out.send(app, open_id=open_id, reason=reason)

        refresher = TokenRefresher(
            client,
            storage,
            leeway=self._refresh_leeway,
            on_refreshed=refreshed,
            on_refused=refused,
        )
        app.extensions[EXTENSION_KEY] = TikTokState(
            self, settings, client, storage, refresher, self._hooks
        )
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        exempt_from_csrf(app, webhook)
        app.context_processor(template_context)
        fit_cookie_sessions(app)
        app.cli.add_command(cli)

    @property
    def client(self) -> TikTokClient:
        """The current app's :class:`TikTokClient`."""
        return get_state().client

    @property
    def storage(self) -> BaseStorage:
        """The current app's storage backend."""
        return get_state().storage

    @property
    def api(self) -> TikTokAPISession:
        """A requests-style session calling TikTok as the current user.

        Paths are relative to ``TIKTOK_API_BASE_URL``; the Bearer token is
        attached and refreshed first when it has expired. With nobody logged
        in (or a refresh TikTok refused) a call raises
        :class:`~flask_tiktok.TikTokLoginRequired`, which the extension answers
        like an anonymous request to a protected route.
        """
        state = get_state()
        # Looked up at each call: a refused refresh ends the request's login.
        return TikTokAPISession(
            state.client,
            lambda: current_login(state).tokens(),
            lambda rejected: current_login(state).renew(rejected),
        )

    def api_for(self, open_id: str) -> TikTokAPISession:
        """A session calling TikTok as ``open_id``, who need not be here.

        For jobs and CLI commands (call it in an app context): the same
        :class:`~flask_tiktok.TikTokAPISession` as :attr:`api`, reading the
        user's tokens from the storage, refreshing (once across processes)
        and storing them as a request would. The storage must be shared
        (:class:`~flask_tiktok.storage.sqla.SQLAlchemyStorage`); a call raises
        :class:`~flask_tiktok.TikTokLoginRequired` when no tokens are stored
        or TikTok refused to refresh them.
        """
        return api_session(_shared_state("tiktok.api_for()"), open_id)

    # -- connected accounts ------------------------------------------------

    def owner_loader(self, func: OwnerLoader) -> OwnerLoader:
        """Register the function that says who the app's user is.

        It returns the current request's user id (any value; stored as its
        ``str``), or ``None`` when nobody is signed in, like Flask-Login's
        ``user_loader`` in reverse::

            @tiktok.owner_loader
            def current_owner():
                return current_user.get_id() if current_user.is_authenticated else None

        Connected accounts need a shared storage: registering it with the
        cookie session is an error.
        """
        _require_shared(self._storage or SessionStorage(), "@tiktok.owner_loader")
        self._hooks.owner_loader = func
        return func

    def before_connect(self, func: BeforeConnect) -> BeforeConnect:
        """Register ``func(owner_id, user, tokens, previous_owner_id)``, called
        before a connected account is stored.

        ``user`` is a :class:`~flask_tiktok.StoredUser`, ``tokens`` the new
        :class:`~flask_tiktok.OAuth2Tokens`. Return a response (anything a
        view may return) to refuse: nothing is stored. Return ``None`` to
        accept. ``previous_owner_id`` is set when another owner holds the
        account: with no hook such a connect is refused (409); with hooks it
        moves to the new owner when every hook returns ``None``, so check it.
        """
        self._hooks.before_connect.append(func)
        return func

    def connect_url(
        self, *, scopes: Iterable[str] | None = None, next: str | None = None
    ) -> str:
        """The URL of ``tiktok.connect``, asking for ``scopes`` on top of
        ``TIKTOK_SCOPES``, returning to ``next``."""
        args: dict[str, Any] = {}
        if scopes is not None:
            args["scope"] = scope_param(scopes)
        if next is not None:
            args["next"] = next
        return url_for("tiktok.connect", **args)

    def accounts(self, owner_id: Any = None) -> list[TikTokAccount]:
        """The TikTok accounts of ``owner_id`` (default: the request's owner),
        oldest connection first; ``[]`` with no owner. One query."""
        state = _shared_state("tiktok.accounts()")
        owner = state.hooks.owner() if owner_id is None else str(owner_id)
        if owner is None:
            return []
        return [account_of(state, a) for a in state.storage.list_accounts(owner)]

    def account(self, open_id: str) -> TikTokAccount | None:
        """The request's owner's account ``open_id``, or ``None`` (also for
        another owner's: never theirs)."""
        state = _shared_state("tiktok.account()")
        stored = owned_account(state, open_id)
        return None if stored is None else account_of(state, stored)

    def refresh(self, open_id: str, *, force: bool = False) -> OAuth2Tokens:
        """Refresh ``open_id``'s tokens now (once across processes) and return
        them. Without ``force``, tokens still valid are returned as they are.

        :raises TikTokLoginRequired: none are stored, or TikTok refused.
        """
        state = _shared_state("tiktok.refresh()")
        tokens = state.storage.get_tokens(open_id)
        if tokens is None:
            raise TikTokLoginRequired(f"no TikTok tokens stored for {open_id!r}")
        return state.refresher.ensure_fresh(open_id, tokens, force=force)

    def disconnect_account(self, open_id: str) -> None:
        """Revoke ``open_id`` at TikTok (best effort) and delete it, as the
        ``tiktok.disconnect`` route does (no owner check: for jobs and admins).
        """
        state = _shared_state("tiktok.disconnect_account()")
        stored = state.storage.get_account(open_id)
        if stored is None:
            return
        disconnect(state, stored, "disconnect")
        drop_current_login()

    def forget(self, open_id: str) -> None:
        """Delete everything stored about ``open_id`` (a data-deletion request).

        Their tokens are not revoked at TikTok: call
        ``tiktok.client.revoke_token`` first if they should be.
        """
        get_state().storage.forget(open_id)
        drop_current_login()

    def videos(
        self, fields: Iterable[str] | None = None, *, limit: int | None = 20
    ) -> list[dict[str, Any]]:
        """The current user's public videos, newest first (scope ``video.list``).

        Each video is a dict of ``fields`` (default: ``id``, ``title``,
        ``cover_image_url``, ``share_url``, ``create_time``). Follows TikTok's
        cursor across pages (which may be short) until ``limit`` videos
        (``None``: all of them). Goes through :attr:`api`, so an expired token
        is refreshed first, once, and a token TikTok rejects early is refreshed
        and the listing asked again, once; with nobody logged in it raises
        :class:`~flask_tiktok.TikTokLoginRequired`, and a user who did not grant
        ``video.list`` gets :class:`~flask_tiktok.TikTokAPIError`
        (``scope_not_authorized``): protect the view with
        ``@tiktok_login_required(scopes=["video.list"])``.
        """
        wanted = DEFAULT_VIDEO_FIELDS if fields is None else fields
        api = self.api
        return api.with_token(
            lambda token: list(api.client.iter_videos(token, wanted, limit=limit))
        )

    def logout_user(self, reason: str = "logout") -> None:
        """Forget the current request's user without asking TikTok anything."""
        current_login().end(reason)


OwnerLoader = TypeVar("OwnerLoader", bound=Callable[[], Any])
BeforeConnect = TypeVar("BeforeConnect", bound=Callable[..., Any])


def _require_shared(storage: BaseStorage, what: str) -> None:
    if not storage.shared:
        raise RuntimeError(
            f"{what} needs a shared storage: {type(storage).__name__} keeps"
            " tokens in each user's browser session, out of reach of jobs and"
            " other workers. Pass storage=SQLAlchemyStorage(...) to TikTok()."
        )


def _shared_state(what: str) -> TikTokState:
    state = get_state()
    _require_shared(state.storage, what)
    return state
