"""Retries, restarts and storms, against the running app and a real (misbehaving) endpoint."""

from __future__ import annotations

import re
import signal
import time

from conftest import FAST, AppProcess, JsonSink, MakeApp, VendorFor, outbox
from vendor import SUCCESS
from worker_passes import PASS_LOG, wait_for_quiet_pass

from app import shapes


def target_health(app: AppProcess) -> tuple[object, ...]:
    row = app.query("SELECT failing_streak, last_error FROM notify_target")[0]
    return tuple(row)


def test_a_failing_endpoint_is_retried_and_gets_exactly_one(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    json_sink.fail("/flaky", 2)  # two 500s, then it works
    app = make_app(APPRISE_URLS=json_sink.url("/flaky"), **FAST, **PASS_LOG)
    assert vendor_for(app).post(shapes.sample_lead("Lead")).content == SUCCESS

    json_sink.wait(1, "/flaky")
    assert outbox(app, settled=1) == [("lead", "sent", 3)]
    wait_for_quiet_pass(app)
    assert len(json_sink.received("/flaky")) == 1
    assert json_sink.attempts.count("/flaky") == 3
    streak, last_error = target_health(app)
    assert streak == 0  # healthy again
    assert "500" in str(last_error)  # Apprise's own words about the last failure are kept


def test_a_crash_while_rows_are_pending_loses_nothing(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    json_sink.fail("/down", 10**9)
    app = make_app(APPRISE_URLS=json_sink.url("/down"), **FAST, **PASS_LOG)
    assert vendor_for(app).post(shapes.sample_lead("Appointment")).content == SUCCESS
    app.wait_for("SELECT attempts >= 2 FROM notify_outbox", 1)
    streak, last_error = target_health(app)
    assert streak >= 2 and "500" in str(last_error)

    app.stop(signal.SIGKILL)  # no graceful shutdown
    assert outbox(app)[0][:2] == ("appointment", "pending")
    json_sink.fail("/down", 0)
    app.start()

    json_sink.wait(1, "/down")
    assert outbox(app, settled=1)[0][:2] == ("appointment", "sent")
    wait_for_quiet_pass(app)
    assert len(json_sink.received("/down")) == 1


def test_a_graceful_restart_resumes_pending_rows(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    json_sink.fail("/down", 10**9)
    app = make_app(APPRISE_URLS=json_sink.url("/down"), **FAST, **PASS_LOG)
    vendor = vendor_for(app)
    for kind in ("Lead", "Appointment"):
        assert vendor.post(shapes.sample_lead(kind)).content == SUCCESS
    app.wait_for("SELECT min(attempts) >= 1 FROM notify_outbox", 1)
    app.stop()
    json_sink.fail("/down", 0)
    app.start()

    json_sink.wait(2, "/down")
    assert [row[:2] for row in outbox(app, settled=2)] == [
        ("lead", "sent"),
        ("appointment", "sent"),
    ]
    wait_for_quiet_pass(app)
    assert len(json_sink.received("/down")) == 2


def test_a_storm_is_rate_limited_and_summarised(
    make_app: MakeApp, vendor_for: VendorFor, json_sink: JsonSink
) -> None:
    leads = 40
    app = make_app(
        APPRISE_URLS=json_sink.url("/storm"),
        NOTIFY_RATE_LIMIT="3",
        NOTIFY_RATE_WINDOW_SECONDS="2",
        **FAST,
        **PASS_LOG,
    )
    vendor = vendor_for(app)
    started = time.monotonic()
    for number in range(leads):
        payload = shapes.sample_lead("Appointment" if number % 4 == 0 else "Lead")
        assert vendor.post(dict(payload, FirstName=f"Visitor{number}")).content == SUCCESS
    app.wait_for(
        "SELECT count(*) FROM notify_outbox WHERE status IN ('sent', 'summarised')",
        leads,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    wait_for_quiet_pass(app)

    notes = json_sink.received("/storm")
    summaries = [n for n in notes if "One summary instead of" in str(n["message"])]
    singles = [n for n in notes if n not in summaries]
    # Never more than 3 in any 2 s window: at most 3 per window that passed, plus the first.
    windows = int(elapsed // 2) + 1
    assert len(notes) <= 3 * windows
    assert len(notes) < leads / 2
    assert summaries, "a backlog beyond the allowance is folded into one summary"
    covered = sum(
        int(re.search(r"instead of (\d+) notifications", str(n["message"])).group(1))  # type: ignore[union-attr]
        for n in summaries
    )
    assert len(singles) + covered == leads  # every lead reached the phone, each exactly once
    statuses = dict(
        app.query("SELECT status, count(*) FROM notify_outbox GROUP BY status")  # type: ignore[arg-type]
    )
    # GROUP BY gives no row for a status nobody has: all 40 may be stored before the first pass
    # that sees them (passes begin PASS_GAP_SECONDS apart, the first at start) and be summarised.
    expected = {"sent": len(singles), "summarised": covered}
    assert statuses == {status: count for status, count in expected.items() if count}
    assert "at most 3 per 2 s" in str(summaries[0]["message"])
    assert re.match(
        r"\d+ new leads? and \d+ appointments?$|\d+ new leads?$", str(summaries[0]["title"])
    )
