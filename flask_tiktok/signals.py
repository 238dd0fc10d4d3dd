"""Blinker signals sent by flask-tiktok; the sender is the Flask app."""

from __future__ import annotations

from blinker import Namespace

__all__ = [
    "tiktok_account_connected",
    "tiktok_account_disconnected",
    "tiktok_authorization_removed",
    "tiktok_logged_in",
    "tiktok_logged_out",
    "tiktok_login_failed",
    "tiktok_post_updated",
    "tiktok_token_refreshed",
    "tiktok_webhook_received",
]

_signals = Namespace()

#: A user logged in. Keyword arguments: ``user`` (:class:`~flask_tiktok.TikTokUser`)
#: and ``tokens`` (:class:`~flask_tiktok.OAuth2Tokens`).
tiktok_logged_in = _signals.signal("tiktok-logged-in")

#: A login did not complete. Keyword arguments: ``error`` (a short code such as
#: ``access_denied``, ``invalid_state``, ``token_error``, ``tiktok_unreachable``),
#: ``description`` and ``exception`` (the :class:`~flask_tiktok.TikTokError`, or
#: ``None``).
tiktok_login_failed = _signals.signal("tiktok-login-failed")

#: A user's login ended. Keyword arguments: ``open_id`` and ``reason``
#: (``logout``, ``refresh_refused``, ``refresh_expired`` or
#: ``authorization_removed``).
tiktok_logged_out = _signals.signal("tiktok-logged-out")

#: A user's tokens were refreshed (the refresh token rotated). Keyword
#: arguments: ``open_id`` and ``tokens``.
tiktok_token_refreshed = _signals.signal("tiktok-token-refreshed")

#: A webhook event with a valid signature arrived (once per event, however
#: often TikTok delivers it). Keyword argument: ``event``
#: (a :class:`~flask_tiktok.WebhookEvent`, ``content`` decoded).
tiktok_webhook_received = _signals.signal("tiktok-webhook-received")

#: TikTok said a user removed the app's authorization. Keyword arguments:
#: ``open_id`` and ``reason`` (TikTok's reason number).
tiktok_authorization_removed = _signals.signal("tiktok-authorization-removed")

#: An app user connected a TikTok account. Keyword arguments: ``owner_id``,
#: ``account`` (a :class:`~flask_tiktok.TikTokAccount`) and ``tokens``.
tiktok_account_connected = _signals.signal("tiktok-account-connected")

#: A connected account can no longer be used. Keyword arguments: ``owner_id``,
#: ``open_id`` and ``reason``: ``"disconnect"`` (the owner or the app
#: disconnected it: it is deleted), ``"authorization_removed"`` (TikTok's
#: webhook) or ``"refresh_refused"`` (in both, the account stays with
#: ``has_tokens`` False, to offer "reconnect"), or ``"moved"`` (another owner
#: connected it, a ``before_connect`` hook allowing it; ``owner_id`` is the
#: previous owner).
tiktok_account_disconnected = _signals.signal("tiktok-account-disconnected")

#: TikTok said a post moved on (a ``post.publish.*`` webhook: failed, complete,
#: inbox_delivered, publicly_available, no_longer_publicaly_available).
#: Keyword arguments: ``open_id`` (the creator), ``publish_id``, ``event``
#: (TikTok's event name) and ``content`` (the event's decoded ``content``:
#: ``reason`` of a failure, ``post_id`` once public, ``publish_type``).
tiktok_post_updated = _signals.signal("tiktok-post-updated")
