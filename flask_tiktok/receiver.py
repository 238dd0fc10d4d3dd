"""The ``tiktok.webhook`` view: TikTok's signed events, each handled once.

The view checks the ``TikTok-Signature`` header against ``TIKTOK_CLIENT_SECRET``
(then ``TIKTOK_CLIENT_SECRET_FALLBACKS``) and ``TIKTOK_WEBHOOK_TOLERANCE``, then
the body; a refused delivery gets 401 (signature) or 400 (body) with a small
JSON error, and changes nothing. A verified event is recorded through
:meth:`~flask_tiktok.BaseStorage.remember_delivery` (TikTok delivers at least
once and retries for 72 hours; ``authorization.removed`` through
:meth:`~flask_tiktok.BaseStorage.remember_removal`, which ends the login in
the same step), handled, and answered 200; a repeat is answered 200 and not
handled again.

Handling ``authorization.removed`` deletes what the storage keeps for that
``open_id``'s tokens and sends ``tiktok_authorization_removed`` (and, for a
connected account, whoever owns it, ``tiktok_account_disconnected``); a
``post.publish.*`` event sends ``tiktok_post_updated``; every event sends
``tiktok_webhook_received``. Receivers run before TikTok gets its answer, so
they should be quick (hand slow work to a queue).

With the default cookie session there is nothing server-side to delete: the
login lives in the user's browser. ``TIKTOK_REMEMBER_REMOVED = True`` keeps
``open_id -> create_time`` of each removal in this process for
``PERMANENT_SESSION_LIFETIME`` (a cookie not re-saved for that long is refused
by Flask anyway), and the user's next request here logs them out unless they
logged in after the removal. The trade-off: the record costs one dict lookup
per request while it holds anything, but it is lost on restart and unseen by
other worker processes, so with several workers a removed user may stay logged
in on the others (their access token is revoked all the same, so calls to
TikTok fail). A server-side storage (``shared``) needs no record: deleting
its row ends the login everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, request
from werkzeug.wrappers import Response

from .accounts import account_disconnected
from .errors import WebhookPayloadError, WebhookSignatureError
from .signals import (
    tiktok_authorization_removed,
    tiktok_post_updated,
    tiktok_webhook_received,
)
from .state import TikTokState, get_state
from .webhooks import (
    AUTHORIZATION_REMOVED,
    WebhookEvent,
    is_post_event,
    parse_webhook_event,
    verify_webhook_signature,
)

__all__ = ["exempt_from_csrf", "receive_webhook", "refused_webhook"]

logger = logging.getLogger("flask_tiktok")

#: TikTok retries for 72 hours; a delivery is remembered a little longer.
DELIVERY_TTL = 73 * 3600
#: Webhook events are small; a larger body is refused before it is read.
MAX_BODY = 64 * 1024
#: The view's endpoint, exempted from CSRF protection.
ENDPOINT = "tiktok.webhook"


def _answer(code: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    return response


def refused_webhook(exc: WebhookSignatureError | WebhookPayloadError) -> Response:
    """The answer to a refused delivery: 401 for its signature, 400 for its body.

    Also what an app's own webhook view gets when it lets
    :func:`~flask_tiktok.verify_webhook_signature` or
    :func:`~flask_tiktok.parse_webhook_event` raise.
    """
    logger.warning("TikTok webhook refused: %s", exc)
    if isinstance(exc, WebhookSignatureError):
        return _answer(401, error="invalid_signature")
    return _answer(400, error="invalid_event")


def receive_webhook() -> Response:
    """Verify, parse and handle one webhook delivery (the ``tiktok.webhook``
    view)."""
    state = get_state()
    settings = state.settings
    if (request.content_length or 0) > MAX_BODY:
        return _answer(413, error="body_too_large")
    if request.content_length and not request.environ.get("wsgi.input_terminated"):
        # Bounded by the length checked above; get_data also returns a body
        # the app already read (a before_request that logs request bodies).
        body = request.get_data(cache=True)
    else:
        # A chunked body has no length to check first: read at most one byte more.
        # gunicorn marks every body terminated: one the app already read (and
        # cached) is no longer in the stream.
        body = request.stream.read(MAX_BODY + 1) or request.get_data(cache=True)
    if len(body) > MAX_BODY:
        return _answer(413, error="body_too_large")
    try:
        # Repeated headers reach WSGI joined by ", ", which the parser refuses.
        verify_webhook_signature(
            [settings.client_secret, *settings.secret_fallbacks],
            request.headers.get("TikTok-Signature"),
            body,
            tolerance=settings.webhook_tolerance,
        )
    except WebhookSignatureError as exc:
        return refused_webhook(exc)
    try:
        event = parse_webhook_event(body, settings.client_key)
    except WebhookPayloadError as exc:
        return refused_webhook(exc)
    key = event.delivery_key
    storage = state.storage
    if event.event == AUTHORIZATION_REMOVED:
        # Recorded and the login ended together (one transaction in SQL).
        first = storage.remember_removal(key, DELIVERY_TTL, event.user_openid)
    else:
        first = storage.remember_delivery(key, DELIVERY_TTL)
    if not first:
        return _answer(200, status="duplicate")
    try:
        _handle(state, event)
    except BaseException:
        # Let TikTok's retry run it again rather than be taken for a repeat.
        storage.forget_delivery(key)
        raise
    return _answer(200, status="ok")


def _handle(state: TikTokState, event: WebhookEvent) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    removed = event.event == AUTHORIZATION_REMOVED
    # (a removal's login was ended with the delivery's record)
    if removed and state.settings.remember_removed and not state.storage.shared:
        state.removed_users.put(
            event.user_openid,
            float(event.create_time),
            app.permanent_session_lifetime.total_seconds(),
        )
    tiktok_webhook_received.send(app, event=event)
    if removed:
        tiktok_authorization_removed.send(
            app, open_id=event.user_openid, reason=event.reason
        )
        account_disconnected(app, state, event.user_openid, "authorization_removed")
    elif is_post_event(event.event):
        tiktok_post_updated.send(
            app,
            open_id=event.user_openid,
            publish_id=str(event.content.get("publish_id") or ""),
            event=event.event,
            content=event.content,
        )


def exempt_from_csrf(app: Flask, view: Any) -> None:
    """Exempt the webhook ``view`` from Flask-WTF's ``CSRFProtect``.

    TikTok's posts carry a signature, not a CSRF token. ``CSRFProtect`` may be
    set up before or after ``TikTok``: when it is not registered yet, the
    exemption is made by a ``before_request`` hook that runs once, at the
    first request (ahead of ``CSRFProtect``'s own check), and then takes
    itself off the app's hooks.
    """
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(view)
        return

    def exempt_webhook() -> None:
        late = app.extensions.get("csrf")
        if late is not None:
            late.exempt(view)
        # A new list: Flask is iterating the current one for this request.
        hooks = app.before_request_funcs
        hooks[None] = [f for f in hooks.get(None, []) if f is not exempt_webhook]

    app.before_request(exempt_webhook)
