"""Notification outage: while the json:// target's port is closed, leads keep arriving and their
notifications wait; once it is back, each pending one is delivered exactly once, promptly: one by
one, or (beyond the storm allowance, as with the default NOTIFY_RATE_LIMIT) in one summary."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from conftest import AppProcess
from reliability import (
    SUCCESS_ANSWER,
    SwitchableSink,
    assert_one_notification_each,
    attempt,
    make_event,
)
from vendor import HelloClientFake
from worker_passes import PASS_LOG, wait_for_quiet_pass

PENDING = 30
NOTIFY = {
    "NOTIFY_RETRY_FIRST_SECONDS": "0.2",
    "NOTIFY_RETRY_CAP_SECONDS": "1",
    "NOTIFY_POLL_SECONDS": "0.2",
    **PASS_LOG,
}
# 1000: every lead notified on its own. 25: the backlog exceeds what is left of the allowance
# (failed attempts use some of it too), so it is folded into a summary.
RATE_LIMITS = {"one by one": "1000", "summarised": "25"}
FAILED_TRIES = 3  # the outage lasts through several backoff rounds
RECOVERY_BOUND = 10.0  # the retry cap is 1 s: all of them well within this once it is back
SUMMARY_COUNT = re.compile(r"One summary instead of (\d+) notifications")


@pytest.fixture
def sink() -> Iterator[SwitchableSink]:
    endpoint = SwitchableSink()
    endpoint.on()
    yield endpoint
    endpoint.off()


@pytest.mark.parametrize("rate_limit", RATE_LIMITS.values(), ids=RATE_LIMITS.keys())
def test_pending_notifications_are_each_delivered_once_after_an_outage(
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    sink: SwitchableSink,
    rate_limit: str,
) -> None:
    app = make_app(APPRISE_URLS=sink.url("/phone"), NOTIFY_RATE_LIMIT=rate_limit, **NOTIFY)
    vendor = vendor_for(app)
    events = [make_event(vendor, 4_000 + n, f"Outage{n}") for n in range(PENDING + 1)]
    assert attempt(vendor, events[0]) == SUCCESS_ANSWER
    sink.state.wait(1, "/phone")  # the target works

    sink.off()  # connection refused from now on
    for event in events[1:]:
        assert attempt(vendor, event) == SUCCESS_ANSWER  # the webhook does not wait for it
    app.wait_for(f"SELECT failing_streak >= {FAILED_TRIES} FROM notify_target", 1, timeout=30)
    assert app.scalar("SELECT count(*) FROM notify_outbox WHERE status = 'pending'") == PENDING
    assert "connection error" in str(app.scalar("SELECT last_error FROM notify_target")).lower()
    assert_one_notification_each(app, {"pending", "sent"})

    sink.on()
    back = time.monotonic()
    app.wait_for(
        "SELECT count(*) FROM notify_outbox WHERE status = 'pending'", 0, timeout=RECOVERY_BOUND
    )
    assert time.monotonic() - back <= RECOVERY_BOUND
    wait_for_quiet_pass(app)  # the worker looked again: a second copy would have been sent

    notes = sink.state.received("/phone")
    summaries = [SUMMARY_COUNT.search(str(note["message"])) for note in notes]
    covered = sum(int(found.group(1)) for found in summaries if found)
    singles = Counter(
        str(n["title"]) for n, found in zip(notes, summaries, strict=True) if not found
    )
    assert [title for title, n in singles.items() if n > 1] == [], "a lead was notified twice"
    assert set(singles) <= {event.title for event in events}
    assert sum(singles.values()) + covered == len(events)  # every one reached the phone, once
    if rate_limit == RATE_LIMITS["one by one"]:
        assert covered == 0 and set(singles) == {event.title for event in events}
    else:
        assert covered > 0, "the backlog was not summarised"

    expected = {"sent": sum(singles.values()), "summarised": covered}
    statuses = dict(app.query("SELECT status, count(*) FROM notify_outbox GROUP BY status"))  # type: ignore[arg-type]
    assert statuses == {status: n for status, n in expected.items() if n}
    assert_one_notification_each(app, {"sent", "summarised"})
    assert app.scalar("SELECT failing_streak FROM notify_target") == 0  # healthy again
