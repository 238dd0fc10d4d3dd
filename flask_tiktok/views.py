"""The ``tiktok`` blueprint: login, callback, logout and webhook routes.

Each route says what happened; :mod:`flask_tiktok.flow` does the login's
steps and :mod:`flask_tiktok.responses` says how every outcome is answered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request
from werkzeug.wrappers import Response

from .current import current_login, drop_current_login
from .errors import (
    TikTokError,
    TikTokLoginRequired,
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
)
from .signals import tiktok_logged_in
from .state import get_state
from .user import TikTokUser

__all__ = ["blueprint"]

blueprint = Blueprint("tiktok", __name__, template_folder="templates")


@blueprint.get("/login")
def login() -> Response:
    """Start a login; ``next`` is where to return (a path on this site)."""
    settings = get_state().settings
    next_url = safe_next(request.args.get("next"), settings.login_redirect)
    return start_login(settings.scopes, next_url)


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
    try:
        user, tokens = fetch_login(state, pending, code)
    except LoginFailed as failed:
        return login_failed(failed.error, failed.description, failed.exception)
    # A previous user's TikTok data must not survive into this login: set()
    # replaces the request's user. (A delete() here would log that user out
    # on every device with a server-side storage.)
    drop_current_login()
    state.storage.set(user, tokens)
    note_declined_scopes(pending, tokens.scopes)
    tiktok_logged_in.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        user=TikTokUser(user),
        tokens=tokens,
    )
    return redirect(safe_next(pending.next_url, state.settings.login_redirect))


def _same_site_request() -> bool:
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


@blueprint.post("/logout")
def logout() -> Response:
    """End the login: revoke the token at TikTok (best effort), forget it all.

    Only a POST from this site logs out: a GET is refused by the route, and a
    cross-site ``Origin`` or ``Sec-Fetch-Site: cross-site`` gets 403.
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
        _revoke(user.open_id)
        # A refresh TikTok refused while revoking has ended it already (and
        # said so); logout_user reads the login again and finds nobody then.
        state.extension.logout_user("logout")
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, state.settings.login_redirect))


def _revoke(open_id: str) -> None:
    """Revoke ``open_id``'s login at TikTok, best effort.

    TikTok revokes by access token, and an expired one can no longer name
    the authorization: it is refreshed first, through the refresher (its lock
    and rotation record, as any refresh). A login whose refresh token has
    expired too is left to lapse.
    """
    state = get_state()
    tokens = state.storage.get_tokens(open_id)
    if tokens is None:
        return
    try:
        if tokens.access_token_expired():
            if tokens.refresh_token_expired():
                return
            tokens = state.refresher.ensure_fresh(open_id, tokens)
        state.client.revoke_token(tokens.access_token)
    except TikTokLoginRequired:
        return  # TikTok refused the refresh: the login is already over there
    except TikTokError as exc:
        logger.warning(
            "TikTok token revocation failed (logging out anyway): %s", loggable(exc)
        )


@blueprint.post("/webhook")
def webhook() -> Response:
    """TikTok's signed webhook events (exempt from CSRF protection)."""
    return receive_webhook()


@blueprint.app_errorhandler(TikTokLoginRequired)
def _handle_login_required(exc: TikTokLoginRequired) -> Response:
    return login_required_response()


@blueprint.app_errorhandler(WebhookSignatureError)
@blueprint.app_errorhandler(WebhookPayloadError)
def _handle_webhook_error(
    exc: WebhookSignatureError | WebhookPayloadError,
) -> Response:
    return refused_webhook(exc)


@blueprint.app_errorhandler(TikTokError)
def _handle_tiktok_error(exc: TikTokError) -> Response:
    return error_response(exc)
