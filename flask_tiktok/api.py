"""``tiktok.api``: a requests-style session for one user's TikTok API calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from .client import TikTokClient, parse_api_response
from .errors import TikTokAPIError, TikTokLoginRequired
from .posting import (
    CreatorInfo,
    PhotoOptions,
    PostStatus,
    VideoOptions,
)
from .tokens import OAuth2Tokens
from .upload import VideoSource
from .wire import api_error, json_object

if TYPE_CHECKING:
    from typing_extensions import Unpack

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

    # The Content Posting API: the client's calls with this user's token (an
    # init refused for an early-revoked token is sent again after a refresh;
    # it failed before any chunk was sent).

    def creator_info(self) -> CreatorInfo:
        """What the creator may post now: see
        :meth:`~flask_tiktok.TikTokClient.query_creator_info`."""
        return self.with_token(self.client.query_creator_info)

    def publish_video(
        self,
        video: VideoSource,
        *,
        privacy_level: str,
        **options: Unpack[VideoOptions],
    ) -> str:
        """Post a video; returns its ``publish_id``. See
        :meth:`~flask_tiktok.TikTokClient.publish_video`."""
        return self.with_token(
            lambda token: self.client.publish_video(
                token, video, privacy_level=privacy_level, **options
            )
        )

    def upload_video(
        self,
        video: VideoSource,
        *,
        chunk_size: int | None = None,
        content_type: str | None = None,
    ) -> str:
        """Send a video to the creator's inbox as a draft. See
        :meth:`~flask_tiktok.TikTokClient.upload_video`."""
        return self.with_token(
            lambda token: self.client.upload_video(
                token, video, chunk_size=chunk_size, content_type=content_type
            )
        )

    def publish_photos(
        self,
        photos: Sequence[str],
        *,
        privacy_level: str | None = None,
        **options: Unpack[PhotoOptions],
    ) -> str:
        """Post images pulled from their URLs. See
        :meth:`~flask_tiktok.TikTokClient.publish_photos`."""
        return self.with_token(
            lambda token: self.client.publish_photos(
                token, photos, privacy_level=privacy_level, **options
            )
        )

    def post_status(self, publish_id: str) -> PostStatus:
        """Where the post is. See
        :meth:`~flask_tiktok.TikTokClient.get_post_status`."""
        return self.with_token(
            lambda token: self.client.get_post_status(token, publish_id)
        )

    def cancel_post(self, publish_id: str) -> None:
        """Cancel a post still being pulled. See
        :meth:`~flask_tiktok.TikTokClient.cancel_post`."""
        self.with_token(lambda token: self.client.cancel_post(token, publish_id))

    def wait_for_post(
        self, publish_id: str, *, timeout: float = 600.0, interval: float = 5.0
    ) -> PostStatus:
        """Poll until the post is done, within TikTok's status limit. See
        :meth:`~flask_tiktok.TikTokClient.wait_for_post`."""
        return self.with_token(
            lambda token: self.client.wait_for_post(
                token, publish_id, timeout=timeout, interval=interval
            )
        )


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
