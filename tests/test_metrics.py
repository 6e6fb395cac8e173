"""GET /metrics: read back with prometheus_client's own parser after real deliveries, refusals
and notifications, each figure checked against what was sent; refused without the token;
the counters derived from the database survive a restart.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import API_TOKEN, FAST, AppProcess, JsonSink, MakeApp, VendorFor, outbox
from prometheus_client.parser import text_string_to_metric_families

from app import shapes

METRICS_TOKEN = "metrics-token-for-tests"
P = "hello_client_inbox"


def scrape(app: AppProcess, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple[str, ...]], float]:
    """Every sample as {(name, (label values…)): value}."""
    answer = httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[sample.name, tuple(sample.labels.values())] = sample.value
    return samples


@pytest.fixture
def busy_app(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> tuple[AppProcess, JsonSink]:
    """Two leads, an appointment, a chat log, a duplicate, three refusals: all through HTTP."""
    app = make_app(
        METRICS_TOKEN=METRICS_TOKEN,
        API_TOKEN=API_TOKEN,
        APPRISE_URLS=json_sink.url(),
        UNSIGNED_EVENTS="quarantine",
        MAX_BODY_MB="1",
        **FAST,
    )
    vendor = vendor_for(app)
    first = shapes.sample_lead()
    for payload in (first, shapes.sample_lead(), shapes.sample_lead("Appointment")):
        assert vendor.post(payload).status_code == 200
    assert vendor.post(first).status_code == 200  # the vendor's retry: a duplicate
    chatlog = shapes.sample_chatlog()
    assert vendor.post(chatlog).status_code == 200
    assert vendor.post(shapes.sample_lead(), signed=False).status_code == 401  # quarantined
    assert vendor.post(shapes.sample_lead(), key="wrong key").status_code == 401  # quarantined
    assert vendor.post(body=b" " * (1024 * 1024 + 1)).status_code == 413  # logged only
    app.wait_for("SELECT count(*) FROM delivery WHERE process_status = 'pending'", 0)
    outbox(app, settled=3)  # two leads and the appointment notified
    json_sink.wait(3)
    return app, json_sink


def test_metrics_match_what_was_sent(busy_app: tuple[AppProcess, JsonSink]) -> None:
    app, sink = busy_app
    got = scrape(app)
    messages = app.scalar("SELECT count(*) FROM message")
    assert isinstance(messages, int) and messages > 0
    expected = {
        (f"{P}_deliveries_total", ("accepted",)): 4,  # three records and the chat log
        (f"{P}_deliveries_total", ("duplicate",)): 1,
        (f"{P}_deliveries_total", ("quarantined",)): 2,
        (f"{P}_deliveries_total", ("refused",)): 1,
        (f"{P}_refusals_total", ("signature",)): 2,
        (f"{P}_refusals_total", ("too_large",)): 1,
        (f"{P}_refusals_total", ("ip_not_allowed",)): 0,
        (f"{P}_records_received_total", ("lead",)): 2,
        (f"{P}_records_received_total", ("appointment",)): 1,
        (f"{P}_records_received_total", ("other",)): 0,
        (f"{P}_chat_messages_stored_total", ()): messages,
        (f"{P}_webhook_answers_total", ("200",)): 5,
        (f"{P}_webhook_answers_total", ("401",)): 2,
        (f"{P}_webhook_answers_total", ("413",)): 1,
        (f"{P}_notifications_total", ("sent",)): len(sink.received()),
        (f"{P}_notifications_total", ("failed",)): 0,
        (f"{P}_notification_queue_depth", ()): 0,
        (f"{P}_processing_queue_depth", ()): 0,
        (f"{P}_processing_lag_seconds", ()): 0,
        (f"{P}_processing_failed", ()): 0,
        (f"{P}_quarantine_deliveries", ()): 2,
        (f"{P}_chatbots_active", ()): 1,
    }
    assert {key: got.get(key) for key in expected} == expected
    assert got[f"{P}_notifications_total", ("sent",)] == 3
    quarantined_bytes = app.scalar(
        "SELECT sum(body_size) FROM delivery WHERE outcome = 'quarantined'"
    )
    assert got[f"{P}_quarantine_bytes", ()] == quarantined_bytes
    newest = app.scalar(
        "SELECT CAST(strftime('%s', received_at) AS REAL) FROM delivery"
        " WHERE outcome = 'accepted' ORDER BY id DESC LIMIT 1"
    )
    assert isinstance(newest, float)
    assert abs(got[f"{P}_last_verified_delivery_timestamp_seconds", ()] - newest) < 1
    pages = app.scalar("PRAGMA page_count")
    assert isinstance(pages, int)
    assert got[f"{P}_database_size_bytes", ()] >= pages * 4096


def test_counters_from_the_database_survive_a_restart(
    busy_app: tuple[AppProcess, JsonSink], vendor_for: VendorFor
) -> None:
    app, _ = busy_app
    scrape(app)  # the running totals are made, then thrown away with the process
    app.restart()
    assert vendor_for(app).post(shapes.sample_lead()).status_code == 200
    got = scrape(app, API_TOKEN)  # API_TOKEN is accepted too
    assert got[f"{P}_records_received_total", ("lead",)] == 3
    assert got[f"{P}_deliveries_total", ("accepted",)] == 5
    assert got[f"{P}_refusals_total", ("signature",)] == 2
    assert got[f"{P}_webhook_answers_total", ("200",)] == 1  # this process's answers only


def test_metrics_refused_without_the_token(make_app: MakeApp) -> None:
    app = make_app(METRICS_TOKEN=METRICS_TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        answer = httpx.get(f"{app.url}/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "status": "error",
            "error": "missing or wrong Authorization: Bearer token",
        }
        assert "hello_client_inbox" not in answer.text
    basic = httpx.get(f"{app.url}/metrics", auth=("admin", METRICS_TOKEN))
    assert basic.status_code == 401


def test_metrics_off_without_any_token(make_app: MakeApp) -> None:
    app = make_app()
    answer = httpx.get(f"{app.url}/metrics", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 401
    assert answer.json()["error"].startswith("metrics are off")
