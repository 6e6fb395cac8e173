"""app.recheck and the CLI that shares the server's settings: a quarantined delivery is verified
again with the keys in force, its timestamp judged against when it arrived, and accepted like
any verified one (lead, notification queued); send-test and recheck-quarantine read the Sign
Keys added in the browser."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import APP_VARIABLES, AppProcess, inbox_client
from sqlalchemy import insert, select

from app import shapes
from app.config import load_settings
from app.db import Database
from app.deliveries import SIGNATURE_HEADERS_CAP, Attempt, QuarantineLimits, store_refusal
from app.live_settings import KeyInForce, LiveSettings
from app.models import Delivery, Lead, NotifyOutbox, NotifyTarget, Outcome
from app.recheck import RecheckResult, recheck
from app.signature import key_fingerprint, sign

ROOMY = QuarantineLimits(max_items=100, max_bytes=10**6, max_item_bytes=10**6)
ARRIVED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)  # long past tolerance
KEY = "whsec_added_later"


def lead_body(session: int) -> bytes:
    return json.dumps({**shapes.sample_lead(), "SessionID": session}).encode()


def quarantine(
    db: Database, body: bytes, header: str | None, *, arrived: datetime = ARRIVED
) -> int:
    timestamp = int(header.split(",")[0].removeprefix("t=")) if header else None
    attempt = Attempt(arrived, "203.0.113.9", "application/json", body, timestamp, header)
    return db.writer.run_sync(
        lambda c: store_refusal(c, attempt, status_code=503, reason="no key", quarantine=ROOMY)
    )


def header_for(body: bytes, key: str = KEY, t: datetime = ARRIVED) -> str:
    timestamp = str(int(t.timestamp()))
    return f"t={timestamp},v1={sign(key, timestamp, body)}"


def keys(*secrets: str) -> list[KeyInForce]:
    return [
        KeyInForce(n, f"Key {n}", secret, key_fingerprint(secret))
        for n, secret in enumerate(secrets, start=1)
    ]


def outcome(db: Database, delivery_id: int) -> tuple[str, str | None, str | None]:
    with db.read() as connection:
        row = connection.execute(
            select(Delivery.outcome, Delivery.accepted_by, Delivery.key_fingerprint).where(
                Delivery.id == delivery_id
            )
        ).one()
    return row[0], row[1], row[2]


def test_only_what_verifies_when_it_arrived_is_accepted(db: Database) -> None:
    db.writer.run_sync(
        lambda c: c.execute(
            insert(NotifyTarget).values(
                key="db:phone", source="db", created_at=ARRIVED, updated_at=ARRIVED
            )
        )
    )
    good = lead_body(1)
    matches = quarantine(db, good, header_for(good))
    other_key = quarantine(db, lead_body(2), header_for(lead_body(2), key="someone-else"))
    stale = lead_body(3)  # signed an hour before it arrived: a replay, however valid the HMAC
    too_old = quarantine(db, stale, header_for(stale, t=ARRIVED - timedelta(hours=1)))
    unsigned = quarantine(db, lead_body(4), None)

    result = recheck(db, keys("unrelated", KEY), tolerance_seconds=300)

    assert result == RecheckResult(checked=3, accepted=1)  # the unsigned one cannot be checked
    assert outcome(db, matches) == ("accepted", "Sign Key “Key 2”", key_fingerprint(KEY))
    for left in (other_key, too_old, unsigned):
        assert outcome(db, left) == ("quarantined", None, None)
    with db.read() as connection:
        leads = connection.execute(select(Lead.session_id, Lead.delivery_id)).all()
        queued = connection.execute(select(NotifyOutbox.target_key, NotifyOutbox.kind)).all()
    assert [tuple(row) for row in leads] == [(1, matches)]
    assert [tuple(row) for row in queued] == [("db:phone", "lead")]  # notified like any lead

    again = recheck(db, keys(KEY), tolerance_seconds=300)
    assert again == RecheckResult(checked=2, accepted=0)  # nothing accepted twice


def test_the_tolerance_in_force_decides(db: Database) -> None:
    body = lead_body(5)
    delivery = quarantine(db, body, header_for(body, t=ARRIVED - timedelta(minutes=20)))
    assert recheck(db, keys(KEY), tolerance_seconds=600).accepted == 0
    assert recheck(db, keys(KEY), tolerance_seconds=1800).accepted == 1
    assert outcome(db, delivery)[0] == "accepted"


def test_no_key_in_force_checks_nothing(db: Database) -> None:
    body = lead_body(6)
    quarantine(db, body, header_for(body))
    assert recheck(db, [], tolerance_seconds=300) == RecheckResult(0, 0)


def test_the_quarantine_keeps_the_headers_capped(db: Database) -> None:
    body = lead_body(7)
    delivery = quarantine(db, body, header_for(body) + "\n" + "x" * 5000)
    with db.read() as connection:
        kept = connection.execute(
            select(Delivery.signature_headers).where(Delivery.id == delivery)
        ).scalar_one()
    assert kept.startswith(header_for(body)) and len(kept) == SIGNATURE_HEADERS_CAP
    assert recheck(db, keys(KEY), tolerance_seconds=300).accepted == 1


# ---- the CLI, as a person runs it beside the server ----------------------------------------


def run_cli(app: AppProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env.update(DATA_DIR=str(app.data_dir), PORT=str(app.port), HOST="127.0.0.1")
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_send_test_signs_with_the_key_added_in_the_browser(tmp_path: Path) -> None:
    app = AppProcess(tmp_path / "data", {"INBOX_PASSWORD": "correct horse battery"}).start()
    try:
        refused = run_cli(app, "send-test", "lead", "--url", f"{app.url}/webhook")
        assert refused.returncode == 2
        assert "add the Sign Key under Settings" in refused.stderr

        browser = inbox_client(app)
        assert browser.post("/settings/keys", {"sign_key": KEY}).status_code == 303
        sent = run_cli(app, "send-test", "lead", "--url", f"{app.url}/webhook")
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.strip() == '200 {"status":"success"}'
        assert app.scalar("SELECT key_fingerprint FROM delivery") == key_fingerprint(KEY)
    finally:
        app.stop()


def test_recheck_quarantine_accepts_what_a_stored_key_verifies(tmp_path: Path) -> None:
    app = AppProcess(tmp_path / "data", {}).start()
    try:
        run_cli(app, "send-test", "lead", "--key", KEY, "--url", f"{app.url}/webhook")
        assert app.scalar("SELECT outcome FROM delivery") == Outcome.QUARANTINED
    finally:
        app.stop()
    # The key stored while nothing re-checks (as a restore of an older backup would leave it).
    settings = load_settings({"DATA_DIR": str(app.data_dir)})
    db = Database(settings)
    db.open()
    try:
        live = LiveSettings(settings, {"DATA_DIR": str(app.data_dir)})
        live.reload(db)
        asyncio.run(live.add_key(db, "Workspace", KEY))
    finally:
        db.close()

    done = run_cli(app, "recheck-quarantine")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "checked 1, accepted 1"
    assert app.scalar("SELECT accepted_by FROM delivery") == "Sign Key “Workspace”"
    assert app.scalar("SELECT count(*) FROM lead") == 1
    assert run_cli(app, "recheck-quarantine").stdout.strip() == "checked 0, accepted 0"


def test_a_key_set_in_the_environment_is_rechecked_at_start(tmp_path: Path) -> None:
    app = AppProcess(tmp_path / "data", {}).start()
    try:
        run_cli(app, "send-test", "lead", "--key", KEY, "--url", f"{app.url}/webhook")
        assert app.scalar("SELECT outcome FROM delivery") == Outcome.QUARANTINED
        app.stop()
        app.env["WEBHOOK_SIGNING_KEY"] = KEY  # set in .env, then `docker compose up -d`
        app.start()
        app.wait_for("SELECT outcome FROM delivery", Outcome.ACCEPTED, timeout=30)
        assert (
            app.scalar("SELECT accepted_by FROM delivery") == "Sign Key “WEBHOOK_SIGNING_KEY key 1”"
        )
        assert app.scalar("SELECT count(*) FROM lead") == 1
    finally:
        app.stop()
