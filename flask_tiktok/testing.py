"""A pytest plugin for testing apps that use flask-tiktok, with no network.

Installed with the package (entry point ``pytest11``); its fixtures:

- ``tiktok_sandbox``: a :class:`~flask_tiktok.sandbox.Sandbox` served on
  loopback for the test (``tiktok_sandbox.url`` is set while it runs).
- ``tiktok_sandbox_config``: the ``TIKTOK_*`` config that points an app at it.

and :func:`login_as`, which logs a Flask test client in as a sandbox user
through the real login and callback routes, without the consent page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from .sandbox import Sandbox

__all__ = ["login_as", "sandbox_config", "tiktok_sandbox", "tiktok_sandbox_config"]


def sandbox_config(base_url: str, client_key: str, client_secret: str) -> dict[str, Any]:
    """The ``TIKTOK_*`` config that sends an app's TikTok calls to a sandbox."""
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
def tiktok_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox served on 127.0.0.1 for one test."""
    from .sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve() as server:
        sandbox.url = server.url  # type: ignore[attr-defined]
        yield sandbox


@pytest.fixture
def tiktok_sandbox_config(tiktok_sandbox: Sandbox) -> dict[str, Any]:
    """Config for ``app.config.update(...)`` pointing at ``tiktok_sandbox``."""
    app = tiktok_sandbox.apps[0]
    return sandbox_config(
        tiktok_sandbox.url,  # type: ignore[attr-defined]
        app.client_key,
        app.client_secret,
    )


def login_as(
    client: FlaskClient,
    sandbox: Sandbox,
    open_id: str,
    scopes: Iterable[str] | None = None,
    *,
    next_url: str = "/",
    login_path: str = "/tiktok/login",
) -> Any:
    """Log ``client`` in as the sandbox user ``open_id``; return the callback's
    response.

    Runs the app's real login route, has the sandbox mint a code for the
    state and PKCE challenge it produced (as the consent page would), and
    follows the callback: the token exchange and profile fetch are real.
    """
    response = client.get(f"{login_path}?{urlencode({'next': next_url})}")
    if response.status_code != 302:
        raise AssertionError(f"login route answered {response.status_code}")
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.location).query).items()}
    granted = list(scopes) if scopes is not None else query["scope"].split(",")
    code = sandbox.issue_code(
        query["client_key"],
        open_id,
        granted,
        query["redirect_uri"],
        code_challenge=query.get("code_challenge"),
    )
    callback = urlsplit(query["redirect_uri"]).path
    params = urlencode({"code": code, "scopes": ",".join(granted), "state": query["state"]})
    return client.get(f"{callback}?{params}")
