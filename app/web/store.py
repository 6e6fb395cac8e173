"""The web UI's values in the ``app_setting`` table (migration web_0001), kept across restarts.

Kept in the database rather than in DATA_DIR so that one backup (or one PostgreSQL server) holds
everything, and a container whose DATA_DIR is not a volume still keeps its login. The table's
``get``/``put``/``remove`` are ``app.app_setting``'s (``live_settings`` uses them too), re-exported
here for the pages; the writes are writer jobs (``db.writer.run``).
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection

from app.app_setting import get as get
from app.app_setting import put as put
from app.app_setting import remove as remove
from app.models import utcnow

SESSION_SECRET = "session_secret"
ADMIN_PASSWORD_HASH = "admin_password_hash"
CALENDAR_TOKEN_SHA256 = "calendar_token_sha256"
CALENDAR_TOKEN_CREATED = "calendar_token_created"


def new_session_secret() -> str:
    return secrets.token_urlsafe(48)


def ensure_session_secret(connection: Connection) -> str:
    """The existing secret, or a new one: a writer job, so two starts cannot race."""
    existing = get(connection, SESSION_SECRET)
    if existing:
        return existing
    secret = new_session_secret()
    put(connection, SESSION_SECRET, secret)
    return secret


def save_session_secret(connection: Connection, secret: str) -> None:
    """Replace the secret that signs session cookies: every session signed with the old one,
    and every copy of its cookie, ends (sign-out, a new password). It is the session
    generation: the cookie carries it in its signature, so no request reads the database to
    check it. Made by the caller, not here, so a writer job run twice stores the same one.
    """
    put(connection, SESSION_SECRET, secret)


def save_calendar_token(connection: Connection, digest: str) -> None:
    """A new calendar link (only its hash is kept), and when it was made."""
    put(connection, CALENDAR_TOKEN_SHA256, digest)
    put(connection, CALENDAR_TOKEN_CREATED, utcnow().isoformat())


def remove_calendar_token(connection: Connection) -> None:
    remove(connection, CALENDAR_TOKEN_SHA256, CALENDAR_TOKEN_CREATED)
