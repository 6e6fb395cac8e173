"""`python -m app backup` / `restore`, against real server processes and real SQLite files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import APP_VARIABLES, SIGNING_KEY, AppProcess, post_lead, session_ids


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Sender:
    """Posts leads back to back from a thread, remembering every acknowledged one in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                if (session := post_lead(client, self.url)) is not None:
                    self.acknowledged.append(session)

    def wait_for(self, count: int, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} acknowledged"
            time.sleep(0.02)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def server_at(tmp_path: Path) -> Iterator[Callable[[Path], AppProcess]]:
    """Start `python -m app` on a chosen DATA_DIR (make_app picks its own)."""
    started: list[AppProcess] = []

    def start(data_dir: Path) -> AppProcess:
        app = AppProcess(data_dir, {"WEBHOOK_SIGNING_KEY": SIGNING_KEY})
        started.append(app)
        return app.start()

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def stopped_database(make_app: Callable[..., AppProcess]) -> tuple[Path, set[int]]:
    """A data folder whose server has stopped, holding a few leads."""
    app = make_app()
    with httpx.Client(timeout=10) as client:
        sessions = {post_lead(client, app.url) for _ in range(3)}
    assert None not in sessions
    app.stop()
    return app.data_dir, {s for s in sessions if s is not None}


def test_backup_while_receiving_then_restore_into_a_new_data_dir(
    make_app: Callable[..., AppProcess],
    server_at: Callable[[Path], AppProcess],
    tmp_path: Path,
) -> None:
    app = make_app()
    backups = tmp_path / "backups"
    with Sender(app.url) as sender:
        sender.wait_for(30)
        before = set(sender.acknowledged)  # acknowledged before the backup began
        result = run_cli(app.data_dir, "backup", f"{backups}/")  # a folder, not made yet
        sender.wait_for(len(before) + 30)  # the server kept taking deliveries throughout
    assert result.returncode == 0, result.stderr
    assert "backup written" in result.stdout
    (backup,) = backups.glob("inbox-*.db")
    assert not list(backups.glob(".*")), "no partial file is left behind"
    assert not Path(f"{backup}-wal").exists(), "the backup is one self-contained file"
    in_backup = session_ids(backup)
    assert before <= in_backup
    assert in_backup <= set(sender.acknowledged) | session_ids(app.db_path)

    restored = tmp_path / "restored"
    result = run_cli(restored, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert f"{len(in_backup)} leads" in result.stdout
    assert "kept" not in result.stdout  # nothing was there to keep

    again = server_at(restored)
    assert session_ids(again.db_path) == in_backup
    with httpx.Client(timeout=10) as client:
        new = post_lead(client, again.url)
    assert new is not None, "the restored database takes new deliveries"
    assert session_ids(again.db_path) == in_backup | {new}


def test_restore_refuses_while_a_server_uses_the_database(
    make_app: Callable[..., AppProcess], tmp_path: Path
) -> None:
    app = make_app()
    with httpx.Client(timeout=10) as client:
        first = post_lead(client, app.url)
        backup = tmp_path / "one.db"
        assert run_cli(app.data_dir, "backup", str(backup)).returncode == 0
        second = post_lead(client, app.url)

        result = run_cli(app.data_dir, "restore", str(backup))

        assert result.returncode == 1
        assert "in use" in result.stderr and "docker compose stop" in result.stderr
        assert session_ids(app.db_path) == {first, second}
        assert post_lead(client, app.url) is not None, "the running server is undisturbed"
    assert not list(app.data_dir.glob("*.before-restore-*"))
    assert not list(app.data_dir.glob(".*"))


def test_restore_over_a_database_keeps_the_previous_one(
    stopped_database: tuple[Path, set[int]],
    server_at: Callable[[Path], AppProcess],
    tmp_path: Path,
) -> None:
    data_dir, sessions = stopped_database
    backup = tmp_path / "backup.db"
    assert run_cli(data_dir, "backup", str(backup)).returncode == 0
    app = server_at(data_dir)
    with httpx.Client(timeout=10) as client:
        later = post_lead(client, app.url)
    app.stop()
    assert later is not None

    result = run_cli(data_dir, "restore", str(backup))

    assert result.returncode == 0, result.stderr
    (kept,) = data_dir.glob("inbox.db.before-restore-*")
    assert str(kept) in result.stdout
    assert session_ids(kept) == sessions | {later}
    assert session_ids(data_dir / "inbox.db") == sessions
    assert session_ids(server_at(data_dir).db_path) == sessions, "the server starts on it"


def not_sqlite(path: Path) -> None:
    path.write_bytes(b"these are not the leads you are looking for\n" * 100)


def foreign_sqlite(path: Path) -> None:
    path.unlink()
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()


def corrupted(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(1, len(data) // page_size):  # every page but the header's
        start = page * page_size
        data[start : start + 8] = b"\xff" * 8  # garble each b-tree page header
    path.write_bytes(bytes(data))


def from_the_future(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO alembic_version VALUES ('zz_9999_from_the_future')")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (not_sqlite, "not an SQLite database"),
        (foreign_sqlite, "not an inbox database"),
        (corrupted, "SQLite"),
        (from_the_future, "newer version"),
    ],
    ids=["not-sqlite", "foreign-sqlite", "corrupted", "newer-schema"],
)
def test_restore_refuses_what_is_not_a_sound_inbox_database(
    stopped_database: tuple[Path, set[int]],
    tmp_path: Path,
    spoil: Callable[[Path], None],
    message: str,
) -> None:
    data_dir, sessions = stopped_database
    candidate = tmp_path / "candidate.db"
    assert run_cli(data_dir, "backup", str(candidate)).returncode == 0
    spoil(candidate)
    live = data_dir / "inbox.db"
    before = digest(live)

    result = run_cli(data_dir, "restore", str(candidate))

    assert result.returncode == 1
    assert "restore refused" in result.stderr and message in result.stderr
    assert digest(live) == before, "the live database is untouched"
    assert sorted(p.name for p in data_dir.iterdir()) == ["inbox.db"], "nothing left behind"
    assert session_ids(live) == sessions


def test_backup_does_not_overwrite(stopped_database: tuple[Path, set[int]], tmp_path: Path) -> None:
    data_dir, _ = stopped_database
    target = tmp_path / "taken.db"
    target.write_bytes(b"an older backup")
    result = run_cli(data_dir, "backup", str(target))
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert target.read_bytes() == b"an older backup"


def test_backup_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "empty", "backup", str(tmp_path / "out.db"))
    assert result.returncode == 1
    assert "no database at" in result.stderr and "DATA_DIR" in result.stderr
    assert not (tmp_path / "out.db").exists()
