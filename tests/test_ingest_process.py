"""The ingest process (app/ingest_process.py, app/ingest_child.py): a fork of `python -m app`
that stores every accepted delivery; killed, the server's writer takes over and nothing
acknowledged is lost or doubled; it ends with the server, however the server ends."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from conftest import AppProcess, JsonSink, eventually
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

SENDERS = 4


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def ingest_pid(app: AppProcess) -> int:
    assert app.proc is not None
    (child,) = children(app.proc.pid)
    return child


def holds_database(pid: int, app: AppProcess) -> bool:
    """Whether the process has the SQLite file open (the ingest process connects at its first
    delivery)."""
    descriptors = Path(f"/proc/{pid}/fd")
    return any(
        os.path.realpath(descriptors / fd) == str(app.db_path.resolve())
        for fd in os.listdir(descriptors)
    )


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # ended; its parent (init, for an orphan) has yet to reap it


def test_deliveries_are_stored_by_the_ingest_process(
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    json_sink: JsonSink,
) -> None:
    app_server = make_app(APPRISE_URLS=json_sink.url("/phone"))
    vendor = vendor_for(app_server)
    child = ingest_pid(app_server)
    assert not holds_database(child, app_server)  # nothing to store yet: not even connected
    event = make_event(vendor, 1, "Ada")
    assert deliver(vendor, event) == [SUCCESS_ANSWER]
    assert holds_database(child, app_server)
    assert_stored_exactly_once(app_server, [event], failures_left_nothing=True)
    assert_one_notification_each(app_server, {"pending", "sent"})
    eventually(
        lambda: len(json_sink.received("/phone")) == 1, what="no notification sent", timeout=30
    )


class Senders:
    """Vendors sending new leads on their own connections until stopped."""

    def __init__(self, vendor_for: Callable[[], HelloClientFake]) -> None:
        self.events: list[Event] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(number, vendor_for()), daemon=True)
            for number in range(SENDERS)
        ]
        for thread in self.threads:
            thread.start()

    def count(self) -> int:
        with self.lock:
            return len(self.events)

    def stop(self) -> list[Event]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert self.errors == []
        return self.events

    def _run(self, number: int, vendor: HelloClientFake) -> None:
        vendor.retry_delays = ()  # a failure shows as the answer; no retry to wait for
        try:
            for count in range(1_000_000):
                if self.stopping.is_set():
                    return
                event = make_event(vendor, number * 1_000_000 + count, f"S{number}")
                deliver(vendor, event)
                with self.lock:
                    self.events.append(event)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)


def test_a_killed_ingest_process_loses_nothing_and_the_writer_takes_over(
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    json_sink: JsonSink,
) -> None:
    app_server = make_app(APPRISE_URLS=json_sink.url("/phone"))
    child = ingest_pid(app_server)
    senders = Senders(lambda: vendor_for(app_server))
    try:
        eventually(lambda: senders.count() >= 40, what="no deliveries before the kill", timeout=30)
        os.kill(child, signal.SIGKILL)
        eventually(
            lambda: "the ingest process ended" in app_server.log(),
            what="the loss not seen",
            timeout=30,
        )
        after = senders.count()
        eventually(
            lambda: senders.count() >= after + 40, what="no deliveries after the kill", timeout=30
        )
    finally:
        events = senders.stop()
    # Those in flight at the kill were stored again by the server's writer (or found stored):
    # the vendor saw success every time, and each lead is there once.
    assert {answer for event in events for answer in event.answers} == {SUCCESS_ANSWER}
    assert_stored_exactly_once(app_server, events, failures_left_nothing=True)
    # One row per lead; a burst this size is folded into a summary (the storm limit).
    assert_one_notification_each(app_server, {"pending", "sent", "summarised"})
    assert_intact(app_server)
    assert app_server.proc is not None
    assert gone(child) and children(app_server.proc.pid) == []


def test_the_ingest_process_ends_with_the_server(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    child = ingest_pid(app_server)
    assert deliver(vendor, make_event(vendor, 1, "Ada")) == [SUCCESS_ANSWER]
    # uvicorn ends by re-raising the signal it handled, once shut down: not killed at the timeout.
    assert app_server.stop(signal.SIGTERM, timeout=10) == -signal.SIGTERM
    assert gone(child)  # the server waited for it: ended and reaped before the server exited


def test_the_ingest_process_ends_when_the_server_is_killed(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    child = ingest_pid(app_server)
    assert deliver(vendor, make_event(vendor, 1, "Ada")) == [SUCCESS_ANSWER]
    app_server.stop(signal.SIGKILL)
    eventually(lambda: gone(child), what="the orphaned ingest process kept running", timeout=30)
    app_server.start()  # the next server stores, and has an ingest process of its own
    event = make_event(vendor, 2, "Grace")
    assert deliver(vendor, event) == [SUCCESS_ANSWER]
    assert ingest_pid(app_server) != child
    assert app_server.scalar("SELECT count(*) FROM lead") == 2


def test_with_the_process_off_the_server_stores_alone(
    make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    app_server = make_app(INGEST_PROCESS="off")
    vendor = vendor_for(app_server)
    event = make_event(vendor, 1, "Ada")
    assert deliver(vendor, event) == [SUCCESS_ANSWER]
    assert app_server.proc is not None and children(app_server.proc.pid) == []
    assert_stored_exactly_once(app_server, [event], failures_left_nothing=True)
