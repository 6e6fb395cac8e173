"""app.ratelimit: the token bucket, driven by an injected clock."""

from __future__ import annotations

import threading

from app.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def allowed(limiter: RateLimiter, attempts: int) -> int:
    return sum(limiter.allow() for _ in range(attempts))


def test_starts_full_then_refuses() -> None:
    limiter = RateLimiter(5, per_seconds=60, clock=Clock())
    assert allowed(limiter, 8) == 5
    assert not limiter.allow()


def test_refills_smoothly() -> None:
    clock = Clock()
    limiter = RateLimiter(60, per_seconds=60, clock=clock)
    assert allowed(limiter, 60) == 60
    clock.now += 0.5
    assert not limiter.allow()  # half a token is not a token
    clock.now += 0.5
    assert limiter.allow()
    assert not limiter.allow()
    clock.now += 10
    assert allowed(limiter, 20) == 10


def test_idle_time_does_not_bank_more_than_the_capacity() -> None:
    clock = Clock()
    limiter = RateLimiter(3, per_seconds=60, clock=clock)
    clock.now += 3600
    assert allowed(limiter, 10) == 3


def test_zero_rate_allows_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(0, per_seconds=60, clock=clock)
    assert not limiter.allow()
    clock.now += 3600
    assert not limiter.allow()


def test_threads_never_get_more_than_the_capacity() -> None:
    limiter = RateLimiter(100, per_seconds=60, clock=Clock())
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [limiter.allow() for _ in range(50)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 100
