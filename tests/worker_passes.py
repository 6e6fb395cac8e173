"""Waiting until a server's outbox worker (notifications, forwarding) has looked again and found
nothing to do.

Proving that nothing more happens (no second copy, no send to a target in backoff) needs the
worker to have run after the moment in question, rather than a guess at how long it takes. At
LOG_LEVEL=debug each worker logs each pass it completes ("notifications: pass N done",
"forwarding: pass N done"), marked
", quiet" when that pass polled (chat logs, expiry, configuration), found no row due and had
no send under way. Servers these waits are used on are started with ``PASS_LOG``.
"""

from __future__ import annotations

import re
import time

from conftest import AppProcess

PASS_LOG = {"LOG_LEVEL": "debug"}


def wait_for_quiet_pass(
    app: AppProcess, *, worker: str = "notifications", timeout: float = 30
) -> None:
    """Until a quiet pass that began after this call has ended.

    The first pass to end after the call may have begun before it and read the rows as they
    were then; the pass logged after that one began later, so a quiet one from there on counts.
    """
    done = re.escape(worker.encode()) + rb": pass \d+ done"
    any_pass, quiet_pass = re.compile(done), re.compile(done + rb", quiet$", re.MULTILINE)
    start = app.log_path.stat().st_size if app.log_path.exists() else 0
    deadline = time.monotonic() + timeout
    while True:
        with app.log_path.open("rb") as log:
            log.seek(start)
            later = log.read()
        first = any_pass.search(later)
        if first is not None and quiet_pass.search(later, first.end()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no quiet {worker} pass: is the server at LOG_LEVEL=debug?")
        time.sleep(0.05)
