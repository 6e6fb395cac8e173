"""``python -m app backup PATH`` and ``python -m app restore PATH`` for the SQLite database.

Backup uses SQLite's online backup API in one step: it reads one consistent snapshot while the
server keeps writing (in WAL mode readers never block the writer), so it is safe at any time.
The copy is written beside its destination, checked with ``PRAGMA integrity_check``, switched to
a single self-contained file (no -wal) and only then renamed into place.

Restore is for a stopped server: replacing the file under a running one would leave it writing
into a deleted inode. It checks that the file is a sound inbox database from this or an older
version (newer migrations would be unknown to this code), keeps the current database as
``inbox.db.before-restore-<time>``, and swaps the new one in. Migrations run at the next start.

Run as root (``docker compose exec`` is root by default), both give their files to the owner of
the folder they land in, so the server, running as PUID:PGID, can still write them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.config import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
REQUIRED_TABLES = ("alembic_version", "delivery", "lead")


class BackupError(Exception):
    """Backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    path: Path
    size: int
    deliveries: int
    leads: int

    def describe(self) -> str:
        return (
            f"{self.path} ({self.size / 1e6:.1f} MB, {self.deliveries} deliveries, "
            f"{self.leads} leads)"
        )


def database_path(settings: Settings) -> Path:
    if not settings.is_sqlite:
        raise BackupError(
            "DATABASE_URL points to PostgreSQL: back it up with pg_dump and restore with "
            "pg_restore; these commands handle the built-in SQLite database only"
        )
    return Path(settings.database_url.removeprefix("sqlite:///")).resolve()


def backup(db_path: Path, destination: Path, *, into_folder: bool = False) -> Summary:
    """Write a backup to ``destination``, or into it (``inbox-<time>.db``) if it is a folder."""
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}: check DATA_DIR")
    if into_folder or destination.is_dir():
        destination = destination / f"inbox-{_stamp()}.db"
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose a new name or a folder")
    _make_folder(destination.parent)
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(db_path, timeout=30) as source, _connect(partial) as copy:
            source.backup(copy)  # pages=-1: a single step, so a single snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            _check_integrity(copy, partial)
            summary = _summarise(copy, destination)
        _fsync(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {db_path} failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    _adopt_folder_owner(destination)
    return Summary(destination, destination.stat().st_size, summary.deliveries, summary.leads)


def restore(db_path: Path, source: Path) -> tuple[Summary, Path | None]:
    """Install ``source`` as the database; returns it and where the previous one was kept."""
    source = source.resolve()
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if source == db_path:
        raise BackupError(f"{source} is the live database itself")
    with source.open("rb") as file:
        if file.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{source} is not an SQLite database, so not an inbox backup")
    _make_folder(db_path.parent)
    staged = db_path.with_name(f".{db_path.name}.restoring")
    try:
        summary = _stage(source, staged, db_path)
        kept = _replace(db_path, staged)
    finally:
        for leftover in (staged, *_sidecars(staged)):
            leftover.unlink(missing_ok=True)
    _adopt_folder_owner(db_path)
    if kept is not None:
        _adopt_folder_owner(kept)
    return summary, kept


def _stage(source: Path, staged: Path, db_path: Path) -> Summary:
    """Copy the backup next to the database and prove it is a sound inbox database."""
    for path in (staged, *_sidecars(staged)):
        path.unlink(missing_ok=True)
    shutil.copyfile(source, staged)
    wal = Path(f"{source}-wal")
    if wal.exists():  # a plain copy of a live database: its newest writes are in the -wal
        shutil.copyfile(wal, Path(f"{staged}-wal"))
    try:
        with _connect(staged) as copy:
            _check_integrity(copy, source)
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
            missing = [name for name in REQUIRED_TABLES if name not in tables]
            if missing:
                raise BackupError(
                    f"{source} is an SQLite database but not an inbox database "
                    f"(no {', '.join(missing)} table)"
                )
            unknown = _revisions(copy) - _known_revisions()
            if unknown:
                raise BackupError(
                    f"{source} was made by a newer version of the inbox (schema "
                    f"{', '.join(sorted(unknown))}); upgrade the app, then restore"
                )
            copy.execute("PRAGMA journal_mode=DELETE")  # folds a copied -wal into the file
            summary = _summarise(copy, db_path)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a readable SQLite database: {exc}") from None
    _fsync(staged)
    return summary


def _replace(db_path: Path, staged: Path) -> Path | None:
    if not db_path.exists():
        os.replace(staged, db_path)
        _fsync(db_path.parent)
        return None
    kept = db_path.with_name(f"{db_path.name}.before-restore-{_stamp()}")
    try:
        with _connect(db_path, timeout=2) as live:
            # Every open connection of a WAL database holds a shared lock for as long as it
            # is open, idle or not, so an exclusive lock is only granted when no server (or
            # other process) has the database open.
            live.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                live.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError as exc:
                raise BackupError(
                    f"{db_path} is in use ({exc}); stop the inbox first. With Docker: "
                    "`docker compose stop inbox`, then `docker compose run --rm inbox "
                    "python -m app restore /data/<backup file>`, then `docker compose up -d`"
                ) from None
            # In EXCLUSIVE locking mode the lock outlives the transaction, so others stay out
            # while the backup API (which will not read from a writing connection) copies.
            live.execute("COMMIT")
            with _connect(kept) as copy:
                live.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
        # Closing the last connection checkpointed the WAL into the file (now kept) and removed
        # it; a -wal still there would belong to the old database and must not meet the new one.
        for sidecar in _sidecars(db_path):
            sidecar.unlink(missing_ok=True)
        _fsync(kept)
        os.replace(staged, db_path)
        _fsync(db_path.parent)
    except sqlite3.Error as exc:
        kept.unlink(missing_ok=True)
        raise BackupError(f"could not replace {db_path}: {exc}") from None
    return kept


@contextlib.contextmanager
def _connect(path: Path, *, timeout: float = 5) -> Iterator[sqlite3.Connection]:
    # isolation_level=None: statements run as written, no implicit BEGIN from pysqlite.
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _check_integrity(connection: sqlite3.Connection, name: Path) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"{name} fails SQLite's integrity check: {'; '.join(problems[:5])}")


def _revisions(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from app.db import MIGRATIONS

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def _summarise(connection: sqlite3.Connection, path: Path) -> Summary:
    def count(table: str) -> int:
        try:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    return Summary(path, 0, count("delivery"), count("lead"))


def _sidecars(path: Path) -> tuple[Path, Path, Path]:
    return Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _fsync(path: Path) -> None:
    """A backup that is not on disk yet is not a backup; a rename is durable with its folder."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_folder(folder: Path) -> None:
    """``mkdir -p``, with the new folders owned like the one they were made in."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        _adopt_folder_owner(path)


def _adopt_folder_owner(path: Path) -> None:
    # Only root can chown, and only root would leave files the PUID:PGID server cannot write.
    if os.geteuid() != 0:
        return
    folder = path.parent.stat()
    if folder.st_uid != 0 and path.exists():
        os.chown(path, folder.st_uid, folder.st_gid)


# ---- the two subcommands (registered in app.cli) ------------------------------------------


def run_backup(settings: Settings, args: argparse.Namespace) -> int:
    try:
        # "backups/" names a folder even before it exists (Path() drops the slash).
        folder = args.path.endswith(("/", os.sep))
        summary = backup(database_path(settings), Path(args.path), into_folder=folder)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {summary.describe()}")
    return 0


def run_restore(settings: Settings, args: argparse.Namespace) -> int:
    try:
        db_path = database_path(settings)
        summary, kept = restore(db_path, Path(args.path))
    except BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    counts = f"{summary.deliveries} deliveries, {summary.leads} leads"
    print(f"restored {Path(args.path)} as {db_path} ({counts})")
    if kept is not None:
        print(f"the previous database is kept as {kept}")
    print("start the inbox again; it brings an older backup's schema up to date at start")
    return 0
