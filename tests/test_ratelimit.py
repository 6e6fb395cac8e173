"""app.ratelimit: the one sliding-window limit, and the login throttle built on it, driven by an
injected clock."""

from __future__ import annotations

import threading

from app.ratelimit import RateLimit
from app.web.auth import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def taken(limit: RateLimit, attempts: int, key: str = "") -> int:
    return sum(limit.take(key) for _ in range(attempts))


def test_starts_full_then_refuses() -> None:
    limit = RateLimit(5, 60, clock=Clock())
    assert taken(limit, 8) == 5
    assert not limit.take()
    assert limit.available() == 0


def test_room_comes_back_only_as_events_leave_the_window() -> None:
    clock = Clock()
    limit = RateLimit(60, 60, clock=clock)
    assert taken(limit, 30) == 30
    clock.now += 30
    assert taken(limit, 40) == 30  # the first 30 are still inside the window
    clock.now += 29.5
    assert not limit.take()  # "60 per minute" holds for every minute, not on average
    assert limit.seconds_until_free() == 0.5
    clock.now += 0.5
    assert taken(limit, 40) == 30  # the first 30 have left; the next 30 are still in
    clock.now += 30
    assert taken(limit, 40) == 30


def test_idle_time_does_not_bank_more_than_the_rate() -> None:
    clock = Clock()
    limit = RateLimit(3, 60, clock=clock)
    clock.now += 3600
    assert taken(limit, 10) == 3


def test_zero_rate_allows_nothing() -> None:
    clock = Clock()
    limit = RateLimit(0, 60, clock=clock)
    assert not limit.take()
    clock.now += 3600
    assert not limit.take()


def test_keys_are_counted_apart() -> None:
    limit = RateLimit(2, 60, clock=Clock())
    assert taken(limit, 5, "a") == 2
    assert taken(limit, 5, "b") == 2
    assert limit.available("c") == 2


def test_invented_keys_cost_bounded_memory_and_the_least_recent_goes_first() -> None:
    limit = RateLimit(1, 60, clock=Clock(), max_keys=3)
    for key in ("a", "b", "c"):
        assert limit.take(key)
    assert not limit.take("a")  # "a" is now the most recently used
    assert limit.take("d")  # evicts "b", the least recently used
    assert limit.available("a") == 0 and limit.available("c") == 0 and limit.available("d") == 0
    assert limit.available("b") == 1  # forgotten, so it starts afresh


def test_hit_counts_past_the_rate_and_remembers_only_the_newest() -> None:
    clock = Clock()
    limit = RateLimit(3, 60, clock=clock)
    assert [limit.hit("k") for _ in range(5)] == [1, 2, 3, 3, 3]
    assert limit.latest("k") == (3, 1000.0)
    limit.forget("k")
    assert limit.latest("k") == (0, 0.0)


def test_threads_never_get_more_than_the_rate() -> None:
    limit = RateLimit(100, 60, clock=Clock())
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [limit.take() for _ in range(50)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 100


def test_login_lockout_doubles_from_the_latest_failure_up_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(LoginThrottle.FREE_ATTEMPTS - 1):
        throttle.failed("ip")
    assert throttle.retry_after("ip") == 0
    locks = []
    for _ in range(8):
        throttle.failed("ip")
        locks.append(throttle.retry_after("ip"))
    assert locks == [30, 60, 120, 240, 480, 900, 900, 900]
    clock.now += 899
    assert throttle.retry_after("ip") == 1
    assert throttle.retry_after("other") == 0


def test_login_failures_are_forgotten_after_success_or_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(LoginThrottle.FREE_ATTEMPTS):
        throttle.failed("ip")
    assert throttle.retry_after("ip") == 30
    throttle.succeeded("ip")
    assert throttle.retry_after("ip") == 0
    for _ in range(LoginThrottle.FREE_ATTEMPTS - 1):
        throttle.failed("ip")
    clock.now += LoginThrottle.WINDOW
    throttle.failed("ip")  # the earlier four have left the window: this is a first failure
    assert throttle.retry_after("ip") == 0
