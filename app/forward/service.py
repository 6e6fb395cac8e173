"""The API behind Settings → Forwarding and ``python -m app forward-test``.

Everything here blocks (reads, writer jobs, real sends): from async code run it in the thread
pool. In the server the instance is ``app.state.forward``. Nothing returned carries a secret
except the two calls whose purpose is to show a new one once (``add_destination`` and
``rotate_secret``); URLs are masked and texts scrubbed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.forward import outbox, upkeep
from app.forward.destinations import (
    DEFAULT_KINDS,
    KINDS,
    Destination,
    DestinationError,
    EnvDestinations,
    Source,
    check_url,
    current,
    kind_flags,
    load_env,
    mask_url,
    new_db_key,
    new_secret,
    parse_headers,
)
from app.forward.views import AttemptView, DestinationView, TestResult, UnknownDestination
from app.forward.worker import attempt_values, send
from app.models import ForwardAttempt, ForwardDestination, ForwardOutbox, RowStatus, utcnow
from app.shapes import sample_lead

MAX_NAME_CHARS = 100


def _nobody() -> None:
    """The default ``wake``: without a worker (``forward-test``) nobody is waiting."""


class ForwardService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        env: EnvDestinations | None = None,
        *,
        wake: Callable[[], None] = _nobody,
    ) -> None:
        self.settings = settings
        self.db = db
        self.env = env or load_env(settings)
        self._wake = wake

    # ---- reading ------------------------------------------------------------------------

    def problems(self) -> list[str]:
        return list(self.env.problems)

    def destinations(self) -> dict[str, Destination]:
        with self.db.read() as connection:
            return current(connection, self.env, self.settings)

    def list_destinations(self) -> list[DestinationView]:
        with self.db.read() as connection:
            live = current(connection, self.env, self.settings)
            rows = {r.key: r for r in connection.execute(select(ForwardDestination)).all()}
            counts = upkeep.counts_by_destination(connection)
        views = [
            self._view(live.get(key), row, counts.get(key, {}))
            for key, row in rows.items()
            if key in live or counts.get(key)
        ]
        views += [self._view(d, None, {}) for key, d in live.items() if key not in rows]
        return sorted(views, key=lambda v: (v.source != Source.ENV, not v.present, v.name))

    def _view(self, live: Destination | None, row: Any, counts: dict[str, int]) -> DestinationView:
        assert live is not None or row is not None
        error = None
        if live is None:
            error = "no longer in FORWARD_URLS"
        elif live.error:
            error = live.error
        elif live.secret is None:
            error = "FORWARD_SECRET is not set"
        if live is not None:
            kinds, name, masked = live.kinds, live.name, live.url_masked
            headers, enabled, source = tuple(live.headers), live.enabled, live.source
        else:
            kinds = frozenset(k for k in KINDS if getattr(row, f"want_{k}"))
            name, masked, headers = row.name, row.url_masked, ()
            enabled, source = row.enabled, row.source
        return DestinationView(
            key=live.key if live is not None else row.key,
            source=source,
            name=name,
            url_masked=masked,
            kinds=tuple(k for k in KINDS if k in kinds),
            header_names=headers,
            enabled=enabled,
            editable=source == Source.DB,
            present=live is not None,
            error=error,
            disabled_reason=row.disabled_reason if row is not None and not enabled else None,
            failing_streak=row.failing_streak if row is not None else 0,
            last_error=row.last_error if row is not None else None,
            last_error_at=row.last_error_at if row is not None else None,
            last_success_at=row.last_success_at if row is not None else None,
            retry_at=row.retry_at if row is not None and row.failing_streak else None,
            pending=counts.get(RowStatus.PENDING, 0),
            sent=counts.get(RowStatus.SENT, 0),
            given_up=counts.get(RowStatus.FAILED, 0),
        )

    def get_destination(self, key: str) -> DestinationView:
        for view in self.list_destinations():
            if view.key == key:
                return view
        raise UnknownDestination(f"no forwarding destination {key!r}")

    def attempts(self, key: str, *, limit: int = 50) -> list[AttemptView]:
        query = (
            select(ForwardAttempt, col(ForwardOutbox.kind), col(ForwardOutbox.lead_id))
            .outerjoin(ForwardOutbox, col(ForwardOutbox.id) == col(ForwardAttempt.outbox_id))
            .where(col(ForwardAttempt.destination_key) == key)
            .order_by(col(ForwardAttempt.id).desc())
            .limit(max(1, min(limit, 500)))
        )
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        return [
            AttemptView(
                r.id,
                r.attempted_at,
                r.webhook_id,
                r.status_code,
                r.latency_ms,
                r.ok,
                r.error,
                r.response_excerpt,
                r.kind,
                r.lead_id,
            )
            for r in rows
        ]

    # ---- the browser's own destinations -------------------------------------------------

    def _row(self, connection: Connection, key: str, *, editable: bool = True) -> Any:
        row = connection.execute(
            select(ForwardDestination).where(col(ForwardDestination.key) == key)
        ).first()
        if row is None:
            raise UnknownDestination(f"no forwarding destination {key!r}")
        if editable and row.source != Source.DB:
            raise DestinationError("destinations from FORWARD_URLS are read-only here")
        return row

    def _checked_url(self, url: str, *, except_key: str | None = None) -> str:
        url = check_url(url, self.settings)
        if "#" in url:
            raise DestinationError("leave out the #fragment; choose the events below")
        for destination in self.destinations().values():
            if destination.url == url and destination.key != except_key:
                raise DestinationError(f"this URL is already a destination ({destination.name})")
        return url

    def add_destination(
        self,
        url: str,
        *,
        name: str = "",
        kinds: Iterable[str] = DEFAULT_KINDS,
        headers: str = "",
        enabled: bool = True,
    ) -> tuple[DestinationView, str]:
        """The new destination and its secret: shown once, never again."""
        checked = self._checked_url(url)
        flags, extra = kind_flags(kinds), parse_headers(headers)
        key, now, secret = new_db_key(), utcnow(), new_secret()
        masked = mask_url(checked)
        values = {
            "key": key,
            "source": Source.DB,
            "name": name.strip()[:MAX_NAME_CHARS] or masked,
            "url": checked,
            "url_masked": masked,
            "secret": secret,
            "headers": extra or None,
            "enabled": enabled,
            "present": True,
            "created_at": now,
            "updated_at": now,
            "failing_streak": 0,
            **flags,
        }
        self.db.writer.run_sync(lambda c: c.execute(insert(ForwardDestination).values(**values)))
        return self.get_destination(key), secret

    def update_destination(
        self,
        key: str,
        *,
        url: str | None = None,
        name: str | None = None,
        kinds: Iterable[str] | None = None,
        headers: str | None = None,
        enabled: bool | None = None,
    ) -> DestinationView:
        """Change what is given. Env destinations can only be switched on or off; a blank URL
        or headers text means "unchanged" (the stored ones are never shown to edit)."""
        with self.db.read() as connection:
            row = self._row(connection, key, editable=enabled is None)
        changes: dict[str, object] = {"updated_at": utcnow()}
        if row.source == Source.DB:
            if url is not None and url.strip() and url.strip() != row.url:
                checked = self._checked_url(url, except_key=key)
                changes |= {"url": checked, "url_masked": mask_url(checked), "retry_at": None}
                changes |= {"failing_streak": 0}
            if name is not None:
                changes["name"] = name.strip()[:MAX_NAME_CHARS] or row.url_masked
            if kinds is not None:
                changes |= kind_flags(kinds)
            if headers is not None and headers.strip():
                changes["headers"] = parse_headers(headers) or None
        if enabled is not None:
            changes["enabled"] = enabled
            if enabled:  # switched back on by a person: whatever disabled it is over
                changes |= {"disabled_reason": None, "retry_at": None, "failing_streak": 0}

        def job(connection: Connection) -> None:
            connection.execute(
                update(ForwardDestination).where(col(ForwardDestination.key) == key).values(changes)
            )
            if "url" in changes or enabled:
                upkeep.retry_now(connection, key, utcnow(), outbox.max_age(self.settings))

        self.db.writer.run_sync(job)
        self._wake()
        return self.get_destination(key)

    def clear_headers(self, key: str) -> DestinationView:
        with self.db.read() as connection:
            self._row(connection, key)
        self.db.writer.run_sync(
            lambda c: c.execute(
                update(ForwardDestination)
                .where(col(ForwardDestination.key) == key)
                .values(headers=None, updated_at=utcnow())
            )
        )
        return self.get_destination(key)

    def set_enabled(self, key: str, enabled: bool) -> DestinationView:
        return self.update_destination(key, enabled=enabled)

    def rotate_secret(self, key: str) -> str:
        """A new secret, from the next attempt on (shown once; the old one stops working)."""
        with self.db.read() as connection:
            self._row(connection, key)
        secret = new_secret()
        self.db.writer.run_sync(
            lambda c: c.execute(
                update(ForwardDestination)
                .where(col(ForwardDestination.key) == key)
                .values(secret=secret, updated_at=utcnow())
            )
        )
        return secret

    def remove_destination(self, key: str) -> None:
        """Delete a browser destination with its queue and log (pending rows are not sent)."""
        with self.db.read() as connection:
            self._row(connection, key)
        self.db.writer.run_sync(
            lambda c: c.execute(
                delete(ForwardDestination).where(col(ForwardDestination.key) == key)
            )
        )

    # ---- actions ------------------------------------------------------------------------

    def retry_now(self, key: str) -> int:
        with self.db.read() as connection:
            self._row(connection, key, editable=False)
        max_age = outbox.max_age(self.settings)
        count = self.db.writer.run_sync(lambda c: upkeep.retry_now(c, key, utcnow(), max_age))
        self._wake()
        return count

    def replay(
        self,
        keys: Sequence[str] | None = None,
        *,
        lead_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Queue one lead, or everything received in [since, until), again: to ``keys``, or to
        every enabled destination. Returns how many (record, destination) pairs were queued."""
        with self.db.read() as connection:
            rows = connection.execute(select(ForwardDestination)).all()
        known = {row.key: row for row in rows}
        if keys is not None:
            missing = [key for key in keys if key not in known]
            if missing:
                raise UnknownDestination(f"no forwarding destination {missing[0]!r}")
            chosen = [known[key] for key in keys]
        else:
            chosen = [row for row in rows if row.enabled and row.present]
        now, max_age = utcnow(), outbox.max_age(self.settings)
        count = self.db.writer.run_sync(
            lambda c: upkeep.replay(
                c, chosen, since=since, until=until, lead_id=lead_id, now=now, max_age=max_age
            )
        )
        self._wake()
        return count

    def send_test(self, keys: Sequence[str] | None = None) -> list[TestResult]:
        """A signed sample lead to the chosen destinations (each tried even when disabled) or
        to every enabled one; touches neither the outbox nor a destination's health."""
        live = self.destinations()
        chosen: list[Destination | str] = (
            [d for d in live.values() if d.enabled]
            if keys is None
            else [live.get(k, k) for k in keys]
        )
        body = json.dumps(sample_lead(), separators=(",", ":")).encode("utf-8")

        def attempt(target: Destination | str) -> TestResult:
            if isinstance(target, str):
                return TestResult(target, "", "", False, None, "no such destination", 0.0)
            if target.error or target.secret is None:
                problem = target.error or "FORWARD_SECRET is not set"
                return TestResult(
                    target.key, target.name, target.url_masked, False, None, problem, 0.0
                )
            answer = send(target, "msg_test_" + outbox.new_message_id()[4:], body, self.settings)
            values = attempt_values(target, None, "", answer, utcnow())
            return TestResult(
                target.key,
                target.name,
                target.url_masked,
                answer.ok,
                answer.status,
                values["error"],
                answer.elapsed,
            )

        if not chosen:
            return []
        with ThreadPoolExecutor(min(8, len(chosen)), thread_name_prefix="forward-test") as pool:
            return list(pool.map(attempt, chosen))
