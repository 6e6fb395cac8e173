"""Where notifications go: Apprise targets from the environment, a config file, the database.

Each target is one Apprise plugin instance, sent through its own ``Apprise`` object so its own
success or failure is known. Targets from APPRISE_URLS/APPRISE_CONFIG have no database id, so
their key is a hash of Apprise's normalised URL: stable across restarts, and the same URL listed
twice is one target. Secrets never leave this module unmasked except towards Apprise itself.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import apprise
from apprise.manager_plugins import NotificationManager
from apprise.utils.parse import parse_urls
from sqlalchemy import Connection, select
from sqlmodel import col

from app import logs
from app.config import Settings
from app.models import NotifyTarget
from app.notify.kinds import DEFAULT_KINDS, KINDS, Source
from app.notify.masking import as_written, pieces, plugin_url, secrets_of, without_defaults

log = logging.getLogger(__name__)

# Apprise reports a URL it cannot use through its logger, not through an exception; capturing
# that logger is global, so two validations at once must not read each other's lines.
_CAPTURE_LOCK = threading.Lock()

__all__ = ["plugin_url"]  # re-exported: the service compares targets by Apprise's own form


class TargetError(ValueError):
    """A target cannot be used or changed as asked; the message is for the person asking."""


class UnusableURL(TargetError):
    """Apprise cannot use the URL; ``suggestions`` are URLs it accepts that were probably meant
    (raw: they hold what the person typed), ``shown`` the same with their secrets masked."""

    def __init__(
        self, message: str, suggestions: tuple[str, ...] = (), shown: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.suggestions = suggestions
        self.shown = shown


def make_asset(settings: Settings) -> apprise.AppriseAsset:
    return apprise.AppriseAsset(
        app_id="Hello Client inbox",
        app_desc="Hello Client inbox: new leads and appointments",
        app_url=settings.base_url or "https://github.com/caronc/apprise",
    )


@dataclass(eq=False)
class Target:
    """A usable (or visibly broken) target, with everything needed to send and to show it."""

    key: str
    source: str
    name: str
    url_masked: str
    service: str
    kinds: frozenset[str]
    enabled: bool = True
    plugin: apprise.NotifyBase | None = None  # None: Apprise could not use the URL
    error: str | None = None  # why the URL is unusable
    secrets: tuple[str, ...] = ()
    # One send at a time per target: plugin instances keep per-connection state (throttling).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def usable(self) -> bool:
        return self.enabled and self.plugin is not None

    def scrub(self, text: str) -> str:
        """Remove this target's secrets from text bound for logs, pages or the database."""
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text


# Apprise does not annotate these; their types are stated here, once.
_parse_urls = cast(Callable[[str], list[str]], parse_urls)
_LogCapture = cast(Callable[..., AbstractContextManager[StringIO]], apprise.LogCapture)
# Its plugin registry (a process-wide singleton), also read by ``suggest`` and ``chooser``.
plugins = cast(Callable[[], Any], NotificationManager)


def mask(url: str) -> str:
    """A URL Apprise cannot use: which of its parts are secret is unknown, so all are."""
    scheme, sep, _rest = url.strip().partition("://")
    return f"{scheme}://****" if sep and re.fullmatch(r"[A-Za-z][\w+.-]*", scheme) else "****"


def target_secrets(plugin: apprise.NotifyBase) -> tuple[str, ...]:
    """The plugin's secrets, from now on kept out of every log line (``app.logs``)."""
    found = secrets_of(plugin)
    logs.hide(found)
    return found


# At DEBUG Apprise logs request URLs and payloads, bot tokens included: its own records lose
# the known secrets before any handler (its per-call captures too) sees them.
logging.getLogger(apprise.LOGGER_NAME).addFilter(logs.SCRUBBER)


def instantiate(url: str, asset: apprise.AppriseAsset) -> tuple[apprise.NotifyBase | None, str]:
    """Apprise's plugin for ``url``, or None with Apprise's own explanation of why not."""
    with _capturing(_typed_parts(url)) as captured:
        plugin = apprise.Apprise.instantiate(url.strip(), asset=asset)
    if plugin is not None:
        return plugin, ""
    reason = " ".join(line for line in captured.getvalue().splitlines() if line.strip())
    scheme = url.strip().partition("://")[0]
    return None, reason or f"Apprise does not know the service {scheme!r}"


def _typed_parts(url: str) -> tuple[str, ...]:
    """The whole of a typed URL and every sizeable piece of it: which parts are secret is
    unknown while Apprise cannot parse it, so all of them are hidden in what it logs."""
    url = url.strip()
    parts = {p for p in (url, unquote(url)) if p}
    parts.update(pieces(url.partition("://")[2] or url))
    return tuple(parts)


def _url_parts(text: str) -> tuple[str, ...]:
    """Every sizeable piece of the URLs in a configuration file's ``text``."""
    parts: set[str] = set()
    for found in re.findall(r"[a-zA-Z][\w+.-]*://\S+", text):
        parts.update(_typed_parts(found))
    return tuple(parts)


@contextmanager
def _capturing(hidden: Iterable[str]) -> Iterator[StringIO]:
    """Capture Apprise's log lines (its only way to say why a URL is unusable) with ``hidden``
    scrubbed, there and in the server log, for the duration."""
    scrubber = logs.SecretScrubber()
    scrubber.hide(hidden)
    logger = logging.getLogger(apprise.LOGGER_NAME)
    with _CAPTURE_LOCK:
        logger.addFilter(scrubber)
        try:
            with _LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
                yield captured
        finally:
            logger.removeFilter(scrubber)


def kinds_from_tags(tags: Iterable[object]) -> frozenset[str]:
    """Apprise tags route by kind; a target with none of our tags gets leads and appointments."""
    ours = frozenset(str(tag).strip().lower() for tag in tags) & frozenset(KINDS)
    return ours or DEFAULT_KINDS


def config_key(plugin: apprise.NotifyBase) -> str:
    return "cfg:" + hashlib.sha256(plugin_url(plugin).encode("utf-8")).hexdigest()[:32]


def new_db_key() -> str:
    return "db:" + secrets.token_hex(8)


def _config_target(
    plugin: apprise.NotifyBase, source: str, asset: apprise.AppriseAsset, written: str = ""
) -> Target:
    """``written``: the URL as APPRISE_URLS gives it (a file's entries are not at hand)."""
    found = target_secrets(plugin)
    return Target(
        key=config_key(plugin),
        source=source,
        name=plugin.service_name or plugin.protocol or "target",
        url_masked=(
            as_written(written, plugin, found) if written else without_defaults(plugin, asset)
        ),
        service=str(plugin.service_name or ""),
        kinds=kinds_from_tags(plugin.tags),
        plugin=plugin,
        secrets=found,
    )


@dataclass
class ConfigTargets:
    """What APPRISE_URLS and APPRISE_CONFIG describe, plus any problem found reading them."""

    targets: list[Target]
    problems: list[str]
    config_mtime: float | None


def load_config_targets(settings: Settings, asset: apprise.AppriseAsset) -> ConfigTargets:
    by_key: dict[str, Target] = {}
    problems: list[str] = []
    for number, url in enumerate(_parse_urls(settings.apprise_urls or ""), start=1):
        plugin, reason = instantiate(url, asset)
        if plugin is None:
            problems.append(f"APPRISE_URLS entry {number} ({mask(url)}): {reason}")
            continue
        target = _config_target(plugin, Source.ENV, asset, url)
        by_key.setdefault(target.key, target)
    mtime: float | None = None
    path = settings.apprise_config
    if path is not None:
        try:
            mtime = path.stat().st_mtime
            path.read_bytes()  # Apprise would skip an unreadable file silently; say so instead
        except OSError as exc:
            problems.append(f"APPRISE_CONFIG: cannot read {str(path)!r}: {exc.strerror}")
        else:
            for plugin in _file_services(path, asset, problems):
                target = _config_target(plugin, Source.FILE, asset)
                if target.key in by_key:  # listed in both: one target, tags from both
                    known = by_key[target.key]
                    known.kinds = known.kinds | target.kinds if plugin.tags else known.kinds
                else:
                    by_key[target.key] = target
    return ConfigTargets(list(by_key.values()), problems, mtime)


def _file_services(
    path: Path, asset: apprise.AppriseAsset, problems: list[str]
) -> list[apprise.NotifyBase]:
    config = apprise.AppriseConfig(asset=asset)
    try:
        hidden = _url_parts(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        hidden = ()
    with _capturing(hidden) as captured:
        config.add(str(path.resolve()))
        services = list(config.services())
    for line in captured.getvalue().splitlines():
        if line.strip():
            problems.append(f"APPRISE_CONFIG: {line.strip()}")
    if not services:
        problems.append(f"APPRISE_CONFIG: {str(path)!r} holds no URL Apprise can use")
    return services


def db_target(row: Any, asset: apprise.AppriseAsset) -> Target:
    """A target added in the web UI, from its ``notify_target`` row."""
    kinds = frozenset(
        kind for kind in KINDS if getattr(row, f"notify_{kind}", False)
    )  # stored as three booleans so the enqueue hook can filter in SQL
    url = row.url or ""
    plugin, reason = instantiate(url, asset)
    found = target_secrets(plugin) if plugin is not None else _typed_parts(url)
    return Target(
        key=row.key,
        source=Source.DB,
        name=row.name or row.service,
        url_masked=as_written(url, plugin, found) if plugin is not None else mask(url),
        service=row.service,
        kinds=kinds,
        enabled=row.enabled,
        plugin=plugin,
        error=None if plugin is not None else reason,
        secrets=found,
    )


class TargetRegistry:
    """Every target by key: configured ones loaded once (the file again when it changes), DB
    ones re-read on each call and rebuilt only when their row changed, so a target keeps one
    plugin instance and one lock while it stays the same."""

    def __init__(self, settings: Settings, asset: apprise.AppriseAsset | None = None) -> None:
        self.settings = settings
        self.asset = asset or make_asset(settings)
        self.config = load_config_targets(settings, self.asset)
        self._db: dict[str, tuple[tuple[object, ...], Target]] = {}
        self._lock = threading.Lock()
        for problem in self.config.problems:
            log.error("notifications: %s", problem)

    def reload_config_if_changed(self) -> bool:
        path = self.settings.apprise_config
        if path is None:
            return False
        try:
            mtime: float | None = path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime == self.config.config_mtime:
            return False
        fresh = load_config_targets(self.settings, self.asset)
        with self._lock:
            # Keep the instances (and locks) of targets that did not change.
            known = {target.key: target for target in self.config.targets}
            fresh.targets = [known.get(target.key, target) for target in fresh.targets]
            self.config = fresh
        for problem in fresh.problems:
            log.error("notifications: %s", problem)
        log.info("notifications: APPRISE_CONFIG changed; %d target(s) now", len(fresh.targets))
        return True

    def current(self, connection: Connection) -> dict[str, Target]:
        """Configured targets plus the UI's own (read afresh), by key: what can be sent to."""
        rows = connection.execute(
            select(NotifyTarget).where(col(NotifyTarget.source) == Source.DB)
        ).all()
        found = {target.key: target for target in self.config.targets}
        for target in self.db_targets(rows):
            found[target.key] = target
        return found

    def db_targets(self, rows: Iterable[Any]) -> list[Target]:
        found: list[Target] = []
        with self._lock:
            seen: set[str] = set()
            for row in rows:
                signature = (
                    row.url,
                    row.name,
                    row.enabled,
                    row.notify_lead,
                    row.notify_appointment,
                    row.notify_chatlog,
                )
                cached = self._db.get(row.key)
                if cached is None or cached[0] != signature:
                    target = db_target(row, self.asset)
                    if cached is not None:
                        target.lock = cached[1].lock  # an edit must not allow two sends at once
                    cached = (signature, target)
                    self._db[row.key] = cached
                found.append(cached[1])
                seen.add(row.key)
            for key in set(self._db) - seen:
                del self._db[key]
        return found
