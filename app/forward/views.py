"""What the service returns: plain, frozen, secret-free values a page can show as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class UnknownDestination(LookupError):
    """No destination has this key (removed meanwhile, or a typo)."""


@dataclass(frozen=True)
class DestinationView:
    key: str
    source: str  # env (FORWARD_URLS), db (added in the browser)
    name: str
    url_masked: str
    kinds: tuple[str, ...]
    header_names: tuple[str, ...]  # values are secrets: never shown
    enabled: bool
    editable: bool
    present: bool
    error: str | None  # cannot be used as configured
    disabled_reason: str | None
    failing_streak: int
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    retry_at: datetime | None
    pending: int
    sent: int
    given_up: int


@dataclass(frozen=True)
class AttemptView:
    id: int
    attempted_at: datetime
    webhook_id: str
    status_code: int | None
    latency_ms: int
    ok: bool
    error: str | None
    response_excerpt: str | None
    kind: str | None
    lead_id: int | None


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    key: str
    name: str
    url_masked: str
    ok: bool
    status: int | None
    error: str | None
    elapsed: float
