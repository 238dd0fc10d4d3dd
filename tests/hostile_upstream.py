"""A "TikTok" on loopback that answers the way hostile networks do.

``serve(mode)`` starts it in a thread and returns its base URL. The modes:

- ``drip-headers``: a valid answer, one byte every 0.2 s from the first byte;
- ``drip-body``: the headers at once, then the body one byte every 0.2 s;
- ``gzip-bomb``: about 0.5 MB of gzip that inflates to 512 MB;
- ``big-body``: a plain 100 MB body;
- ``drip-close``: a body without a length (it ends when the connection
  closes), dripped;
- ``tls-drip``: for an ``https://`` client, a TLS handshake record dripped a
  byte every 0.2 s (the handshake never ends);
- ``ok``: a valid answer at once.

The first line of every request it got is kept in ``REQUEST_LINES`` (a proxy
sees the whole URL there).

Run as a script (``python hostile_upstream.py MODE TIMEOUT``), it calls the
server with a :class:`~flask_tiktok.TikTokClient` of that timeout in a fresh
process and prints JSON: the seconds the call took, the error's type and
cause, and how much the process's peak RSS grew, so that a test bounds wall
time and memory in a process of their own.
"""

from __future__ import annotations

import gzip
import io
import json
import resource
import socket
import sys
import threading
import time
from typing import Any

OK_BODY = json.dumps(
    {"data": {"user": {"open_id": "open-id-alice"}}, "error": {"code": "ok"}}
).encode()
DRIP_PAUSE = 0.2


def _head(length: int, extra: str = "") -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _gzip_bomb() -> bytes:
    out = io.BytesIO()
    block = b"\0" * (1 << 20)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as zipped:
        for _ in range(512):
            zipped.write(block)
    return out.getvalue()


_bombs: list[bytes] = []
REQUEST_LINES: list[bytes] = []


def _answer(conn: socket.socket, mode: str) -> None:
    if mode == "drip-headers":
        for byte in _head(len(OK_BODY)) + OK_BODY:
            conn.sendall(bytes([byte]))
            time.sleep(DRIP_PAUSE)
    elif mode == "drip-body":
        conn.sendall(_head(len(OK_BODY)))
        for byte in OK_BODY:
            conn.sendall(bytes([byte]))
            time.sleep(DRIP_PAUSE)
    elif mode == "drip-close":
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n\r\n"
        )
        for byte in OK_BODY:
            conn.sendall(bytes([byte]))
            time.sleep(DRIP_PAUSE)
    elif mode == "gzip-bomb":
        body = _bombs[0]
        conn.sendall(_head(len(body), "Content-Encoding: gzip\r\n") + body)
    elif mode == "big-body":
        size = 100 * (1 << 20)
        conn.sendall(_head(size))
        block = b" " * (1 << 20)
        for _ in range(100):
            conn.sendall(block)
    else:
        conn.sendall(_head(len(OK_BODY)) + OK_BODY)


def _handle(conn: socket.socket, modes: list[str]) -> None:
    with conn:
        try:
            if modes[0] == "tls-drip":
                # A handshake record header announcing 16 kB, then its bytes.
                for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 16384:
                    conn.sendall(bytes([byte]))
                    time.sleep(DRIP_PAUSE)
                return
            while True:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(65536)
                    if not data:
                        return
                    request += data
                REQUEST_LINES.append(request.split(b"\r\n", 1)[0])
                # Each connection's next answer takes the next mode; the last
                # mode repeats.
                mode = modes.pop(0) if len(modes) > 1 else modes[0]
                _answer(conn, mode)
        except OSError:
            return  # the client gave up and shut the connection


def serve(*modes: str) -> str:
    """Start the server (answers in ``modes``' order); returns its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    queue = list(modes)
    if "gzip-bomb" in modes and not _bombs:
        _bombs.append(_gzip_bomb())  # made before the call: it takes a second

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_handle, args=(conn, queue), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v2/"


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(mode: str, timeout: float) -> dict[str, Any]:
    from flask_tiktok import TikTokClient

    client = TikTokClient(
        "key",
        "secret",
        "https://app.example/cb",
        api_base_url=serve(mode),
        timeout=timeout,
    )
    before = _peak_rss()
    started = time.monotonic()
    error: Exception | None = None
    try:
        client.get_user_info("act.1", ["open_id"])
    except Exception as exc:  # reported to the test, which judges it
        error = exc
    return {
        "seconds": time.monotonic() - started,
        "error": type(error).__name__ if error else None,
        "cause": type(getattr(error, "cause", None)).__name__ if error else None,
        "message": str(error) if error else None,
        "body": getattr(error, "body", None),
        "rss_growth": _peak_rss() - before,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], float(sys.argv[2]))))
