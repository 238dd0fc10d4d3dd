"""TikTokClient: TikTok's OAuth 2.0 flow and API calls, with no web framework.

Built on Authlib's requests ``OAuth2Session``, customised for TikTok: the client
authenticates with ``client_key`` and ``client_secret`` in the form body (no
``client_id``, no HTTP Basic), scopes are comma-separated, PKCE challenges are
hex by default, endpoints keep their trailing slashes, and every answer is
judged by its body because TikTok sends errors with HTTP 200.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlencode, urlsplit

import requests
from authlib.common.urls import add_params_to_qs
from authlib.integrations.requests_client import OAuth2Session
from requests.sessions import merge_setting as _untyped_merge_setting

from .errors import (
    TikTokError,
    TikTokFetchError,
    UnexpectedResponseError,
)
from .pkce import PKCEMethod, create_code_challenge, pkce_method
from .posting import (
    CreatorInfo,
    PhotoOptions,
    PostStatus,
    VideoOptions,
    check_chunk_size,
    check_pull_url,
    chunk_layout,
    photo_body,
    verified_prefixes,
    video_post_info,
)
from .tokens import OAuth2Tokens
from .transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ENCODINGS,
    TikTokHTTPAdapter,
    _Environment,
    bounded,
    read_capped,
)
from .upload import VideoFile, VideoSource, is_url, upload_chunks
from .wire import (
    API_BASE_URL,
    AUTHORIZATION_URL,
    REVOKE_URL,
    TOKEN_URL,
    api_error,
    fields_param,
    json_object,
    oauth_error,
    retry_after,
    scope_param,
    split_list,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "API_BASE_URL",
    "AUTHORIZATION_URL",
    "REVOKE_URL",
    "TOKEN_URL",
    "PKCEMethod",
    "TikTokClient",
    "VideoPage",
    "parse_api_response",
]

#: The most videos TikTok's video list and query endpoints take or give per call.
MAX_VIDEOS_PER_CALL = 20

#: The most often (seconds) :meth:`TikTokClient.wait_for_post` asks for a
#: status (TikTok allows 30 a minute per token), and the longest pause.
MIN_STATUS_INTERVAL = 2.0
MAX_STATUS_INTERVAL = 30.0

#: The name under which the body client-authentication method is registered.
CLIENT_AUTH_METHOD = "tiktok_client_key_post"


def _client_key_post(
    auth: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """Authlib client-auth method: ``client_key`` + ``client_secret`` in the body."""
    body = add_params_to_qs(
        body or "",
        [("client_key", auth.client_id), ("client_secret", auth.client_secret)],
    )
    headers["Content-Length"] = str(len(body))
    return uri, headers, body


#: requests' own merge of a request's setting with the session's (untyped).
_merge_setting: Callable[[Any, Any], Any] = _untyped_merge_setting


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Credentials that add nothing: requests then looks in no ~/.netrc."""
    return request


class _TikTokOAuth2Session(OAuth2Session):  # type: ignore[misc]
    """Authlib's session, stateless between calls so threads can share it.

    Authlib keeps the last token on the session (``self.token``); a client
    shared by many users' requests must not, or one thread could read back
    another's token. Requests go through ``transport`` when one is given, so
    its adapters (retries, proxies, test doubles) apply; otherwise the
    environment's proxies do, read once per origin. Every request has an
    overall deadline and its answer a size cap (:mod:`flask_tiktok.transport`),
    and redirects are not followed (TikTok's APIs send none).
    """

    def __init__(
        self,
        transport: requests.Session | None,
        *,
        deadline: float,
        max_response_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._deadline = deadline
        self._max_response_bytes = max_response_bytes
        self.mount("https://", TikTokHTTPAdapter())
        self.mount("http://", TikTokHTTPAdapter())
        self.headers["Accept-Encoding"] = ENCODINGS
        self._environment = _Environment()

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        # No ~/.netrc: requests would put a netrc password for TikTok's host
        # in Authorization, over the Bearer token (or on an upload's PUT).
        if request.auth is None and self.auth is None:
            request.auth = _no_auth
        return super().prepare_request(request)  # type: ignore[no-any-return]

    def merge_environment_settings(
        self,
        url: str,
        proxies: dict[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        """``requests``' merge, the environment read once per origin."""
        if self.trust_env:
            proxies, verify = self._environment.merge(url, proxies, verify)
        return {
            "proxies": _merge_setting(proxies, self.proxies),
            "stream": _merge_setting(stream, self.stream),
            "verify": _merge_setting(verify, self.verify),
            "cert": _merge_setting(cert, self.cert),
        }

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        stream = kwargs.get("stream", False)
        kwargs["stream"] = True
        kwargs["allow_redirects"] = False
        with bounded(self._deadline):
            if self._transport is not None:
                # The app's session decides its proxies and TLS settings (this
                # session's, filled in by request(), know none of them).
                settings = self._transport.merge_environment_settings(
                    request.url, {}, True, None, None
                )
                kwargs.update(
                    proxies=settings["proxies"],
                    verify=settings["verify"],
                    cert=settings["cert"],
                )
                response = self._transport.send(request, **kwargs)
            else:
                response = super().send(request, **kwargs)
            if not stream:
                read_capped(response, self._max_response_bytes)
        return response

    def parse_response_token(self, resp: requests.Response) -> dict[str, Any]:
        return _token_body(resp)

    def _refresh_token(
        self,
        url: str,
        refresh_token: str | None = None,
        body: str = "",
        headers: dict[str, str] | None = None,
        auth: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        resp = self._http_post(url, body=body, auth=auth, headers=headers, **kwargs)
        return _token_body(resp)


class VideoPage:
    """One page of :meth:`TikTokClient.list_videos`."""

    __slots__ = ("cursor", "has_more", "videos")

    def __init__(
        self, videos: list[dict[str, Any]], cursor: int | None, has_more: bool
    ) -> None:
        #: The videos on this page, each a dict of the requested fields.
        self.videos = videos
        #: Pass to the next call to continue after this page.
        self.cursor = cursor
        #: Whether TikTok says more videos follow.
        self.has_more = has_more

    def __repr__(self) -> str:
        return (
            f"<VideoPage videos={len(self.videos)} cursor={self.cursor!r}"
            f" has_more={self.has_more}>"
        )


class TikTokClient:
    """A TikTok Login Kit (v2) client for one app.

    One instance serves every user and thread: it holds a pooled HTTP session
    and no per-user state. Every call to TikTok ends within ``timeout``
    seconds, all of it (connect, send, the whole answer), or raises
    :class:`~flask_tiktok.TikTokFetchError`; an answer larger than
    ``max_response_bytes`` once decoded raises
    :class:`~flask_tiktok.UnexpectedResponseError` without being read further.

    :param client_key: the app's client key (TikTok's name for a client id).
    :param client_secret: the app's client secret.
    :param redirect_uri: the registered redirect URI, matched exactly by TikTok
        (``None`` when every call passes its own).
    :param pkce: ``"hex"`` (TikTok's documented form) or ``"S256"`` (base64url).
    :param timeout: the overall deadline of one call, in seconds.
    :param max_response_bytes: the largest answer read (decoded bytes).
    :param verified_url_prefixes: the URL prefixes verified for the app on
        TikTok's developer portal; a ``PULL_FROM_URL`` post of a URL outside
        them is refused before any call (empty: not checked here).
    :param session: a ``requests.Session`` whose adapters carry the requests
        (mount :class:`~flask_tiktok.transport.TikTokHTTPAdapter` on it to
        keep the deadline for the connection as well as the answer).
    """

    def __init__(
        self,
        client_key: str,
        client_secret: str,
        redirect_uri: str | None,
        *,
        authorization_url: str = AUTHORIZATION_URL,
        token_url: str = TOKEN_URL,
        revoke_url: str = REVOKE_URL,
        api_base_url: str = API_BASE_URL,
        pkce: PKCEMethod = "hex",
        timeout: float = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        verified_url_prefixes: Iterable[str] = (),
        session: requests.Session | None = None,
    ) -> None:
        if not client_key or not client_secret:
            raise ValueError("TikTokClient needs a client_key and a client_secret")
        if not timeout > 0:
            raise ValueError("timeout is a number of seconds above 0")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes is a number of bytes, at least 1")
        self.client_key = client_key
        self.redirect_uri = redirect_uri
        self.authorization_url = authorization_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.api_base_url = (
            api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        )
        self.pkce: PKCEMethod = pkce_method(pkce, "pkce")
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        if isinstance(verified_url_prefixes, str):
            raise TypeError("verified_url_prefixes is a list of URL prefixes")
        self.verified_url_prefixes = verified_prefixes(verified_url_prefixes)
        self._oauth = _TikTokOAuth2Session(
            session,
            deadline=timeout,
            max_response_bytes=max_response_bytes,
            client_id=client_key,
            client_secret=client_secret,
            token_endpoint_auth_method=CLIENT_AUTH_METHOD,
            revocation_endpoint_auth_method=CLIENT_AUTH_METHOD,
            redirect_uri=redirect_uri,
            default_timeout=timeout,
        )
        self._oauth.register_client_auth_method((CLIENT_AUTH_METHOD, _client_key_post))
        self._oauth.headers["User-Agent"] = "flask-tiktok"

    def __repr__(self) -> str:
        return f"<TikTokClient client_key={self.client_key!r}>"

    @property
    def http(self) -> requests.Session:
        """The pooled HTTP session every call goes through."""
        return self._oauth

    def close(self) -> None:
        """Close the pooled connections."""
        self._oauth.close()

    def create_authorization_url(
        self,
        state: str,
        scopes: Sequence[str],
        *,
        code_verifier: str,
        disable_auto_auth: bool | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """The URL of TikTok's consent page.

        ``scopes`` are joined with commas, as TikTok wants. The PKCE challenge of
        ``code_verifier`` is always sent; keep the verifier for
        :meth:`validate_authorization_code`. ``redirect_uri`` overrides the
        client's for this login (pass the same one to the validation).
        """
        params = [
            ("client_key", self.client_key),
            ("response_type", "code"),
            ("scope", scope_param(scopes)),
            ("redirect_uri", self._redirect_uri(redirect_uri)),
            ("state", state),
            ("code_challenge", create_code_challenge(code_verifier, self.pkce)),
            ("code_challenge_method", "S256"),
        ]
        if disable_auto_auth is not None:
            params.append(("disable_auto_auth", "1" if disable_auto_auth else "0"))
        separator = "&" if "?" in self.authorization_url else "?"
        return self.authorization_url + separator + urlencode(params)

    def validate_authorization_code(
        self, code: str, *, code_verifier: str, redirect_uri: str | None = None
    ) -> OAuth2Tokens:
        """Exchange the callback's ``code`` for tokens."""
        body = self._fetch(
            self._oauth.fetch_token,
            self.token_url,
            grant_type="authorization_code",
            code=code,
            redirect_uri=self._redirect_uri(redirect_uri),
            code_verifier=code_verifier,
        )
        return OAuth2Tokens(body)

    def refresh_access_token(self, refresh_token: str) -> OAuth2Tokens:
        """Trade a refresh token for new tokens.

        TikTok rotates refresh tokens: store the returned pair, the one passed
        in stops working.
        """
        body = self._fetch(
            self._oauth.refresh_token, self.token_url, refresh_token=refresh_token
        )
        return OAuth2Tokens(body)

    def revoke_token(self, access_token: str) -> None:
        """Revoke the authorization the access token belongs to."""
        resp = self._fetch(
            self._oauth.revoke_token, self.revoke_url, token=access_token
        )
        _oauth_body(resp)
        if not resp.ok:
            raise UnexpectedResponseError(resp.status_code, resp.text)

    def get_user_info(self, access_token: str, fields: Iterable[str]) -> dict[str, Any]:
        """The user's profile: ``GET user/info/`` with only ``fields``."""
        data = self.api_request(
            "GET",
            "user/info/",
            access_token,
            params={"fields": fields_param(fields)},
        )
        user = data.get("user")
        if not isinstance(user, dict):
            raise UnexpectedResponseError(200, json.dumps(data)[:1000])
        return user

    def list_videos(
        self,
        access_token: str,
        fields: Iterable[str],
        *,
        cursor: int | None = None,
        max_count: int = 20,
    ) -> VideoPage:
        """One page of the user's public videos, newest first (``video.list``).

        TikTok may return fewer than ``max_count`` videos while ``has_more`` is
        still true; follow ``cursor`` (or use :meth:`iter_videos`).
        """
        if not 1 <= max_count <= MAX_VIDEOS_PER_CALL:
            raise ValueError("max_count is 1 to 20 (TikTok's page size limit)")
        body: dict[str, Any] = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        data = self.api_request(
            "POST",
            "video/list/",
            access_token,
            params={"fields": fields_param(fields)},
            json=body,
        )
        return _video_page(data)

    def iter_videos(
        self,
        access_token: str,
        fields: Iterable[str],
        *,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every video of the user, newest first, following the cursor.

        Stops after ``limit`` videos (``None``: all of them), asking for no
        more than it still needs, or when TikTok says no more follow. Pages
        may come back short of what was asked (TikTok's filtering); that does
        not end the iteration.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit is a number of videos, at least 0 (or None)")
        # Checked (and an iterator read) once, before any call.
        wanted = split_list(fields_param(fields))
        cursor: int | None = None
        seen = 0
        while limit is None or seen < limit:
            count = MAX_VIDEOS_PER_CALL
            if limit is not None:
                count = min(count, limit - seen)
            page = self.list_videos(
                access_token, wanted, cursor=cursor, max_count=count
            )
            for video in page.videos[:count]:
                seen += 1
                yield video
            if not page.has_more or page.cursor is None or page.cursor == cursor:
                return
            cursor = page.cursor

    def query_videos(
        self,
        access_token: str,
        video_ids: Iterable[str],
        fields: Iterable[str],
    ) -> list[dict[str, Any]]:
        """The user's videos among ``video_ids``, asked 20 ids a call.

        Ids that are not the user's public videos are left out of the answer,
        as TikTok does.
        """
        if isinstance(video_ids, str):
            raise TypeError("video_ids is a list of video ids, not a string")
        ids = list(video_ids)
        wanted = fields_param(fields)
        videos: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_VIDEOS_PER_CALL):
            data = self.api_request(
                "POST",
                "video/query/",
                access_token,
                params={"fields": wanted},
                json={
                    "filters": {"video_ids": ids[start : start + MAX_VIDEOS_PER_CALL]}
                },
            )
            videos.extend(_video_page(data).videos)
        return videos

    def query_creator_info(self, access_token: str) -> CreatorInfo:
        """What the creator may post now (``post/publish/creator_info/query/``).

        A creator who cannot post now (``spam_risk_too_many_posts``,
        ``spam_risk_user_banned_from_posting``, ``reached_active_user_cap``,
        which TikTok sends with HTTP 200) raises :class:`TikTokAPIError`.
        """
        return CreatorInfo.from_data(
            self._post_json("post/publish/creator_info/query/", access_token, {})
        )

    def publish_video(
        self,
        access_token: str,
        video: VideoSource,
        *,
        privacy_level: str,
        **options: Unpack[VideoOptions],
    ) -> str:
        """Post a video to the creator's profile; returns its ``publish_id``.

        ``video`` is a path or a binary file object (streamed to TikTok in
        chunks), or an ``https://`` URL under a verified prefix (TikTok pulls
        it). ``privacy_level`` is one of the creator's
        :attr:`~flask_tiktok.CreatorInfo.privacy_level_options`; the other
        options are :class:`~flask_tiktok.posting.VideoOptions`. Everything
        checkable is checked before any call (``ValueError`` names the rule).
        The post is processed after this returns: follow it with
        :meth:`get_post_status` or the ``post.publish.*`` webhooks.
        """
        post_info = video_post_info(privacy_level, options)
        return self._init_video(
            "post/publish/video/init/",
            access_token,
            video,
            {"post_info": post_info},
            options,
        )

    def upload_video(
        self,
        access_token: str,
        video: VideoSource,
        *,
        chunk_size: int | None = None,
        content_type: str | None = None,
    ) -> str:
        """Send a video to the creator's TikTok inbox as a draft; returns its
        ``publish_id``.

        The creator finishes the post in the TikTok app (``video.upload``
        scope; at most 5 pending drafts per 24 hours). ``video`` as for
        :meth:`publish_video`.
        """
        options: VideoOptions = {}
        if chunk_size is not None:
            options["chunk_size"] = chunk_size
        if content_type is not None:
            options["content_type"] = content_type
        return self._init_video(
            "post/publish/inbox/video/init/", access_token, video, {}, options
        )

    def publish_photos(
        self,
        access_token: str,
        photos: Sequence[str],
        *,
        privacy_level: str | None = None,
        **options: Unpack[PhotoOptions],
    ) -> str:
        """Post up to 35 images, pulled by TikTok from their ``https://`` URLs
        (under a verified prefix); returns the ``publish_id``.

        ``privacy_level`` is required for a direct post (the default
        ``post_mode``); with ``post_mode="MEDIA_UPLOAD"`` the photos go to the
        creator's inbox. Other options: :class:`~flask_tiktok.posting.PhotoOptions`.
        """
        body = photo_body(photos, privacy_level, options, self.verified_url_prefixes)
        data = self._post_json("post/publish/content/init/", access_token, body)
        return _publish_id(data)

    def get_post_status(self, access_token: str, publish_id: str) -> PostStatus:
        """Where the post is (``post/publish/status/fetch/``; 30 calls a minute
        per token: see :meth:`wait_for_post`)."""
        data = self._post_json(
            "post/publish/status/fetch/", access_token, {"publish_id": publish_id}
        )
        return PostStatus.from_data(publish_id, data)

    def cancel_post(self, access_token: str, publish_id: str) -> None:
        """Cancel a post whose media TikTok is still pulling from a URL (best
        effort; ``publish_not_cancellable`` once it is too late)."""
        self._post_json(
            "post/publish/cancel/", access_token, {"publish_id": publish_id}
        )

    def wait_for_post(
        self,
        access_token: str,
        publish_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> PostStatus:
        """Poll the post's status until it is :attr:`~flask_tiktok.PostStatus.done`.

        Polls every ``interval`` seconds (at least 2, TikTok's 30 calls a
        minute), the pause growing by half each time up to 30 seconds; a
        rate-limited answer waits what TikTok asks (or a minute), and a
        transient failure (no answer, a 5xx) is asked again. Raises
        ``TimeoutError`` after ``timeout`` seconds: processing usually takes
        a minute, moderation of a public post sometimes hours, which a
        webhook (``tiktok_post_updated``) follows better than polling.
        """
        if not (0 < timeout < float("inf") and 0 < interval < float("inf")):
            raise ValueError("timeout and interval are numbers of seconds above 0")
        give_up = time.monotonic() + timeout
        pause = max(interval, MIN_STATUS_INTERVAL)
        paused = 0.0  # counted besides the clock: the limit holds whatever sleep does
        while True:
            try:
                status = self.get_post_status(access_token, publish_id)
            except TikTokError as exc:
                if not exc.transient:
                    raise
                # Rate limited: what TikTok asks, else its minute; TikTok
                # unreachable or failing inside: the usual pause.
                wait = exc.retry_after or (60.0 if exc.rate_limited else pause)
            else:
                if status.done:
                    return status
                wait, pause = pause, min(pause * 1.5, MAX_STATUS_INTERVAL)
            if time.monotonic() + wait > give_up or paused + wait > timeout:
                raise TimeoutError(
                    f"the post {publish_id!r} is not done after {timeout:g} s"
                )
            sleep(wait)
            paused += wait

    def _init_video(
        self,
        path: str,
        access_token: str,
        video: VideoSource,
        body: dict[str, Any],
        options: VideoOptions,
    ) -> str:
        chunk_size = options.get("chunk_size")
        if is_url(video):
            url = check_pull_url(video, self.verified_url_prefixes)
            check_chunk_size(chunk_size)  # checked all the same
            body["source_info"] = {"source": "PULL_FROM_URL", "video_url": url}
            return _publish_id(self._post_json(path, access_token, body))
        with VideoFile(video, options.get("content_type")) as file:
            layout = chunk_layout(file.size, chunk_size)
            body["source_info"] = layout.source_info()
            data = self._post_json(path, access_token, body)
            publish_id = _publish_id(data)
            upload_url = data.get("upload_url")
            if not isinstance(upload_url, str) or not _same_security(
                upload_url, self.api_base_url
            ):
                raise UnexpectedResponseError(200, json.dumps(data)[:1000])
            upload_chunks(
                self._put_chunk,
                upload_url,
                file,
                layout,
                timeout=self.timeout,
                publish_id=publish_id,
            )
        return publish_id

    def _post_json(
        self, path: str, access_token: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.api_request(
            "POST",
            path,
            access_token,
            data=json.dumps(body),
            headers={"Content-Type": "application/json; charset=UTF-8"},
        )

    def _put_chunk(
        self, url: str, body: Any, headers: dict[str, str], deadline: float
    ) -> requests.Response:
        # The upload_url is TikTok's own signed URL: no Bearer token.
        try:
            with bounded(deadline):
                response: requests.Response = self._oauth.request(
                    "PUT",
                    url,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    withhold_token=True,
                )
        except requests.RequestException as exc:
            raise TikTokFetchError(exc) from exc
        return response

    def api_request(
        self, method: str, path: str, access_token: str, **kwargs: Any
    ) -> dict[str, Any]:
        """Call a resource API ``path`` (relative to the API base URL).

        Returns the envelope's ``data``; TikTok's error envelope raises
        :class:`TikTokAPIError`.
        """
        resp = self.send(method, path, access_token, **kwargs)
        return parse_api_response(resp)

    def send(
        self, method: str, path: str, access_token: str, **kwargs: Any
    ) -> requests.Response:
        """Send a request to a resource API with the Bearer token attached.

        ``path`` is relative to the API base URL. Connection failures raise
        :class:`TikTokFetchError`; the response is returned as it is, its body
        read within the deadline and the size cap. With ``stream=True`` the
        body is left for the caller to read, outside both.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {access_token}"
        kwargs.setdefault("timeout", self.timeout)
        try:
            response: requests.Response = self._oauth.request(
                method,
                self.api_url(path),
                headers=headers,
                withhold_token=True,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise TikTokFetchError(exc) from exc
        return response

    def api_url(self, path: str) -> str:
        """``path`` joined to the API base URL (an absolute URL stays as it is)."""
        if path.startswith(("https://", "http://")):
            return path
        return self.api_base_url + path.lstrip("/")

    def _redirect_uri(self, override: str | None) -> str:
        uri = override or self.redirect_uri
        if not uri:
            raise ValueError(
                "no redirect_uri: give one to TikTokClient or to this call"
            )
        return uri

    def _fetch(self, call: Any, url: str, **kwargs: Any) -> Any:
        try:
            return call(url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise TikTokFetchError(exc) from exc


def parse_api_response(resp: requests.Response) -> dict[str, Any]:
    """The ``data`` of a TikTok API answer, or the error it carries.

    TikTok's resource APIs answer ``{"data": {...}, "error": {"code": "ok"}}``;
    any other ``error.code`` raises :class:`TikTokAPIError`, and an answer that
    is not such an envelope (an HTML gateway page) raises
    :class:`UnexpectedResponseError`.
    """
    body = json_object(resp)
    if body is None:
        raise UnexpectedResponseError(resp.status_code, resp.text)
    error = api_error(body, resp)
    if error is not None:
        raise error
    if not resp.ok:
        raise UnexpectedResponseError(resp.status_code, resp.text)
    data = body.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UnexpectedResponseError(resp.status_code, resp.text)
    return data


def _oauth_body(resp: requests.Response) -> dict[str, Any]:
    """An OAuth endpoint's JSON object; the OAuth error it carries raises."""
    body = json_object(resp)
    if body is None:
        _fail(UnexpectedResponseError(resp.status_code, resp.text), resp)
    error = oauth_error(body)
    if error is not None:
        _fail(error, resp)
    return body


def _fail(error: TikTokError, resp: requests.Response) -> NoReturn:
    # A rate-limited answer may say when to come back (a refresh job waits).
    error.retry_after = retry_after(resp)
    raise error


def _token_body(resp: requests.Response) -> dict[str, Any]:
    body = _oauth_body(resp)
    token = body.get("access_token")
    if not resp.ok or not isinstance(token, str) or not token:
        _fail(UnexpectedResponseError(resp.status_code, _redacted(body)), resp)
    for key in _SHORT_FIELDS:
        value = body.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > _MAX_FIELD_LENGTH
        ):
            raise UnexpectedResponseError(resp.status_code, _redacted(body))
    return body


#: Fields of a token answer that are short strings (TikTok's are under 100
#: characters). Anything else is not TikTok's answer, and could not be kept
#: in a session cookie.
_SHORT_FIELDS = ("access_token", "refresh_token", "open_id", "scope", "token_type")
_MAX_FIELD_LENGTH = 1024


def _redacted(body: Mapping[str, Any]) -> str:
    return json.dumps({k: "<redacted>" if "token" in k else v for k, v in body.items()})


def _same_security(upload_url: str, api_base_url: str) -> bool:
    """Whether the file may go to ``upload_url``: ``https://`` (plain
    ``http://`` only when the API itself is, as a sandbox on loopback is)."""
    scheme = urlsplit(upload_url).scheme.lower()
    return scheme == "https" or (scheme == "http" and api_base_url.startswith("http:"))


def _publish_id(data: Mapping[str, Any]) -> str:
    publish_id = data.get("publish_id")
    if not isinstance(publish_id, str) or not publish_id:
        raise UnexpectedResponseError(200, json.dumps(data)[:1000])
    return publish_id


def _video_page(data: Mapping[str, Any]) -> VideoPage:
    videos = data.get("videos") or []
    if not isinstance(videos, list) or not all(isinstance(v, dict) for v in videos):
        raise UnexpectedResponseError(200, json.dumps(data)[:1000])
    cursor = data.get("cursor")
    return VideoPage(
        videos,
        cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None,
        bool(data.get("has_more")),
    )
