"""Raw loopback sockets for the edge tests: a client that sends exactly the bytes it is told to,
half a request included, and waits (with a deadline) for what the server does about it."""

from __future__ import annotations

import contextlib
import resource
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from servers import AppProcess


def connect(app: AppProcess, first: bytes = b"") -> socket.socket:
    address = urlsplit(app.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def read_until_closed(sock: socket.socket, *, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took;
    AssertionError if it is still open after ``within`` seconds."""
    started = time.monotonic()
    received = b""
    while True:
        left = within - (time.monotonic() - started)
        if left <= 0:
            raise AssertionError(f"still open after {within} s, having sent {received[:200]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""  # an eviction aborts: the peer's close shows as a reset
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


def closed_count(socks: list[socket.socket], at_least: int, *, within: float) -> int:
    """How many of ``socks`` the server has closed, once at least ``at_least`` are (bytes
    sent before the close are read and dropped); AssertionError after ``within`` seconds."""
    deadline = time.monotonic() + within
    open_ones, closed = list(socks), 0
    while closed < at_least:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{closed} of {len(socks)} closed, expected {at_least}")
        readable, _, _ = select.select(open_ones, [], [], left)
        for sock in readable:
            try:
                gone = not sock.recv(65536)
            except ConnectionResetError:
                gone = True
            if gone:
                open_ones.remove(sock)
                closed += 1
    return closed


def read_response(sock: socket.socket, *, within: float = 30) -> bytes:
    """One response whose head says content-length: its head and body, as sent."""
    sock.settimeout(within)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"closed inside a response: {data!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def post_head(path: str, length: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: inbox", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextlib.contextmanager
def open_files_limit(limit: int) -> Iterator[None]:
    """Processes started inside may open at most ``limit`` files (``ulimit -n``), as on a NAS
    whose container runtime sets a low one; children inherit it at fork."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
