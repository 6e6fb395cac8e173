"""The appliance running under compose: PUID/PGID and the data folder, a lead kept across
restart and down/up, backup and restore the documented way, and a clean SIGTERM mid-burst.

Needs a Docker engine (see tests/containers.py); select with `-m container`. The first run
builds the image (a minute or two).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import APP_VARIABLES, SIGNING_KEY, eventually, post_lead, session_ids
from containers import PGID, PUID, Stack

pytestmark = pytest.mark.container

SENDERS = 8


def test_runs_healthy_as_puid_pgid_and_hands_them_the_data(stack: Stack) -> None:
    stack.up()
    status = dict(line.split(":", 1) for line in stack.exec("cat", "/proc/1/status").splitlines())
    assert status["Uid"].split() == [str(PUID)] * 4, "the server runs as PUID, not root"
    assert status["Gid"].split() == [str(PGID)] * 4
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"
    assert "python -m app" in stack.exec("cat", "/proc/1/cmdline").replace("\0", " ")

    entries = [stack.data, *stack.data.rglob("*")]
    assert (stack.data / "inbox.db") in entries
    assert {(p.stat().st_uid, p.stat().st_gid) for p in entries} == {(PUID, PGID)}
    assert (stack.data / "inbox.db").stat().st_mode & 0o007 == 0, "UMASK=027 was applied"
    assert stack.exec("date", "+%Z").strip() in ("CET", "CEST"), "TZ reaches the process"
    assert httpx.get(f"{stack.url}/healthz", timeout=10).json()["status"] == "ok"


def test_a_lead_survives_restart_down_and_up(stack: Stack) -> None:
    stack.up()
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    command = [sys.executable, "-m", "app", "send-test", "lead"]
    sent = subprocess.run(
        [*command, "--url", f"{stack.url}/webhook", "--key", SIGNING_KEY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    leads = stack.leads_seen_inside()
    assert len(leads) >= 1
    assert session_ids(stack.data / "inbox.db") == leads, "the bind mount is the database"

    # `docker compose exec` runs as root; the backup must still belong to PUID:PGID.
    stack.exec("python", "-m", "app", "backup", "/data/backups/")
    (backup,) = (stack.data / "backups").glob("inbox-*.db")
    assert (backup.stat().st_uid, backup.stat().st_gid) == (PUID, PGID)
    assert session_ids(backup) == leads

    stack.compose("restart")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == leads

    stack.compose("down")
    assert (stack.data / "inbox.db").is_file(), "down keeps the data folder"
    assert session_ids(stack.data / "inbox.db") == leads

    stack.compose("up", "-d")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == leads


def test_backup_and_restore_the_documented_way(stack: Stack) -> None:
    """docs/upgrading.md: backup with `exec` while serving, restore with `run` when stopped."""
    stack.up()
    stack.exec("python", "-m", "app", "backup", "/data/restore-test.db")
    saved = session_ids(stack.data / "restore-test.db")
    with httpx.Client(timeout=10) as client:
        later = post_lead(client, stack.url)
    assert later is not None and later not in saved

    refused = stack.attempt(
        "exec", "-T", "inbox", "python", "-m", "app", "restore", "/data/restore-test.db"
    )
    assert refused.returncode != 0 and "in use" in refused.stderr, "not under a running server"

    stack.compose("stop")
    restored = stack.compose(
        "run", "--rm", "inbox", "python", "-m", "app", "restore", "/data/restore-test.db"
    )
    assert "restored" in restored
    database = stack.data / "inbox.db"
    assert (database.stat().st_uid, database.stat().st_gid) == (PUID, PGID)
    (kept,) = stack.data.glob("inbox.db.before-restore-*")
    assert later in session_ids(kept)

    stack.compose("up", "-d")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == saved


class Burst:
    """Senders posting signed leads as fast as answers come, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[int] = []
        self.answered_at: list[float] = []
        self.refusals = [0] * SENDERS  # per sender: answers that were not success
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.send, args=(n,), daemon=True) for n in range(SENDERS)
        ]

    def send(self, sender: int) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stopping.is_set():
                session = post_lead(client, self.url)
                with self.lock:
                    if session is None:
                        self.refusals[sender] += 1
                    else:
                        self.acknowledged.append(session)
                        self.answered_at.append(time.monotonic())

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def refused_since(self, earlier: list[int]) -> bool:
        """Every sender was refused (or cut off) again since the counts in ``earlier``."""
        with self.lock:
            return all(now > then for now, then in zip(self.refusals, earlier, strict=True))

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(90)


def test_sigterm_during_a_burst_keeps_every_acknowledged_delivery(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.up()
    before = session_ids(stack.data / "inbox.db")
    burst = Burst(stack.url)
    burst.start()
    eventually(
        lambda: len(burst.acknowledged) >= 100,
        what=lambda: f"only {len(burst.acknowledged)} acknowledged",
        timeout=60,
        every=0.2,
    )
    acknowledged_before_stop = len(burst.acknowledged)
    stopping = time.monotonic()
    stack.compose("stop")  # SIGTERM, then compose waits (stop_grace_period) for the exit
    refused_when_stopped = list(burst.refusals)
    # The senders keep knocking on the closed door: each is turned away at least once more.
    eventually(
        lambda: burst.refused_since(refused_when_stopped),
        what=lambda: f"senders refused {burst.refusals}, at the stop {refused_when_stopped}",
        timeout=60,
        every=0.2,
    )
    burst.stop()

    assert stack.inspect("{{.State.Status}} {{.State.ExitCode}}") == "exited 0", "clean exit"
    logs = stack.compose("logs", "--no-color", "inbox")
    assert "Finished server process" in logs, "uvicorn shut down gracefully"
    failed = sum(burst.refusals)
    assert failed > 0, "the burst was still going when the server stopped"
    stored = session_ids(stack.data / "inbox.db")
    late = sum(moment > stopping for moment in burst.answered_at)
    with capsys.disabled():
        print(
            f"\nSIGTERM burst: {len(burst.acknowledged)} acknowledged ({late} after `stop` "
            f"began), {failed} refused or cut off, {len(stored - before)} stored"
        )
    assert set(burst.acknowledged) <= stored, "every acknowledged delivery is stored"
    assert len(stored - before) >= acknowledged_before_stop
