"""Friendly error pages: a 404 that helps, a 500 that says nothing of the code's insides.

JSON clients (/api, /webhook) get JSON; browsers get a page. The traceback goes to the log only.
Every "no such thing" and every unusable parameter is answered here, whoever raised it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.deliveries import NotInQuarantine
from app.notify.views import UnknownTarget
from app.web.context import web
from app.web.errors import BadParameter, NotFound
from app.web.safe import SafeJSONResponse
from app.web.security import HEADERS

log = logging.getLogger(__name__)

TITLES = {
    400: "That request did not work",
    403: "Not allowed",
    404: "Nothing here",
    405: "Not like that",
    413: "Too large",
    429: "Slow down",
}
# "No such thing" from the layers below, in the words a page uses (None: the exception's own).
NOT_FOUND: dict[type[Exception], str | None] = {
    NotFound: None,
    NotInQuarantine: "That delivery is not in the quarantine.",
    UnknownTarget: "No such notification target (removed meanwhile?).",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhook"))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = exc.detail
    if status == 404 and message == "Not Found":  # the router's own: no route matched
        message = "There is no page at this address."
    if _wants_json(request):
        return SafeJSONResponse({"status": "error", "error": message}, status, headers=exc.headers)
    context = {"title": TITLES.get(status, "Something went wrong"), "message": message}
    return await web(request).render_async(
        request, "error.html", context, status=status, headers=exc.headers
    )


async def not_found(request: Request, exc: Exception) -> Response:
    words = next((text for kind, text in NOT_FOUND.items() if isinstance(exc, kind)), None)
    return await http_error(request, HTTPException(404, words or str(exc)))


async def bad_parameter(request: Request, exc: Exception) -> Response:
    return await http_error(request, HTTPException(400, str(exc)))


async def server_error(request: Request, exc: Exception) -> Response:
    # Runs outside the other middleware, so it adds the security headers itself.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        answer = {"status": "error", "error": "internal error"}
        return SafeJSONResponse(answer, 500, headers=HEADERS)
    try:
        template = web(request).env.get_template("500.html")
        html = template.render(request=request)
    except Exception:  # the page itself failed: fall back to words
        html = "<!doctype html><title>Error</title><p>Something went wrong. It was logged."
    return HTMLResponse(html, status_code=500, headers=HEADERS)


def refuse_csrf(scope: object) -> Response:
    """The CSRF middleware's refusal: a plain page (no session data is trusted here)."""
    html = (
        "<!doctype html><meta charset=utf-8><title>Form expired</title>"
        '<link rel=stylesheet href="/static/app.css"><main class="narrow"><h1>Form expired</h1>'
        "<p>This form was open too long or came from another site. Go back, reload the page "
        'and try again.</p><p><a href="/">Back to the inbox</a></p></main>'
    )
    return HTMLResponse(html, status_code=403)


Handler = Callable[[Request, Exception], Awaitable[Response]]
EXCEPTION_HANDLERS: dict[type[Exception] | int, Handler] = {
    HTTPException: http_error,
    BadParameter: bad_parameter,
    **{kind: not_found for kind in NOT_FOUND},
    500: server_error,
}
