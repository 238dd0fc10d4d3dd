"""``tiktok.api``: a requests-style session for one user's TikTok API calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests

from .client import TikTokClient, parse_api_response
from .errors import TikTokAPIError, TikTokLoginRequired
from .tokens import OAuth2Tokens
from .wire import api_error, json_object

__all__ = ["TikTokAPISession"]

T = TypeVar("T")


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
        self,
        client: TikTokClient,
        get_tokens: Callable[[], OAuth2Tokens | None],
        renew: Callable[[OAuth2Tokens], OAuth2Tokens] | None = None,
    ) -> None:
        self.client = client
        self._get_tokens = get_tokens
        self._renew = renew

    @property
    def access_token(self) -> str:
        """The user's current access token, refreshed if it had expired."""
        return self._tokens().access_token

    def _tokens(self) -> OAuth2Tokens:
        tokens = self._get_tokens()
        if tokens is None:
            raise TikTokLoginRequired("no TikTok user is logged in")
        return tokens

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send ``method`` to ``path`` with the user's Bearer token.

        TikTok can reject a token before its stated expiry (revoked or
        invalidated on its side). An answer ``401 access_token_invalid`` is
        retried once with a refreshed token; if TikTok refuses the refresh too,
        :class:`~flask_tiktok.TikTokLoginRequired` is raised. Request bodies
        that can be read only once (generators, open files) are not resent:
        the token is refreshed and TikTok's 401 answer returned, so the caller
        may send a new body.
        """
        tokens = self._tokens()
        response = self.client.send(method, path, tokens.access_token, **kwargs)
        if self._renew is None or not _token_rejected(response):
            return response
        renewed = self._renew(tokens)
        if not _replayable(kwargs):
            return response
        response.close()
        return self.client.send(method, path, renewed.access_token, **kwargs)

    def with_token(self, func: Callable[[str], T]) -> T:
        """Return ``func(access_token)``, retried once if TikTok rejects the token.

        For the client's helpers, which take the token as an argument::

            videos = tiktok.api.with_token(
                lambda token: tiktok.client.query_videos(token, ids, ["id"])
            )

        The token is refreshed first when it has expired. If ``func`` raises
        :class:`~flask_tiktok.TikTokAPIError` ``401 access_token_invalid``
        (TikTok revoked the token before its stated expiry), the token is
        refreshed and ``func`` called once more with the new one, as
        :meth:`request` does; ``func`` must therefore be safe to repeat.
        """
        tokens = self._tokens()
        try:
            return func(tokens.access_token)
        except TikTokAPIError as exc:
            if self._renew is None or not exc.token_rejected:
                raise
        renewed = self._renew(tokens)
        return func(renewed.access_token)

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


def _replayable(kwargs: dict[str, Any]) -> bool:
    """Whether the request's body can be sent a second time."""
    data = kwargs.get("data")
    if data is not None and not isinstance(
        data, bytes | bytearray | str | dict | list | tuple
    ):
        return False  # a generator, an open file, any other one-shot stream
    files = kwargs.get("files")
    if files is None:
        return True
    items = files.values() if isinstance(files, dict) else [f for _, f in files]
    for item in items:
        content = item[1] if isinstance(item, tuple) and len(item) > 1 else item
        if not isinstance(content, bytes | bytearray | str):
            return False
    return True


def _token_rejected(response: requests.Response) -> bool:
    """Whether TikTok answered that the Bearer token is no longer valid."""
    if response.status_code != 401:
        return False
    body = json_object(response)
    error = None if body is None else api_error(body, response)
    return error is not None and error.token_rejected
