"""Crash: SIGKILL at seeded random moments while leads arrive and are being forwarded loses no
forward and invents none: every stored lead reaches the receiver (verified with the official
``standardwebhooks`` library), always under one webhook-id, and a resend happens only for a
kill between the receiver's answer and its recording (at most one per kill)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import defaultdict

from conftest import MakeApp, VendorFor
from forward_receivers import SECRET, Receiver, wait_for_quiet_forward_pass
from reliability import assert_intact, deliver, make_event

SEED = int(os.environ.get("RELIABILITY_SEED", "20261126"))
KILLS = 3
SENDERS = 3
FORWARD = {
    "FORWARD_SECRET": SECRET,
    "FORWARD_RETRY_FIRST_SECONDS": "0.2",
    "FORWARD_RETRY_CAP_SECONDS": "1",
    "FORWARD_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "debug",
}


def test_sigkill_while_forwarding_loses_nothing_and_resends_only_the_same_message(
    make_app: MakeApp, vendor_for: VendorFor
) -> None:
    rng = random.Random(SEED)
    crm = Receiver(delay=0.01).on()  # a little slow: kills land mid-request too
    app = make_app(FORWARD_URLS=crm.url(), **FORWARD)
    stopping = threading.Event()
    errors: list[BaseException] = []

    def send(number: int) -> None:
        try:
            vendor = vendor_for(app)
            vendor.retry_delays = (1.0, 3.0)
            count = 0
            while not stopping.is_set():
                count += 1
                session_id = (number + 1) * 1_000_000 + count
                deliver(vendor, make_event(vendor, session_id, f"S{number}E{count}"))
                time.sleep(0.03)
        except BaseException as exc:  # reported below, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,), daemon=True) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 1.5))
            app.stop(signal.SIGKILL)
            time.sleep(rng.uniform(0.0, 0.5))
            app.start()
        time.sleep(1.0)
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    try:
        stored = {row[0] for row in app.query("SELECT session_id FROM lead")}
        assert stored, "no lead stored at all"
        app.wait_for("SELECT count(*) FROM forward_outbox WHERE status != 'sent'", 0, timeout=60)
        assert app.scalar("SELECT count(*) FROM forward_outbox") == len(stored)
        wait_for_quiet_forward_pass(app)
        ids: dict[int, set[str]] = defaultdict(set)
        for received in list(crm.accepted):
            ids[received.document["SessionID"]].add(received.webhook_id)
        assert set(ids) == stored  # every stored lead, nothing else
        assert all(len(each) == 1 for each in ids.values())  # a resend is the same message
        resent = len(crm.accepted) - len(stored)
        assert resent <= KILLS, resent
        assert crm.unverified == []
        assert_intact(app)
    finally:
        crm.off()
