"""The one rate limit every flood guard uses: at most ``rate`` events per key in any window of
``seconds``.

A sliding window, not a token bucket: "N per minute" then holds for every minute, not just on
average, which is what the documented limits promise (NOTIFY_RATE_LIMIT per
NOTIFY_RATE_WINDOW_SECONDS, QUARANTINE_RATE_PER_MINUTE). It keeps at most ``rate`` timestamps a
key and at most ``max_keys`` keys (the least recently used goes first), so a stranger inventing
keys (addresses) costs a bounded amount of memory. In memory only: a restart resets it, which at
worst allows one extra burst.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 10_000


class RateLimit:
    def __init__(
        self,
        rate: int,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.rate, self.seconds = rate, seconds
        self.clock = clock
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str = "") -> bool:
        """Count one event if the window has room for it; False (and nothing counted) if not."""
        with self._lock:
            now = self.clock()
            events = self._recent(key, now)
            if len(events) >= self.rate:
                return False
            events.append(now)
            return True

    def hit(self, key: str = "") -> int:
        """Count one event even over the limit (the oldest is forgotten); how many are in the
        window now. For callers that escalate on repeated events instead of refusing them."""
        with self._lock:
            now = self.clock()
            events = self._recent(key, now)
            if self.rate > 0:
                events.append(now)
            return len(events)

    def available(self, key: str = "") -> int:
        with self._lock:
            return self.rate - len(self._recent(key, self.clock()))

    def seconds_until_free(self, key: str = "") -> float:
        with self._lock:
            now = self.clock()
            events = self._recent(key, now)
            if len(events) < self.rate:
                return 0.0
            return events[0] + self.seconds - now if events else self.seconds

    def latest(self, key: str = "") -> tuple[int, float]:
        """How many events ``key`` has in the window, and when the newest was (0.0 if none)."""
        with self._lock:
            events = self._recent(key, self.clock())
            return len(events), (events[-1] if events else 0.0)

    def forget(self, key: str = "") -> None:
        with self._lock:
            self._events.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._events.popitem(last=False)
            events = self._events[key] = deque(maxlen=max(self.rate, 1))
        else:
            self._events.move_to_end(key)
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return events
