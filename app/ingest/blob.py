"""A stored body read as a file, in pieces where the database allows it."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import func, select
from sqlmodel import col

from app.db import Database
from app.models import STORED_BODY, Delivery, DeliveryBody

REOPEN_BYTES = 16 * 1024 * 1024
BODY_READ_BYTES = 256 * 1024


class SQLiteBlobReader(io.RawIOBase):
    """A BLOB column of one row, read in pieces through ``sqlite3.Blob`` (Python 3.11+).

    Loading a 100 MB body with a SELECT costs twice its size (SQLite's copy, then Python's);
    this costs one buffer. An open blob handle is a read transaction, which would hold back WAL
    checkpoints while the processor writes hundreds of MB of records, so the handle is closed
    and reopened (a new snapshot; the stored body never changes) every ``reopen_bytes``.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        table: str,
        column: str,
        row: int,
        *,
        reopen_bytes: int = REOPEN_BYTES,
    ) -> None:
        super().__init__()
        self._where = (connection, table, column, row)
        self._reopen_bytes = reopen_bytes
        self._blob: sqlite3.Blob | None = self._open()
        self._size = len(self._blob)
        self._offset = self._opened_at = 0

    def _open(self) -> sqlite3.Blob:
        connection, table, column, row = self._where
        return connection.blobopen(table, column, row, readonly=True)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._offset, io.SEEK_END: self._size}[whence]
        self._offset = max(0, base + offset)
        return self._offset

    def readinto(self, buffer: Any) -> int:
        length = min(len(buffer), self._size - self._offset)
        if length <= 0:
            return 0
        if self._blob is None or not 0 <= self._offset - self._opened_at < self._reopen_bytes:
            if self._blob is not None:
                self._blob.close()
            self._blob, self._opened_at = self._open(), self._offset
        self._blob.seek(self._offset)
        data = self._blob.read(length)
        memoryview(buffer).cast("B")[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def close(self) -> None:
        if self._blob is not None:
            self._blob.close()
            self._blob = None
        super().close()


@contextlib.contextmanager
def open_stored_body(db: Database, delivery_id: int) -> Iterator[IO[bytes]]:
    """The stored body as a file. On SQLite it is read in pieces and never held whole; other
    databases hand it over in one piece (PostgreSQL has no incremental read of a bytea)."""
    sqlite = db.engine.dialect.name == "sqlite"
    with db.read() as connection:
        apart = connection.execute(
            select(func.length(DeliveryBody.body)).where(
                col(DeliveryBody.delivery_id) == delivery_id
            )
        ).scalar()
        inline = connection.execute(
            select(func.length(Delivery.body)).where(col(Delivery.id) == delivery_id)
        ).scalar()
        body: bytes | None = None
        if not sqlite or not (apart or inline):
            body = connection.execute(
                select(STORED_BODY).where(col(Delivery.id) == delivery_id)
            ).scalar()
    if body is not None or not (apart or inline):
        yield io.BytesIO(body or b"")
        return
    table = "delivery_body" if apart else "delivery"  # large ones are apart (migration 0002)
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)  # the dialect was checked above
        reader = SQLiteBlobReader(driver, table, "body", delivery_id)
        with io.BufferedReader(reader, buffer_size=BODY_READ_BYTES) as stream:
            yield stream
    finally:
        raw.close()
