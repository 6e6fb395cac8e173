"""Notification endpoints for tests: a real HTTP server (Apprise's json://) and a real SMTP server
(mailto://). The outside world, so fakes are fine here; each records what it was sent."""

from __future__ import annotations

import email
import email.message
import email.policy
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JsonSink:
    """A local HTTP server for Apprise's json:// target; answers 500 when told to."""

    accepted: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # every request's path, answered or not
    failures: dict[str, int] = field(default_factory=dict)  # path -> how many 500s to answer
    delay: float = 0.0
    port: int = 0
    condition: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str = "/notify") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def fail(self, path: str, times: int) -> None:
        with self.condition:
            self.failures[path] = times

    def received(self, path: str | None = None) -> list[dict[str, object]]:
        with self.condition:
            return [body for where, body in self.accepted if path is None or where == path]

    def wait(self, count: int, path: str | None = None, *, timeout: float = 30) -> list[dict]:
        """At least ``count`` accepted notifications (at ``path``), or AssertionError."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(found := self.received(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} notification(s) at {path}, not {count}")
                self.condition.wait(left)
        return found

    def wait_attempts(self, count: int, path: str | None = None, *, timeout: float = 30) -> None:
        """At least ``count`` requests (at ``path``) arrived, answered or not."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(found := [p for p in self.attempts if path in (None, p)]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} request(s) at {path}, not {count}")
                self.condition.wait(left)

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        """A request handler recording into this sink."""
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(sink.delay)
                with sink.condition:
                    sink.attempts.append(self.path)
                    failing = sink.failures.get(self.path, 0) > 0
                    if failing:
                        sink.failures[self.path] -= 1
                    else:
                        sink.accepted.append((self.path, json.loads(body)))
                    sink.condition.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def serve(self) -> http.server.ThreadingHTTPServer:
        """Listen on ``port`` (0: any free one, recorded), answering from a daemon thread."""
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class SmtpSink:
    """A local aiosmtpd server for Apprise's mailto:// target."""

    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def url(self, extra: str = "") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            f"&from=inbox@example.com&to=owner@example.com{extra}"
        )

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)  # what policy.default makes
        with self.condition:
            self.messages.append(parsed)
            self.condition.notify_all()
        return "250 OK"

    def wait(self, count: int, *, timeout: float = 30) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} e-mail(s), not {count}")
                self.condition.wait(left)
            return list(self.messages)
