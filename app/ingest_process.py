"""The server's end of the ingest process: accepted deliveries stored there, off the event loop.

``start`` forks the process (``app.ingest_child``) from ``python -m app`` before the server
starts a thread: a fork copies only the thread that calls it, and the copy shares the imported
code with the server rather than loading it again (a spawned interpreter would add ~60 MB and
0.7 s of imports). ``connect`` attaches the socket to the event loop once it runs; from then on
``store`` writes each delivery (every lead: all but chat-log pushes, ``LARGEST_SENT``) to the
socket and waits for the frame that answers the commit holding it, all on the loop's own
thread: no handover to another thread, no GIL to wait for.

Without the process (not started: a server embedded by a test; or gone: killed, out of memory),
``store`` uses the server's own writer thread, as before the process existed. A delivery whose
answer the process took with it is stored again there: if that commit did reach the disk, the
writer finds the body already accepted and answers it as a duplicate, so nothing is lost or
doubled and the vendor still gets its success.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import threading
import time

from app.accept_group import Accepting, store_accepted_group
from app.db import Database, create_db_engine
from app.deliveries import Stored
from app.ingest_child import Failed, Frames, IngestServer, Reply, frame

log = logging.getLogger(__name__)

STOP_SECONDS = 30.0  # a commit waiting on a locked database gives up well before this
# A lead is about a kilobyte. A chat-log push (megabytes, once a day) is stored by the writer
# thread, as before: copied across the socket it would be held three times over at once.
LARGEST_SENT = 256 * 1024


class _ProcessGone(Exception):
    """The ingest process ended before answering."""


class IngestProcess:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pid: int | None = None
        self._socket: socket.socket | None = None
        self._transport: asyncio.Transport | None = None
        self._waiting: dict[int, asyncio.Future[Stored]] = {}
        self._next = 0
        self._frames = Frames()

    def start(self) -> bool:
        """Fork the process; whether it runs. Call before anything starts a thread."""
        if threading.active_count() > 1:
            log.warning("ingest process not started: threads are running; the writer stores all")
            return False
        ours, theirs = socket.socketpair()
        gc.collect()
        gc.freeze()  # the copy's collections then leave the shared pages unwritten
        pid = os.fork()
        if pid == 0:  # the ingest process: it never returns
            ours.close()
            status = 1
            try:
                IngestServer(theirs, create_db_engine(self.db.settings)).run()
                status = 0
            except BaseException:
                log.exception("the ingest process failed")
            finally:
                os._exit(status)
        theirs.close()
        self._pid, self._socket = pid, ours
        return True

    async def connect(self) -> None:
        """Attach the process's socket to the running event loop (the lifespan's start)."""
        if self._socket is None:
            return
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_unix_connection(
            lambda: _Answers(self), sock=self._socket
        )

    async def stop(self) -> None:
        """Close the socket, then wait for the process to finish its commit and end."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()  # on the loop's thread: a transport is not thread-safe
        elif self._socket is not None:
            self._socket.close()
        self._socket = None
        await asyncio.to_thread(self._reap, STOP_SECONDS)

    async def store(self, item: Accepting) -> Stored:
        """``store_accepted_group`` for this one delivery, in the ingest process if it runs."""
        if self._transport is not None and len(item.attempt.body) <= LARGEST_SENT:
            try:
                return await self._in_process(self._transport, item)
            except _ProcessGone:
                pass  # stored again below: a duplicate there if that commit made it to disk
        return await self.db.writer.run_item(store_accepted_group, item)

    async def _in_process(self, transport: asyncio.Transport, item: Accepting) -> Stored:
        sequence = self._next
        self._next += 1
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = future
        try:
            transport.write(frame((sequence, item)))
            return await future
        finally:
            self._waiting.pop(sequence, None)

    def _answered(self, data: bytes) -> None:
        reply: Reply
        for reply in self._frames.feed(data):
            answers, topics = reply
            failure = next((o for _, o in answers if isinstance(o, Failed) and o.storage), None)
            self.db.writer.record(None if failure is None else failure.message)
            # Announced before anyone is answered, as the writer thread does after its commit.
            self.db.writer.announce(topics)
            for sequence, outcome in answers:
                future = self._waiting.get(sequence)
                if future is None or future.done():
                    continue  # its request was cancelled (the client went away)
                if isinstance(outcome, Failed):
                    future.set_exception(outcome.error())
                else:
                    future.set_result(outcome)

    def _lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # stop() closed it
        self._transport = None
        log.error(
            "the ingest process ended (%s); the server's writer stores deliveries from now on",
            exc or "its socket closed",
        )
        # Reaped in a thread of its own: the event loop does not wait for an exit.
        threading.Thread(target=self._reap, args=(STOP_SECONDS,), daemon=True).start()
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(_ProcessGone())

    def _reap(self, wait: float) -> None:
        """Wait for the process to end, killing it after ``wait`` seconds."""
        pid = self._pid
        if pid is None:
            return
        deadline = time.monotonic() + wait
        try:
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() >= deadline:
                    os.kill(pid, signal.SIGKILL)
                    deadline = float("inf")  # now it ends at once
                time.sleep(0.01)
        except ChildProcessError:
            pass  # reaped already (stop() and a lost connection both try)
        self._pid = None


class _Answers(asyncio.Protocol):
    def __init__(self, owner: IngestProcess) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._answered(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(exc)
