"""Errors raised by flask-tiktok, all subclasses of :class:`TikTokError`."""

from __future__ import annotations

from typing import Any

__all__ = [
    "OAuth2RequestError",
    "TikTokAPIError",
    "TikTokError",
    "TikTokFetchError",
    "TikTokLoginRequired",
    "UnexpectedResponseError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


class TikTokError(Exception):
    """Base class of every error flask-tiktok raises."""


class OAuth2RequestError(TikTokError):
    """TikTok answered an OAuth request with an error body.

    TikTok sends these with HTTP 200 as well as 4xx, so the body decides.
    ``code`` is TikTok's ``error`` (for example ``invalid_grant``),
    ``description`` its ``error_description`` and ``log_id`` the id TikTok's
    support asks for.
    """

    def __init__(self, code: str, description: str | None, log_id: str | None) -> None:
        self.code = code
        self.description = description
        self.log_id = log_id
        text = f"{code}: {description}" if description else code
        super().__init__(f"{text} (log_id={log_id})" if log_id else text)


class TikTokFetchError(TikTokError):
    """A request to TikTok got no answer: connection, DNS, TLS or timeout.

    ``cause`` (also ``__cause__``) is the original ``requests`` exception.
    """

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"could not reach TikTok: {type(cause).__name__}")


class UnexpectedResponseError(TikTokError):
    """TikTok's answer is not what TikTok sends: an HTML gateway page, a
    non-object body, or a token response without ``access_token``.

    ``body`` keeps at most the first 1,000 characters of the answer.
    """

    def __init__(self, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body[:1000]
        super().__init__(f"unexpected response from TikTok (HTTP {status_code})")


class TikTokAPIError(TikTokError):
    """A TikTok resource API answered with its error envelope.

    ``code`` is ``error.code`` (for example ``access_token_invalid``,
    ``scope_not_authorized`` or ``rate_limit_exceeded``).
    """

    def __init__(
        self,
        code: str,
        message: str | None,
        log_id: str | None,
        status_code: int,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.log_id = log_id
        self.status_code = status_code
        #: Seconds TikTok asked us to wait (``Retry-After``), when it said so.
        self.retry_after = retry_after
        text = f"{code}: {message}" if message else code
        super().__init__(
            f"{text} (HTTP {status_code}, log_id={log_id})"
            if log_id
            else f"{text} (HTTP {status_code})"
        )

    @classmethod
    def from_envelope(
        cls, envelope: Any, status_code: int, retry_after: float | None = None
    ) -> TikTokAPIError:
        """Build the error from a body's ``error`` object (any shape)."""
        error = envelope if isinstance(envelope, dict) else {}
        return cls(
            str(error.get("code") or "unknown_error"),
            _opt_str(error.get("message")),
            _opt_str(error.get("log_id")),
            status_code,
            retry_after,
        )


class WebhookSignatureError(TikTokError):
    """A webhook's ``TikTok-Signature`` is missing, malformed, stale or wrong."""


class WebhookPayloadError(TikTokError):
    """A webhook's body is not an event for this app: not a JSON object, a
    field missing or of the wrong type, ``content`` not a JSON string, or
    another app's ``client_key``."""


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


class TikTokLoginRequired(TikTokError):
    """The request needs a logged-in TikTok user and has none (any more).

    Raised by :attr:`TikTok.api` when nobody is logged in or TikTok refused to
    refresh the user's token; the extension answers it as it answers an
    anonymous request to a protected route (a redirect to login, or 401 JSON).
    """
