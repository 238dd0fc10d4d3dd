"""Development set-up: an app with no TikTok credentials runs on a sandbox.

:func:`configure_dev_app` is what the examples call in their factories: with
``TIKTOK_CLIENT_KEY`` set it does nothing but copy the ``TIKTOK_*`` settings
from the environment; without it, it serves a :class:`~.Sandbox` from a
background thread on a free loopback port and points the app's config at it.
That fallback is only for a developer's own machine: in debug or testing, or
under ``flask run`` on a loopback host. Anywhere else (``--host 0.0.0.0``, a
WSGI server) the sandbox would be out of the users' reach, and the app stops
with a message naming the two settings it needs.
Under ``flask run --debug`` the reloader's children reuse the first process's
sandbox and secret key, so a login survives a code change.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence

import click
from flask import Flask

from .core import Sandbox
from .models import SandboxApp
from .server import is_loopback

__all__ = ["configure_dev_app"]

#: The environment an app's TikTok settings are read from.
ENVIRONMENT = (
    "TIKTOK_CLIENT_KEY",
    "TIKTOK_CLIENT_SECRET",
    "TIKTOK_REDIRECT_URI",
    "TIKTOK_SCOPES",
)
#: Where the reloader's first process leaves its sandbox and key.
SANDBOX_URL_VARIABLE = "FLASK_TIKTOK_EXAMPLE_SANDBOX_URL"
SECRET_KEY_VARIABLE = "FLASK_TIKTOK_EXAMPLE_SECRET_KEY"  # noqa: S105 (a name)


def configure_dev_app(
    app: Flask, *, name: str, scopes: Sequence[str], sandbox: Sandbox | None = None
) -> Sandbox | None:
    """Read ``TIKTOK_*`` and ``SECRET_KEY`` from the environment where the
    app's config has none; with no client key, wire the app to a sandbox.

    ``name`` is the sandbox app's name on its consent page, ``scopes`` what
    the app asks for there. Returns the sandbox started (kept in
    ``app.extensions["tiktok_sandbox"]``, its server in
    ``app.extensions["tiktok_sandbox_server"]``), or ``None``. The app's
    ``SANDBOX_URL`` config says where it is (``None``: real TikTok).

    :raises RuntimeError: no client key, and the app is neither in debug or
        testing nor served by ``flask run`` on a loopback host.
    """
    for key in ENVIRONMENT:
        if key not in app.config and os.environ.get(key):
            app.config[key] = os.environ[key]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or _from_reloader(
            SECRET_KEY_VARIABLE, lambda: _dev_secret_key(app)
        )
    app.config.setdefault("SANDBOX_URL", None)
    if app.config.get("TIKTOK_CLIENT_KEY"):
        return None
    host = _bind_host()
    if not (app.debug or app.testing or (host is not None and is_loopback(host))):
        where = f"on {host}" if host else "outside 'flask run'"
        raise RuntimeError(
            "Set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET (your app's on"
            f" developers.tiktok.com): served {where}, the app cannot fall back"
            " to the flask-tiktok sandbox, which listens on 127.0.0.1 only and"
            " is for a developer's own machine ('flask run' on 127.0.0.1, or"
            " --debug)."
        )
    prefix = app.config.get("TIKTOK_URL_PREFIX", "/tiktok")
    sandbox = sandbox or Sandbox(
        apps=[
            SandboxApp(
                name=name,
                # A loopback URI: the sandbox accepts it on any port and host name.
                redirect_uris=[f"http://127.0.0.1{prefix}/callback"],
            )
        ]
    )

    def start() -> str:
        server = sandbox.serve()
        app.extensions["tiktok_sandbox"] = sandbox
        app.extensions["tiktok_sandbox_server"] = server
        app.logger.warning(
            "No TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET: logins go to the"
            " flask-tiktok sandbox at %s, a local stand-in for TikTok.",
            server.url,
        )
        return server.url

    url = _from_reloader(SANDBOX_URL_VARIABLE, start)
    app.config.update(sandbox.config_for(url))
    app.config["SANDBOX_URL"] = url
    app.config.setdefault("TIKTOK_SCOPES", list(scopes))
    return sandbox


def _bind_host() -> str | None:
    """The host ``flask run`` serves on (``--host``, ``FLASK_RUN_HOST``);
    ``None`` when the app is loaded by anything else."""
    context = click.get_current_context(silent=True)
    while context is not None:
        if context.info_name == "run" and "host" in context.params:
            return str(context.params["host"])
        context = context.parent
    return None


def _from_reloader(name: str, make: Callable[[], str]) -> str:
    """``make()``, or what the reloader's process made (``flask run --debug``).

    Werkzeug's reloader loads the app in a watching process, then again in each
    child it restarts on a code change; the children reuse the watcher's
    sandbox and key (through the environment), so a login survives a reload.
    """
    value = os.environ.get(name)
    if not (value and os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        value = os.environ[name] = make()
    return value


def _dev_secret_key(app: Flask) -> str:
    app.logger.warning(
        "SECRET_KEY is not set: using a random key, so logins end when the"
        " server stops. Set SECRET_KEY in the environment to keep them."
    )
    return secrets.token_hex(32)
