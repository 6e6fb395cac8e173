"""Crash: SIGKILL at random moments under concurrent vendor load (retries, duplicates, dropped
connections) loses no acknowledged delivery, stores none twice, and gives each lead one
notification row, which is sent once the server is back."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

from conftest import AppProcess, JsonSink
from reliability import (
    SUCCESS_ANSWER,
    Event,
    assert_intact,
    assert_one_notification_each,
    assert_stored_exactly_once,
    deliver,
    make_event,
)
from vendor import HelloClientFake
from worker_passes import PASS_LOG, wait_for_quiet_pass

# RELIABILITY_SEED=<n> replays another schedule of kills and sender choices.
SEED = int(os.environ.get("RELIABILITY_SEED", "20261125"))
SENDERS = 4
KILLS = 3
RETRY_DELAYS = (1.0, 3.0)  # the vendor's 1 and 3 minutes, as seconds
FIRST_ATTEMPTS = ("whole", "hang-up", "hang-up-mid-body")
FIRST_WEIGHTS = (8, 1, 1)
# A notification per lead (no storm summary), retried fast after a crash.
NOTIFY = {
    "NOTIFY_RATE_LIMIT": "100000",
    "NOTIFY_RETRY_FIRST_SECONDS": "0.2",
    "NOTIFY_RETRY_CAP_SECONDS": "1",
    "NOTIFY_POLL_SECONDS": "0.2",
}
FAILED_ATTEMPTS = {"refused", "hang-up", "hang-up-mid-body"}
MID_REQUEST = ("hang-up", "dropped")


class Load:
    """Senders that behave like Hello Client, each on its own connection pool and schedule."""

    def __init__(
        self, app: AppProcess, vendor_for: Callable[[AppProcess], HelloClientFake]
    ) -> None:
        self.app, self.vendor_for = app, vendor_for
        self.events: list[Event] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(number,), daemon=True)
            for number in range(SENDERS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads), "a sender hung"

    def snapshot(self) -> list[Event]:
        with self.lock:
            return list(self.events)

    def _run(self, number: int) -> None:
        try:
            self._send(number, random.Random(SEED * 100 + number))
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)

    def _send(self, number: int, rng: random.Random) -> None:
        vendor = self.vendor_for(self.app)
        vendor.retry_delays = RETRY_DELAYS
        count = 0
        while not self.stopping.is_set():
            sent = self.snapshot()
            if sent and rng.random() < 0.1:
                # The vendor fires an event again, possibly while another sender still retries it.
                event, first = rng.choice(sent), "whole"
            else:
                count += 1
                kind = rng.choice(("Lead", "Appointment"))
                session_id = (number + 1) * 1_000_000 + count
                event = make_event(vendor, session_id, f"S{number}E{count}", kind)
                with self.lock:
                    self.events.append(event)
                first = rng.choices(FIRST_ATTEMPTS, FIRST_WEIGHTS)[0]
            deliver(vendor, event, first)
            time.sleep(rng.uniform(0.02, 0.1))


def recovered_mid_request(events: list[Event]) -> list[Event]:
    """Events acknowledged after an attempt whose connection dropped mid-request."""
    return [
        event
        for event in events
        if event.acknowledged and any(a.startswith(MID_REQUEST) for a in list(event.answers))
    ]


def test_sigkill_under_load_loses_nothing_acknowledged_and_notifies_each_lead(
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    json_sink: JsonSink,
) -> None:
    rng = random.Random(SEED)
    app = make_app(APPRISE_URLS=json_sink.url("/phone"), **NOTIFY, **PASS_LOG)
    load = Load(app, vendor_for)
    load.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            app.stop(signal.SIGKILL)
            time.sleep(rng.uniform(0.0, 0.5))
            app.start()
        # Some deliveries to the last server, among them (hang-ups being random: wait for one,
        # within a bound) a retry that succeeded after a connection dropped mid-request.
        time.sleep(1.0)
        deadline = time.monotonic() + 20
        while not recovered_mid_request(load.snapshot()) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        load.stop()
    assert load.errors == []
    events = load.events

    answers = Counter(a for event in events for a in event.answers)
    odd = [a for a in answers if a != SUCCESS_ANSWER and a not in FAILED_ATTEMPTS]
    # A valid signed event is answered success or not at all (server down): never refused.
    assert [a for a in odd if not a.startswith("dropped")] == [], (SEED, answers)
    # Connections dropped mid-request (by the sender, or by a kill), then retried: checked below.
    firsts = Counter(event.answers[0] for event in events)
    assert recovered_mid_request(events), f"no such retry; seed {SEED}, first tries {firsts}"

    assert_stored_exactly_once(app, events, failures_left_nothing=False)
    assert_one_notification_each(app, {"pending", "sent"})
    app.wait_for("SELECT count(*) FROM notify_outbox WHERE status != 'sent'", 0, timeout=60)
    wait_for_quiet_pass(app)  # the worker looked again: a wrong extra send would show up
    assert_one_notification_each(app, {"sent"})
    assert_intact(app)

    stored = {row[0] for row in app.query("SELECT session_id FROM lead")}
    expected = {event.title for event in events if event.session_id in stored}
    titles = Counter(str(note["title"]) for note in json_sink.received("/phone"))
    assert set(titles) == expected
    # A kill between the endpoint's answer and recording it means one resend; nothing else may.
    resent = sum(titles.values()) - len(titles)
    assert resent <= KILLS, titles.most_common(5)
