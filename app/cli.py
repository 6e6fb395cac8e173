"""``python -m app [command]``: serve (the default), send-test, reprocess, quarantine,
recheck-quarantine. Commands that need Sign Keys read them as the server does: from the
environment, else from those added under Settings (``app.live_settings``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from app import __version__, logs, sender, shapes
from app.config import ConfigError, Settings, load_settings
from app.db import Database, WriteJob
from app.deliveries import (
    NotInQuarantine,
    Stored,
    accept_from_quarantine,
    discard_from_quarantine,
    mark_for_reprocessing,
)
from app.ingest.processor import process_stored
from app.live_settings import LiveSettings
from app.models import Delivery, Outcome, ProcessStatus
from app.recheck import recheck

QuarantineAction = Callable[[Connection, int], Stored | None]
QUARANTINE_ACTIONS: dict[str, QuarantineAction] = {
    "accept": accept_from_quarantine,
    "discard": discard_from_quarantine,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings)  # LOG_LEVEL, ACCESS_LOG, and no secret in any line
    return int(args.run(settings, args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.set_defaults(run=serve)
    commands = parser.add_subparsers(title="commands")
    commands.add_parser("serve", help="serve on HOST:PORT (the default)").set_defaults(run=serve)

    send = commands.add_parser("send-test", help="post a signed sample, as Hello Client does")
    send.add_argument("kind", choices=("lead", "appointment", "chatlog"))
    send.add_argument("--url", help="webhook URL (default: http://127.0.0.1:PORT/webhook)")
    send.add_argument(
        "--key", help="Sign Key (default: the first in force: WEBHOOK_SIGNING_KEY, or Settings)"
    )
    send.set_defaults(run=send_test)

    again = commands.add_parser("reprocess", help="parse stored raw deliveries again")
    again.add_argument("ids", nargs="*", type=int, help="delivery ids (default: failed, pending)")
    again.add_argument("--all", action="store_true", help="every accepted delivery")
    again.set_defaults(run=reprocess)

    quarantine = commands.add_parser("quarantine", help="list, accept or discard quarantined")
    quarantine.add_argument("action", choices=("list", "accept", "discard"))
    quarantine.add_argument("ids", nargs="*", type=int)
    quarantine.set_defaults(run=manage_quarantine)

    recheck_parser = commands.add_parser(
        "recheck-quarantine", help="verify the quarantine again with the Sign Keys in force"
    )
    recheck_parser.set_defaults(run=recheck_quarantine)

    from app import backup  # stdlib-only at import; kept here so this is one self-contained edit

    save = commands.add_parser("backup", help="copy the SQLite database, safe while serving")
    save.add_argument("path", help="file to write, or a folder for inbox-<time>.db")
    save.set_defaults(run=backup.run_backup)
    load = commands.add_parser("restore", help="replace the database with a backup (stopped)")
    load.add_argument("path", help="a file written by `backup`")
    load.set_defaults(run=backup.run_restore)

    from app.notify.cli import add_parser as add_notify_parser  # one self-contained edit

    add_notify_parser(commands)  # notify-test

    from app.forward.cli import add_parser as add_forward_parser  # one self-contained edit

    add_forward_parser(commands)  # forward-test
    return parser


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app import edge
    from app.server import create_app

    app = create_app(settings)
    if settings.ingest_process == "on":
        app.state.ingest.start()  # a fork: before uvicorn starts the event loop or any thread
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # uvicorn's HTTP/1.1 protocol with deadlines and a connection bound (app/edge.py)
        http=edge.protocol_class(edge.limits_for(settings)),
        ws="none",  # no route speaks WebSocket: an upgrade would leave the edge's bounds
        proxy_headers=False,  # X-Forwarded-For is judged by TRUSTED_PROXIES, in app.clientip
        server_header=False,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def in_force(settings: Settings) -> Settings:
    """The settings the server runs with: the environment's, and what Settings saved."""
    live = LiveSettings(settings)
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    if settings.is_sqlite and not path.exists():
        return settings  # no database yet, so nothing saved in the browser (and none made)
    db = Database(settings)
    try:
        live.reload(db)
    except DBAPIError:
        pass  # not migrated (yet): nothing saved there either
    finally:
        db.engine.dispose()
    return live.current


def send_test(settings: Settings, args: argparse.Namespace) -> int:
    keys = () if args.key else in_force(settings).signing_keys
    key = args.key or (keys[0] if keys else None)
    if not key:
        print(
            "no key: pass --key, set WEBHOOK_SIGNING_KEY, or add the Sign Key under Settings",
            file=sys.stderr,
        )
        return 2
    url = args.url or sender.loopback_webhook_url(settings)
    answer = sender.send_signed(url, key, shapes.sample(args.kind))
    if answer.status is None:
        print(f"could not reach {url}: {answer.error}", file=sys.stderr)
        return 1
    print(f"{answer.status} {answer.body.decode('utf-8', 'replace')}")
    return 0 if answer.ok else 1


def _with_database(settings: Settings) -> Database:
    db = Database(settings)
    db.open()
    return db


def reprocess(settings: Settings, args: argparse.Namespace) -> int:
    db = _with_database(settings)
    try:
        query = select(col(Delivery.id)).where(col(Delivery.outcome) == Outcome.ACCEPTED)
        if args.ids:
            query = query.where(col(Delivery.id).in_(args.ids))
        elif not args.all:
            query = query.where(
                col(Delivery.process_status).in_([ProcessStatus.FAILED, ProcessStatus.PENDING])
            )
        with db.read() as connection:
            ids = [i for i in connection.scalars(query.order_by(col(Delivery.id))) if i is not None]
        if not ids:
            print("nothing to reprocess")
            return 0
        db.writer.run_sync(lambda c: mark_for_reprocessing(c, ids))
        failures = 0
        for delivery_id in ids:
            result = process_stored(db, delivery_id)
            failures += bool(result.errors)
            detail = "; ".join(result.errors) or "ok"
            print(f"delivery {delivery_id}: {result.kind}, {result.records} record(s): {detail}")
        print(f"reprocessed {len(ids)} deliveries, {failures} with errors")
        return 1 if failures else 0
    finally:
        db.close()


def manage_quarantine(settings: Settings, args: argparse.Namespace) -> int:
    db = _with_database(settings)
    try:
        if args.action == "list":
            return _list_quarantine(db)
        return _judge_quarantined(db, args.action, args.ids)
    finally:
        db.close()


def _list_quarantine(db: Database) -> int:
    with db.read() as connection:
        rows = connection.execute(
            select(Delivery)
            .where(col(Delivery.outcome) == Outcome.QUARANTINED)
            .order_by(col(Delivery.id))
        ).all()
    for row in rows:
        when = row.received_at.isoformat(timespec="seconds")
        print(f"{row.id}\t{when}\t{row.client_ip}\t{row.body_size} B\t{row.reason}")
    print(f"{len(rows)} quarantined")
    return 0


def _job(action: QuarantineAction, delivery_id: int) -> WriteJob[Stored | None]:
    return lambda connection: action(connection, delivery_id)


def _judge_quarantined(db: Database, action: str, delivery_ids: list[int]) -> int:
    """Accept or discard each delivery; 1 if any of them was not in the quarantine."""
    status = 0
    for delivery_id in delivery_ids:
        try:
            stored = db.writer.run_sync(_job(QUARANTINE_ACTIONS[action], delivery_id))
            if stored is not None and stored.pending:
                process_stored(db, delivery_id)
        except NotInQuarantine as exc:
            print(exc, file=sys.stderr)
            status = 1
        else:
            print(f"delivery {delivery_id}: {action}ed")
    return status


def recheck_quarantine(settings: Settings, args: argparse.Namespace) -> int:
    """As the Settings page does when a key is added: accept what now verifies."""
    db = _with_database(settings)
    try:
        live = LiveSettings(settings)
        live.reload(db)
        keys = live.keys_in_force()
        if not keys:
            print("no Sign Key in force: set WEBHOOK_SIGNING_KEY or add one under Settings")
        pending: list[int] = []
        result = recheck(db, keys, live.current.tolerance_seconds, on_pending=pending.append)
        for delivery_id in pending:  # large bodies: no server process is asked to parse them
            process_stored(db, delivery_id)
        print(f"checked {result.checked}, accepted {result.accepted}")
        return 0
    finally:
        db.close()
