"""POST /webhook straight to its handler, ahead of the web UI's middleware and Starlette's router.

Under load, each delivery spent more of the event loop's time passing through the UI's layers
(security headers, sessions, sign-in, CSRF, exception handling, routing, ``Response.__call__``)
than in the webhook itself: about 45 % against 36 % (py-spy, docs/performance.md). None of those
layers does anything for the webhook: it has no session, no sign-in, no form, and answers every
failure itself. ``WebhookFastPath`` is the outermost middleware: it hands ``POST /webhook`` to the
same handler the route would call and sends its answer with the headers every answer carries;
every other request goes on through the stack unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

PATH = "/webhook"
Endpoint = Callable[[Request], Awaitable[Response]]


class WebhookFastPath:
    def __init__(
        self, app: ASGIApp, endpoint: Endpoint, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        # What the security-headers middleware would have added (the handler sets none of them).
        self.headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        response = await self.endpoint(Request(scope, receive))
        taken = {name for name, _ in response.raw_headers}
        extra = [header for header in self.headers if header[0] not in taken]
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [*response.raw_headers, *extra],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
