"""A stand-in for Hello Client, the one outside party we cannot reach from here.

It behaves as the vendor's document says: the body is ``JSON.stringify(payload)``, the header is
``t=<unix seconds>,v1=<HMAC-SHA256 of t + "." + JSON.stringify(req.body)>`` with the Sign Key, and
anything but exactly ``{"status":"success"}`` is a failure, retried after 1 and 3 minutes (the
delays shrink for tests), then dropped. JSON.stringify is the real one, from Node.js.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
from nodejs import NodeJSON

SUCCESS = b'{"status":"success"}'


@dataclass
class HelloClientFake:
    url: str
    key: str
    node: NodeJSON
    retry_delays: Sequence[float] = (60, 180)
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    def body_for(self, payload: object) -> bytes:
        return self.node.stringify_compact(payload).encode("utf-8")

    def signature(self, body: bytes, *, t: int | None = None, key: str | None = None) -> str:
        """What the vendor's header says for this body: it signs JSON.stringify(req.body)."""
        timestamp = str(int(time.time()) if t is None else t)
        signed = self.node.restringify(body)
        if signed is None:
            signed = body  # unparseable: a sender could only have signed the bytes themselves
        mac = hmac.new(
            (key or self.key).encode(), f"{timestamp}.".encode() + signed, hashlib.sha256
        )
        return f"t={timestamp},v1={mac.hexdigest()}"

    def post(
        self,
        payload: object = None,
        *,
        body: bytes | None = None,
        t: int | None = None,
        key: str | None = None,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = self.body_for(payload) if body is None else body
        sent = {"Content-Type": "application/json"}
        if signed:
            sent["X-Webhook-Signature"] = self.signature(data, t=t, key=key)
        sent.update(headers or {})
        return self.client.post(self.url, content=data, headers=sent)

    def deliver(self, payload: object, **options: object) -> list[httpx.Response]:
        """One event, with the vendor's retry policy; returns every attempt's response."""
        attempts = [self.post(payload, **options)]  # type: ignore[arg-type]
        for delay in self.retry_delays:
            if succeeded(attempts[-1]):
                break
            self.sleep(delay)
            attempts.append(self.post(payload, **options))  # type: ignore[arg-type]
        return attempts


def succeeded(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.content == SUCCESS
