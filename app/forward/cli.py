"""``python -m app forward-test [--destination KEY …] [--list]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.config import Settings
from app.db import Database
from app.forward.service import ForwardService


def add_parser(commands: Any) -> None:
    test = commands.add_parser(
        "forward-test", help="POST a signed sample lead to the forwarding destinations"
    )
    test.add_argument(
        "--destination",
        action="append",
        dest="destinations",
        metavar="KEY",
        help="only this destination (repeatable; keys from --list); tried even when disabled",
    )
    test.add_argument("--list", action="store_true", help="list destinations and their health")
    test.set_defaults(run=forward_test)


def forward_test(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings)
    db.open()
    try:
        service = ForwardService(settings, db)
        for problem in service.problems():
            print(f"problem: {problem}", file=sys.stderr)
        if args.list:
            return _list(service)
        results = service.send_test(args.destinations)
        if not results:
            print(
                "no forwarding destinations: set FORWARD_URLS and FORWARD_SECRET, or add one "
                "in Settings → Forwarding",
                file=sys.stderr,
            )
            return 2
        for result in results:
            label = f"{result.name} {result.url_masked}".strip() or result.key
            if result.ok:
                print(f"ok      {label} (HTTP {result.status}, {result.elapsed:.2f} s)")
            else:
                print(f"FAILED  {label}: {result.error}")
        return 0 if all(result.ok for result in results) else 1
    finally:
        db.close()


def _list(service: ForwardService) -> int:
    views = service.list_destinations()
    for view in views:
        state = view.error or view.disabled_reason or ("ok" if view.enabled else "disabled")
        if view.failing_streak and not view.error:
            state = f"failing x{view.failing_streak}: {view.last_error}"
        kinds = ",".join(view.kinds) or "-"
        print(
            f"{view.key}\t{view.source}\t{kinds}\t{view.url_masked}\t{view.pending} pending"
            f"\t{state}"
        )
    print(f"{len(views)} destination(s)")
    return 0
