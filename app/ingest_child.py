"""The ingest process: accepted deliveries stored a group at a time, on a core of its own.

Forked by ``python -m app`` before the server starts any thread (``app.ingest_process``), it
reads verified deliveries from its end of a socket pair, stores everything that arrived during
the previous commit as one group (``store_accepted_group`` through ``commit_batch``: the same
transaction, savepoint rerun and fsync as the writer thread) and answers with one frame per
commit. In one process the event loop and the writer thread took turns on one GIL, and the loop
spent about as long waiting for it as working (docs/performance.md); here each has its own.

Frames are a 4-byte length and a pickle: both ends are this program, on a socket pair that no
other process holds.
"""

from __future__ import annotations

import logging
import pickle
import signal
import socket
import struct
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from app.accept_group import Accepting, store_accepted_group
from app.deliveries import Stored
from app.writer import MAX_BATCH, Committer, Job, StorageUnavailable, describe_storage_error

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")
_READ_SIZE = 1 << 20
Request = tuple[int, Accepting]  # (sequence number, delivery)


@dataclass(frozen=True)
class Failed:
    """What a delivery met instead of a commit; ``storage`` when the database itself failed."""

    message: str
    storage: bool

    def error(self) -> Exception:
        return StorageUnavailable(self.message) if self.storage else RuntimeError(self.message)


Answer = tuple[int, Stored | Failed]
Reply = tuple[list[Answer], set[str]]  # the answers of one commit, and the topics it announces


def frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


class Frames:
    """The complete messages in a byte stream, as its pieces arrive."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        messages: list[Any] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + size
            if end > len(buffer):
                break  # the rest of this frame is still on its way
            messages.append(pickle.loads(memoryview(buffer)[start + _LENGTH.size : end]))
            start = end
        del buffer[:start]
        return messages


class IngestServer:
    """The ingest process's one thread: receive, store a group, answer; until the parent goes."""

    def __init__(self, sock: socket.socket, engine: Engine) -> None:
        self.sock = sock
        self.engine = engine
        self.frames = Frames()
        self.committer = Committer(engine)

    def run(self) -> None:
        # Ctrl-C reaches the whole process group, and an orchestrator may signal every process:
        # this one ends when the server closes its end (or dies), after the commit in hand.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            while requests := self._receive():
                for start in range(0, len(requests), MAX_BATCH):
                    self.sock.sendall(frame(self._store(requests[start : start + MAX_BATCH])))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server went away before hearing the last answers: the vendor retries them
        finally:
            self.committer.close()
            self.engine.dispose()

    def _receive(self) -> list[Request]:
        """What has arrived: waits for the first delivery, then takes all that are waiting
        (those that queued during the last commit make the next group). Empty at the end."""
        requests: list[Request] = []
        while not requests:
            data = self.sock.recv(_READ_SIZE)
            if not data:
                return []
            requests += self.frames.feed(data)
        while True:
            try:
                data = self.sock.recv(_READ_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return requests
            if not data:
                return requests  # answered first; the next read sees the end again
            requests += self.frames.feed(data)

    def _store(self, requests: list[Request]) -> Reply:
        jobs = [Job.of_item(store_accepted_group, item) for _, item in requests]
        topics: set[str] = set()
        try:
            results = self.committer.commit(jobs, topics)
        except DBAPIError as exc:
            failed = Failed(describe_storage_error(exc), storage=True)
            return [(sequence, failed) for sequence, _ in requests], set()
        answers: list[Answer] = []
        for (sequence, _), (result, error) in zip(requests, results, strict=True):
            answers.append((sequence, result if error is None else Failed(str(error), False)))
        return answers, topics
