"""What every page handler needs, in one object on ``app.state.web``; how pages render, and how
the addresses their forms post to are routed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.db import Database
from app.live_settings import LiveSettings
from app.web.auth import Credentials, LoginThrottle
from app.web.queries import leads

log = logging.getLogger(__name__)


@dataclass
class Web:
    live: LiveSettings
    db: Database
    wake_processor: Callable[[], None]
    env: Environment
    credentials: Credentials
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @property
    def settings(self) -> Settings:
        """In force now (``app.live_settings``): a handler reads it once and keeps it."""
        return self.live.current

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """Render a page (blocking: reads the count of new leads for the menu badge)."""
        user = request.scope.get("user")
        new_count = 0
        if user is not None:
            with self.db.read() as connection:
                new_count = leads.count_new(connection)
        page = {
            "request": request,
            "user": user,
            "new_count": new_count,
            "auth_off": self.settings.auth == "none",
            "flashes": request.session.pop("flash", []) if "session" in request.scope else [],
            "path": request.url.path,
            **(context or {}),
        }
        html = self.env.get_template(name).render(page)
        return HTMLResponse(html, status_code=status, headers=headers)

    async def render_async(
        self, request: Request, name: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> HTMLResponse:
        return await run_in_threadpool(self.render, request, name, context, **kw)


def web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-line message for the next page (post/redirect/get)."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never //host or an absolute URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def form_routes(
    forms: Mapping[str, Callable[[Request], Awaitable[Response]]],
    page: str | Callable[[Request], str],
) -> list[Route]:
    """Each form's POST route, and a GET of the same address (a reload, a bookmark) that
    redirects to ``page`` (or where ``page(request)`` says) instead of "Method Not Allowed"."""

    async def back_to_page(request: Request) -> Response:
        return redirect(page(request) if callable(page) else page)

    return [
        *(Route(path, handler, methods=["POST"]) for path, handler in forms.items()),
        *(Route(path, back_to_page, methods=["GET"]) for path in forms),
    ]
