"""Response headers every answer carries, and session cookies that are Secure behind https.

The Content-Security-Policy allows scripts and styles from our own origin only: no inline
script, no inline style, nothing from elsewhere (the appliance must work with no internet), and no
framing by any other page.
"""

from __future__ import annotations

import json
import math
import time
from base64 import b64decode, b64encode
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.clientip import in_networks, parse_ip
from app.config import Settings

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}
SESSION_COOKIE = "inbox_session"
EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


class SecurityHeadersMiddleware:
    """Also reports the handler's time in ``Server-Timing`` (what bench/inbox.py reads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    # Lead data must not linger in shared or back-button caches.
                    headers.setdefault("cache-control", "no-store")
                elapsed = (time.perf_counter() - started) * 1000
                headers.append("server-timing", f"app;dur={elapsed:.2f}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def forwarded(connection: HTTPConnection, settings: Settings, header: str) -> str:
    """A proxy's X-Forwarded-* value (the first hop's), believed only from TRUSTED_PROXIES."""
    peer = parse_ip(connection.client.host if connection.client else None)
    if not in_networks(peer, settings.trusted_proxies):
        return ""
    return connection.headers.get(header, "").split(",")[0].strip()


def is_https(connection: HTTPConnection, settings: Settings) -> bool:
    """Over https directly, or per X-Forwarded-Proto from a trusted proxy."""
    if connection.url.scheme == "https":
        return True
    return forwarded(connection, settings, "x-forwarded-proto").lower() == "https"


class Sessions:
    """Signed-cookie sessions that end when idle, with the Secure flag decided per request.

    The cookie is Starlette's (base64 JSON, itsdangerous ``TimestampSigner``), but the secret is
    read on every request instead of once: sign-out and a new password replace the secret
    (``store.save_session_secret``), so every cookie signed before, and every copy of one,
    stops verifying at once, while the answer that replaced it is signed with the new one.
    The signer's timestamp is when the cookie was last issued; every answer to a live session
    issues it again, so a cookie older than ``SESSION_IDLE_HOURS`` is one nobody used for that
    long (to the second). Nothing here reads or writes the database.
    """

    def __init__(self, app: ASGIApp, settings: Settings, secret: Callable[[], str]) -> None:
        self.app = app
        self.settings = settings
        self.secret = secret
        self.idle_seconds = settings.session_idle_hours * 3600
        self._signer: tuple[str, TimestampSigner] | None = None

    def signer(self) -> TimestampSigner:
        secret = self.secret()
        cached = self._signer
        # Identity, not equality: a rotation assigns a new string, and nothing is compared
        # with what a request brought.
        if cached is None or cached[0] is not secret:
            cached = self._signer = (secret, TimestampSigner(secret))
        return cached[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The webhook answers a machine and never reads a session: the cookie machinery (and
        # the URL it builds to decide on Secure) would cost more than parsing the lead.
        if scope["type"] != "http" or scope["path"] == "/webhook":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        cookie = connection.cookies.get(SESSION_COOKIE)
        session = scope["session"] = Session(self.load(cookie) if cookie else {})
        flags = "httponly; samesite=lax"
        if is_https(connection, self.settings):
            flags += "; secure"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.accessed:
                    headers.add_vary_header("Cookie")
                if session:  # issued again on every answer: the idle clock restarts
                    lifetime = f"Max-Age={math.ceil(self.idle_seconds)}"
                    headers.append("set-cookie", self.cookie(self.dump(session), lifetime, flags))
                elif cookie is not None:  # signed out, expired or never valid: forget it
                    headers.append("set-cookie", self.cookie("null", f"expires={EXPIRED}", flags))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    def cookie(value: str, lifetime: str, flags: str) -> str:
        return f"{SESSION_COOKIE}={value}; path=/; {lifetime}; {flags}"

    def load(self, cookie: str) -> dict[str, Any]:
        """The session in ``cookie``; empty when it is forged, from an old secret, or idle."""
        try:
            data, issued = self.signer().unsign(cookie, return_timestamp=True)
            if time.time() - issued.timestamp() > self.idle_seconds:
                return {}
            loaded = json.loads(b64decode(data))
        except (BadSignature, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def dump(self, session: dict[str, Any]) -> str:
        data = b64encode(json.dumps(session).encode("utf-8"))
        return self.signer().sign(data).decode("ascii")
