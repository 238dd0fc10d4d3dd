"""Every answer the extension gives a browser or an API client, in one place.

The error page (``tiktok/error.html``, or JSON for requests that prefer it),
what an anonymous request to a protected route gets (a redirect to login, or
401 JSON), the answer to missing or declined scopes, the failed-login page,
and how a :class:`~flask_tiktok.TikTokError` escaping a view is answered.
Views decide *what* happened; this module decides how it is said.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import quote

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from .errors import TikTokAPIError, TikTokError, TikTokFetchError
from .flow import just_declined, start_login
from .logs import loggable, logger
from .signals import tiktok_login_failed
from .state import get_state

__all__ = [
    "error_page",
    "error_response",
    "login_cancelled",
    "login_failed",
    "login_required_response",
    "missing_scopes_response",
    "owner_required_response",
    "prefers_json",
    "storage_unavailable",
]

#: The longest ``Retry-After`` passed on to the client (a day).
_MAX_RETRY_AFTER = 86_400

#: A failed login's page, by its error code: HTTP status, title, message.
_LOGIN_FAILURES = {
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
    "owner_changed": (
        403,
        "You are signed in as someone else now",
        "The TikTok account was not connected. Please connect it again.",
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
    "storage_unavailable": (
        503,
        "Logins are unavailable right now",
        "The login could not be saved. Please try again in a moment.",
    ),
}
#: Seconds a client is asked to wait when the storage is down.
_STORAGE_RETRY_AFTER = 30


def prefers_json() -> bool:
    """Whether the request asks for JSON rather than HTML."""
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json"])
    return best == "application/json" and accept[best] > accept["text/html"]


def requested_path() -> str:
    """The request's path and query, as ``next`` of a login."""
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~%")
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def error_page(
    status: int,
    title: str,
    message: str,
    error: str,
    log_id: str | None = None,
    *,
    retry_url: str | None = None,
) -> Response:
    """The extension's error page (``tiktok/error.html``, overridable) or JSON.

    Its "Try again" link goes to ``retry_url`` (default: a new login).
    """
    if prefers_json():
        response = jsonify(error=error, message=message, log_id=log_id)
    else:
        response = current_app.make_response(
            render_template(
                "tiktok/error.html",
                title=title,
                message=message,
                error=error,
                log_id=log_id,
                retry_url=retry_url or url_for("tiktok.login"),
                home_url=get_state().settings.login_redirect,
            )
        )
    response.status_code = status
    return response


def login_required_response() -> Response:
    """What an anonymous request to a protected route gets."""
    login_url = url_for("tiktok.login", next=requested_path())
    if prefers_json():
        body = {
            "error": "tiktok_login_required",
            "message": "Log in with TikTok to use this.",
            "login_url": login_url,
        }
        response = jsonify(body)
        response.status_code = 401
        return response
    return redirect(login_url)


def owner_required_response() -> Response:
    """What a connect without an app user gets: 401, and nothing started."""
    return error_page(
        401,
        "Sign in first",
        "Sign in to this site first, then connect your TikTok account.",
        "owner_required",
        retry_url=get_state().settings.login_redirect,
    )


def missing_scopes_response(granted: Sequence[str], missing: Sequence[str]) -> Response:
    """Ask TikTok for ``missing`` scopes on top of the ``granted`` ones.

    JSON requests get 403; a page whose scopes the user just declined says so
    once (403, "Try again" asks again) instead of a loop back to TikTok.
    """
    if prefers_json():
        response = jsonify(
            error="tiktok_scope_required",
            message="This needs more TikTok permissions.",
            missing_scopes=list(missing),
        )
        response.status_code = 403
        return response
    if just_declined(missing):
        return error_page(
            403,
            "TikTok permission not granted",
            "This page needs the TikTok permission"
            f" {', '.join(missing)}, which was not granted.",
            "scope_declined",
            retry_url=requested_path(),
        )
    settings = get_state().settings
    scopes = list(dict.fromkeys([*settings.scopes, *granted, *missing]))
    return start_login(scopes, requested_path(), wanted=missing)


def login_failed(
    error: str, description: str | None = None, exception: TikTokError | None = None
) -> Response:
    """Log a failed login, send ``tiktok_login_failed``, render its page."""
    status, title, message = _LOGIN_FAILURES[error]
    logger.warning(
        "TikTok login failed: %s (%s)", error, loggable(exception or description)
    )
    _send_login_failed(error, description, exception)
    log_id = None if exception is None else exception.log_id
    response = error_page(status, title, message, error, log_id)
    if status == 503:
        response.headers["Retry-After"] = str(_STORAGE_RETRY_AFTER)
    return response


def storage_unavailable() -> Response:
    """What a request that needs the login gets while the storage is down:
    503 with ``Retry-After`` (logged once where the storage failed)."""
    response = error_page(
        503,
        "Logins are unavailable right now",
        "Please try again in a moment.",
        "storage_unavailable",
        retry_url=requested_path(),
    )
    response.headers["Retry-After"] = str(_STORAGE_RETRY_AFTER)
    return response


def login_cancelled(description: str | None) -> Response:
    """The user cancelled on TikTok's consent page: no error page, a flashed
    message and the way home (``tiktok_login_failed`` with ``access_denied``)."""
    _send_login_failed("access_denied", description, None)
    flash("TikTok login was cancelled.", "info")
    return redirect(get_state().settings.login_redirect)


def _send_login_failed(
    error: str, description: str | None, exception: TikTokError | None
) -> None:
    tiktok_login_failed.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        error=error,
        description=description,
        exception=exception,
    )


def error_response(exc: TikTokError) -> Response:
    """How a :class:`~flask_tiktok.TikTokError` escaping a view is answered.

    TikTok unreachable: 504. Rate limited: 503 with TikTok's ``Retry-After``.
    Anything else: 502 with TikTok's code and ``log_id``.
    """
    logger.warning("TikTok call failed: %s", loggable(exc))
    if isinstance(exc, TikTokFetchError):
        return error_page(
            504,
            "TikTok could not be reached",
            "Please try again.",
            "tiktok_unreachable",
        )
    if exc.rate_limited:
        # TikTok asks the app to slow down: a 503 the client may retry.
        response = error_page(
            503,
            "TikTok is busy",
            "TikTok asked us to slow down. Please try again in a moment.",
            "rate_limit_exceeded",
            exc.log_id,
        )
        retry_after = exc.retry_after
        if retry_after is not None and math.isfinite(retry_after):
            # Capped: an absurd value (1e308) is not passed on as 309 digits.
            seconds = min(max(1, math.ceil(retry_after)), _MAX_RETRY_AFTER)
            response.headers["Retry-After"] = str(seconds)
        return response
    return error_page(
        502,
        "TikTok answered unexpectedly",
        "Something went wrong talking to TikTok. Please try again.",
        exc.code if isinstance(exc, TikTokAPIError) else "tiktok_error",
        exc.log_id,
    )
