"""The internet edge: time and connection bounds that uvicorn itself does not keep.

uvicorn (0.54, httptools) has no deadline for receiving a request: its keep-alive timeout runs
only between requests and is cancelled by the first byte of the next one, so half-sent headers
or a body that stops arriving hold a connection, and a file descriptor, for ever. Once the
process runs out of descriptors, the event loop cannot accept, and the vendor's next delivery
is reset. ``EdgeProtocol`` is uvicorn's own HTTP/1.1 protocol with three bounds added:

- **headers**: complete within ``header_seconds`` of the connection opening (or of the first
  byte of the next request on a kept-alive connection), else a 408 (or, if the client never
  said anything, just a close);
- **body**: closed when no byte has arrived for ``body_stall_seconds`` while the body is
  incomplete. A stall timeout, not a total-time cap, so the vendor's 100 MB push over a slow
  link gets through as long as it keeps moving. Time during which *we* stopped reading (flow
  control while the app catches up, or a client waiting for ``100 Continue``) is not a stall;
- **connections**: at most ``max_connections`` at once, below the descriptor limit. At the
  bound a new connection is not refused for a stranger's sake: it evicts one that is not
  answering a complete request (an idle kept-alive one first, then the oldest still sending
  its head, then the body silent longest). A connection whose whole request is in, and which
  the app is answering, is never evicted.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.config import Settings
from app.ratelimit import RateLimit

log = logging.getLogger(__name__)

# Descriptors the process needs besides client connections: the listening socket, SQLite's
# database, WAL and shared-memory files for each pooled connection, temporary files for large
# bodies, notification targets' sockets, logs. An idle server holds about 20.
FD_RESERVE = 100
MIN_CONNECTIONS = 8
# A flood of slow clients must not become a flood of log lines.
WARNINGS_PER_MINUTE = 10
_warnings = RateLimit(WARNINGS_PER_MINUTE, 60)
# Accept order, to break ties: the loop's clock only moves once per iteration, and one
# iteration may accept many connections.
_serial = itertools.count()


@dataclass(frozen=True)
class EdgeLimits:
    header_seconds: float
    body_stall_seconds: float
    max_connections: int


def descriptor_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def limits_for(settings: Settings) -> EdgeLimits:
    """The bounds from the settings, with the connection bound kept below the descriptor
    limit, so that accepting a connection (and evicting a stalled one) stays possible."""
    available = descriptor_limit() - FD_RESERVE
    bound = max(MIN_CONNECTIONS, min(settings.http_max_connections, available))
    if bound < settings.http_max_connections:
        log.warning(
            "HTTP_MAX_CONNECTIONS lowered from %d to %d: the process may open %d files "
            "(ulimit -n), and %d are kept for the database and the rest",
            settings.http_max_connections,
            bound,
            available + FD_RESERVE,
            FD_RESERVE,
        )
    return EdgeLimits(
        header_seconds=settings.http_header_timeout_seconds,
        body_stall_seconds=settings.http_body_stall_seconds,
        max_connections=bound,
    )


def protocol_class(limits: EdgeLimits) -> type[EdgeProtocol]:
    """An ``EdgeProtocol`` bound to ``limits``, for ``uvicorn.Config(http=...)``."""
    return type("EdgeProtocol", (EdgeProtocol,), {"limits": limits})


class Phase(enum.Enum):
    HEADERS = "headers"  # waiting for the request line and headers
    BODY = "body"  # headers in, body incomplete
    ANSWERING = "answering"  # the whole request is in; the app is answering it
    IDLE = "idle"  # answered, kept alive for the next request (uvicorn's keep-alive timeout)


class _Flow(FlowControl):
    """uvicorn's flow control, telling the connection whenever reading is resumed: time spent
    paused by us (the app not yet asking for more) must not count as the client stalling."""

    def __init__(self, transport: asyncio.Transport, on_resume: Callable[[], None]) -> None:
        super().__init__(transport)
        self._on_resume = on_resume

    def resume_reading(self) -> None:
        # uvicorn calls this each time the app asks for more body (after a 100 Continue too)
        self._on_resume()
        super().resume_reading()


class EdgeProtocol(HttpToolsProtocol):
    limits: ClassVar[EdgeLimits]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.phase = Phase.HEADERS
        # when the current head began (the connection opened, or the next request's first byte)
        self.head_started = self.last_active = self.loop.time()
        self.serial = next(_serial)
        self._began = False  # a byte of the current request has arrived
        self._answered = False  # the response to the current request is complete
        self._timer: asyncio.TimerHandle | None = None

    # ---- connection life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self._make_room():
            transport.abort()
            return
        super().connection_made(transport)
        self.flow = _Flow(transport, self._mark_active)
        self._wake_by(self.head_started + self.limits.header_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is None:  # refused in connection_made: uvicorn never saw it
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        super().data_received(data)

    # ---- the request's phases (httptools parser callbacks, and the response) ------------

    def on_message_begin(self) -> None:
        if self.phase in (Phase.IDLE, Phase.ANSWERING):  # the next request on this connection
            self.phase = Phase.HEADERS
            self.head_started = self.loop.time()
            self._wake_by(self.head_started + self.limits.header_seconds)
        self._began, self._answered = True, False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.phase = Phase.BODY
        self._wake_by(self.last_active + self.limits.body_stall_seconds)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # No deadline now (uvicorn's keep-alive timeout covers idling); a timer still armed
        # finds nothing to do and lapses.
        self.phase = Phase.IDLE if self._answered else Phase.ANSWERING
        self._began = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._answered = True
        if self.phase is Phase.ANSWERING:
            self.phase = Phase.IDLE
        # else: answered before the whole body came (a 413, say); the stall check still runs
        super().on_response_complete()

    # ---- the deadlines: one timer per connection, which re-arms itself -------------------
    # Re-arming a timer for every request and every phase costs more than the request's own
    # parsing; instead a phase change only moves the timer when its deadline comes sooner, and
    # a timer that fires early looks at the current phase and sets itself again.

    def _mark_active(self) -> None:
        self.last_active = self.loop.time()

    def _wake_by(self, deadline: float) -> None:
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.phase is Phase.HEADERS:
            self._check_headers()
        elif self.phase is Phase.BODY:
            self._check_body()

    def _check_headers(self) -> None:
        seconds = self.limits.header_seconds
        deadline = self.head_started + seconds
        if self.loop.time() < deadline:
            self._wake_by(deadline)
            return
        if self._began:  # a request was started: it can still be told why
            reason = f"request headers not complete within {seconds:g} s"
            self.transport.write(_error_response(408, reason))
        self._note(f"headers not complete within {seconds:g} s")
        self.transport.close()

    def _check_body(self) -> None:
        now, stall = self.loop.time(), self.limits.body_stall_seconds
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            self.last_active = now  # we are the ones not reading: the client is not stalling
        if now < self.last_active + stall:
            self._wake_by(self.last_active + stall)
            return
        self._note(f"no body bytes for {stall:g} s")
        self.transport.close()

    def _make_room(self) -> bool:
        """Below the bound, or once a stalled connection is evicted: True; False when every
        connection is answering a complete request (then the newcomer is the one refused)."""
        if len(self.connections) < self.limits.max_connections:
            return True
        open_ones = [c for c in self.connections if not _closing(c)]
        if len(open_ones) < self.limits.max_connections:
            return True
        evictable = [
            c for c in open_ones if isinstance(c, EdgeProtocol) and c.phase is not Phase.ANSWERING
        ]
        if not evictable:
            _warn("connection refused: all %d connections are answering requests", len(open_ones))
            return False
        victim = min(evictable, key=_eviction_order)
        victim._note(f"evicted at HTTP_MAX_CONNECTIONS ({self.limits.max_connections})")
        victim.transport.abort()
        return True

    def _note(self, why: str) -> None:
        peer = self.client[0] if self.client else "?"
        _warn("closed a connection from %s: %s", peer, why)


def _eviction_order(connection: EdgeProtocol) -> tuple[int, float, int]:
    """Who goes first: an idle kept-alive connection (its client reconnects for the next
    request), then the oldest one still sending its head (a legitimate head takes one round
    trip), then the body that has been silent longest, so an upload that keeps moving is last."""
    if connection.phase is Phase.IDLE:
        return 0, connection.last_active, connection.serial
    if connection.phase is Phase.HEADERS:
        return 1, connection.head_started, connection.serial
    return 2, connection.last_active, connection.serial


def _closing(connection: object) -> bool:
    transport = getattr(connection, "transport", None)
    return transport is None or bool(transport.is_closing())


def _warn(message: str, *args: object) -> None:
    if _warnings.take():
        log.warning(message, *args)
    else:
        log.debug(message, *args)


def _error_response(status: int, reason: str) -> bytes:
    body = json.dumps({"status": "error", "error": reason}, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body
