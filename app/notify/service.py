"""The service API behind Settings → Notifications (and ``python -m app notify-test``).

Everything here is blocking (database reads, writer jobs, real sends): from async code call it
with ``await run_in_threadpool(service.method, ...)``. In the server the instance is
``app.state.notify``. Nothing returned carries a secret: URLs are Apprise's privacy-masked form
and error texts are scrubbed of each target's secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import Connection, delete, insert, select, update
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.live_settings import LiveSettings
from app.models import NotifyOutbox, NotifyTarget, utcnow
from app.notify import outbox, templates
from app.notify.kinds import DEFAULT_KINDS, KINDS, Source
from app.notify.masking import as_written
from app.notify.render import Message, Renderer, sample_context
from app.notify.send import send
from app.notify.suggest import schemas, suggestions
from app.notify.targets import (
    Target,
    TargetError,
    TargetRegistry,
    UnusableURL,
    instantiate,
    new_db_key,
    plugin_url,
)
from app.notify.views import (
    OutboxRowView,
    TargetView,
    TemplateInvalid,
    TemplateView,
    TestResult,
    UnknownTarget,
    target_view,
)

TEST_PREFIX = "[Test] "
MAX_NAME_CHARS = 100


def _nobody() -> None:
    """The default ``wake``: without a worker (``notify-test``) nobody is waiting."""


class NotifyService:
    """``wake`` is told when rows are due now (a target fixed, "retry now"): in the server,
    the worker's; ``registry`` is shared with that worker."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: TargetRegistry | None = None,
        *,
        wake: Callable[[], None] = _nobody,
        live: LiveSettings | None = None,
    ) -> None:
        self.live = live or LiveSettings(settings)
        self.db = db
        self.registry = registry or TargetRegistry(settings)
        self._wake = wake

    @property
    def settings(self) -> Settings:
        """In force now: a test message carries the BASE_URL and TZ saved in the browser."""
        return self.live.current

    # ---- targets: reading ---------------------------------------------------------------

    def problems(self) -> list[str]:
        """What is wrong with APPRISE_URLS/APPRISE_CONFIG (shown above the target list)."""
        return list(self.registry.config.problems)

    def current_targets(self, connection: Connection | None = None) -> dict[str, Target]:
        """Configured targets plus DB targets, by key (what the worker can send to)."""
        if connection is None:
            with self.db.read() as connection:
                return self.registry.current(connection)
        return self.registry.current(connection)

    def list_targets(self) -> list[TargetView]:
        """Configured targets first (read-only), then the UI's own, each with its health."""
        with self.db.read() as connection:
            targets = self.current_targets(connection)
            rows = {row.key: row for row in connection.execute(select(NotifyTarget)).all()}
            counts = outbox.counts_by_target(connection)
        views = [
            target_view(target, rows.get(target.key), counts.get(target.key, {}))
            for target in targets.values()
        ]
        # Configured targets that left the configuration but still have rows: shown, not sent.
        for key, row in rows.items():
            if key not in targets and row.source != Source.DB and counts.get(key):
                views.append(target_view(None, row, counts[key]))
        order = {Source.ENV: 0, Source.FILE: 1, Source.DB: 2}
        return sorted(views, key=lambda v: (order.get(v.source, 3), not v.present))

    def get_target(self, key: str) -> TargetView:
        for view in self.list_targets():
            if view.key == key:
                return view
        raise UnknownTarget(f"no notification target {key!r}")

    def outbox_rows(
        self, key: str | None = None, *, status: str | None = None, limit: int = 50
    ) -> list[OutboxRowView]:
        """Newest outbox rows, optionally of one target and/or one status."""
        query = select(NotifyOutbox).order_by(col(NotifyOutbox.id).desc()).limit(max(1, limit))
        if key is not None:
            query = query.where(col(NotifyOutbox.target_key) == key)
        if status is not None:
            query = query.where(col(NotifyOutbox.status) == status)
        with self.db.read() as connection:
            return [OutboxRowView.of(row) for row in connection.execute(query).all()]

    # ---- targets: the UI's own ----------------------------------------------------------

    def _checked_url(self, url: str, *, except_key: str | None = None) -> Target:
        url = url.strip()
        if not url:
            raise TargetError("enter an Apprise URL, e.g. ntfy://ntfy.sh/my-topic")
        plugin, reason = instantiate(url, self.registry.asset)
        if plugin is None:
            raise self._unusable(url, reason)
        normalised = plugin_url(plugin)
        for target in self.current_targets().values():
            same = target.plugin is not None and plugin_url(target.plugin) == normalised
            if same and target.key != except_key:
                raise TargetError(f"this URL is already a target ({target.name}, {target.source})")
        return Target(
            key="",
            source=Source.DB,
            name=str(plugin.service_name or ""),
            url_masked=as_written(url, plugin),
            service=str(plugin.service_name or ""),
            kinds=frozenset(),
            plugin=plugin,
        )

    def _unusable(self, url: str, reason: str) -> UnusableURL:
        """Why Apprise cannot use ``url``, in words, with what was probably meant."""
        scheme, sep, _ = url.partition("://")
        if not sep:
            reason = "it needs a service and ://, like ntfys://, tgram:// or mailtos://"
        elif scheme.lower() not in schemas():
            reason = f"Apprise knows no service {scheme!r}"
        meant = suggestions(url, self.registry.asset)
        shown = tuple(as_written(guess.url, guess.plugin) for guess in meant)
        hint = f"; did you mean {' or '.join(shown)}?" if shown else ""
        return UnusableURL(
            f"Apprise cannot use this URL: {reason}{hint}",
            tuple(guess.url for guess in meant),
            shown,
        )

    @staticmethod
    def _kinds(kinds: Iterable[str]) -> dict[str, bool]:
        chosen = {kind.strip().lower() for kind in kinds}
        unknown = chosen - set(KINDS)
        if unknown:
            raise TargetError(
                f"unknown kind(s) {', '.join(sorted(unknown))}; use {', '.join(KINDS)}"
            )
        return {f"notify_{kind}": kind in chosen for kind in KINDS}

    def _db_row(self, connection: Connection, key: str) -> Any:
        """The ``notify_target`` row (a Core row) of a UI target."""
        row = connection.execute(select(NotifyTarget).where(col(NotifyTarget.key) == key)).first()
        if row is None:
            raise UnknownTarget(f"no notification target {key!r}")
        if row.source != Source.DB:
            raise TargetError("targets from APPRISE_URLS or APPRISE_CONFIG are read-only here")
        return row

    def add_target(
        self,
        url: str,
        *,
        name: str = "",
        kinds: Iterable[str] = DEFAULT_KINDS,
        enabled: bool = True,
    ) -> TargetView:
        checked = self._checked_url(url)
        flags = self._kinds(kinds)
        key, now = new_db_key(), utcnow()
        values = {
            "key": key,
            "source": Source.DB,
            "name": name.strip()[:MAX_NAME_CHARS] or checked.name,
            "url": url.strip(),
            "url_masked": checked.url_masked,
            "service": checked.service,
            "enabled": enabled,
            "present": True,
            "created_at": now,
            "updated_at": now,
            "failing_streak": 0,
            **flags,
        }
        self.db.writer.run_sync(lambda c: c.execute(insert(NotifyTarget).values(**values)))
        return self.get_target(key)

    def update_target(
        self,
        key: str,
        *,
        url: str | None = None,
        name: str | None = None,
        kinds: Iterable[str] | None = None,
        enabled: bool | None = None,
    ) -> TargetView:
        """Change what is given; a URL equal to the masked one shown means "unchanged"."""
        with self.db.read() as connection:
            row = self._db_row(connection, key)
        changes: dict[str, object] = {"updated_at": utcnow()}
        if url is not None and url.strip() and url.strip() not in (row.url, row.url_masked):
            checked = self._checked_url(url, except_key=key)
            changes |= {
                "url": url.strip(),
                "url_masked": checked.url_masked,
                "service": checked.service,
                "failing_streak": 0,
                "retry_at": None,
            }
        if name is not None:
            changes["name"] = name.strip()[:MAX_NAME_CHARS] or row.service
        if kinds is not None:
            changes |= self._kinds(kinds)
        if enabled is not None:
            changes["enabled"] = enabled

        def job(connection: Connection) -> None:
            connection.execute(
                update(NotifyTarget).where(col(NotifyTarget.key) == key).values(changes)
            )
            if "url" in changes:  # a fixed URL deserves an immediate try of what is waiting
                outbox.retry_now(connection, key, utcnow(), outbox.max_age(self.settings))

        self.db.writer.run_sync(job)
        self._wake()
        return self.get_target(key)

    def set_enabled(self, key: str, enabled: bool) -> TargetView:
        return self.update_target(key, enabled=enabled)

    def remove_target(self, key: str) -> None:
        """Delete a UI target and its outbox rows (pending ones are dropped, not sent)."""
        with self.db.read() as connection:
            self._db_row(connection, key)

        def job(connection: Connection) -> None:
            connection.execute(delete(NotifyOutbox).where(col(NotifyOutbox.target_key) == key))
            connection.execute(delete(NotifyTarget).where(col(NotifyTarget.key) == key))

        self.db.writer.run_sync(job)

    # ---- actions ------------------------------------------------------------------------

    def retry_now(self, key: str) -> int:
        """Send the target's pending (and given-up) rows now; returns how many were queued."""
        with self.db.read() as connection:
            if (
                connection.execute(
                    select(col(NotifyTarget.id)).where(col(NotifyTarget.key) == key)
                ).first()
                is None
            ):
                raise UnknownTarget(f"no notification target {key!r}")
        max_age = outbox.max_age(self.settings)
        count = self.db.writer.run_sync(lambda c: outbox.retry_now(c, key, utcnow(), max_age))
        self._wake()
        return count

    def send_test(
        self, keys: Sequence[str] | None = None, *, kind: str = "lead"
    ) -> list[TestResult]:
        """A real notification (sample ``kind``) to the chosen targets, each one's own result.

        Without ``keys``: every enabled target that takes ``kind``. Explicitly chosen targets
        are tried even when disabled, so a target can be checked before it is switched on.
        Tests touch no outbox row; each records its target's last success (or last error), but
        not its failing streak, which is the worker's to judge.
        """
        if kind not in (*KINDS, "summary"):
            raise TargetError(f"unknown kind {kind!r}")
        with self.db.read() as connection:
            targets = self.current_targets(connection)
            renderer = self.renderer(connection)
        if keys is None:
            chosen: list[Target | str] = [
                t for t in targets.values() if t.enabled and (kind in t.kinds or kind == "summary")
            ]
        else:
            chosen = [targets.get(key, key) for key in keys]
        context = sample_context(kind, self.settings)

        def attempt(target: Target | str) -> TestResult:
            if isinstance(target, str):
                return TestResult(target, "", "", False, "no such notification target", 0.0)
            message = renderer.render(kind, context, target.plugin)
            message = Message(TEST_PREFIX + message.title, message.body, message.notify_type)
            result = send(target, message)
            return TestResult(
                target.key, target.name, target.url_masked, result.ok, result.error, result.elapsed
            )

        if not chosen:
            return []
        with ThreadPoolExecutor(min(8, len(chosen)), thread_name_prefix="notify-test") as pool:
            results = list(pool.map(attempt, chosen))
        now = utcnow()
        self.db.writer.run_sync(lambda c: _record_tests(c, results, now))
        return results

    # ---- templates ----------------------------------------------------------------------

    def renderer(self, connection: Connection | None = None) -> Renderer:
        if connection is None:
            with self.db.read() as connection:
                return Renderer.load(connection, self.settings)
        return Renderer.load(connection, self.settings)

    def list_templates(self) -> list[TemplateView]:
        with self.db.read() as connection:
            resolved = templates.resolve_all(connection, self.settings)
        return [TemplateView.of(item) for item in resolved.values()]

    def _check(self, kind: str, part: str, text: str) -> str:
        try:
            return templates.check(kind, part, text, sample_context(kind, self.settings))
        except TemplateError as exc:
            raise TemplateInvalid(f"{kind} {part}: {exc}") from None
        except Exception as exc:  # the sandbox or a filter may raise anything on bad input
            raise TemplateInvalid(f"{kind} {part}: {type(exc).__name__}: {exc}") from None

    def set_template(self, kind: str, part: str, text: str | None) -> TemplateView:
        """Save a UI override after checking it renders; ``None``/blank restores file/default."""
        if text is not None and text.strip():
            self._check(kind, part, text)
        elif kind not in templates.TEMPLATE_KINDS or part not in templates.PARTS:
            raise TemplateInvalid(f"unknown template {kind}.{part}")
        now = utcnow()
        self.db.writer.run_sync(lambda c: templates.save(c, kind, part, text, now))
        return next(t for t in self.list_templates() if (t.kind, t.part) == (kind, part))

    def preview(self, kind: str, *, title: str | None = None, body: str | None = None) -> Message:
        """Render the sample ``kind`` with unsaved title/body texts (or the current ones)."""
        for part, text in (("title", title), ("body", body)):
            if text is not None:
                self._check(kind, part, text)
        context = sample_context(kind, self.settings)
        renderer = self.renderer()
        current = renderer.text
        return Message(
            " ".join(
                (
                    templates.render_text(title, context)
                    if title is not None
                    else current(kind, "title", context)
                ).split()
            ),
            templates.render_text(body, context)
            if body is not None
            else current(kind, "body", context),
        )


def _record_tests(connection: Connection, results: Iterable[TestResult], now: datetime) -> None:
    for result in results:
        if result.ok:
            values: dict[str, object] = {"last_success_at": now}
        else:
            values = {"last_error": result.error, "last_error_at": now}
        connection.execute(
            update(NotifyTarget).where(col(NotifyTarget.key) == result.key).values(values)
        )
