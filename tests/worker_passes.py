"""Waiting until a server's notification worker has looked again and found nothing to do.

Proving that nothing more happens (no second copy, no send to a target in backoff) needs the
worker to have run after the moment in question, rather than a guess at how long it takes. At
LOG_LEVEL=debug the worker logs each pass it completes ("notifications: pass N done"), marked
", quiet" when that pass polled (chat logs, expiry, configuration), found no row due and had
no send under way. Servers these waits are used on are started with ``PASS_LOG``.
"""

from __future__ import annotations

import re
import time

from conftest import AppProcess

PASS_LOG = {"LOG_LEVEL": "debug"}
PASS = re.compile(rb"notifications: pass \d+ done")
QUIET_PASS = re.compile(rb"notifications: pass \d+ done, quiet$", re.MULTILINE)


def wait_for_quiet_pass(app: AppProcess, *, timeout: float = 30) -> None:
    """Until a quiet pass that began after this call has ended.

    The first pass to end after the call may have begun before it and read the rows as they
    were then; the pass logged after that one began later, so a quiet one from there on counts.
    """
    start = app.log_path.stat().st_size if app.log_path.exists() else 0
    deadline = time.monotonic() + timeout
    while True:
        with app.log_path.open("rb") as log:
            log.seek(start)
            later = log.read()
        first = PASS.search(later)
        if first is not None and QUIET_PASS.search(later, first.end()):
            return
        if time.monotonic() > deadline:
            raise AssertionError("no quiet notification pass: is the server at LOG_LEVEL=debug?")
        time.sleep(0.05)
