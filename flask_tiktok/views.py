"""The ``tiktok`` blueprint: login, connect, callback, logout, disconnect and
webhook routes.

Each route says what happened; :mod:`flask_tiktok.flow` does the login's
steps and :mod:`flask_tiktok.responses` says how every outcome is answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, redirect, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from .accounts import disconnect as disconnect_account
from .accounts import (
    finish_connect,
    is_connected,
    owned_account,
    reconnect_response,
    start_connect,
)
from .current import bind_login, current_login, drop_current_login
from .errors import (
    TikTokError,
    TikTokLoginRequired,
    TikTokReconnectRequired,
    WebhookPayloadError,
    WebhookSignatureError,
)
from .flow import (
    LoginFailed,
    fetch_login,
    note_declined_scopes,
    start_login,
    take_pending_login,
)
from .logs import loggable, logger
from .receiver import receive_webhook, refused_webhook
from .redirects import safe_next
from .responses import (
    error_page,
    error_response,
    login_cancelled,
    login_failed,
    login_required_response,
    storage_unavailable,
)
from .signals import tiktok_logged_in
from .state import TikTokState, get_state
from .storage.base import StorageUnavailable
from .tokens import OAuth2Tokens
from .user import TikTokUser
from .wire import scope_param, split_list

__all__ = ["blueprint"]

blueprint = Blueprint("tiktok", __name__, template_folder="templates")

#: What a scope name in a connect link may be (TikTok's are like
#: ``user.info.basic``), and how many a link may add.
_SCOPE_NAME = re.compile(r"[a-z0-9_.]{1,64}")
_MAX_SCOPES = 32


@blueprint.get("/login")
def login() -> Response:
    """Start a login; ``next`` is where to return (a path on this site)."""
    settings = get_state().settings
    next_url = safe_next(request.args.get("next"), settings.login_redirect)
    return start_login(settings.scopes, next_url)


@blueprint.get("/connect")
def connect() -> Response:
    """Connect a TikTok account to the request's app user (``owner_loader``).

    ``scope`` adds comma-separated scopes to ``TIKTOK_SCOPES``; ``next`` is
    where to return. Without an app user: 401, nothing started; without an
    ``owner_loader`` (connected accounts off): 404.
    """
    state = get_state()
    if state.hooks.owner_loader is None:
        abort(404)  # connected accounts are not on: no @tiktok.owner_loader
    asked = split_list(request.args.get("scope"))
    if len(asked) > _MAX_SCOPES or not all(_SCOPE_NAME.fullmatch(s) for s in asked):
        return error_page(
            400,
            "Invalid scopes",
            "The scopes asked for are malformed.",
            "invalid_scope",
        )
    extra = split_list(scope_param(asked)) if asked else []
    next_url = safe_next(request.args.get("next"), state.settings.login_redirect)
    return start_connect(state, extra, next_url)


@blueprint.get("/callback")
def callback() -> Response:
    """TikTok sends the browser back here with a ``code`` (or an ``error``)."""
    state = get_state()
    args = request.args
    pending = take_pending_login(args.get("state"))
    if pending is None:
        return login_failed("invalid_state", "unknown, used or expired state")
    if "error" in args:
        error = args.get("error", "")
        description = args.get("error_description")
        if error == "access_denied":
            return login_cancelled(description)
        return login_failed("authorization_error", f"{error}: {description}")
    code = args.get("code")
    if not code:
        return login_failed("invalid_callback", "no code in the callback")
    owner = pending.owner
    if owner is not None and state.hooks.owner() != owner:
        # The app's user changed (signed out, another account) since the
        # connect began: nothing is exchanged, nothing stored.
        return login_failed("owner_changed", "the connect's owner is not signed in")
    try:
        user, tokens = fetch_login(state, pending, code)
    except LoginFailed as failed:
        return login_failed(failed.error, failed.description, failed.exception)
    try:
        if owner is not None:
            return finish_connect(state, owner, pending, user, tokens)
        # A previous user's TikTok data must not survive into this login: set()
        # replaces the request's user. (A delete() here would log that user out
        # on every device with a server-side storage.)
        drop_current_login()
        state.storage.set(user, tokens)
    except StorageUnavailable as exc:
        _revoke_unkept(state, tokens)
        return login_failed("storage_unavailable", str(exc))
    bind_login(state)
    note_declined_scopes(pending, tokens.scopes)
    tiktok_logged_in.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        user=TikTokUser(user),
        tokens=tokens,
    )
    return redirect(safe_next(pending.next_url, state.settings.login_redirect))


def _revoke_unkept(state: TikTokState, tokens: OAuth2Tokens) -> None:
    """Revoke tokens the storage could not keep (best effort): no live token
    is left that nothing holds."""
    try:
        state.client.revoke_token(tokens.access_token)
    except TikTokError as exc:
        logger.warning("TikTok token revocation failed (going on): %s", loggable(exc))


def _same_site_request() -> bool:
    """Whether a state-changing POST comes from this site (logout, disconnect).

    The browser's ``Sec-Fetch-Site`` decides when it says ``same-origin`` or
    ``cross-site``: no reverse proxy rewrites it. Otherwise an ``Origin``
    must be this site's, scheme included: the request's own, or that of the
    pinned :data:`TIKTOK_REDIRECT_URI` (what the browser sees behind a proxy
    that rewrites ``Host``). No ``Origin`` at all (an old browser, a script
    without the user's cookies) passes.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site in ("same-origin", "cross-site"):
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = {_origin(request.scheme, request.host)}
    pinned = get_state().settings.redirect_uri
    if pinned:
        parts = urlsplit(pinned)
        own.add(_origin(parts.scheme, parts.netloc))
    parts = urlsplit(origin)
    return _origin(parts.scheme, parts.netloc) in own


def _origin(scheme: str, host: str) -> str:
    """``scheme://host`` in lower case, without the scheme's default port."""
    scheme, host = scheme.lower(), host.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host.removesuffix(default)
    return f"{scheme}://{host}"


@blueprint.post("/logout")
def logout() -> Response:
    """End the login: revoke the token at TikTok (best effort), forget it all.

    Only a POST from this site logs out: a GET is refused by the route, and a
    cross-site ``Origin`` or ``Sec-Fetch-Site: cross-site`` gets 403 (see
    :func:`_same_site_request`).
    """
    state = get_state()
    if not _same_site_request():
        return error_page(
            403,
            "Logout refused",
            "A logout must come from this site.",
            "cross_site_logout",
        )
    user = current_login(state).stored
    if user is not None:
        # A TikTok account connected to an owner too keeps its authorization:
        # revoking it would end the owner's connection.
        if not is_connected(state, user.open_id):
            state.refresher.revoke(user.open_id)
        # A refresh TikTok refused while revoking has ended it already (and
        # said so); logout_user reads the login again and finds nobody then.
        state.extension.logout_user("logout")
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, state.settings.login_redirect))


@blueprint.post("/accounts/<open_id>/disconnect")
def disconnect(open_id: str) -> Response:
    """Disconnect one of the app user's accounts: revoke at TikTok (best
    effort), delete, return to the safe ``next``. Only its owner, only from
    this site; anyone else gets the 404 of an account that is not there."""
    state = get_state()
    if not _same_site_request():
        return error_page(
            403,
            "Disconnect refused",
            "A disconnect must come from this site.",
            "cross_site_disconnect",
        )
    if state.hooks.owner_loader is None:
        abort(404)
    account = owned_account(state, open_id)
    if account is None:
        return error_page(
            404,
            "No such TikTok account",
            "This TikTok account is not connected to you.",
            "account_not_found",
            retry_url=state.settings.login_redirect,
        )
    disconnect_account(state, account, "disconnect")
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, state.settings.login_redirect))


@blueprint.post("/webhook")
def webhook() -> Response:
    """TikTok's signed webhook events (exempt from CSRF protection)."""
    return receive_webhook()


def _login_required(exc: TikTokLoginRequired) -> Response:
    return login_required_response()


#: The extension's answer to each error escaping a view (the nearest class wins).
_ANSWERS: dict[type[Exception], Callable[[Any], Response]] = {
    TikTokLoginRequired: _login_required,
    TikTokReconnectRequired: reconnect_response,
    WebhookSignatureError: refused_webhook,
    WebhookPayloadError: refused_webhook,
    TikTokError: error_response,
    StorageUnavailable: lambda exc: storage_unavailable(),
}


@blueprint.record_once
def _install_error_handlers(setup: BlueprintSetupState) -> None:
    """Install the answers as app-wide fallbacks: never in place of a handler
    the app registered already (a later one replaces them, as Flask does)."""
    handlers = setup.app.error_handler_spec[None][None]
    for cls in _ANSWERS:
        handlers.setdefault(cls, _answer_error)


def _answer_error(exc: Exception) -> ResponseReturnValue:
    """The app's own handler for ``exc`` (its class or a base class,
    ``Exception`` included, however registered), else the extension's."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    own = _app_handler(app, exc)
    if own is not None:
        answer: ResponseReturnValue = app.ensure_sync(own)(exc)
        return answer
    cls = next(c for c in type(exc).__mro__ if c in _ANSWERS)
    return _ANSWERS[cls](exc)


def _app_handler(app: Flask, exc: Exception) -> Callable[[Any], Any] | None:
    """The handler Flask would pick for ``exc`` among the app's own (this
    module's fallback left out): the request's blueprints first, then the
    app; the nearest class first in each."""
    for name in (*request.blueprints, None):
        handlers = app.error_handler_spec.get(name, {}).get(None, {})
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None and handler is not _answer_error:
                return handler
    return None
