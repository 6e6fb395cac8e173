"""CSRF tokens on every state-changing request, checked before routing.

The token lives in the (signed) session and travels in each form as ``csrf_token`` or in an
``X-CSRF-Token`` header. Checking in a middleware, not in each handler, means a new POST route is
protected without anyone remembering to. ``/webhook`` is exempt: it has its own signatures.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_PATHS = frozenset({"/webhook"})
MAX_FORM_BYTES = 256 * 1024  # notes and passwords; nothing a person types comes near it


def token_for(session: dict[str, Any]) -> str:
    """The session's token, created on first use (the login form needs one before login)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, refuse: Callable[[Scope], Response] | None = None) -> None:
        self.app = app
        # Renders the refusal page; plain text if none is given.
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"] in EXEMPT_PATHS
        ):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        expected = str(connection.session.get("csrf") or "")
        given = connection.headers.get(HEADER)
        body: bytes | None = None
        if given is None:
            body, complete = await _read_body(receive)
            if not complete:
                await PlainTextResponse("form too large", 413)(scope, receive, send)
                return
            given = _form_token(connection.headers.get("content-type", ""), body)
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
            await self._refusal(scope)(scope, receive, send)
            return
        await self.app(scope, receive if body is None else _replay(body, receive), send)

    def _refusal(self, scope: Scope) -> Response:
        if self.refuse is not None:
            return self.refuse(scope)
        return PlainTextResponse("form expired: reload the page and try again", 403)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _form_token(content_type: str, body: bytes) -> str | None:
    # Our forms are all urlencoded; a multipart post to this app is not one of ours.
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return None
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get(FIELD)
    return values[0] if values else None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: disconnects pass through

    return replay
