"""Rate limits, of the two shapes the app needs.

- ``RateLimiter``: a token bucket, at most ``rate`` events per ``per_seconds``, refilled
  smoothly; for floods (quarantined bodies, refusal log lines), where a steady trickle is fine.
- ``SlidingWindow``: per key, at most ``rate`` events in *any* window of ``seconds``; for
  notifications, whose documented promise (NOTIFY_RATE_LIMIT per NOTIFY_RATE_WINDOW_SECONDS)
  a bucket refilling mid-window would break.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate: int, *, per_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(rate)
        self.refill_per_second = rate / per_seconds
        self.clock = clock
        self._tokens = float(rate)
        self._updated = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self.clock()
            elapsed = now - self._updated
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


class SlidingWindow:
    """At most ``rate`` events per key in any ``seconds`` window (in memory: a restart resets
    it, which at worst allows one extra burst)."""

    def __init__(
        self, rate: int, seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.seconds = rate, seconds
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.seconds:
            sent.popleft()
        return sent

    def available(self, key: str) -> int:
        with self._lock:
            return self.rate - len(self._recent(key, self.clock()))

    def take(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            sent = self._recent(key, now)
            if len(sent) >= self.rate:
                return False
            sent.append(now)
            return True

    def seconds_until_free(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            sent = self._recent(key, now)
            return 0.0 if len(sent) < self.rate else sent[0] + self.seconds - now
