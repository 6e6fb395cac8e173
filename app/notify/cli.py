"""``python -m app notify-test [--tag KIND] [--target KEY …] [--list]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.config import Settings
from app.db import Database
from app.notify.kinds import KINDS
from app.notify.service import NotifyService
from app.notify.targets import TargetError


def add_parser(commands: Any) -> None:
    test = commands.add_parser(
        "notify-test", help="send a real test notification to the notification targets"
    )
    test.add_argument(
        "--tag",
        choices=KINDS,
        help="sample kind, and only targets that take it (default: a lead, to every target)",
    )
    test.add_argument(
        "--target",
        action="append",
        dest="targets",
        metavar="KEY",
        help="only this target (repeatable; keys from --list); tried even when disabled",
    )
    test.add_argument("--list", action="store_true", help="list targets and their health")
    test.set_defaults(run=notify_test)


def notify_test(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings)
    db.open()
    try:
        service = NotifyService(settings, db)  # logs any APPRISE_URLS/APPRISE_CONFIG problem
        if args.list:
            return _list(service)
        try:
            if args.tag is None and not args.targets:
                # Every enabled target, whatever it routes: "does my phone buzz at all?"
                keys = [v.key for v in service.list_targets() if v.enabled and v.present]
                results = service.send_test(keys, kind="lead")
            else:
                results = service.send_test(args.targets, kind=args.tag or "lead")
        except TargetError as exc:
            print(exc, file=sys.stderr)
            return 2
        if not results:
            print(
                "no notification targets: set APPRISE_URLS or APPRISE_CONFIG, or add one in "
                "Settings → Notifications",
                file=sys.stderr,
            )
            return 2
        for result in results:
            label = f"{result.name} {result.url_masked}".strip() or result.key
            if result.ok:
                print(f"ok      {label} ({result.elapsed:.1f} s)")
            else:
                print(f"FAILED  {label}: {result.error}")
        return 0 if all(result.ok for result in results) else 1
    finally:
        db.close()


def _list(service: NotifyService) -> int:
    views = service.list_targets()
    for view in views:
        state = "disabled" if not view.enabled else "ok"
        if view.failing:
            state = f"failing x{view.failing_streak}: {view.last_error}"
        if view.error:
            state = view.error
        kinds = ",".join(view.kinds) or "-"
        print(
            f"{view.key}\t{view.source}\t{kinds}\t{view.url_masked}\t{view.pending} pending"
            f"\t{state}"
        )
    print(f"{len(views)} target(s)")
    return 0
