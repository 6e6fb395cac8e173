"""The settings of the features downstream of the receiver: the inbox's sign-in, notifications,
forwarding, metrics. ``app.config.Settings`` inherits them; each is declared once, as there."""

from __future__ import annotations

from pathlib import Path

from app.settings_spec import (
    Choice,
    Number,
    OptionalPath,
    OptionalText,
    Text,
    Whole,
    declared,
    settings_class,
)


@settings_class
class FeatureSettings:
    inbox_username: str = declared(
        Text(name="INBOX_USERNAME", default="admin", doc="The inbox's admin user name.")
    )
    inbox_password: str | None = declared(
        OptionalText(name="INBOX_PASSWORD", secret=True, doc="The admin password.")
    )
    api_token: str | None = declared(
        OptionalText(name="API_TOKEN", secret=True, doc="Bearer token for the read-only JSON API.")
    )
    metrics_token: str | None = declared(
        OptionalText(
            name="METRICS_TOKEN",
            secret=True,
            doc="Bearer token for `GET /metrics` (Prometheus); `API_TOKEN` is accepted too.",
        )
    )
    apprise_urls: str | None = declared(
        OptionalText(
            name="APPRISE_URLS",
            secret=True,
            doc="Apprise notification URLs, separated by commas, spaces or newlines.",
        )
    )
    apprise_config: Path | None = declared(
        OptionalPath(
            name="APPRISE_CONFIG", doc="Path of an Apprise config file (TEXT or YAML, with tags)."
        )
    )
    # Notifications (app.notify): per-target rate limit, retry backoff, chat-log/config polling.
    notify_rate_limit: int = declared(
        Whole(
            name="NOTIFY_RATE_LIMIT",
            default="10",
            minimum=1,
            maximum=100_000,
            doc="Most notifications one target gets within `NOTIFY_RATE_WINDOW_SECONDS`",
        )
    )
    notify_rate_window_seconds: float = declared(
        Number(
            name="NOTIFY_RATE_WINDOW_SECONDS",
            default="60",
            minimum=0.1,
            maximum=86400,
            doc="The sliding window `NOTIFY_RATE_LIMIT` counts over.",
        )
    )
    notify_retry_first_seconds: float = declared(
        Number(
            name="NOTIFY_RETRY_FIRST_SECONDS",
            default="30",
            minimum=0.05,
            maximum=86400,
            doc="Delay before the first retry of a failed notification; doubles with each failure.",
        )
    )
    notify_retry_cap_seconds: float = declared(
        Number(
            name="NOTIFY_RETRY_CAP_SECONDS",
            default="3600",
            minimum=0.05,
            maximum=7 * 86400,
            doc="Longest delay between retries.",
        )
    )
    notify_retry_max_hours: float = declared(
        Number(
            name="NOTIFY_RETRY_MAX_HOURS",
            default="24",
            minimum=0.0001,
            maximum=24 * 365,
            doc="A notification not accepted within this many hours is given up",
        )
    )
    notify_poll_seconds: float = declared(
        Number(
            name="NOTIFY_POLL_SECONDS",
            default="15",
            minimum=0.05,
            maximum=3600,
            doc="How often the notifier looks for finished chat-log pushes, expired rows",
        )
    )
    # Forwarding (app.forward): signed POSTs of every record to the user's own systems.
    forward_urls: str | None = declared(
        OptionalText(
            name="FORWARD_URLS",
            secret=True,
            doc="URLs every lead and appointment is also POSTed to (CRM, n8n…), comma-separated",
        )
    )
    forward_secret: str | None = declared(
        OptionalText(
            name="FORWARD_SECRET",
            secret=True,
            doc="The `whsec_…` secret signing what goes to `FORWARD_URLS` (Standard Webhooks).",
        )
    )
    forward_retry_first_seconds: float = declared(
        Number(
            name="FORWARD_RETRY_FIRST_SECONDS",
            default="10",
            minimum=0.05,
            maximum=86400,
            doc="Delay before the first retry of a failed forward; doubles with each failure.",
        )
    )
    forward_retry_cap_seconds: float = declared(
        Number(
            name="FORWARD_RETRY_CAP_SECONDS",
            default="3600",
            minimum=0.05,
            maximum=7 * 86400,
            doc="Longest delay between forwarding retries.",
        )
    )
    forward_retry_max_hours: float = declared(
        Number(
            name="FORWARD_RETRY_MAX_HOURS",
            default="72",
            minimum=0.0001,
            maximum=24 * 365,
            doc="A forward not accepted within this many hours is given up",
        )
    )
    forward_timeout_seconds: float = declared(
        Number(
            name="FORWARD_TIMEOUT_SECONDS",
            default="10",
            minimum=0.1,
            maximum=300,
            doc="How long one forwarding request may take to connect, and to answer.",
        )
    )
    forward_poll_seconds: float = declared(
        Number(
            name="FORWARD_POLL_SECONDS",
            default="15",
            minimum=0.05,
            maximum=3600,
            doc="How often the forwarder looks for expired rows and FORWARD_URLS problems",
        )
    )
    # Web UI sign-in: "none" only when explicitly set.
    auth: str = declared(
        Choice(
            name="AUTH",
            default="login",
            choices=("login", "none"),
            doc="How the web UI signs people in.",
        )
    )
    auth_header: str | None = declared(
        OptionalText(
            name="AUTH_HEADER",
            doc="For an auth proxy (Authelia, Authentik, oauth2-proxy…): the request header",
        )
    )
    session_idle_hours: float = declared(
        Number(
            name="SESSION_IDLE_HOURS",
            default="24",
            minimum=0.0005,
            maximum=24 * 90,
            doc="A signed-in session not used for this many hours ends",
        )
    )
