"""A CRM stand-in for the forwarding tests: a real HTTP server on loopback that checks every
request with the official ``standardwebhooks`` library (we never verify our own signatures),
answers what it is told to, and can be switched off (connection refused) and on again.

Also: the pass waits of the forwarding worker (``forwarding: pass N done[, quiet]`` at
LOG_LEVEL=debug), for proving that nothing more happens without a fixed sleep.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from servers import AppProcess, free_port
from standardwebhooks import Webhook, WebhookVerificationError
from worker_passes import wait_for_quiet_pass

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwABCDEFGHIJK="


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    document: Any  # what ``Webhook.verify`` returned: the parsed, verified body

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers ``statuses`` in turn (then 200); records verified requests and every attempt."""

    secret: str = SECRET
    port: int = field(default_factory=free_port)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    accepted: list[Received] = field(default_factory=list)  # verified and answered 2xx
    attempts: list[Received] = field(default_factory=list)  # verified, whatever the answer
    unverified: list[str] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)
    _server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self) -> Receiver:
        deadline = time.monotonic() + 5
        while True:
            try:
                server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
                break
            except OSError:  # the port was free a moment ago; a closing socket may hold it
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def off(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                time.sleep(receiver.delay)
                try:
                    document = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver.condition:
                        receiver.unverified.append(str(exc))
                        receiver.condition.notify_all()
                    self._answer(401, b"bad signature")
                    return
                got = Received(self.path, headers, body, document)
                with receiver.condition:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.attempts.append(got)
                    if 200 <= status < 300:
                        receiver.accepted.append(got)
                    receiver.condition.notify_all()
                self._answer(status, b'{"ok":true}' if status < 300 else b"<b>nope</b>")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def wait(self, count: int, *, timeout: float = 30, attempts: bool = False) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(found := list(self.attempts if attempts else self.accepted)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} request(s), not {count}")
                self.condition.wait(left)
            return found


def wait_for_quiet_forward_pass(app: AppProcess, *, timeout: float = 30) -> None:
    wait_for_quiet_pass(app, worker="forwarding", timeout=timeout)


def body_json(received: Received) -> Any:
    return json.loads(received.body)
