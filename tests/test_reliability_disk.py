"""Disk full: with DATA_DIR on a tiny tmpfs that fills up, the webhook answers 503 (never success),
leaves nothing half-written, and takes deliveries again as soon as space returns, unrestarted."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess
from reliability import (
    SUCCESS_ANSWER,
    Event,
    assert_intact,
    assert_stored_exactly_once,
    attempt,
    make_event,
)
from vendor import HelloClientFake

DISK_MB = 8
PADDING = "x" * 16_000  # each delivery needs fresh pages, so the last free ones go quickly
FAILURES_WANTED = 5
LEAVE = 256 * 1024


@pytest.fixture
def app_on_tiny_disk(tmp_path: Path) -> Iterator[AppProcess]:
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (.ci/run runs as root)")
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:  # root without CAP_SYS_ADMIN (an unprivileged container)
        pytest.fail(f"mount -t tmpfs failed as root: {mounted.stderr.strip()}")
    # DATA_DIR is the mount itself; the server's log goes beside it (tmp_path), not onto it.
    app = AppProcess(disk, {"WEBHOOK_SIGNING_KEY": SIGNING_KEY})
    try:
        yield app.start()
    finally:
        app.stop()
        subprocess.run(["umount", str(disk)], check=True, capture_output=True)


def fill(directory: Path, *, leave: int) -> Path:
    """Write a file until the filesystem refuses another byte, then give back ``leave`` bytes:
    the disk fills up during the deliveries, so some land on its last pages."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 4096, 1):  # big chunks, then whatever still fits
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        out.truncate(out.tell() - leave)
    return filler


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
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200  # reads still work
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

    assert_intact(app)
    assert_stored_exactly_once(app, [*sent, late], failures_left_nothing=True)
    assert app.scalar("SELECT count(*) FROM lead") == len(sent) + 1
