"""A small, thread-safe, bounded map whose entries expire: per-process memory
for webhook deliveries already handled, users whose authorization TikTok
removed, and (opt-in) the SQL storage's recently read logins."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ExpiringRecord"]

V = TypeVar("V")


class ExpiringRecord(Generic[V]):
    """``key -> value`` entries that live ``ttl`` seconds, at most ``max_size``.

    When full, the oldest entry is dropped first. Lookups of an empty record
    take no lock, so checking it on every request costs one length test.
    """

    def __init__(
        self, max_size: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, value: V, ttl: float) -> bool:
        """Keep ``key`` (with ``value``) for ``ttl`` seconds.

        Returns True when the key was absent (or expired), False when it was
        already there, in which case the entry is left as it was.
        """
        now = self._clock()
        with self._lock:
            self._evict(now)
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return False
            self._entries.pop(key, None)
            self._entries[key] = (now + ttl, value)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)
            return True

    def put(self, key: str, value: V, ttl: float) -> None:
        """Keep ``key`` with ``value`` for ``ttl`` seconds, replacing an entry."""
        now = self._clock()
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (now + ttl, value)
            self._evict(now)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)

    def get(self, key: str) -> V | None:
        """The value kept for ``key``, or None when absent or expired."""
        if not self._entries:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def discard(self, key: str) -> None:
        """Forget ``key`` if it is kept."""
        with self._lock:
            self._entries.pop(key, None)

    def _evict(self, now: float) -> None:
        # Entries are kept in insertion order; with one TTL per use that is
        # also expiry order, so expired entries are found at the front.
        while self._entries:
            expires, _ = next(iter(self._entries.values()))
            if expires > now:
                break
            self._entries.popitem(last=False)
