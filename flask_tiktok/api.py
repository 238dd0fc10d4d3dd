"""``tiktok.api``: a requests-style session for one user's TikTok API calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from .client import TikTokClient, parse_api_response
from .errors import TikTokLoginRequired
from .tokens import OAuth2Tokens

__all__ = ["TikTokAPISession"]


class TikTokAPISession:
    """Calls TikTok's APIs as one user, with a fresh Bearer token.

    Paths are relative to ``TIKTOK_API_BASE_URL`` (``"user/info/"``); methods
    take ``requests``' keyword arguments and return a ``requests.Response``.
    The user's token is read only when a call is made, refreshed first when it
    is at or past expiry, and the call shares the client's pooled connections
    and timeout. Use :meth:`call` to get the ``data`` of TikTok's envelope, or
    :func:`~flask_tiktok.parse_api_response` on a response, to turn TikTok's
    error envelope into :class:`~flask_tiktok.TikTokAPIError`.
    """

    def __init__(
        self, client: TikTokClient, get_tokens: Callable[[], OAuth2Tokens | None]
    ) -> None:
        self.client = client
        self._get_tokens = get_tokens

    @property
    def access_token(self) -> str:
        """The user's current access token, refreshed if it had expired."""
        tokens = self._get_tokens()
        if tokens is None:
            raise TikTokLoginRequired("no TikTok user is logged in")
        return tokens.access_token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send ``method`` to ``path`` with the user's Bearer token."""
        return self.client.send(method, path, self.access_token, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """``GET path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """``POST path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """``PUT path``."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """``DELETE path``."""
        return self.request("DELETE", path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send a request and return TikTok's ``data``, raising its errors."""
        return parse_api_response(self.request(method, path, **kwargs))
