"""A token bucket: at most ``rate`` events per ``per_seconds``, refilled smoothly."""

from __future__ import annotations

import threading
import time
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
