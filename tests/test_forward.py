"""Forwarding (app/forward): every lead reaches the user's own receiver, signed to the Standard
Webhooks spec (checked by the official ``standardwebhooks`` library), once, whatever the
receiver does: fails then recovers, goes away across our restart, answers 410, or hangs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import AppProcess, JsonSink, MakeApp, VendorFor
from forward_receivers import SECRET, Receiver, wait_for_quiet_forward_pass

from app import shapes

FAST_FORWARD = {
    "FORWARD_SECRET": SECRET,
    "FORWARD_RETRY_FIRST_SECONDS": "0.2",
    "FORWARD_RETRY_CAP_SECONDS": "1",
    "FORWARD_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "debug",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    crm = Receiver().on()
    yield crm
    crm.off()


def lead(session_id: int, kind: str = "Lead", **extra: object) -> dict[str, object]:
    return {**shapes.sample_lead(kind), "SessionID": session_id, **extra}


def start(make_app: MakeApp, *urls: str, **env: str) -> AppProcess:
    return make_app(FORWARD_URLS=",".join(urls), **{**FAST_FORWARD, **env})


def test_a_lead_arrives_once_signed_with_the_vendors_fields(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver
) -> None:
    app = start(make_app, receiver.url())
    vendor = vendor_for(app)
    payload = lead(4242, Unknown="kept as sent")
    vendor.post(payload)
    (got,) = receiver.wait(1)
    assert got.body == vendor.body_for(payload)  # the vendor's record as received, byte for byte
    assert got.document == payload
    assert got.headers["content-type"] == "application/json"
    assert got.webhook_id.startswith("msg_")
    assert receiver.unverified == []
    app.wait_for("SELECT count(*) FROM forward_outbox WHERE status = 'sent'", 1)
    wait_for_quiet_forward_pass(app)
    assert len(receiver.attempts) == 1
    attempt = app.query("SELECT status_code, ok, webhook_id FROM forward_attempt")
    assert [tuple(row) for row in attempt] == [(200, 1, got.webhook_id)]


def test_an_appointment_goes_too_but_a_destination_takes_only_what_it_asked_for(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver
) -> None:
    leads_only = Receiver().on()
    try:
        app = start(make_app, receiver.url(), leads_only.url("/leads#lead"))
        vendor = vendor_for(app)
        vendor.post(lead(1, "Appointment"))
        vendor.post(lead(2))
        both = receiver.wait(2)
        assert sorted(r.document["Type"] for r in both) == ["Appointment", "Lead"]
        (only,) = leads_only.wait(1)
        assert only.document["SessionID"] == 2
        wait_for_quiet_forward_pass(app)
        assert len(leads_only.attempts) == 1
    finally:
        leads_only.off()


def test_500_then_200_gets_exactly_one_more_attempt_with_the_same_webhook_id(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    app = start(make_app, receiver.url())
    vendor_for(app).post(lead(77))
    first, second = receiver.wait(2, attempts=True)
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    app.wait_for("SELECT count(*) FROM forward_outbox WHERE status = 'sent'", 1)
    wait_for_quiet_forward_pass(app)
    assert len(receiver.attempts) == 2 and len(receiver.accepted) == 1
    codes = app.query("SELECT status_code FROM forward_attempt ORDER BY id")
    assert [row[0] for row in codes] == [500, 200]
    assert app.scalar("SELECT attempts FROM forward_outbox") == 2


def test_a_410_disables_the_destination(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver
) -> None:
    receiver.statuses = [410]
    app = start(make_app, receiver.url())
    vendor = vendor_for(app)
    vendor.post(lead(1))
    receiver.wait(1, attempts=True)
    app.wait_for("SELECT enabled FROM forward_destination", 0)
    assert "410" in str(app.scalar("SELECT disabled_reason FROM forward_destination"))
    vendor.post(lead(2))
    wait_for_quiet_forward_pass(app)
    assert len(receiver.attempts) == 1  # nothing more after the 410
    assert receiver.accepted == []
    # Its rows wait: disabled destinations take no new ones, the first is kept for re-enabling.
    assert app.scalar("SELECT count(*) FROM forward_outbox WHERE status = 'pending'") == 1


def test_a_receiver_down_across_a_restart_gets_everything_afterwards_each_once(
    make_app: MakeApp, vendor_for: VendorFor
) -> None:
    crm = Receiver()  # not listening: connection refused
    app = start(make_app, crm.url())
    vendor = vendor_for(app)
    sent = [lead(100 + n) for n in range(3)]
    for payload in sent:
        assert vendor.post(payload).json() == {"status": "success"}
    app.wait_for("SELECT count(*) >= 1 FROM forward_attempt WHERE NOT ok", 1)
    app.restart()
    crm.on()
    try:
        got = crm.wait(3)
        wait_for_quiet_forward_pass(app)
        assert len(crm.attempts) == 3
        assert sorted(r.body for r in got) == sorted(vendor.body_for(p) for p in sent)
        assert len({r.webhook_id for r in got}) == 3
        app.wait_for("SELECT count(*) FROM forward_outbox WHERE status = 'sent'", 3)
    finally:
        crm.off()


def test_a_dead_destination_delays_neither_a_healthy_one_nor_the_phone(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver, json_sink: JsonSink
) -> None:
    # A destination that accepts the connection and never answers: each try costs a timeout.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    dead = f"http://127.0.0.1:{hole.getsockname()[1]}/hook"
    try:
        app = start(
            make_app,
            dead,
            receiver.url(),
            FORWARD_TIMEOUT_SECONDS="20",
            APPRISE_URLS=json_sink.url("/phone"),
        )
        vendor = vendor_for(app)
        started = time.monotonic()
        vendor.post(lead(1))
        vendor.post(lead(2))
        receiver.wait(2, timeout=10)
        json_sink.wait(2, "/phone", timeout=10)
        assert time.monotonic() - started < 10  # well inside the dead one's 20 s timeout
        assert app.scalar("SELECT count(*) FROM forward_attempt WHERE status_code IS NULL") == 0
    finally:
        hole.close()


def test_each_chat_log_window_is_forwarded_on_its_own(
    make_app: MakeApp, vendor_for: VendorFor, receiver: Receiver
) -> None:
    push = shapes.sample_chatlog()
    second = {**push["Collection"][0], "SerialNumber": "OTHER-BOT", "Name": "Second"}
    push["Collection"].append(second)
    app = start(make_app, receiver.url("/chats#chatlog"))
    vendor_for(app).post(push)
    got = receiver.wait(2)
    assert sorted(r.document["SerialNumber"] for r in got) == sorted(
        w["SerialNumber"] for w in push["Collection"]
    )
    for received in got:
        window = next(
            w for w in push["Collection"] if w["SerialNumber"] == received.document["SerialNumber"]
        )
        assert received.document == window  # the vendor's window object, every field
    wait_for_quiet_forward_pass(app)
    assert len(receiver.attempts) == 2


def test_a_redirect_is_not_followed(make_app: MakeApp, vendor_for: VendorFor) -> None:
    target = Receiver().on()
    mover = Receiver(statuses=[302] * 100).on()
    try:
        app = start(make_app, mover.url())
        vendor_for(app).post(lead(5))
        mover.wait(1, attempts=True)
        app.wait_for("SELECT count(*) FROM forward_attempt", 1)
        error = str(app.scalar("SELECT error FROM forward_attempt"))
        assert "302" in error and "not followed" in error
        assert target.attempts == []
    finally:
        target.off()
        mover.off()


def test_forward_urls_pointing_at_the_inbox_itself_are_refused(make_app: MakeApp) -> None:
    app = make_app(**FAST_FORWARD)
    own = f"http://127.0.0.1:{app.port}/webhook"
    app.stop()
    app.env["FORWARD_URLS"] = f"{own},http://localhost:{app.port}/x"
    app.start()
    assert "this inbox itself" in app.log()
    assert app.scalar("SELECT count(*) FROM forward_destination") == 0


def test_secrets_and_tokens_never_reach_the_log(make_app: MakeApp, vendor_for: VendorFor) -> None:
    crm = Receiver(statuses=[500] * 3).on()
    token = "tok3n-in-the-query-string"
    try:
        app = start(make_app, crm.url(f"/hook?api_key={token}"))
        vendor_for(app).post(lead(9))
        crm.wait(2, attempts=True)
        app.wait_for("SELECT count(*) >= 2 FROM forward_attempt", 1)
        log = app.log()
        assert token not in log and SECRET.removeprefix("whsec_") not in log
        assert "api_key=****" in log  # the masked URL names where it failed
        stored = json.dumps([tuple(r) for r in app.query("SELECT * FROM forward_attempt")])
        assert token not in stored
    finally:
        crm.off()
