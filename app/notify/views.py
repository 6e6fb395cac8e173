"""What the service API returns: plain, frozen, secret-free values a page can show as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models import RowStatus
from app.notify.kinds import KINDS, Source
from app.notify.targets import Target, TargetError, UnusableURL
from app.notify.templates import ResolvedTemplate


class UnknownTarget(LookupError):
    """No target has this key (removed meanwhile, or a typo)."""


class TemplateInvalid(ValueError):
    """A template does not compile or render; the message says where and why."""


__all__ = [
    "OutboxRowView",
    "TargetError",
    "TargetView",
    "TemplateInvalid",
    "TemplateView",
    "TestResult",
    "UnknownTarget",
    "UnusableURL",
]


@dataclass(frozen=True)
class TargetView:
    key: str
    source: str  # env (APPRISE_URLS), file (APPRISE_CONFIG), db (added in the UI)
    name: str
    url_masked: str
    service: str  # Apprise's service name: "ntfy", "Telegram", "E-Mail" …
    kinds: tuple[str, ...]  # subset of KINDS, in KINDS order: the checkboxes
    enabled: bool
    editable: bool  # only db targets; env/file ones are shown read-only
    present: bool  # False: left APPRISE_URLS/APPRISE_CONFIG, rows kept until they expire
    error: str | None  # the URL itself is unusable (Apprise's explanation)
    failing_streak: int  # consecutive failed sends; 0 when the last send succeeded
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    retry_at: datetime | None  # backoff: the next attempt, while failing
    pending: int
    sent: int
    summarised: int
    given_up: int

    @property
    def failing(self) -> bool:
        return self.failing_streak > 0


def target_view(target: Target | None, row: Any, counts: dict[str, int]) -> TargetView:
    """Merge the live target (may be None: left the configuration) and its row (may be None:
    not synced yet, e.g. in the CLI before the server first ran)."""
    assert target is not None or row is not None
    if target is not None:
        kinds = tuple(kind for kind in KINDS if kind in target.kinds)
        key, source, name = target.key, target.source, target.name
        url_masked, service, enabled = target.url_masked, target.service, target.enabled
        error, present = target.error, True
    else:
        assert row is not None
        kinds = tuple(kind for kind in KINDS if getattr(row, f"notify_{kind}"))
        key, source, name = row.key, row.source, row.name
        url_masked, service, enabled = row.url_masked, row.service, row.enabled
        error, present = "no longer in the configuration", False
    return TargetView(
        key=key,
        source=source,
        name=name,
        url_masked=url_masked,
        service=service,
        kinds=kinds,
        enabled=enabled,
        editable=source == Source.DB,
        present=present,
        error=error,
        failing_streak=row.failing_streak if row else 0,
        last_error=row.last_error if row else None,
        last_error_at=row.last_error_at if row else None,
        last_success_at=row.last_success_at if row else None,
        retry_at=row.retry_at if row and row.failing_streak else None,
        pending=counts.get(RowStatus.PENDING, 0),
        sent=counts.get(RowStatus.SENT, 0),
        summarised=counts.get(RowStatus.SUMMARISED, 0),
        given_up=counts.get(RowStatus.FAILED, 0),
    )


@dataclass(frozen=True)
class TestResult:
    """One target's answer to "Send test notification"."""

    __test__ = False  # not a pytest test class, despite the name

    key: str
    name: str
    url_masked: str
    ok: bool
    error: str | None  # Apprise's own words, secrets scrubbed
    elapsed: float  # seconds


@dataclass(frozen=True)
class TemplateView:
    kind: str  # lead, appointment, chatlog, summary
    part: str  # title, body
    text: str  # what is used now
    origin: str  # default, file, ui
    default: str  # the built-in text ("reset" shows this)
    path: str  # the DATA_DIR file that would override the default

    @classmethod
    def of(cls, item: ResolvedTemplate) -> TemplateView:
        return cls(item.kind, item.part, item.text, item.origin, item.default, str(item.path))


@dataclass(frozen=True)
class OutboxRowView:
    id: int
    target_key: str
    kind: str
    lead_id: int | None
    delivery_id: int | None  # chat-log summaries
    status: str  # pending, sent, summarised, failed
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: Any) -> OutboxRowView:
        """From a ``notify_outbox`` row."""
        assert row.id is not None
        return cls(
            row.id,
            row.target_key,
            row.kind,
            row.lead_id,
            row.delivery_id,
            row.status,
            row.attempts,
            row.created_at,
            row.next_attempt_at,
            row.last_attempt_at,
            row.sent_at,
            row.last_error,
        )
