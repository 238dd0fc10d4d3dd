"""Connected accounts: TikTok accounts linked to the app's own users.

TikTok is then not the identity but an account the app acts for. An owner (the
app's user, named by ``@tiktok.owner_loader``) connects accounts through
``tiktok.connect``; each account belongs to one owner; the browser's own
TikTok login, if any, is never touched. Accounts live in a shared storage
(:class:`~flask_tiktok.storage.sqla.SQLAlchemyStorage`), so views and background
jobs reach them alike.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from flask import Flask, current_app, has_app_context, redirect, url_for
from werkzeug.wrappers import Response

from .api import TikTokAPISession
from .errors import TikTokLoginRequired, TikTokReconnectRequired
from .flow import PendingLogin, start_login
from .redirects import safe_next
from .responses import error_page, owner_required_response
from .signals import tiktok_account_connected, tiktok_account_disconnected
from .state import TikTokState
from .storage.base import AccountTaken, StoredAccount, StoredUser
from .tokens import OAuth2Tokens
from .user import TikTokUser

__all__ = [
    "TikTokAccount",
    "account_disconnected",
    "account_of",
    "api_session",
    "disconnect",
    "finish_connect",
    "is_connected",
    "owned_account",
    "reconnect_response",
    "start_connect",
]


class TikTokAccount(TikTokUser):
    """A TikTok account connected to one of the app's users.

    The profile of :class:`~flask_tiktok.TikTokUser` (each field fetched when
    it was connected is an attribute, ``display_name``, ``avatar_url``, ...;
    ``open_id``, ``scopes``, ``profile``, ``has_scopes``), plus its owner,
    when it was connected, whether it still has tokens, and :attr:`api`,
    which calls TikTok as this account.
    """

    def __init__(self, stored: StoredAccount, api: TikTokAPISession) -> None:
        super().__init__(stored.user)
        self._account = stored
        #: A :class:`~flask_tiktok.TikTokAPISession` calling TikTok as this
        #: account (tokens refreshed first, once across processes).
        self.api = api

    def __repr__(self) -> str:
        return f"<TikTokAccount {self.open_id!r} of {self.owner_id!r}>"

    @property
    def owner_id(self) -> str:
        """The app's id of the user it is connected to."""
        return self._account.owner_id

    @property
    def connected_at(self) -> datetime | None:
        """When it was connected to its owner (an aware UTC datetime)."""
        return self._account.connected_at

    @property
    def has_tokens(self) -> bool:
        """False once TikTok refused a refresh or removed the authorization:
        offer the owner to reconnect it."""
        return self._account.has_tokens


def owned_account(state: TikTokState, open_id: str) -> StoredAccount | None:
    """The request's owner's account ``open_id``; ``None`` for nobody signed
    in, an account not connected, or another owner's."""
    owner = state.hooks.owner()
    stored = state.storage.get_account(open_id)
    if owner is None or stored is None or stored.owner_id != owner:
        return None
    return stored


def api_session(state: TikTokState, open_id: str) -> TikTokAPISession:
    """A session calling TikTok as the stored user ``open_id``, in any app
    context (a request, a job): tokens read from the storage, refreshed through
    the refresher, kept for the session's next calls."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached: list[OAuth2Tokens] = []

    def tokens() -> OAuth2Tokens:
        if cached and not cached[0].access_token_expired(state.refresher.leeway):
            return cached[0]
        with nullcontext() if has_app_context() else app.app_context():
            stored = state.storage.get_tokens(open_id)
            if stored is None:
                raise _gone(state, open_id)
            fresh = _fresh(state, open_id, stored, force=False)
        cached[:] = [fresh]
        return fresh

    def renew(rejected: OAuth2Tokens) -> OAuth2Tokens:
        with nullcontext() if has_app_context() else app.app_context():
            fresh = _fresh(state, open_id, rejected, force=True)
        cached[:] = [fresh]
        return fresh

    return TikTokAPISession(state.client, tokens, renew)


def _fresh(
    state: TikTokState, open_id: str, tokens: OAuth2Tokens, *, force: bool
) -> OAuth2Tokens:
    try:
        return state.refresher.ensure_fresh(open_id, tokens, force=force)
    except TikTokLoginRequired:
        if is_connected(state, open_id):
            raise TikTokReconnectRequired(open_id) from None
        raise


def _gone(state: TikTokState, open_id: str) -> TikTokLoginRequired:
    """What a call as ``open_id`` raises once no tokens are left: a connected
    account needs reconnecting, a login logging in again."""
    if is_connected(state, open_id):
        return TikTokReconnectRequired(open_id)
    return TikTokLoginRequired(f"no TikTok tokens stored for {open_id!r}")


def account_of(state: TikTokState, stored: StoredAccount) -> TikTokAccount:
    """The :class:`TikTokAccount` of a stored account."""
    return TikTokAccount(stored, api_session(state, stored.user.open_id))


def start_connect(
    state: TikTokState, extra_scopes: list[str], next_url: str
) -> Response:
    """Send the request's owner to TikTok to pick an account to connect."""
    owner = state.hooks.owner()
    if owner is None:
        return owner_required_response()
    scopes = list(dict.fromkeys([*state.settings.scopes, *extra_scopes]))
    return start_login(scopes, next_url, owner=owner)


def finish_connect(
    state: TikTokState,
    owner: str,
    pending: PendingLogin,
    user: StoredUser,
    tokens: OAuth2Tokens,
) -> Response:
    """Store the account TikTok authorized for ``owner``, or refuse.

    The account's owner must be this owner or nobody; another owner's is
    refused (409) unless ``before_connect`` hooks accept the move. Nothing is
    stored when refused, and nothing is revoked: the authorization is the
    other owner's too.
    """
    held = state.storage.get_account(user.open_id)
    previous = None if held is None else held.owner_id
    hooks = state.hooks.before_connect
    moved_from = previous if previous != owner else None
    for hook in hooks:
        answer = hook(owner, user, tokens, moved_from)
        if isinstance(answer, bool):
            raise TypeError(
                f"@tiktok.before_connect {hook!r} returned {answer!r}: return"
                " None to accept the connection, or a response to refuse it."
            )
        if answer is not None:
            return current_app.make_response(answer)
    if moved_from is not None and not hooks:
        return _taken()
    try:
        state.storage.set_account(owner, user, tokens, previous_owner_id=previous)
    except AccountTaken:
        return _taken()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if moved_from is not None:
        tiktok_account_disconnected.send(
            app, owner_id=moved_from, open_id=user.open_id, reason="moved"
        )
    stored = state.storage.get_account(user.open_id)
    if stored is not None:  # (None only if deleted in between)
        tiktok_account_connected.send(
            app,
            owner_id=owner,
            account=account_of(state, stored),
            tokens=tokens,
        )
    return redirect(safe_next(pending.next_url, state.settings.login_redirect))


def reconnect_response(error: TikTokReconnectRequired) -> Response:
    """409, with a link that connects the account again (not a TikTok login)."""
    return error_page(
        409,
        "Connect this TikTok account again",
        "TikTok ended this account's connection; connect it again to go on.",
        "reconnect_required",
        retry_url=url_for("tiktok.connect"),
    )


def _taken() -> Response:
    return error_page(
        409,
        "This TikTok account is connected elsewhere",
        "Another user of this site has already connected this TikTok account.",
        "account_taken",
    )


def disconnect(state: TikTokState, account: StoredAccount, reason: str) -> None:
    """Revoke the account at TikTok (best effort), delete it, and send
    ``tiktok_account_disconnected``."""
    open_id = account.user.open_id
    state.refresher.revoke(open_id)
    state.storage.forget(open_id)
    tiktok_account_disconnected.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        owner_id=account.owner_id,
        open_id=open_id,
        reason=reason,
    )


def is_connected(state: TikTokState, open_id: str) -> bool:
    """Whether ``open_id`` is connected to an owner (connected accounts on)."""
    return _connected(state, open_id) is not None


def _connected(state: TikTokState, open_id: str) -> StoredAccount | None:
    # Only where connected accounts are on (an owner_loader is registered),
    # so a 0.1 database not yet upgraded keeps serving logins.
    if not state.storage.shared or state.hooks.owner_loader is None:
        return None
    try:
        return state.storage.get_account(open_id)
    except NotImplementedError:
        return None


def account_disconnected(
    app: Flask, state: TikTokState, open_id: str, reason: str
) -> bool:
    """Send ``tiktok_account_disconnected`` if ``open_id`` is a connected
    account (its tokens are gone: TikTok refused them or removed the
    authorization). Whether ``open_id`` is a connected account."""
    account = _connected(state, open_id)
    if account is None:
        return False
    tiktok_account_disconnected.send(
        app, owner_id=account.owner_id, open_id=open_id, reason=reason
    )
    return True
