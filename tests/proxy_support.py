"""A small reverse proxy on loopback, as a user would deploy one in front of
the app: it forwards every request to the app with ``Host`` rewritten to the
app's own address (nginx's default ``proxy_set_header Host $proxy_host``) and
no ``X-Forwarded-*`` header, so the app sees neither the browser's host nor
its scheme."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Headers of one connection, not passed on (RFC 9110, section 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class _Forward(BaseHTTPRequestHandler):
    def _forward(self) -> None:
        host, port = self.server.upstream  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
        }
        headers["Host"] = f"{host}:{port}"
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        finally:
            connection.close()

    do_GET = do_POST = do_HEAD = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test's output is the app's


@contextmanager
def reverse_proxy() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """A proxy on a free loopback port, at ``http://localhost:<port>``; point
    it at the app with :func:`forward_to` once the app is served."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
    server.daemon_threads = True
    server.upstream = None  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def forward_to(server: ThreadingHTTPServer, app_url: str) -> None:
    """Make ``server`` forward to the app at ``app_url``."""
    parts = urlsplit(app_url)
    server.upstream = (parts.hostname, parts.port)  # type: ignore[attr-defined]
