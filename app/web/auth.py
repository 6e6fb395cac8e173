"""Who is asking: the admin password, the first-run setup code, failed-login slowdown, and the
middleware that lets nothing but the public paths through without a login (or a token).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.clientip import client_ip, in_networks, parse_ip
from app.config import Settings
from app.ratelimit import RateLimit

log = logging.getLogger(__name__)

# Reachable without a login. Everything else needs one, or a token (/api/*, /calendar.ics).
# The web manifest and the service worker: browsers fetch them without cookies (or must not be
# redirected); both are the same for everyone (app/web/pages/install.py).
PUBLIC_PATHS = frozenset(
    {"/webhook", "/healthz", "/login", "/setup", "/manifest.webmanifest", "/sw.js"}
)
PUBLIC_PREFIXES = ("/static/",)
API_PREFIX = "/api/"
CALENDAR_PATH = "/calendar.ics"

MIN_PASSWORD_LENGTH = 10
SETUP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from a log by eye

_hasher = PasswordHasher()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Credentials:
    """The admin's password hash, from INBOX_PASSWORD or the setup page, plus the setup code."""

    username: str
    session_secret: str = ""
    password_hash: str | None = None
    from_environment: bool = False
    setup_code: str | None = None
    calendar_token_sha256: str | None = None
    _environment_password: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        return self.password_hash is not None

    def use_environment_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)
        self.from_environment = True
        self._environment_password = password

    def use_stored_hash(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.setup_code = None

    def new_setup_code(self) -> str:
        code = "".join(secrets.choice(SETUP_ALPHABET) for _ in range(12))
        self.setup_code = f"{code[:4]}-{code[4:8]}-{code[8:]}"
        return self.setup_code

    def check_setup_code(self, given: str) -> bool:
        expected = self.setup_code
        if expected is None:
            return False
        normal = given.upper().replace("-", "").replace(" ", "").encode()
        return hmac.compare_digest(normal, expected.replace("-", "").encode())

    def verify(self, username: str, password: str) -> bool:
        """Constant work whether the username or the password is wrong (argon2 either way)."""
        stored = self.password_hash
        if stored is None:
            return False
        ok: bool
        try:
            ok = _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        return ok and hmac.compare_digest(username.encode(), self.username.encode())

    def fingerprint(self) -> str:
        """Bound into each session: a new password ends every session signed in with the old.

        Keyed with the session secret, because the session cookie is signed, not encrypted; so
        a new secret (sign-out, a new password) changes it too, and a session read before the
        change is refused even if its answer went out signed with the new secret.
        """
        material = (self.password_hash or "").encode()
        if self._environment_password is not None:
            # INBOX_PASSWORD is re-hashed with a new salt at each start: key on the password
            # itself, so a restart keeps sessions and a changed password ends them.
            material = b"environment:" + self._environment_password.encode()
        return hmac.new(self.session_secret.encode(), material, hashlib.sha256).hexdigest()[:24]

    def check_calendar_token(self, token: str) -> bool:
        expected = self.calendar_token_sha256
        return expected is not None and hmac.compare_digest(token_sha256(token), expected)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class LoginThrottle:
    """Slows down password guessing per client address.

    ``FREE_ATTEMPTS`` failures in ``WINDOW`` seconds cost nothing; each one after that locks the
    address out for twice as long as the last (30 s, 60 s, … up to 15 minutes), counted from the
    latest failure, during which even the right password is refused, so guessing faster than
    that gains nothing. Kept in memory: only an admin can restart the appliance, and writing each
    failure to disk would hand a guesser a way to load the database.
    """

    FREE_ATTEMPTS = 5
    WINDOW = 15 * 60
    FIRST_LOCK = 30.0
    MAX_LOCK = 15 * 60.0
    DOUBLINGS = 5  # FIRST_LOCK * 2**5 is past MAX_LOCK: more failures need not be remembered
    MAX_TRACKED = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failures = RateLimit(
            self.FREE_ATTEMPTS + self.DOUBLINGS, self.WINDOW, clock=clock, max_keys=self.MAX_TRACKED
        )

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        count, latest = self.failures.latest(key)
        if count < self.FREE_ATTEMPTS:
            return 0
        lock = min(self.FIRST_LOCK * 2 ** (count - self.FREE_ATTEMPTS), self.MAX_LOCK)
        remaining = latest + lock - self.clock()
        return math.ceil(remaining) if remaining > 0 else 0

    def failed(self, key: str) -> None:
        self.failures.hit(key)

    def succeeded(self, key: str) -> None:
        self.failures.forget(key)


def request_ip(connection: HTTPConnection, settings: Settings) -> str:
    peer = connection.client.host if connection.client else None
    return client_ip(peer, connection.headers.get("x-forwarded-for"), settings.trusted_proxies)


def proxy_user(connection: HTTPConnection, settings: Settings) -> str | None:
    """The user an auth proxy vouches for, believed only when the peer is a trusted proxy."""
    if not settings.auth_header:
        return None
    value = connection.headers.get(settings.auth_header, "").strip()
    if not value:
        return None
    peer = parse_ip(connection.client.host if connection.client else None)
    return value if in_networks(peer, settings.trusted_proxies) else None


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AuthMiddleware:
    """Decides before routing, so a route added later cannot be forgotten: only the public
    paths pass without a signed-in admin, /api/* needs API_TOKEN and /calendar.ics its token.
    Sets ``scope["user"]`` to the admin's name for pages that show it.
    """

    def __init__(self, app: ASGIApp, settings: Settings, credentials: Credentials) -> None:
        self.app = app
        self.settings = settings
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        path = scope["path"]
        refusal: Response | None = None
        if is_public(path):
            pass
        elif path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            refusal = self._check_api(connection)
        elif path == CALENDAR_PATH:
            token = connection.query_params.get("token", "")
            if not self.credentials.check_calendar_token(token):
                refusal = PlainTextResponse("calendar link not valid (revoked?)", 403)
        else:
            user = self.user_of(connection)
            if user is None:
                refusal = self._to_login(connection)
            else:
                scope["user"] = user
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def user_of(self, connection: HTTPConnection) -> str | None:
        if self.settings.auth == "none":
            return self.credentials.username
        vouched = proxy_user(connection, self.settings)
        if vouched is not None:
            return vouched
        session = connection.session
        user = session.get("user")
        if (
            user
            and self.credentials.configured
            and (hmac.compare_digest(str(session.get("fp", "")), self.credentials.fingerprint()))
        ):
            return str(user)
        return None

    def _check_api(self, connection: HTTPConnection) -> Response | None:
        expected = self.settings.api_token
        given = bearer_token(connection)
        headers = {"WWW-Authenticate": 'Bearer realm="hello-client-inbox"'}
        if expected is None:
            return JSONResponse(
                {"status": "error", "error": "the API is off: set API_TOKEN to turn it on"},
                401,
                headers=headers,
            )
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse(
                {"status": "error", "error": "missing or wrong Authorization: Bearer token"},
                401,
                headers=headers,
            )
        return None

    def _to_login(self, connection: HTTPConnection) -> Response:
        target = "/setup" if self._needs_setup() else "/login"
        wanted = connection.url.path + (f"?{connection.url.query}" if connection.url.query else "")
        if connection.scope.get("method") == "GET" and wanted != "/":
            target += f"?next={quote(wanted, safe='')}"
        return RedirectResponse(target, status_code=303)

    def _needs_setup(self) -> bool:
        return not self.credentials.configured
