"""The :class:`Sandbox`: configuration, state and test helpers in one object."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .calls import ENDPOINTS, INIT_ENDPOINTS, Call, CallLog
from .faults import FAIL_REASONS, Fault, FaultKind, FaultQueue
from .models import SandboxApp, SandboxUser, default_apps, default_users
from .posts import PostStore, SandboxPost
from .pull import fetch
from .ratelimit import POSTING_RATE_LIMITS, RateLimiter
from .scopes import SCOPE_DESCRIPTIONS, parse_scopes
from .store import Authorization, PKCEEncoding, TokenStore
from .webhooks import WebhookDelivery, WebhookSender, deliver, event_body

if TYPE_CHECKING:
    from collections.abc import Iterable as _Iterable

    import requests
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

    from .server import SandboxServer

#: ``reason`` of an ``authorization.removed`` event when the user disconnects.
REASON_USER_DISCONNECTED = 1
#: How long an ``upload_url`` works, in seconds (TikTok: one hour).
UPLOAD_URL_LIFETIME = 3600
#: The fault kinds only the chunk upload takes.
_UPLOAD_FAULTS = frozenset({"drop_connection", "lose_chunk", "expired_upload"})


class Sandbox:
    """A local stand-in for TikTok's v2 OAuth and Display API endpoints.

    Mount :attr:`wsgi_app` (or the sandbox itself, a WSGI callable) anywhere, or
    :meth:`serve` it on a loopback port, then point a client's authorization,
    token, revoke and API URLs at it (:meth:`config_for` spells them out).

    With no ``apps`` it registers one app (``sandbox-client-key`` /
    ``sandbox-client-secret``, redirect ``http://127.0.0.1/tiktok/callback`` on any
    port); with no ``users`` it knows two demo users with ~45 videos each.

    ``short_pages`` makes every second page of ``/v2/video/list/`` come back one or
    two videos short while ``has_more`` stays true, as TikTok's filtering does.
    ``pkce`` is how ``code_verifier`` must match ``code_challenge``: ``"hex"``
    (TikTok's documented form), ``"base64url"`` (RFC 7636) or ``"any"``.
    ``auto_approve_as`` (an ``open_id``) skips the consent page unless the request
    says ``disable_auto_auth=1``, so a login can run without a browser;
    ``auto_decline_scopes`` are the scopes that user unticks (``user.info.basic``
    cannot be unticked), as a person may on the consent page.
    ``clock`` returns epoch seconds; tests may pass a fake one.

    Content Posting API: ``verified_url_prefixes`` are the URL prefixes the
    apps verified for ``PULL_FROM_URL`` (others get
    ``url_ownership_unverified``); the sandbox fetches media from loopback only,
    and takes plain ``http://`` loopback URLs only with ``pull_from_loopback``.
    An ``upload_url`` expires ``upload_url_lifetime`` seconds after its init,
    by ``clock``. ``post_rate_limits`` maps endpoint names to requests per
    token and minute (default TikTok's; ``{}`` for none). With
    ``advance_posts_on_status`` (default) each status fetch moves its post one
    step on after answering; without, only :meth:`advance_post` does.
    """

    def __init__(
        self,
        *,
        apps: Sequence[SandboxApp] | None = None,
        users: Sequence[SandboxUser] | None = None,
        access_token_lifetime: int = 86_400,
        refresh_token_lifetime: int = 31_536_000,
        code_lifetime: int = 600,
        short_pages: bool = True,
        pkce: PKCEEncoding = "hex",
        auto_approve_as: str | None = None,
        auto_decline_scopes: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        verified_url_prefixes: Iterable[str] = (),
        pull_from_loopback: bool = False,
        upload_url_lifetime: float = UPLOAD_URL_LIFETIME,
        post_rate_limits: Mapping[str, int] | None = None,
        advance_posts_on_status: bool = True,
    ) -> None:
        #: The registered apps; the first is the default of helpers that take
        #: an optional ``client_key``.
        self.apps: list[SandboxApp] = default_apps() if apps is None else list(apps)
        #: The known users, in the order the consent page lists them.
        self.users: list[SandboxUser] = (
            default_users() if users is None else list(users)
        )
        #: Whether the video list returns TikTok-style short pages.
        self.short_pages = short_pages
        #: The open_id approved without a consent page, or None to always ask.
        self.auto_approve_as = auto_approve_as
        #: The scopes the auto-approving user does not grant.
        self.auto_decline_scopes: set[str] = set(auto_decline_scopes)
        #: Signs the consent page's form, so that a changed request is refused.
        self.consent_key = secrets.token_bytes(32)
        self.clock = clock
        self.store = TokenStore(
            clock=clock,
            access_token_lifetime=access_token_lifetime,
            refresh_token_lifetime=refresh_token_lifetime,
            code_lifetime=code_lifetime,
            pkce=pkce,
        )
        self.faults = FaultQueue()
        #: URL prefixes ``PULL_FROM_URL`` media may come from.
        self.verified_url_prefixes: list[str] = list(verified_url_prefixes)
        #: Whether ``http://`` loopback media URLs are taken (for tests).
        self.pull_from_loopback = pull_from_loopback
        #: Seconds an ``upload_url`` works after its init.
        self.upload_url_lifetime = upload_url_lifetime
        #: Whether a status fetch moves its post one step on.
        self.advance_posts_on_status = advance_posts_on_status
        self.rate_limiter = RateLimiter(
            clock, POSTING_RATE_LIMITS if post_rate_limits is None else post_rate_limits
        )
        self.post_store = PostStore(notify=self._post_event, fetch=fetch)
        self._webhooks = WebhookSender()
        self._calls = CallLog()
        self._app_lock = threading.Lock()
        self._flask_app: Flask | None = None

    # -- WSGI ---------------------------------------------------------------

    @property
    def wsgi_app(self) -> Flask:
        """The sandbox as a Flask (WSGI) application; honours ``SCRIPT_NAME``."""
        with self._app_lock:
            if self._flask_app is None:
                from .app import create_app

                self._flask_app = create_app(self)
            return self._flask_app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> _Iterable[bytes]:
        """Answer a WSGI request."""
        return self.wsgi_app(environ, start_response)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = False
    ) -> SandboxServer:
        """Serve the sandbox from a daemon thread; ``port=0`` picks a free port.

        The returned server has ``.url`` and ``.shutdown()``, and is a context
        manager that shuts down on exit.
        """
        from .server import SandboxServer

        return SandboxServer(self.wsgi_app, host, port, log_requests=log_requests)

    def config_for(
        self, base_url: str, client_key: str | None = None
    ) -> dict[str, Any]:
        """The ``TIKTOK_*`` settings that point flask-tiktok at this sandbox.

        ``base_url`` is where the sandbox is reachable (a server's ``.url``, or
        the mount point), ``client_key`` one of its apps (default: the first).
        """
        app = self._app(client_key)
        base = base_url.rstrip("/")
        return {
            "TIKTOK_CLIENT_KEY": app.client_key,
            "TIKTOK_CLIENT_SECRET": app.client_secret,
            "TIKTOK_AUTHORIZATION_URL": f"{base}/v2/auth/authorize/",
            "TIKTOK_TOKEN_URL": f"{base}/v2/oauth/token/",
            "TIKTOK_REVOKE_URL": f"{base}/v2/oauth/revoke/",
            "TIKTOK_API_BASE_URL": f"{base}/v2/",
        }

    # -- recorded calls and faults -------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A copy of every request to a TikTok endpoint so far, oldest first."""
        return self._calls.snapshot()

    def calls_to(self, endpoint: str, **params: Any) -> list[Call]:
        """The calls to ``endpoint`` whose form/query/JSON parameters equal ``params``.

        ``sandbox.calls_to("token", grant_type="refresh_token")``.
        """
        self._check_endpoint(endpoint)
        return self._calls.filter(endpoint, **params)

    def record(self, call: Call) -> None:
        """Add ``call`` to :attr:`calls` (the views do this)."""
        self._calls.append(call)

    def inject_fault(
        self,
        endpoint: str,
        kind: FaultKind,
        *,
        times: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        retry_after: int | float | None = None,
        code: str | None = None,
        fail_reason: str | None = None,
    ) -> None:
        """Make the next ``times`` requests to ``endpoint`` fail as ``kind`` says.

        ``error_200``/``error_400``: an error body (OAuth or API shape) with that
        status; ``html_502``: an HTML gateway page; ``rate_limit``: 429 with
        TikTok's ``rate_limit_exceeded`` body and ``Retry-After`` if given;
        ``server_error``: 500 ``internal_error``; ``slow``: sleep ``delay`` seconds,
        then answer normally; ``api_error``: TikTok's error ``code`` with its
        status (``spam_risk_*`` and ``reached_active_user_cap`` come with 200
        from ``creator_info``, as TikTok sends them). ``status`` overrides the
        status code. Faults queue up in the order injected.

        For posts: ``post_failed`` (on ``video_init``, ``inbox_video_init`` or
        ``content_init``) makes the post that request creates end ``FAILED``
        with ``fail_reason`` (a pull failure while downloading, any other once
        processed). On ``video_upload`` (a chunk ``PUT``): ``drop_connection``
        reads half the chunk and closes the connection unanswered;
        ``lose_chunk`` forgets the last chunk accepted, so the chunk sent gets
        416 and a ``Content-Range`` that ends a chunk earlier;
        ``expired_upload`` answers 403 as an expired ``upload_url`` does;
        ``server_error`` and the others answer with the upload's
        ``Content-Range``.
        """
        self._check_endpoint(endpoint)
        if times < 1:
            raise ValueError("times must be at least 1.")
        if kind in _UPLOAD_FAULTS and endpoint != "video_upload":
            raise ValueError(f"A {kind!r} fault is for the video_upload endpoint.")
        if kind == "post_failed" and (
            endpoint not in INIT_ENDPOINTS or fail_reason not in FAIL_REASONS
        ):
            raise ValueError(
                "A post_failed fault needs an init endpoint"
                f" ({', '.join(sorted(INIT_ENDPOINTS))}) and a fail_reason of"
                f" {', '.join(sorted(FAIL_REASONS))}."
            )
        if kind == "api_error" and not code:
            raise ValueError("An api_error fault needs the error code to answer.")
        self.faults.add(
            endpoint,
            Fault(kind, times, status, delay, retry_after, code, fail_reason),
        )

    @staticmethod
    def _check_endpoint(endpoint: str) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(
                f"Unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}."
            )

    # -- minting without a browser -------------------------------------------

    def issue_code(
        self,
        client_key: str,
        open_id: str,
        scopes: str | Iterable[str],
        redirect_uri: str,
        code_challenge: str | None = None,
    ) -> str:
        """Mint an authorization code as if ``open_id`` had clicked Authorize."""
        app = self._app(client_key)
        if not app.allows_redirect_uri(redirect_uri):
            raise ValueError(f"{redirect_uri!r} is not registered for {client_key!r}.")
        return self.store.issue_code(
            client_key,
            self._user(open_id).open_id,
            self._scopes(scopes),
            redirect_uri,
            code_challenge,
        )

    def authorize(
        self, client_key: str, open_id: str, scopes: str | Iterable[str]
    ) -> dict[str, Any]:
        """Grant ``scopes`` and return the token response TikTok would send.

        Logs a test client in without the browser round trip.
        """
        return self.store.grant(
            self._app(client_key).client_key,
            self._user(open_id).open_id,
            self._scopes(scopes),
        )

    def expire_access_token(self, access_token: str) -> None:
        """Make one access token expired (its refresh token keeps working)."""
        self.store.expire_access_token(access_token)

    def expire_all_access_tokens(self) -> None:
        """Make every access token expired (refresh tokens keep working)."""
        self.store.expire_all_access_tokens()

    def authorizations(self) -> list[Authorization]:
        """Every standing user-to-app authorization."""
        return self.store.authorizations()

    def disconnect(
        self, client_key: str, open_id: str, *, reason: int = REASON_USER_DISCONNECTED
    ) -> requests.Response | None:
        """Remove a user's authorization of an app, as TikTok's settings page does.

        Every token it issued is revoked, then the ``authorization.removed``
        webhook is sent if the app has a ``webhook_url``; its response is returned.
        """
        app = self._app(client_key)
        self.store.remove_authorization(client_key, open_id)
        if app.webhook_url is None:
            return None
        return self.send_webhook(
            "authorization.removed", open_id, {"reason": reason}, client_key=client_key
        )

    def send_webhook(
        self,
        event: str,
        open_id: str,
        content: dict[str, Any],
        *,
        client_key: str | None = None,
        url: str | None = None,
        timestamp: int | None = None,
    ) -> requests.Response:
        """POST a signed TikTok webhook event and return the receiver's response.

        Goes to ``url`` or the app's ``webhook_url``, signed with its client
        secret; ``timestamp`` (epoch seconds, default now) is both ``create_time``
        and the signature's ``t``.
        """
        app = self._app(client_key)
        target = url or app.webhook_url
        if target is None:
            raise ValueError(
                f"App {app.client_key!r} has no webhook_url; pass url= or set it."
            )
        stamp = int(self.clock()) if timestamp is None else timestamp
        body = event_body(app.client_key, event, open_id, content, stamp)
        return deliver(target, app.client_secret, body, stamp)

    # -- posts ------------------------------------------------------------------

    @property
    def posts(self) -> list[SandboxPost]:
        """Every post started through the Content Posting API, oldest first."""
        return self.post_store.all()

    def find_post(self, publish_id: str) -> SandboxPost | None:
        """The post with ``publish_id``, or None."""
        return self.post_store.get(publish_id)

    def advance_post(self, publish_id: str, steps: int = 1) -> SandboxPost:
        """Move a post ``steps`` steps on, as time at TikTok would; return it.

        An upload still missing chunks does not move.
        """
        post = self._post(publish_id)
        for _ in range(steps):
            self.post_store.step(post)
        return post

    def take_down_post(self, publish_id: str) -> None:
        """Make a public post private again, as its creator may on TikTok.

        The app gets ``post.publish.no_longer_publicaly_available`` (TikTok's
        spelling) and the status loses its ``publicaly_available_post_id``.
        """
        self.post_store.take_down(self._post(publish_id))

    def flush_webhooks(self, timeout: float = 10.0) -> list[WebhookDelivery]:
        """Wait until the ``post.publish.*`` events sent so far are delivered.

        Returns every delivery so far, oldest first (events go out in order,
        from a background thread, to the app's ``webhook_url``).
        """
        return self._webhooks.flush(timeout)

    def _post(self, publish_id: str) -> SandboxPost:
        post = self.find_post(publish_id)
        if post is None:
            raise ValueError(f"No sandbox post has publish_id {publish_id!r}.")
        return post

    def _post_event(
        self, post: SandboxPost, event: str, content: dict[str, Any]
    ) -> None:
        app = self.find_app(post.client_key)
        if app is None or app.webhook_url is None:
            return
        stamp = int(self.clock())
        body = event_body(app.client_key, event, post.open_id, content, stamp)
        self._webhooks.send(
            event,
            post.open_id,
            content,
            app.webhook_url,
            secret=app.client_secret,
            body=body,
            timestamp=stamp,
        )

    def reset(self) -> None:
        """Forget codes, tokens, authorizations, posts, calls and faults."""
        self.store.reset()
        self._calls.clear()
        self.faults.clear()
        self.post_store.reset()
        self.rate_limiter.reset()
        self._webhooks.clear()

    # -- lookups ----------------------------------------------------------------

    def find_app(self, client_key: str) -> SandboxApp | None:
        """The registered app with ``client_key``, or None."""
        return next((app for app in self.apps if app.client_key == client_key), None)

    def find_user(self, open_id: str) -> SandboxUser | None:
        """The user with ``open_id``, or None."""
        return next((user for user in self.users if user.open_id == open_id), None)

    def _app(self, client_key: str | None) -> SandboxApp:
        if client_key is None:
            if not self.apps:
                raise ValueError("The sandbox has no apps.")
            return self.apps[0]
        app = self.find_app(client_key)
        if app is None:
            raise ValueError(f"No sandbox app has client_key {client_key!r}.")
        return app

    def _user(self, open_id: str) -> SandboxUser:
        user = self.find_user(open_id)
        if user is None:
            raise ValueError(f"No sandbox user has open_id {open_id!r}.")
        return user

    @staticmethod
    def _scopes(scopes: str | Iterable[str]) -> list[str]:
        names = parse_scopes(scopes if isinstance(scopes, str) else ",".join(scopes))
        unknown = [name for name in names if name not in SCOPE_DESCRIPTIONS]
        if unknown:
            raise ValueError(f"Unknown scope(s): {', '.join(unknown)}.")
        return names
