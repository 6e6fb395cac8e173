"""Settings, read once from the environment into one typed, frozen object.

Each field of ``Settings`` is declared once, with its environment variable: name, kind (and
with it the type, checked by mypy against the field's), default, bounds, whether it is a secret
with a ``NAME_FILE`` twin, and one line of documentation. ``VARIABLES`` lists them all, with
those only the container's entrypoint reads; the tests check ``.env.example`` and
``docs/configuration.md`` against it. A bad value raises ``ConfigError`` naming the variable, so
start-up stops with a message a person can act on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.config_features import FeatureSettings
from app.settings_spec import (
    VARIABLE_KEY,
    Choice,
    ConfigError,
    DatabaseUrl,
    Directory,
    ForEntrypoint,
    KeyList,
    Network,
    Networks,
    Number,
    Text,
    TimeZone,
    Url,
    Variable,
    Whole,
    declared,
    settings_class,
)

__all__ = [
    "HELLO_CLIENT_IPS",
    "UNSIGNED_EVENT_POLICIES",
    "VARIABLES",
    "ConfigError",
    "Network",
    "Settings",
    "Variable",
    "check_combination",
    "documented_names",
    "load_settings",
    "variables_set",
]


# The vendor's production webhook IPs, from its webhook document ("Webhook-Triggering IPs").
HELLO_CLIENT_IPS = ("138.91.187.181", "20.245.232.251", "51.116.103.131")

UNSIGNED_EVENT_POLICIES = ("reject", "quarantine", "accept-from-allowed-ips")

MB = 1024 * 1024


@settings_class
class Settings(FeatureSettings):
    """Every setting: the receiver's here, the features' downstream of it in ``FeatureSettings``."""

    host: str = declared(Text(name="HOST", default="0.0.0.0", doc="Address to listen on."))
    port: int = declared(
        Whole(name="PORT", default="8080", minimum=1, maximum=65535, doc="Port to listen on")
    )
    data_dir: Path = declared(
        Directory(
            name="DATA_DIR",
            default="data",
            doc="Where the SQLite database and other state live.",
        )
    )
    database_url: str = declared(
        DatabaseUrl(
            name="DATABASE_URL",
            secret=True,
            doc="The database: `sqlite:///…` or `postgresql+psycopg://user:pass@host/db`",
        )
    )
    database_busy_timeout: float = declared(
        Number(
            name="DATABASE_BUSY_TIMEOUT_SECONDS",
            default="5",
            minimum=0.05,
            maximum=600,
            doc="How long a write waits for a database locked by another process",
        )
    )
    ingest_process: str = declared(
        Choice(
            name="INGEST_PROCESS",
            default="on",
            choices=("on", "off"),
            doc="Whether leads are stored by a second process of the server's own:",
        )
    )
    base_url: str | None = declared(
        Url(name="BASE_URL", doc="Public address of the inbox, e.g. `https://inbox.example.com`")
    )
    tz: ZoneInfo = declared(
        TimeZone(
            name="TZ",
            default="UTC",
            doc="Time zone for showing times (an IANA name such as `Europe/Berlin`).",
        )
    )
    log_level: str = declared(
        Choice(
            name="LOG_LEVEL",
            default="info",
            choices=("debug", "info", "warning", "error"),
            doc="How much the server logs:",
        )
    )
    access_log: str = declared(
        Choice(
            name="ACCESS_LOG",
            default="requests",
            choices=("off", "errors", "requests", "all"),
            doc="Which requests the server logs (`requests`: all but static files, "
            "`/healthz` and the icon; `errors`: answers of 400 and above):",
        )
    )
    signing_keys: tuple[str, ...] = declared(
        KeyList(
            name="WEBHOOK_SIGNING_KEY",
            secret=True,
            doc="The **Sign Key** from Hello Client (Workspace → Webhook).",
        )
    )
    tolerance_seconds: int = declared(
        Whole(
            name="WEBHOOK_TOLERANCE_SECONDS",
            default="300",
            minimum=0,
            maximum=10 * 365 * 86400,
            doc="A signature's timestamp `t` further than this from the server's clock",
        )
    )
    allowed_networks: tuple[Network, ...] = declared(
        Networks(
            name="WEBHOOK_ALLOWED_IPS",
            aliases={"hello-client": HELLO_CLIENT_IPS},
            doc="IPs/CIDRs allowed to post to `/webhook`",
        )
    )
    trusted_proxies: tuple[Network, ...] = declared(
        Networks(
            name="TRUSTED_PROXIES",
            doc="IPs/CIDRs of reverse proxies whose `X-Forwarded-For` is believed.",
        )
    )
    unsigned_events: str = declared(
        Choice(
            name="UNSIGNED_EVENTS",
            default="quarantine",
            choices=UNSIGNED_EVENT_POLICIES,
            doc="Unsigned or unverifiable deliveries are answered 401 and:",
        )
    )
    max_body_bytes: int = declared(
        Whole(
            name="MAX_BODY_MB",
            default="256",
            minimum=1,
            maximum=4096,
            scale=MB,
            doc="Larger bodies are refused with 413.",
        )
    )
    quarantine_max_items: int = declared(
        Whole(
            name="QUARANTINE_MAX_ITEMS",
            default="500",
            minimum=0,
            maximum=10**6,
            doc="Most deliveries kept in the quarantine",
        )
    )
    quarantine_max_bytes: int = declared(
        Whole(
            name="QUARANTINE_MAX_MB",
            default="64",
            minimum=0,
            maximum=100_000,
            scale=MB,
            doc="Most bytes kept in the quarantine",
        )
    )
    quarantine_item_max_bytes: int = declared(
        Whole(
            name="QUARANTINE_ITEM_MAX_MB",
            default="8",
            minimum=0,
            maximum=100_000,
            scale=MB,
            doc="Largest body kept in the quarantine",
        )
    )
    quarantine_rate_per_minute: int = declared(
        Whole(
            name="QUARANTINE_RATE_PER_MINUTE",
            default="60",
            minimum=0,
            maximum=10**6,
            doc="Most deliveries quarantined per minute",
        )
    )
    http_header_timeout_seconds: float = declared(
        Number(
            name="HTTP_HEADER_TIMEOUT_SECONDS",
            default="10",
            minimum=0.1,
            maximum=3600,
            doc="A request whose headers are not complete this long after it starts",
        )
    )
    http_body_stall_seconds: float = declared(
        Number(
            name="HTTP_BODY_STALL_SECONDS",
            default="30",
            minimum=0.1,
            maximum=3600,
            doc="A request body from which no byte arrives for this long",
        )
    )
    http_max_connections: int = declared(
        Whole(
            name="HTTP_MAX_CONNECTIONS",
            default="512",
            minimum=8,
            maximum=10**6,
            doc="Most open client connections",
        )
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# Each Settings attribute and the variable it is read from.
SETTING_VARIABLES: Mapping[str, Variable[Any]] = {
    each.name: each.metadata[VARIABLE_KEY] for each in fields(Settings)
}

ENTRYPOINT_VARIABLES: tuple[Variable[str], ...] = (
    ForEntrypoint(
        name="PUID",
        default="1000",
        doc="Container only: the user id the inbox runs as and that owns every file in `/data`",
    ),
    ForEntrypoint(name="PGID", default="1000", doc="Container only: the group id, likewise"),
    ForEntrypoint(
        name="UMASK",
        default="022",
        doc="Container only: file-creation mask for what the inbox writes",
    ),
)

VARIABLES: tuple[Variable[Any], ...] = (*SETTING_VARIABLES.values(), *ENTRYPOINT_VARIABLES)


def documented_names() -> list[str]:
    """Every name a user may set, ``_FILE`` twins included."""
    names: list[str] = []
    for variable in VARIABLES:
        names.append(variable.name)
        if variable.secret:
            names.append(f"{variable.name}_FILE")
    return names


def variables_set(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The variables the environment sets (non-empty, or a secret's ``_FILE`` twin): these win
    over values saved under Settings in the browser (``app.live_settings``)."""
    source = os.environ if environ is None else environ
    return frozenset(
        each.name
        for each in VARIABLES
        if source.get(each.name, "").strip()
        or (each.secret and source.get(f"{each.name}_FILE", "").strip())
    )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    source = os.environ if environ is None else environ
    values = {attribute: each.read(source) for attribute, each in SETTING_VARIABLES.items()}
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{(values['data_dir'] / 'inbox.db').resolve()}"
    settings = Settings(**values)
    check_combination(settings)
    return settings


def check_combination(settings: Settings) -> None:
    """Values fine on their own that make no sense together."""
    if settings.unsigned_events == "accept-from-allowed-ips" and not settings.allowed_networks:
        raise ConfigError(
            "UNSIGNED_EVENTS: accept-from-allowed-ips needs WEBHOOK_ALLOWED_IPS "
            "(e.g. WEBHOOK_ALLOWED_IPS=hello-client)"
        )
    if settings.auth_header and not settings.trusted_proxies:
        raise ConfigError(
            "AUTH_HEADER: set TRUSTED_PROXIES to the proxy's address too; the header is "
            "believed only from there"
        )
