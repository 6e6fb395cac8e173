"""Settings, read once from the environment into one typed, frozen object.

Every variable the appliance understands is declared in ``VARIABLES`` (the docs test checks each
one against ``.env.example`` and ``docs/configuration.md``). Secrets also accept a ``NAME_FILE``
twin holding the path of a file with the value, as Docker secrets provide. A bad value raises
``ConfigError`` naming the variable, so start-up stops with a message a person can act on.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The vendor's production webhook IPs, from its webhook document ("Webhook-Triggering IPs").
HELLO_CLIENT_IPS = ("138.91.187.181", "20.245.232.251", "51.116.103.131")

UNSIGNED_EVENT_POLICIES = ("reject", "quarantine", "accept-from-allowed-ips")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A variable holds a value the appliance cannot use; the message names it."""


@dataclass(frozen=True)
class Variable:
    name: str
    secret: bool = False


# Declared here, not scattered through the code, so documentation can be checked against it.
VARIABLES: tuple[Variable, ...] = (
    Variable("HOST"),
    Variable("PORT"),
    Variable("DATA_DIR"),
    Variable("DATABASE_URL", secret=True),
    Variable("DATABASE_BUSY_TIMEOUT_SECONDS"),
    Variable("BASE_URL"),
    Variable("TZ"),
    Variable("LOG_LEVEL"),
    Variable("WEBHOOK_SIGNING_KEY", secret=True),
    Variable("WEBHOOK_TOLERANCE_SECONDS"),
    Variable("WEBHOOK_ALLOWED_IPS"),
    Variable("TRUSTED_PROXIES"),
    Variable("UNSIGNED_EVENTS"),
    Variable("MAX_BODY_MB"),
    Variable("QUARANTINE_MAX_ITEMS"),
    Variable("QUARANTINE_MAX_MB"),
    Variable("QUARANTINE_RATE_PER_MINUTE"),
    Variable("INBOX_USERNAME"),
    Variable("INBOX_PASSWORD", secret=True),
    Variable("API_TOKEN", secret=True),
    Variable("AUTH"),
    Variable("AUTH_HEADER"),
    Variable("APPRISE_URLS", secret=True),
    Variable("APPRISE_CONFIG"),
    Variable("NOTIFY_RATE_LIMIT"),
    Variable("NOTIFY_RATE_WINDOW_SECONDS"),
    Variable("NOTIFY_RETRY_FIRST_SECONDS"),
    Variable("NOTIFY_RETRY_CAP_SECONDS"),
    Variable("NOTIFY_RETRY_MAX_HOURS"),
    Variable("NOTIFY_POLL_SECONDS"),
    # Read by the container's entrypoint before Python starts, not by Settings.
    Variable("PUID"),
    Variable("PGID"),
    Variable("UMASK"),
)


def documented_names() -> list[str]:
    """Every name a user may set, ``_FILE`` twins included."""
    names: list[str] = []
    for variable in VARIABLES:
        names.append(variable.name)
        if variable.secret:
            names.append(f"{variable.name}_FILE")
    return names


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    database_url: str
    database_busy_timeout: float
    base_url: str | None
    tz: ZoneInfo
    log_level: str
    signing_keys: tuple[str, ...]
    tolerance_seconds: int
    allowed_networks: tuple[Network, ...]
    trusted_proxies: tuple[Network, ...]
    unsigned_events: str
    max_body_bytes: int
    quarantine_max_items: int
    quarantine_max_bytes: int
    quarantine_rate_per_minute: int
    inbox_username: str
    inbox_password: str | None
    api_token: str | None
    apprise_urls: str | None
    apprise_config: Path | None
    # Notifications (app.notify): per-target rate limit, retry backoff, chat-log/config polling.
    notify_rate_limit: int = 10
    notify_rate_window_seconds: float = 60.0
    notify_retry_first_seconds: float = 30.0
    notify_retry_cap_seconds: float = 3600.0
    notify_retry_max_hours: float = 24.0
    notify_poll_seconds: float = 15.0
    # Web UI login: "login" (password, the default) or "none" (only when explicitly set).
    auth: str = "login"
    auth_header: str | None = None  # e.g. Remote-User, believed only from TRUSTED_PROXIES

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class _Reader:
    """Typed accessors over one environment mapping; each failure names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> str | None:
        direct = self.raw(name)
        path = self.raw(f"{name}_FILE")
        if direct and path:
            raise ConfigError(f"{name}: set either {name} or {name}_FILE, not both")
        if not path:
            return direct
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            # A binary file (a key saved in the wrong format) would otherwise end start-up with a
            # traceback instead of a message naming the variable.
            raise ConfigError(f"{name}_FILE: {path!r} is not UTF-8 text") from None
        if not value:
            raise ConfigError(f"{name}_FILE: {path!r} is empty")
        return value

    def string(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        text = self.raw(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}: must be between {minimum} and {maximum}, got {value}")
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        text = self.raw(name)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}: must be between {minimum} and {maximum}, got {value}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)}; got {value!r}")
        return value

    def networks(self, name: str, *, aliases: Mapping[str, tuple[str, ...]]) -> tuple[Network, ...]:
        found: list[Network] = []
        for item in split_list(self.raw(name) or ""):
            for text in aliases.get(item.lower(), (item,)):
                try:
                    found.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ConfigError(f"{name}: {text!r} is not an IP address or CIDR") from None
        return tuple(found)

    def timezone(self, name: str) -> ZoneInfo:
        text = self.raw(name) or "UTC"
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a key naming a directory of zones ("America") raises IsADirectoryError.
            raise ConfigError(f"{name}: unknown time zone {text!r} (e.g. Europe/Berlin)") from None

    def url(self, name: str) -> str | None:
        text = self.raw(name)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name}: expected an http(s) URL such as https://inbox.example.com")
        return text.rstrip("/")


def split_list(text: str) -> list[str]:
    """Items separated by commas, spaces or newlines."""
    return [item for item in text.replace(",", " ").split() if item]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = _Reader(os.environ if environ is None else environ)
    data_dir = Path(env.string("DATA_DIR", "data")).expanduser()
    database_url = env.secret("DATABASE_URL") or f"sqlite:///{(data_dir / 'inbox.db').resolve()}"
    if not database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError("DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported")
    keys = tuple(split_comma(env.secret("WEBHOOK_SIGNING_KEY") or ""))
    allowed = env.networks("WEBHOOK_ALLOWED_IPS", aliases={"hello-client": HELLO_CLIENT_IPS})
    unsigned = env.choice("UNSIGNED_EVENTS", "quarantine", UNSIGNED_EVENT_POLICIES)
    if unsigned == "accept-from-allowed-ips" and not allowed:
        raise ConfigError(
            "UNSIGNED_EVENTS: accept-from-allowed-ips needs WEBHOOK_ALLOWED_IPS "
            "(e.g. WEBHOOK_ALLOWED_IPS=hello-client)"
        )
    apprise_config = env.raw("APPRISE_CONFIG")
    trusted_proxies = env.networks("TRUSTED_PROXIES", aliases={})
    auth_header = env.raw("AUTH_HEADER")
    if auth_header and not trusted_proxies:
        raise ConfigError(
            "AUTH_HEADER: set TRUSTED_PROXIES to the proxy's address too; the header is "
            "believed only from there"
        )
    return Settings(
        host=env.string("HOST", "0.0.0.0"),
        port=env.integer("PORT", 8080, minimum=1, maximum=65535),
        data_dir=data_dir,
        database_url=database_url,
        database_busy_timeout=env.number(
            "DATABASE_BUSY_TIMEOUT_SECONDS", 5.0, minimum=0.05, maximum=600
        ),
        base_url=env.url("BASE_URL"),
        tz=env.timezone("TZ"),
        log_level=env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        signing_keys=keys,
        tolerance_seconds=env.integer(
            "WEBHOOK_TOLERANCE_SECONDS", 300, minimum=0, maximum=10 * 365 * 86400
        ),
        allowed_networks=allowed,
        trusted_proxies=trusted_proxies,
        unsigned_events=unsigned,
        max_body_bytes=env.integer("MAX_BODY_MB", 256, minimum=1, maximum=4096) * 1024 * 1024,
        quarantine_max_items=env.integer("QUARANTINE_MAX_ITEMS", 500, minimum=0, maximum=10**6),
        quarantine_max_bytes=env.integer("QUARANTINE_MAX_MB", 64, minimum=0, maximum=100_000)
        * 1024
        * 1024,
        quarantine_rate_per_minute=env.integer(
            "QUARANTINE_RATE_PER_MINUTE", 60, minimum=0, maximum=10**6
        ),
        inbox_username=env.string("INBOX_USERNAME", "admin"),
        inbox_password=env.secret("INBOX_PASSWORD"),
        api_token=env.secret("API_TOKEN"),
        apprise_urls=env.secret("APPRISE_URLS"),
        apprise_config=Path(apprise_config) if apprise_config else None,
        notify_rate_limit=env.integer("NOTIFY_RATE_LIMIT", 10, minimum=1, maximum=100_000),
        notify_rate_window_seconds=env.number(
            "NOTIFY_RATE_WINDOW_SECONDS", 60.0, minimum=0.1, maximum=86400
        ),
        notify_retry_first_seconds=env.number(
            "NOTIFY_RETRY_FIRST_SECONDS", 30.0, minimum=0.05, maximum=86400
        ),
        notify_retry_cap_seconds=env.number(
            "NOTIFY_RETRY_CAP_SECONDS", 3600.0, minimum=0.05, maximum=7 * 86400
        ),
        notify_retry_max_hours=env.number(
            "NOTIFY_RETRY_MAX_HOURS", 24.0, minimum=0.0001, maximum=24 * 365
        ),
        notify_poll_seconds=env.number("NOTIFY_POLL_SECONDS", 15.0, minimum=0.05, maximum=3600),
        auth=env.choice("AUTH", "login", ("login", "none")),
        auth_header=auth_header,
    )


def split_comma(text: str) -> list[str]:
    """Signing keys are separated by commas only: a key could in principle hold a space."""
    return [item.strip() for item in text.split(",") if item.strip()]
