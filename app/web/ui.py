"""The web UI as the Starlette app takes it: routes, middleware, error handlers, and ``start``.

``server.py`` builds one ``WebUI`` and takes its routes, middleware and error handlers; its
lifespan calls ``start`` once the database is open (the session secret and password live there).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from app.config import Settings
from app.db import Database
from app.ingest.processor import Processor
from app.live_settings import LiveSettings
from app.web import error_pages, store
from app.web.auth import AuthMiddleware, Credentials
from app.web.context import Web
from app.web.csrf import CSRFMiddleware
from app.web.pages import (
    api,
    calendar,
    conversations,
    deliveries,
    export,
    forwarding,
    insights,
    install,
    leads,
    login,
    notifications,
    status,
    triage,
    welcome,
)
from app.web.pages import settings as settings_page
from app.web.security import SecurityHeadersMiddleware, Sessions
from app.web.templating import STATIC, make_environment

log = logging.getLogger(__name__)


class WebUI:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        processor: Processor,
        live: LiveSettings,
    ) -> None:
        self.live = live
        self.web = Web(
            live=self.live,
            db=db,
            wake_processor=processor.wake,
            # Times shown in the time zone in force now: TZ may be changed under Settings.
            env=make_environment(lambda: self.live.current.tz),
            credentials=Credentials(username=settings.inbox_username),
        )

    @property
    def settings(self) -> Settings:
        return self.live.current

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            *login.ROUTES,
            *triage.ROUTES,
            *leads.ROUTES,
            *conversations.ROUTES,
            *insights.ROUTES,
            *deliveries.ROUTES,
            *status.ROUTES,
            *settings_page.ROUTES,
            *welcome.ROUTES,
            *notifications.ROUTES,
            *forwarding.ROUTES,
            *export.ROUTES,
            *api.ROUTES,
            *calendar.ROUTES,
            *install.ROUTES,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    @property
    def middleware(self) -> list[Middleware]:
        """Outermost first: headers on every answer, then sessions, then who may pass."""
        credentials = self.web.credentials
        return [
            Middleware(SecurityHeadersMiddleware),
            Middleware(Sessions, settings=self.settings, secret=lambda: credentials.session_secret),
            Middleware(AuthMiddleware, settings=self.settings, credentials=credentials),
            Middleware(CSRFMiddleware, refuse=error_pages.refuse_csrf),
        ]

    @property
    def exception_handlers(self) -> dict[Any, error_pages.Handler]:
        return dict(error_pages.EXCEPTION_HANDLERS)

    async def start(self) -> None:
        """Load (or create) what the UI keeps in the database; make a setup code if needed."""
        web, settings = self.web, self.settings
        self.setup_code: str | None = None
        credentials = web.credentials
        credentials.session_secret = await web.db.writer.run(store.ensure_session_secret)
        with web.db.read() as connection:
            stored_hash = store.get(connection, store.ADMIN_PASSWORD_HASH)
            credentials.calendar_token_sha256 = store.get(connection, store.CALENDAR_TOKEN_SHA256)
        if settings.inbox_password:
            password = settings.inbox_password
            await run_in_threadpool(credentials.use_environment_password, password)
        elif stored_hash:
            credentials.use_stored_hash(stored_hash)
        if settings.auth == "none":
            log.warning(
                "AUTH=none: the inbox asks nobody to sign in. Anyone who can reach this "
                "address can read every lead. Use this only behind your own access control."
            )
        elif not credentials.configured:
            # Deliberately in the log, in the start block (app.logs): whoever can read the
            # server log owns the appliance.
            self.setup_code = credentials.new_setup_code()
        logging.getLogger("uvicorn.access").addFilter(redact_tokens)


_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s]+", re.IGNORECASE)


def redact_tokens(record: logging.LogRecord) -> bool:
    """The calendar feed's token rides in its URL: keep it out of the access log."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            _TOKEN_IN_QUERY.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
            for arg in record.args
        )
    return True
