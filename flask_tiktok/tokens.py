"""The token endpoint's answer as a value object."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .wire import parse_lifetime, split_list

__all__ = ["OAuth2Tokens"]


class OAuth2Tokens:
    """Tokens TikTok issued, with expiry times computed when they arrived.

    Lifetimes come from the answer's ``expires_in`` and ``refresh_expires_in``
    (TikTok's documentation disagrees with itself about them, so nothing is
    assumed). ``data`` is the raw answer.
    """

    __slots__ = ("data", "issued_at")

    def __init__(self, data: Mapping[str, Any], issued_at: float | None = None) -> None:
        #: The token endpoint's JSON object, as TikTok sent it.
        self.data: dict[str, Any] = dict(data)
        #: When the answer arrived, in seconds since the epoch.
        self.issued_at: float = time.time() if issued_at is None else issued_at

    def __repr__(self) -> str:
        # Tokens are secrets: never put them in a repr that may reach a log.
        return f"<OAuth2Tokens open_id={self.open_id!r} scopes={self.scopes!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OAuth2Tokens):
            return NotImplemented
        return self.data == other.data and self.issued_at == other.issued_at

    __hash__ = None  # type: ignore[assignment]

    @property
    def access_token(self) -> str:
        """The access token, sent as ``Authorization: Bearer``."""
        return str(self.data["access_token"])

    @property
    def refresh_token(self) -> str | None:
        """The refresh token (``None`` for client-credentials tokens)."""
        value = self.data.get("refresh_token")
        return str(value) if value else None

    @property
    def access_token_expires_at(self) -> datetime | None:
        """When the access token expires, as an aware UTC datetime."""
        return self._expiry("expires_in")

    @property
    def refresh_token_expires_at(self) -> datetime | None:
        """When the refresh token expires, as an aware UTC datetime."""
        return self._expiry("refresh_expires_in")

    @property
    def scopes(self) -> list[str]:
        """The granted scopes (TikTok sends them comma-separated)."""
        return split_list(str(self.data.get("scope") or ""))

    @property
    def open_id(self) -> str | None:
        """The user's id for this app."""
        value = self.data.get("open_id")
        return str(value) if value else None

    @property
    def token_type(self) -> str:
        """The token type, ``Bearer``."""
        return str(self.data.get("token_type") or "Bearer")

    def access_token_expired(
        self, leeway: float = 0.0, now: float | None = None
    ) -> bool:
        """Whether the access token is at or within ``leeway`` seconds of expiry."""
        return self._expired("expires_in", leeway, now)

    def refresh_token_expired(
        self, leeway: float = 0.0, now: float | None = None
    ) -> bool:
        """Whether the refresh token is at or past expiry (or missing)."""
        if not self.refresh_token:
            return True
        return self._expired("refresh_expires_in", leeway, now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that :meth:`from_dict` reads back."""
        return {"data": self.data, "issued_at": self.issued_at}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> OAuth2Tokens:
        """Read back what :meth:`to_dict` wrote."""
        return cls(value["data"], float(value["issued_at"]))

    def lifetime(self, key: str) -> float | None:
        """The answer's ``key`` (``expires_in``, ``refresh_expires_in``) in
        seconds, or ``None`` when it is missing or not a number."""
        return parse_lifetime(self.data.get(key))

    def _expiry(self, key: str) -> datetime | None:
        lifetime = self.lifetime(key)
        if lifetime is None:
            return None
        try:
            return datetime.fromtimestamp(self.issued_at + lifetime, tz=timezone.utc)
        except (OverflowError, ValueError, OSError):  # beyond year 9999
            return None

    def _expired(self, key: str, leeway: float, now: float | None) -> bool:
        lifetime = self.lifetime(key)
        if lifetime is None:
            return False
        current = time.time() if now is None else now
        return current + leeway >= self.issued_at + lifetime
