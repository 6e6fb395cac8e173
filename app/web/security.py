"""Response headers every answer carries, and session cookies that are Secure behind https.

The Content-Security-Policy allows scripts and styles from our own origin only: no inline
script, no inline style, nothing from elsewhere (the appliance must work with no internet), and no
framing by any other page.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.clientip import in_networks, parse_ip
from app.config import Settings

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
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
SESSION_MAX_AGE = 14 * 24 * 3600


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


def is_https(connection: HTTPConnection, settings: Settings) -> bool:
    """Over https directly, or per X-Forwarded-Proto from a trusted proxy."""
    if connection.url.scheme == "https":
        return True
    peer = parse_ip(connection.client.host if connection.client else None)
    if not in_networks(peer, settings.trusted_proxies):
        return False
    forwarded = connection.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


class Sessions:
    """Starlette's signed-cookie sessions, with the Secure flag decided per request.

    The secret is loaded from the database at start-up, after this middleware is built, so
    the two underlying middlewares are made on first use.
    """

    def __init__(self, app: ASGIApp, settings: Settings, secret: Callable[[], str]) -> None:
        self.app = app
        self.settings = settings
        self.secret = secret
        self._plain: SessionMiddleware | None = None
        self._secure: SessionMiddleware | None = None

    def _build(self, https_only: bool) -> SessionMiddleware:
        return SessionMiddleware(
            self.app,
            secret_key=self.secret(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=https_only,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The webhook answers a machine and never reads a session: the cookie machinery (and
        # the URL it builds to decide on Secure) would cost more than parsing the lead.
        if scope["type"] != "http" or scope["path"] == "/webhook":
            await self.app(scope, receive, send)
            return
        if is_https(HTTPConnection(scope), self.settings):
            self._secure = self._secure or self._build(True)
            await self._secure(scope, receive, send)
        else:
            self._plain = self._plain or self._build(False)
            await self._plain(scope, receive, send)
