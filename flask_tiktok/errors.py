"""Errors raised by flask-tiktok, all subclasses of :class:`TikTokError`."""

from __future__ import annotations

from typing import Any

__all__ = [
    "TRANSIENT_OAUTH_ERRORS",
    "OAuth2RequestError",
    "TikTokAPIError",
    "TikTokError",
    "TikTokFetchError",
    "TikTokLoginRequired",
    "TikTokReconnectRequired",
    "TikTokUploadError",
    "UnexpectedResponseError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


#: OAuth error codes by which TikTok says "not now" rather than "never": the
#: grant still stands, so a refresh refused with one keeps the user logged in.
TRANSIENT_OAUTH_ERRORS = frozenset(
    {"internal_error", "rate_limit_exceeded", "server_error", "temporarily_unavailable"}
)


class TikTokError(Exception):
    """Base class of every error flask-tiktok raises.

    Each error says what kind of failure it is, so that callers decide by
    asking rather than by listing codes:
    :attr:`~flask_tiktok.TikTokError.transient`,
    :attr:`~flask_tiktok.TikTokError.rate_limited` and
    :attr:`~flask_tiktok.TikTokError.token_rejected`.
    """

    #: The id TikTok's support asks for, when TikTok sent one.
    log_id: str | None = None
    #: Seconds TikTok asked us to wait (``Retry-After``), when it said so.
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (TikTok said "not now").

        A refresh refused with a transient error keeps the login.
        """
        return False

    @property
    def rate_limited(self) -> bool:
        """Whether TikTok answered with its rate limit."""
        return False

    @property
    def token_rejected(self) -> bool:
        """Whether TikTok no longer accepts the Bearer token (revoked early)."""
        return False


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

    @classmethod
    def from_body(cls, code: Any, description: Any, log_id: Any) -> OAuth2RequestError:
        """Build the error from an answer's values (any JSON type; ``None`` stays
        ``None``, anything else becomes text)."""
        return cls(str(code), _opt_str(description), _opt_str(log_id))

    @property
    def transient(self) -> bool:
        """Whether the code is one of
        :data:`~flask_tiktok.errors.TRANSIENT_OAUTH_ERRORS`."""
        return self.code in TRANSIENT_OAUTH_ERRORS

    @property
    def rate_limited(self) -> bool:
        """Whether the code is ``rate_limit_exceeded``."""
        return self.code == "rate_limit_exceeded"


class TikTokFetchError(TikTokError):
    """A request to TikTok got no answer: connection, DNS, TLS or timeout.

    ``cause`` (also ``__cause__``) is the original ``requests`` exception.
    """

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"could not reach TikTok: {type(cause).__name__}")

    @property
    def transient(self) -> bool:
        """Always: TikTok did not answer, it did not refuse."""
        return True


class UnexpectedResponseError(TikTokError):
    """TikTok's answer is not what TikTok sends: an HTML gateway page, a
    non-object body, or a token response without ``access_token``.

    ``body`` keeps at most the first 1,000 characters of the answer.
    """

    def __init__(self, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body[:1000]
        super().__init__(f"unexpected response from TikTok (HTTP {status_code})")

    @property
    def transient(self) -> bool:
        """Whether the status is a 5xx or 429 (a gateway page, an outage)."""
        return self.status_code >= 500 or self.rate_limited

    @property
    def rate_limited(self) -> bool:
        """Whether the status is 429."""
        return self.status_code == 429


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
        self.retry_after = retry_after
        text = f"{code}: {message}" if message else code
        super().__init__(
            f"{text} (HTTP {status_code}, log_id={log_id})"
            if log_id
            else f"{text} (HTTP {status_code})"
        )

    @property
    def transient(self) -> bool:
        """Whether TikTok is rate limiting, failing inside, or answered 5xx."""
        return (
            self.rate_limited
            or self.code == "internal_error"
            or self.status_code >= 500
        )

    @property
    def rate_limited(self) -> bool:
        """Whether the status is 429 or the code ``rate_limit_exceeded``."""
        return self.status_code == 429 or self.code == "rate_limit_exceeded"

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later: ``rate_limit_exceeded``,
        ``internal_error`` and 5xx answers (the same as :attr:`transient`).

        Posting errors such as ``spam_risk_too_many_posts`` or
        ``privacy_level_option_mismatch`` are not: the post must change, or
        the creator must wait for their daily cap.
        """
        return self.transient

    @property
    def token_rejected(self) -> bool:
        """Whether the answer is ``401 access_token_invalid``."""
        return self.status_code == 401 and self.code == "access_token_invalid"

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


class TikTokUploadError(TikTokError):
    """A video's chunks could not be sent to TikTok's ``upload_url``.

    ``publish_id`` names the post TikTok created at the init (its status says
    ``FAILED`` in time); ``status_code`` is TikTok's last answer (``None``:
    no answer), ``uploaded_bytes`` what TikTok said it had received.
    """

    def __init__(
        self,
        message: str,
        *,
        publish_id: str,
        status_code: int | None = None,
        uploaded_bytes: int | None = None,
    ) -> None:
        super().__init__(f"{message} (publish_id={publish_id})")
        self.publish_id = publish_id
        self.status_code = status_code
        self.uploaded_bytes = uploaded_bytes

    @property
    def expired(self) -> bool:
        """Whether the ``upload_url`` had expired (TikTok keeps it one hour)."""
        return self.status_code == 403

    @property
    def transient(self) -> bool:
        """Whether TikTok kept failing inside or the connection kept dropping
        (after the retries): posting again later may succeed."""
        return self.status_code is None or self.status_code >= 500


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


class TikTokReconnectRequired(TikTokLoginRequired):
    """A connected account has no tokens any more (TikTok refused a refresh or
    removed the authorization): its owner must connect it again.

    Raised by a connected account's :attr:`~flask_tiktok.TikTokAccount.api`
    (and :meth:`~flask_tiktok.TikTok.api_for` of one); the extension answers
    it with a 409 page whose link reconnects. ``open_id`` names the account.
    A :class:`TikTokLoginRequired`, so jobs that catch that keep working.
    """

    def __init__(self, open_id: str) -> None:
        super().__init__(f"the TikTok account {open_id!r} must be connected again")
        self.open_id = open_id
