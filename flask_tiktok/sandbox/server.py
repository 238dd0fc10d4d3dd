"""Serving a sandbox on a real loopback port from a background thread."""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from werkzeug.serving import WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or host name) is this machine only:
    ``localhost`` or a loopback address; ``0.0.0.0`` and ``::`` are not."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output clean: no line per request."""


class SandboxServer:
    """A threaded werkzeug server running a sandbox in a daemon thread.

    Use it as a context manager, or call :meth:`shutdown` when done.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_requests: bool = False,
    ) -> None:
        handler = WSGIRequestHandler if log_requests else _QuietRequestHandler
        self._server = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        #: The host the server listens on.
        self.host = host
        #: The port the server listens on (the one picked, if asked for 0).
        self.port: int = self._server.port
        url_host = f"[{host}]" if ":" in host else host
        #: The base URL, e.g. ``http://127.0.0.1:53021`` (no trailing slash).
        self.url = f"http://{url_host}:{self.port}"
        self._stopped = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # A short poll makes shutdown() quick: tests start many servers.
            kwargs={"poll_interval": 0.05},
            name=f"tiktok-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()
