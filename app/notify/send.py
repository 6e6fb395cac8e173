"""Sending one message to one target, and learning exactly what happened.

One ``Apprise`` object per target and per send: its result then speaks for that target alone.
Apprise reports why a service failed through log records captured per call
(``AppriseResult.logs()``); those lines, with the target's secrets scrubbed, are the error text
stored in the outbox and shown in the UI.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import apprise
from apprise import NotifyFormat

from app.notify.render import Message
from app.notify.targets import Target

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 120.0  # a whole call; each plugin also has its own socket timeouts
MAX_ERROR_CHARS = 2000
REPORTED_LEVELS = ("WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None
    elapsed: float


def send(target: Target, message: Message) -> SendResult:
    started = time.monotonic()
    if target.plugin is None:
        return SendResult(False, target.error or "Apprise cannot use this URL", 0.0)
    notifier = apprise.Apprise(asset=target.plugin.asset)
    notifier.add(target.plugin)
    try:
        with target.lock:
            result = notifier.notify(
                body=message.body,
                title=message.title,
                notify_type=message.notify_type,
                body_format=NotifyFormat.TEXT,  # templates give plain text; Apprise converts
                timeout=SEND_TIMEOUT_SECONDS,
            )
    except Exception as exc:  # a plugin bug must show as this target's error, not stop the worker
        log.exception("notification to %s raised", target.url_masked)
        return SendResult(
            False, target.scrub(f"{type(exc).__name__}: {exc}"), time.monotonic() - started
        )
    elapsed = time.monotonic() - started
    try:
        if result:
            return SendResult(True, None, elapsed)
        lines = [entry.message for entry in result.logs() if entry.level in REPORTED_LEVELS]
        error = " ".join(dict.fromkeys(lines)) or f"Apprise reported {result.status.name}"
    finally:
        result.close()
    return SendResult(False, target.scrub(error)[:MAX_ERROR_CHARS], elapsed)
