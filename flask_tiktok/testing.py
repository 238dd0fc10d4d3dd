"""A pytest plugin for testing apps that use flask-tiktok, with no network.

Installed with the package (entry point ``pytest11``); its fixtures:

- ``tiktok_sandbox``: a :class:`LiveSandbox` (a
  :class:`~flask_tiktok.sandbox.Sandbox`) served on 127.0.0.1 for one test;
  ``tiktok_sandbox.url`` is where.
- ``tiktok_sandbox_config``: the ``TIKTOK_*`` config that points an app at it.
- ``tiktok_sandbox_options``: the keyword arguments the sandbox is made with
  (``{}``); override it to change them, e.g. ``{"short_pages": False}``.

and :func:`login_as`, which logs a Flask test client in as a sandbox user
through the app's real login and callback routes, without the consent page,
:func:`connect_as`, which connects a sandbox account to the client's app
user the same way, and :func:`deliver_webhook`, which posts a signed webhook
event to the app's ``tiktok.webhook`` route through the test client.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import request, url_for

from .sandbox import Sandbox
from .sandbox.webhooks import event_body, signature_header
from .wire import join_list, split_list

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

__all__ = [
    "LiveSandbox",
    "connect_as",
    "deliver_webhook",
    "login_as",
    "sandbox_config",
    "tiktok_sandbox",
    "tiktok_sandbox_config",
    "tiktok_sandbox_options",
]


class LiveSandbox(Sandbox):
    """A :class:`~flask_tiktok.sandbox.Sandbox` that a test serves on loopback."""

    #: The base URL it is served at, e.g. ``http://127.0.0.1:53021``.
    url: str


def sandbox_config(
    base_url: str, client_key: str, client_secret: str
) -> dict[str, Any]:
    """The ``TIKTOK_*`` config that sends an app's TikTok calls to a sandbox.

    :meth:`Sandbox.config_for <flask_tiktok.sandbox.Sandbox.config_for>` does
    the same for one of a sandbox's registered apps.
    """
    base = base_url.rstrip("/")
    return {
        "TIKTOK_CLIENT_KEY": client_key,
        "TIKTOK_CLIENT_SECRET": client_secret,
        "TIKTOK_AUTHORIZATION_URL": f"{base}/v2/auth/authorize/",
        "TIKTOK_TOKEN_URL": f"{base}/v2/oauth/token/",
        "TIKTOK_REVOKE_URL": f"{base}/v2/oauth/revoke/",
        "TIKTOK_API_BASE_URL": f"{base}/v2/",
    }


@pytest.fixture
def tiktok_sandbox_options() -> dict[str, Any]:
    """Keyword arguments for the ``tiktok_sandbox`` fixture's sandbox.

    Override this fixture to give the sandbox other apps, users or lifetimes.
    """
    return {}


@pytest.fixture
def tiktok_sandbox(tiktok_sandbox_options: dict[str, Any]) -> Iterator[LiveSandbox]:
    """A fresh sandbox served on 127.0.0.1 for one test, shut down after it."""
    sandbox = LiveSandbox(**tiktok_sandbox_options)
    with sandbox.serve() as server:
        sandbox.url = server.url
        yield sandbox


@pytest.fixture
def tiktok_sandbox_config(tiktok_sandbox: LiveSandbox) -> dict[str, Any]:
    """Config for ``app.config.update(...)`` pointing at ``tiktok_sandbox``.

    Uses the sandbox's first app, whose redirect URI
    ``http://127.0.0.1/tiktok/callback`` matches on any loopback host and
    port (a test client's ``http://localhost/tiktok/callback`` included).
    """
    return tiktok_sandbox.config_for(tiktok_sandbox.url)


def login_as(
    client: FlaskClient,
    sandbox: Sandbox,
    open_id: str,
    scopes: str | Iterable[str] | None = None,
    *,
    next_url: str = "/",
    login_path: str | None = None,
) -> TestResponse:
    """Log ``client`` in as the sandbox user ``open_id``; return the callback's
    response (a redirect to ``next_url`` when the login worked).

    Runs the app's real login route, has the sandbox mint a code for the state,
    redirect URI and PKCE challenge it produced (as the consent page would),
    then follows the callback: the token exchange and profile fetch are real
    calls to the sandbox. ``scopes`` (default: the ones the app asks for) are
    what the user grants. ``login_path`` defaults to the app's ``tiktok.login``.
    """
    return _authorize_as(
        client, sandbox, open_id, scopes, "tiktok.login", login_path, next_url
    )


def connect_as(
    client: FlaskClient,
    sandbox: Sandbox,
    open_id: str,
    scopes: str | Iterable[str] | None = None,
    *,
    next_url: str = "/",
    connect_path: str | None = None,
) -> TestResponse:
    """Connect the sandbox account ``open_id`` to ``client``'s signed-in app
    user, as if they picked it on the consent page; return the callback's
    response.

    Runs the app's real ``tiktok.connect`` route (so the app's
    ``owner_loader`` must see a signed-in user) and callback, like
    :func:`login_as`; the account is picked here, though the connect asks
    TikTok to show the account chooser (``disable_auto_auth=1``).
    """
    return _authorize_as(
        client, sandbox, open_id, scopes, "tiktok.connect", connect_path, next_url
    )


def deliver_webhook(
    client: FlaskClient,
    sandbox: Sandbox,
    event: str,
    open_id: str,
    content: dict[str, Any] | None = None,
    *,
    client_key: str | None = None,
    timestamp: int | None = None,
    path: str | None = None,
) -> TestResponse:
    """POST a webhook event, signed as TikTok signs it, to ``client``'s app;
    return the app's response.

    The body and ``TikTok-Signature`` header are those
    :meth:`Sandbox.send_webhook <flask_tiktok.sandbox.Sandbox.send_webhook>`
    sends over HTTP, signed with the client secret of the sandbox app
    ``client_key`` (default: its first, the one ``tiktok_sandbox_config``
    points at). ``content`` defaults to ``{}``; ``timestamp`` (epoch seconds,
    default: the sandbox's clock) is both ``create_time`` and the signature's
    ``t``. ``path`` defaults to the app's ``tiktok.webhook`` URL.
    """
    app = sandbox.find_app(client_key) if client_key else sandbox.apps[0]
    if app is None:
        raise ValueError(f"the sandbox has no app {client_key!r}")
    stamp = int(sandbox.clock()) if timestamp is None else timestamp
    body = event_body(app.client_key, event, open_id, content or {}, stamp)
    if path is None:
        with client.application.test_request_context():
            path = _below(url_for("tiktok.webhook"), request.script_root)
    return client.post(
        path,
        data=body,
        headers={
            "Content-Type": "application/json",
            "TikTok-Signature": signature_header(app.client_secret, stamp, body),
        },
    )


def _authorize_as(
    client: FlaskClient,
    sandbox: Sandbox,
    open_id: str,
    scopes: str | Iterable[str] | None,
    endpoint: str,
    path: str | None,
    next_url: str,
) -> TestResponse:
    app = client.application
    with app.test_request_context():
        # The test client puts APPLICATION_ROOT in front of every path it is
        # given, and url_for() includes it: take it off the URLs we follow.
        script_root = request.script_root
        if path is None:
            path = _below(url_for(endpoint), script_root)
    response = client.get(f"{path}?{urlencode({'next': next_url})}")
    if response.status_code != 302:
        raise AssertionError(
            f"the route {path} answered {response.status_code}, not 302"
        )
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.location).query).items()}
    if scopes is None:
        granted = split_list(query["scope"])
    elif isinstance(scopes, str):
        granted = split_list(scopes)
    else:
        granted = list(scopes)
    code = sandbox.issue_code(
        query["client_key"],
        open_id,
        granted,
        query["redirect_uri"],
        code_challenge=query.get("code_challenge"),
    )
    callback = _below(urlsplit(query["redirect_uri"]).path, script_root)
    params = urlencode(
        {"code": code, "scopes": join_list(granted), "state": query["state"]}
    )
    return client.get(f"{callback}?{params}")


def _below(path: str, script_root: str) -> str:
    """``path`` relative to the app's ``script_root`` (``APPLICATION_ROOT``)."""
    if script_root and path.startswith(f"{script_root}/"):
        return path[len(script_root) :]
    return path
