"""One POST to one destination, and exactly what came of it.

The standard library's ``http.client``: it follows no redirect (a 3xx is an answer, shown and
retried like a failure, never obeyed), and the answer's body is read only up to a bound. After
connecting, the peer is checked: a name that now resolves to the appliance's own listening
address and port is refused before anything is sent.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from app.config import Settings

EXCERPT_BYTES = 2048  # of the answer's body, kept with the attempt
USER_AGENT = "hello-client-inbox (forwarding)"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, TLS, refused as ourselves)
    elapsed: float
    excerpt: str  # the start of the answer's body, decoded leniently
    error: str | None  # for a failure: what went wrong, in a line

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver says this destination is no more (disable it)."""
        return self.status == 410


def _is_self(peer: tuple[str, int], settings: Settings) -> bool:
    """Whether the connected peer is this appliance's own listener."""
    address, port = peer[0], peer[1]
    if port != settings.port:
        return False
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_loopback or ip.is_unspecified:
        return True
    try:  # an address of this machine is one a socket can bind to
        with socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return connection, target


def _basic_auth(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return {}
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def post(url: str, body: bytes, headers: Mapping[str, str], settings: Settings) -> Answer:
    """POST ``body``; never raises for anything the network or the receiver does."""
    started = time.monotonic()
    connection, target = _connection(url, settings.forward_timeout_seconds)
    all_headers = {
        "User-Agent": USER_AGENT,
        **_basic_auth(url),
        **headers,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    try:
        connection.connect()
        assert connection.sock is not None
        if _is_self(connection.sock.getpeername(), settings):
            return Answer(None, time.monotonic() - started, "", "refused: that is this inbox")
        connection.request("POST", target, body=body, headers=all_headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        status = response.status
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Answer(None, time.monotonic() - started, "", _describe(exc))
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    if 200 <= status < 300:
        return Answer(status, elapsed, excerpt, None)
    error = f"HTTP {status}"
    if 300 <= status < 400:
        where = response.getheader("Location") or "?"
        error += f": redirect to {where[:200]} not followed; use the final URL"
    return Answer(status, elapsed, excerpt, error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"name not resolved: {exc.strerror}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
