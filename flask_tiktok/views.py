"""The ``tiktok`` blueprint: login, callback and logout."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request
from werkzeug.wrappers import Response

from .errors import (
    OAuth2RequestError,
    TikTokAPIError,
    TikTokError,
    TikTokFetchError,
    TikTokLoginRequired,
    UnexpectedResponseError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from .fields import fields_for_scopes
from .flow import (
    error_page,
    login_required_response,
    note_declined_scopes,
    start_login,
    take_flow,
)
from .logs import loggable, logger
from .receiver import receive_webhook, refused_webhook
from .redirects import safe_next
from .refresh import TRANSIENT_OAUTH_ERRORS
from .signals import tiktok_logged_in, tiktok_login_failed
from .state import get_state
from .storage import StoredUser
from .tokens import OAuth2Tokens
from .user import TikTokUser

__all__ = ["blueprint"]

blueprint = Blueprint("tiktok", __name__, template_folder="templates")


@blueprint.get("/login")
def login() -> Response:
    """Start a login; ``next`` is where to return (a path on this site)."""
    settings = get_state().settings
    next_url = safe_next(request.args.get("next"), settings.login_redirect)
    return start_login(settings.scopes, next_url)


_MESSAGES = {
    "invalid_state": (
        400,
        "This login link has expired or was already used",
        "Please start the login again.",
    ),
    "invalid_callback": (
        400,
        "TikTok's answer was incomplete",
        "The login could not be finished. Please try again.",
    ),
    "authorization_error": (
        400,
        "TikTok did not authorize the login",
        "TikTok refused the login request.",
    ),
    "token_error": (
        400,
        "TikTok refused the login",
        "TikTok did not accept the login. Please try again.",
    ),
    "tiktok_unreachable": (
        504,
        "TikTok could not be reached",
        "TikTok did not answer in time. Please try again in a moment.",
    ),
    "tiktok_error": (
        502,
        "TikTok answered unexpectedly",
        "Something went wrong on TikTok's side. Please try again in a moment.",
    ),
}


def login_failed(
    error: str, description: str | None = None, exception: TikTokError | None = None
) -> Response:
    """Send ``tiktok_login_failed`` and render the error page."""
    status, title, message = _MESSAGES[error]
    log_id = getattr(exception, "log_id", None)
    logger.warning(
        "TikTok login failed: %s (%s)", error, loggable(exception or description)
    )
    tiktok_login_failed.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        error=error,
        description=description,
        exception=exception,
    )
    return error_page(status, title, message, error, log_id)


@blueprint.get("/callback")
def callback() -> Response:
    """TikTok sends the browser back here with a ``code`` (or an ``error``)."""
    state = get_state()
    args = request.args
    flow = take_flow(args.get("state"))
    if flow is None:
        return login_failed("invalid_state", "unknown, used or expired state")
    if "error" in args:
        error = args.get("error", "")
        description = args.get("error_description")
        if error == "access_denied":
            tiktok_login_failed.send(
                current_app._get_current_object(),  # type: ignore[attr-defined]
                error="access_denied",
                description=description,
                exception=None,
            )
            flash("TikTok login was cancelled.", "info")
            return redirect(state.settings.login_redirect)
        return login_failed("authorization_error", f"{error}: {description}")
    code = args.get("code")
    if not code:
        return login_failed("invalid_callback", "no code in the callback")
    try:
        tokens = state.client.validate_authorization_code(
            code, code_verifier=flow["v"], redirect_uri=flow["r"]
        )
        open_id = tokens.open_id
        if not open_id:
            return login_failed("tiktok_error", "token response without open_id")
        fields = state.settings.user_fields or fields_for_scopes(tokens.scopes)
        profile = state.client.get_user_info(tokens.access_token, fields or ["open_id"])
    except OAuth2RequestError as exc:
        if exc.code in TRANSIENT_OAUTH_ERRORS:
            return login_failed("tiktok_error", exc.description, exc)
        return login_failed("token_error", exc.description, exc)
    except TikTokFetchError as exc:
        return login_failed("tiktok_unreachable", str(exc), exc)
    except TikTokError as exc:
        return login_failed("tiktok_error", str(exc), exc)
    if profile.get("open_id", open_id) != open_id:
        return login_failed("tiktok_error", "user info of another user")
    # A previous user's TikTok data must not survive into this login: set()
    # replaces the request's user. (A delete() here would log that user out
    # on every device with a server-side storage.)
    state.forget_current()
    user = StoredUser(open_id, tokens.scopes, profile)
    state.storage.set(user, tokens)
    note_declined_scopes(flow, tokens.scopes)
    tiktok_logged_in.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        user=TikTokUser(user),
        tokens=tokens,
    )
    return redirect(safe_next(flow.get("n"), state.settings.login_redirect))


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
    user = state.current_user()
    if user is not None:
        tokens = state.storage.get_tokens(user.open_id)
        if tokens is not None:
            _revoke(tokens)
        state.extension.logout_user("logout")
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, state.settings.login_redirect))


def _revoke(tokens: OAuth2Tokens) -> None:
    """Revoke the login at TikTok, best effort.

    TikTok revokes by access token, and an expired one can no longer name
    the authorization: it is refreshed first (the new pair is revoked, not
    stored). A login whose refresh token has expired too is left to lapse.
    """
    client = get_state().client
    try:
        if tokens.access_token_expired():
            if not tokens.refresh_token or tokens.refresh_token_expired():
                return
            tokens = client.refresh_access_token(tokens.refresh_token)
        client.revoke_token(tokens.access_token)
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
    log_id = getattr(exc, "log_id", None)
    logger.warning("TikTok call failed: %s", loggable(exc))
    if isinstance(exc, TikTokFetchError):
        return error_page(
            504,
            "TikTok could not be reached",
            "Please try again.",
            "tiktok_unreachable",
        )
    code = exc.code if isinstance(exc, TikTokAPIError) else "tiktok_error"
    if _rate_limited(exc):
        # TikTok asks the app to slow down: a 503 the client may retry, with
        # TikTok's Retry-After when it gave one.
        response = error_page(
            503,
            "TikTok is busy",
            "TikTok asked us to slow down. Please try again in a moment.",
            "rate_limit_exceeded",
            log_id,
        )
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and math.isfinite(retry_after):
            # Capped: an absurd value (1e308) is not passed on as 309 digits.
            seconds = min(max(1, math.ceil(retry_after)), _MAX_RETRY_AFTER)
            response.headers["Retry-After"] = str(seconds)
        return response
    return error_page(
        502,
        "TikTok answered unexpectedly",
        "Something went wrong talking to TikTok. Please try again.",
        code,
        log_id,
    )


#: The longest ``Retry-After`` passed on to the client (a day).
_MAX_RETRY_AFTER = 86_400


def _rate_limited(exc: TikTokError) -> bool:
    """Whether TikTok answered a call (or a refresh) with its rate limit."""
    if isinstance(exc, TikTokAPIError):
        return exc.status_code == 429 or exc.code == "rate_limit_exceeded"
    if isinstance(exc, OAuth2RequestError):
        return exc.code == "rate_limit_exceeded"
    return isinstance(exc, UnexpectedResponseError) and exc.status_code == 429
