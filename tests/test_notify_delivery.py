"""End to end: a signed lead posted to the running app reaches a real json:// endpoint, once."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import BASE_URL, FAST, JsonSink, MakeApp, VendorFor, outbox
from vendor import SUCCESS
from worker_passes import PASS_LOG, wait_for_quiet_pass

from app import shapes


def local_time(create_time: str) -> str:
    moment = datetime.fromisoformat(create_time.replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo("Europe/Berlin"))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def test_a_signed_appointment_notifies_once_with_the_expected_text(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    app = make_app(APPRISE_URLS=json_sink.url("/phone"), **FAST)
    vendor = vendor_for(app)
    payload = shapes.sample_lead("Appointment")

    assert vendor.post(payload).content == SUCCESS
    [note] = json_sink.wait(1, "/phone")
    lead_id = app.scalar("SELECT id FROM lead")

    assert note["title"] == "New appointment — David Garcia"
    assert note["message"] == "\n".join(
        [
            "Appointment request: tomorrow at 10:00",
            "Phone: +1 555 0100",
            "Email: test@example.com",
            local_time(payload["CreateTime"]),
            "",
            f"{BASE_URL}/leads/{lead_id}",
        ]
    )
    assert outbox(app, settled=1) == [("appointment", "sent", 1)]


def test_retries_and_replays_of_the_same_lead_add_nothing(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    app = make_app(APPRISE_URLS=json_sink.url("/phone"), **FAST, **PASS_LOG)
    vendor = vendor_for(app)
    payload = shapes.sample_lead("Lead")
    assert vendor.post(payload).content == SUCCESS
    json_sink.wait(1, "/phone")

    vendor.post(payload)  # the vendor's retry: the same body
    vendor.post(payload, t=int(time.time()) + 5)  # a replay, signed later
    vendor.post(dict(payload, Content="same lead, sent again"))  # same lead key, new body
    app.wait_for("SELECT count(*) FROM delivery", 4)
    wait_for_quiet_pass(app)

    assert app.scalar("SELECT count(*) FROM lead") == 1
    assert len(json_sink.received()) == 1
    assert outbox(app, settled=1) == [("lead", "sent", 1)]


def test_routing_by_tags(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink, tmp_path: Path
) -> None:
    config = tmp_path / "apprise.txt"
    config.write_text(
        "\n".join(
            [
                "# Apprise TEXT config: tags before '='",
                f"lead={json_sink.url('/lead-only')}",
                f"appointment={json_sink.url('/appointment-only')}",
                f"chatlog={json_sink.url('/chatlog-only')}",
                f"lead, chatlog={json_sink.url('/lead-and-chatlog')}",
                f"family={json_sink.url('/foreign-tag-only')}",
                json_sink.url("/untagged"),
            ]
        )
    )
    app = make_app(APPRISE_CONFIG=str(config), **FAST, **PASS_LOG)
    vendor = vendor_for(app)

    for payload in (
        shapes.sample_lead("Lead"),
        shapes.sample_lead("Appointment"),
        shapes.sample_chatlog(),
    ):
        assert vendor.post(payload).content == SUCCESS
    json_sink.wait(2, "/untagged")
    json_sink.wait(2, "/lead-and-chatlog")
    wait_for_quiet_pass(app)

    def titles(path: str) -> list[str]:
        return sorted(str(note["title"]) for note in json_sink.received(path))

    lead, appointment = "New lead — David Garcia", "New appointment — David Garcia"
    chatlog = "Chat logs — 1 conversation, 3 messages"
    assert titles("/lead-only") == [lead]
    assert titles("/appointment-only") == [appointment]
    assert titles("/chatlog-only") == [chatlog]
    assert titles("/lead-and-chatlog") == [chatlog, lead]
    # Untagged, or tagged with none of ours: leads and appointments, never the chat-log summary.
    assert titles("/untagged") == [appointment, lead]
    assert titles("/foreign-tag-only") == [appointment, lead]
    [summary] = json_sink.received("/chatlog-only")
    assert "Test chatbot: 1 conversation, 3 messages" in str(summary["message"])
    assert f"{BASE_URL}/conversations" in str(summary["message"])


def test_the_webhook_answer_does_not_wait_for_notifications(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    json_sink.delay = 3.0  # a slow notification service
    app = make_app(APPRISE_URLS=json_sink.url("/slow"), **FAST)
    vendor = vendor_for(app)

    started = time.monotonic()
    response = vendor.post(shapes.sample_lead("Lead"))
    answered_in = time.monotonic() - started

    assert response.content == SUCCESS
    assert answered_in < 1.5
    json_sink.wait(1, "/slow")  # and it still arrives


def test_no_targets_means_no_outbox_rows(make_app: MakeApp, vendor_for: VendorFor) -> None:
    app = make_app(**FAST)
    assert vendor_for(app).post(shapes.sample_lead("Lead")).content == SUCCESS
    assert app.scalar("SELECT count(*) FROM lead") == 1
    assert outbox(app) == []
