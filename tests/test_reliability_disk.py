"""Disk full: with DATA_DIR on a tiny tmpfs that fills up, the webhook answers 503 (never success),
leaves nothing half-written, and takes deliveries again as soon as space returns, unrestarted;
/healthz answers 503 saying the disk is full meanwhile (also with no delivery to fail), so the
container's health shows it, and 200 again once space returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import SIGNING_KEY, AppProcess
from healthz_polling import healthz, wait_for_health
from reliability import (
    SUCCESS_ANSWER,
    Event,
    assert_intact,
    assert_stored_exactly_once,
    attempt,
    make_event,
)
from tmpfs import fill, tiny_disk
from vendor import HelloClientFake

DISK_MB = 8
PADDING = "x" * 16_000  # each delivery needs fresh pages, so the last free ones go quickly
FAILURES_WANTED = 5
LEAVE = 256 * 1024


@pytest.fixture
def app_on_tiny_disk(tmp_path: Path) -> Iterator[AppProcess]:
    with tiny_disk(tmp_path / "tiny", DISK_MB) as disk:
        # DATA_DIR is the mount itself; the server's log goes beside it (tmp_path), not onto it.
        app = AppProcess(disk, {"WEBHOOK_SIGNING_KEY": SIGNING_KEY})
        try:
            yield app.start()
        finally:
            app.stop()


def test_a_full_disk_answers_503_keeps_what_it_acknowledged_and_recovers(
    app_on_tiny_disk: AppProcess, vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    app = app_on_tiny_disk
    vendor = vendor_for(app)
    events = [make_event(vendor, 7_000 + n, f"Disk{n}", Content=PADDING) for n in range(80)]
    first, *rest = events
    assert attempt(vendor, first) == SUCCESS_ANSWER
    first.answers.append(SUCCESS_ANSWER)

    filler = fill(app.data_dir, leave=LEAVE)
    sent: list[Event] = [first]
    failed: list[Event] = []
    for event in rest:
        answer = attempt(vendor, event)
        event.answers.append(answer)
        sent.append(event)
        if answer != SUCCESS_ANSWER:
            failed.append(event)
            # Never anything but 503, and the reason a person can act on.
            assert answer.startswith("http 503") and "disk" in answer and "full" in answer, answer
            if len(failed) == FAILURES_WANTED:
                break
    assert app.proc is not None and app.proc.poll() is None, "the server died of a full disk"
    unhealthy = healthz(app)  # at once: the failed deliveries and the free space both say so
    assert unhealthy.status_code == 503 and "disk" in unhealthy.json()["error"], unhealthy.text
    assert "full" in unhealthy.json()["error"]
    assert_intact(app)
    assert_stored_exactly_once(app, sent, failures_left_nothing=True)
    assert len(failed) == FAILURES_WANTED, "the disk never filled up: the test proved nothing"
    assert sent.index(failed[0]) > 1, "nothing fit in the space left: the test proved less"

    filler.unlink()
    pid = app.proc.pid
    late = make_event(vendor, 8_000, "AfterTheDiskFilled", Content=PADDING)
    assert attempt(vendor, late) == SUCCESS_ANSWER  # the very next delivery, same process
    late.answers.append(SUCCESS_ANSWER)
    for event in failed:  # the vendor's retries of what was refused
        answer = attempt(vendor, event)
        assert answer == SUCCESS_ANSWER, answer
        event.answers.append(answer)
    assert app.proc.pid == pid and app.proc.poll() is None
    assert healthz(app).status_code == 200  # the deliveries just committed say so at once

    assert_intact(app)
    assert_stored_exactly_once(app, [*sent, late], failures_left_nothing=True)
    assert app.scalar("SELECT count(*) FROM lead") == len(sent) + 1


def test_healthz_reports_a_full_disk_with_no_delivery_to_fail(app_on_tiny_disk: AppProcess) -> None:
    """An idle inbox on a disk someone else filled: the container must show it before the next
    delivery (or the daily push) fails, and recover once space is freed."""
    app = app_on_tiny_disk
    assert healthz(app).status_code == 200
    filler = fill(app.data_dir, leave=LEAVE)
    error = wait_for_health(app, 503).json()["error"]
    assert "disk" in error and "full" in error, error
    filler.unlink()
    wait_for_health(app, 200)
