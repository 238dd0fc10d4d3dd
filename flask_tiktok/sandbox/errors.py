"""The two error shapes the sandbox answers with, as exceptions its views raise."""

from __future__ import annotations


class OAuthError(Exception):
    """An OAuth endpoint refusal: ``{"error", "error_description", "log_id"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class APIError(Exception):
    """A resource API refusal: ``{"data": {}, "error": {"code", "message", ...}}``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def access_token_invalid() -> APIError:
    """The error TikTok gives for a missing, unknown, expired or revoked token."""
    return APIError(
        "access_token_invalid",
        "The access token is invalid or not found in the request.",
        401,
    )


def scope_not_authorized(scope: str) -> APIError:
    """The error TikTok gives when the token lacks the scope a field needs."""
    return APIError(
        "scope_not_authorized",
        f"The user did not authorize the scope required for completing this "
        f"request ({scope}).",
        401,
    )


def invalid_params(message: str) -> APIError:
    """The error TikTok gives for a malformed request."""
    return APIError("invalid_params", message, 400)


#: The Content Posting API's error codes: their HTTP status and message.
POSTING_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_param": (400, "The request parameters are invalid."),
    "app_version_check_failed": (400, "The app version is too old to post."),
    "spam_risk_too_many_posts": (
        403,
        "The daily post cap from the API is reached for the current user.",
    ),
    "spam_risk_user_banned_from_posting": (
        403,
        "The user is banned from making new posts.",
    ),
    "reached_active_user_cap": (
        403,
        "The daily quota of active publishing users of this client is reached.",
    ),
    "unaudited_client_can_only_post_to_private_accounts": (
        403,
        "Unaudited clients can only post to a private account.",
    ),
    "url_ownership_unverified": (
        403,
        "The domain or URL prefix of the media is not verified for this client.",
    ),
    "privacy_level_option_mismatch": (
        403,
        "privacy_level is not one of the creator's privacy_level_options.",
    ),
    "spam_risk_too_many_pending_share": (
        403,
        "The user has too many pending shares in their inbox (5 in 24 hours).",
    ),
    "access_token_invalid": (
        401,
        "The access token is invalid or not found in the request.",
    ),
    "scope_not_authorized": (
        401,
        "The user did not authorize the scope required for this request.",
    ),
    "rate_limit_exceeded": (
        429,
        "API rate limit was exceeded, please try again later.",
    ),
    "internal_error": (500, "Something went wrong. Please try again later."),
    "invalid_publish_id": (400, "The publish_id does not exist."),
    "token_not_authorized_for_specified_publish_id": (
        400,
        "The access token is not authorized for this publish_id.",
    ),
    "publish_not_cancellable": (400, "This publish can no longer be cancelled."),
}


def posting_error(code: str, message: str | None = None) -> APIError:
    """The Content Posting API's error ``code``, with TikTok's status for it."""
    status, default = POSTING_ERRORS.get(code, (400, "The request failed."))
    return APIError(code, message or default, status)


def invalid_param(message: str) -> APIError:
    """The Content Posting API's error for a malformed request (singular name)."""
    return posting_error("invalid_param", message)
