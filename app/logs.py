"""What the server writes to its log: the format, which requests are logged (ACCESS_LOG), no
secret at any level, and the one block at start that says where the inbox is.

Secrets are hidden by a filter on every handler of the root logger (``configure``), so a line
from any library (Apprise, urllib3 at DEBUG logging a Telegram bot token in a request path) is
scrubbed on its way out, whichever logger wrote it. Whoever learns a secret (the notification
targets) hands it to ``hide``. Only the standard library and ``app.config``: every stage may use
this module.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from urllib.parse import quote

from app.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "****"
MIN_HIDDEN_CHARS = 4  # shorter "secrets" would blank out ordinary words all over the log
# Requests nobody reads in a log: the browser's assets and the container's health check.
QUIET_PATHS = ("/static/", "/healthz", "/favicon", "/apple-touch-icon", "/manifest")
ACCESS_LOGGER = "uvicorn.access"
EVERY_ADDRESS = ("", "0.0.0.0", "::", "[::]")  # HOST values that mean "listen everywhere"


def forms(secret: str) -> tuple[str, ...]:
    """``secret`` as it may be written: itself and URL-quoted (a ``/`` in it quoted or kept)."""
    return tuple(dict.fromkeys((secret, quote(secret, safe=""), quote(secret))))


class SecretScrubber(logging.Filter):
    """Replaces every known secret in a record's message (and traceback) with ``****``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def hide(self, secrets: Iterable[str]) -> None:
        fresh = {
            form for secret in secrets if len(secret) >= MIN_HIDDEN_CHARS for form in forms(secret)
        }
        with self._lock:
            known = set(self._secrets) | fresh
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self.scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


SCRUBBER = SecretScrubber()


def hide(secrets: Iterable[str]) -> None:
    """From now on, never let these strings reach the log."""
    SCRUBBER.hide(secrets)


class AccessFilter(logging.Filter):
    """ACCESS_LOG on uvicorn's access logger, whose record args are
    (client, method, path, HTTP version, status)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def filter(self, record: logging.LogRecord) -> bool:
        if self.mode == "all":
            return True
        if self.mode == "off":
            return False
        args = record.args if isinstance(record.args, tuple) else ()
        path = str(args[2]) if len(args) >= 5 else ""
        status = args[4] if len(args) >= 5 else 0
        if self.mode == "errors":
            return isinstance(status, int) and status >= 400
        return not path.startswith(QUIET_PATHS)


def configure(settings: Settings) -> None:
    """The process's logging: one handler on stderr, scrubbed, at LOG_LEVEL; ACCESS_LOG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SCRUBBER)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    for old_filter in [f for f in access.filters if isinstance(f, AccessFilter)]:
        access.removeFilter(old_filter)
    access.addFilter(AccessFilter(settings.access_log))


def key_status(*, from_environment: bool, stored_keys: int) -> str:
    """The Sign Key line of the start block: where the keys in force come from."""
    if from_environment:
        return "set by WEBHOOK_SIGNING_KEY"
    if stored_keys:
        return f"{stored_keys} key{'' if stored_keys == 1 else 's'} from Settings"
    return (
        "none (WEBHOOK_SIGNING_KEY is not set): add the Sign Key under Settings; "
        "the webhook answers 503 until then"
    )


def start_block(
    settings: Settings, version: str, *, keys: str, setup_code: str | None = None
) -> str:
    """What the server says once it is ready: where to go, what to paste, what is missing.
    Never a secret: the setup code is shown on purpose (whoever reads this log owns the box)."""
    local = f"http://{_local_host(settings.host)}:{settings.port}"
    inbox = settings.base_url or local
    elsewhere = ""
    if not settings.base_url and settings.host in EVERY_ADDRESS:
        elsewhere = f" (from another device: http://<this machine's address>:{settings.port}/)"
    if settings.base_url:
        webhook = f"{settings.base_url}/webhook"
    else:
        webhook = (
            f"{local}/webhook (Hello Client cannot reach this address: "
            "set the public one under Settings)"
        )
    lines = [
        f"Hello Client inbox {version} is ready.",
        f"  Inbox:       {inbox}/{elsewhere}",
        f"  Webhook URL: {webhook}",
        f"  Sign Key:    {keys}",
    ]
    if setup_code:
        lines.append(
            f"  First run:   open {inbox}/setup and enter the setup code {setup_code} "
            "to choose the admin password (or set INBOX_PASSWORD)."
        )
    return "\n".join(lines)


def _local_host(host: str) -> str:
    """The address a person on this machine types: not 0.0.0.0, which only means "every"."""
    if host in EVERY_ADDRESS:
        return "localhost"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
