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
