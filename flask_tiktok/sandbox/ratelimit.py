"""Per-token request limits over a sliding minute, as the Content Posting API's."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping

#: TikTok's limits per user access token and minute, by endpoint name.
POSTING_RATE_LIMITS: dict[str, int] = {
    "creator_info": 20,
    "video_init": 6,
    "inbox_video_init": 6,
    "content_init": 6,
    "post_status": 30,
}
WINDOW_SECONDS = 60.0


class RateLimiter:
    """Counts admitted requests per (endpoint, token) within the last minute."""

    def __init__(self, clock: Callable[[], float], limits: Mapping[str, int]) -> None:
        self.clock = clock
        #: Requests a token may make to an endpoint per minute; absent: no limit.
        self.limits = dict(limits)
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def admit(self, endpoint: str, token: str) -> bool:
        """Count a request, unless ``token`` has used up ``endpoint``'s minute."""
        limit = self.limits.get(endpoint)
        if limit is None:
            return True
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault((endpoint, token), deque())
            while seen and seen[0] <= now - WINDOW_SECONDS:
                seen.popleft()
            if len(seen) >= limit:
                return False
            seen.append(now)
            return True

    def reset(self) -> None:
        """Forget every request counted."""
        with self._lock:
            self._seen.clear()
