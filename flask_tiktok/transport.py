"""Bounded HTTP for calls to TikTok: an overall deadline, and a cap on answers.

``requests``' timeout limits each wait for bytes, not the call: an upstream
that sends one byte a second holds a worker for as long as it likes. Each call
here has a deadline for the whole exchange (connect, TLS, request, headers and
body); when it passes, a watchdog thread shuts the call's sockets, which wakes
whatever read or write is blocked on them, and the call raises
:class:`~flask_tiktok.TikTokFetchError` whose cause is a
:class:`requests.Timeout`. An answer is read with a cap on its decoded size
(a small gzip body can inflate to gigabytes) and a larger one raises
:class:`~flask_tiktok.UnexpectedResponseError`.

The sockets are known to the watchdog through :class:`TikTokHTTPAdapter`,
which :class:`~flask_tiktok.TikTokClient` mounts on its own session. A
``requests.Session`` of the application's (proxies, retries) keeps the
deadline for the whole call when its adapters are ``TikTokHTTPAdapter`` (it
takes ``HTTPAdapter``'s arguments); with other adapters the deadline covers
the answer's body only. The client's own session takes the environment's
proxies and CA bundle as ``requests`` does, read once per origin
(``_Environment``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError

from .errors import TikTokFetchError, UnexpectedResponseError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ENCODINGS",
    "TikTokHTTPAdapter",
    "bounded",
    "read_capped",
]

#: The largest answer read from TikTok, counted after decompression. TikTok's
#: largest (a page of 20 videos with every field) is a few tens of kilobytes.
DEFAULT_MAX_RESPONSE_BYTES = 1_048_576

#: The ``Accept-Encoding`` sent: the encodings :func:`read_capped` decodes.
ENCODINGS = "gzip, deflate"

#: Bytes read from the network at a time (also urllib3's block size for
#: request bodies, so an upload goes out in large writes).
BLOCK_SIZE = 262_144


class _Call:
    """One call's deadline and the sockets it uses until it ends.

    Each socket is watched through a duplicate of its descriptor: TLS wraps
    (and detaches) the socket it is given, and a duplicate still reaches the
    connection underneath, during the handshake too. The duplicates are
    closed when the call ends.
    """

    __slots__ = (
        "deadline",
        "expired",
        "finished",
        "lock",
        "seconds",
        "sockets",
        "watched",
    )

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        #: The descriptors watched already: a connection is seen when it is
        #: made or reused, and again when its answer is read.
        self.watched: set[int] = set()
        self.expired = False
        self.finished = False
        self.lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        fd = sock.fileno()
        if fd < 0:
            return
        with self.lock:
            if self.finished or fd in self.watched:
                return
            self.watched.add(fd)
            try:
                watched = socket.socket(
                    sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno())
                )
            except OSError:
                return
            self.sockets.append(watched)
            if self.expired:
                _shut(watched)

    def expire(self) -> None:
        # Under the lock: a call that has finished (its connection back in
        # the pool, perhaps another call's now) is never shut.
        with self.lock:
            if self.finished:
                return
            self.expired = True
            for sock in self.sockets:
                _shut(sock)

    def finish(self) -> None:
        with self.lock:
            self.finished = True
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()


def _shut(sock: socket.socket) -> None:
    # shutdown() wakes a thread blocked in recv(), send() or a TLS handshake
    # on the connection; close() alone would not. The pool then discards the
    # dead connection.
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every call's deadline (a heap, soonest first)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child (gunicorn forks after loading the app): it
        # inherits neither the thread nor, safely, a lock held at the fork.
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, call: _Call) -> None:
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="flask-tiktok-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._heap, (call.deadline, next(self._order), call))
            if self._heap[0][2] is call:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, call = heapq.heappop(self._heap)
            call.expire()


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog._reset)
_current: ContextVar[_Call | None] = ContextVar("flask_tiktok_call", default=None)


def _watch(sock: socket.socket | None) -> None:
    call = _current.get()
    if call is not None:
        call.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a pooled connection: no new socket for this call
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same watch over TLS (its methods run before HTTPSConnection's)."""


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}
_PLAIN_POOLS = {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}


class TikTokHTTPAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections the call deadlines can cut.

    Takes ``HTTPAdapter``'s arguments (``max_retries``, pool sizes). Mount it
    on a session of your own (``session.mount("https://", TikTokHTTPAdapter())``)
    to keep the overall deadline of every call to TikTok through it; proxies
    configured on the session are used as usual.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", BLOCK_SIZE)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # An HTTP(S) proxy's pools are the plain ones: watch them. A SOCKS
        # proxy's have pools of their own (the deadline covers the body).
        if manager.pool_classes_by_scheme == _PLAIN_POOLS:
            manager.pool_classes_by_scheme = _POOLS
        return manager


class _Environment:
    """What ``requests`` takes from the environment for a URL, read once per
    origin: the proxies (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``...; the
    system's settings on macOS and Windows) and the CA bundle
    (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``).

    ``requests`` reads them again for every request, which costs more than
    the rest of preparing one (about 90 us: every ``os.environ`` entry is
    decoded, twice). An environment is set when the process starts; as with
    httpx, whose client reads it once, a change made to ``os.environ`` later
    reaches the clients made after it.
    """

    #: Origins remembered (TikTok's API and upload hosts are a handful).
    SIZE = 64

    def __init__(self) -> None:
        #: (scheme, host and port, no_proxy) -> (proxies, CA bundle or None)
        self._origins: dict[tuple[str, str, Any], tuple[dict[str, str], Any]] = {}
        # requests puts a no_proxy given with a call in os.environ while it
        # reads: one read at a time, so that none is remembered from another's.
        self._reading = threading.Lock()

    def merge(
        self, url: str, proxies: dict[str, str] | None, verify: Any
    ) -> tuple[dict[str, str], Any]:
        """``proxies`` completed by the environment's for ``url``, and
        ``verify`` (``True``/``None``: the environment's CA bundle if it
        names one), as ``Session.merge_environment_settings`` does."""
        merged = dict(proxies or {})
        no_proxy = merged.get("no_proxy")
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._origins.get(key)
        if found is None:
            with self._reading:
                if len(self._origins) >= self.SIZE:
                    self._origins.clear()
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                    "CURL_CA_BUNDLE"
                )
                found = self._origins[key] = (
                    get_environ_proxies(url, no_proxy=no_proxy),
                    bundle,
                )
        for scheme, proxy in found[0].items():
            merged.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = found[1] or verify
        return merged, verify


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Give the request sent inside the block ``seconds`` to end, all of it.

    Inside another bounded block, the outer block's deadline applies (an
    upload gives a chunk longer than one API call). When the deadline passes,
    the request raises :class:`~flask_tiktok.TikTokFetchError` (cause:
    ``requests.Timeout``), even if what it had read by then looked complete.
    """
    if _current.get() is not None:
        yield
        return
    call = _Call(seconds)
    _watchdog.add(call)
    token = _current.set(call)
    try:
        yield
    except (requests.RequestException, OSError) as exc:
        if call.expired:
            raise _timed_out(seconds) from exc
        raise
    finally:
        call.finish()
        _current.reset(token)
    if call.expired:
        raise _timed_out(seconds)


def _timed_out(seconds: float) -> TikTokFetchError:
    return TikTokFetchError(
        requests.Timeout(f"TikTok did not answer within {seconds:g} s")
    )


def _release(response: requests.Response) -> None:
    """End the current call, then let the connection go back to the pool:
    its deadline can no longer shut it under another call."""
    call = _current.get()
    if call is not None:
        call.finish()
    response.close()


def read_capped(response: requests.Response, limit: int) -> bytes:
    """Read a streamed ``response``'s body, decoded, failing beyond ``limit`` bytes.

    The body is decoded here (gzip or deflate, as ``Content-Encoding`` says)
    with the output bounded at each step, so a compressed bomb never inflates
    past the cap. Stores the body on the response, as ``requests`` would.
    """
    _watch(_socket_of(response))
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    decoder = _decoder(encoding, response)
    body = bytearray()
    try:
        while True:
            chunk = _read(response)
            if not chunk:
                break
            if decoder is None:
                body += chunk
            else:
                _inflate(decoder, chunk, body, limit, response)
            if len(body) > limit:
                _too_large(response, limit)
        if decoder is not None:
            body += decoder.flush()
            if len(body) > limit:
                _too_large(response, limit)
            if not decoder.eof or decoder.unused_data:
                raise UnexpectedResponseError(
                    response.status_code,
                    "compressed body cut short, or followed by other data",
                )
    finally:
        _release(response)
    content = bytes(body)
    response._content = content
    return content


def _read(response: requests.Response) -> bytes:
    try:
        chunk: bytes = response.raw.read(BLOCK_SIZE, decode_content=False)
    except (HTTPError, OSError) as exc:
        # What requests would raise had it read the body itself.
        raise requests.ConnectionError(exc) from exc
    return chunk


def _inflate(
    decoder: Any, chunk: bytes, body: bytearray, limit: int, response: requests.Response
) -> None:
    data = chunk
    while data:
        try:
            body += decoder.decompress(data, limit + 1 - len(body))
        except zlib.error as exc:
            raise UnexpectedResponseError(
                response.status_code, f"undecodable body ({exc})"
            ) from exc
        if len(body) > limit:
            _too_large(response, limit)
        data = decoder.unconsumed_tail


def _decoder(encoding: str, response: requests.Response) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS)
    response.close()
    raise UnexpectedResponseError(
        response.status_code, f"unsupported Content-Encoding {encoding!r}"
    )


def _too_large(response: requests.Response, limit: int) -> None:
    response.close()
    raise UnexpectedResponseError(
        response.status_code, f"answer larger than {limit:,} bytes: not read"
    )


def _socket_of(response: requests.Response) -> socket.socket | None:
    # The answer's connection (urllib3 2), so that the deadline also covers a
    # body read through an adapter that is not TikTokHTTPAdapter.
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None
