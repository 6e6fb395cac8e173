"""The service API the Settings → Notifications page calls, with the worker running in-process.

Real database file, real writer, real Apprise, real local endpoints; leads are stored through
``app.ingest.records.store_lead`` exactly as the webhook stores them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import apprise
import pytest
from conftest import JsonSink, eventually

from app import shapes
from app.config import load_settings
from app.db import Database
from app.ingest import records
from app.models import utcnow
from app.notify.masking import as_written
from app.notify.service import NotifyService
from app.notify.targets import Target, TargetRegistry, target_secrets
from app.notify.views import TargetError, TemplateInvalid, UnknownTarget
from app.notify.worker import NotifyWorker

SECRET = "s3cretPassw0rd"
FAST = {
    "NOTIFY_RETRY_FIRST_SECONDS": "0.2",
    "NOTIFY_RETRY_CAP_SECONDS": "0.5",
    "NOTIFY_POLL_SECONDS": "0.2",
}

MakeService = Callable[..., NotifyService]
Workers = dict[NotifyService, NotifyWorker]


@pytest.fixture
def workers() -> Workers:
    """The running worker of each service made with ``worker=True``, wired as the server does."""
    return {}


@pytest.fixture
def make_service(tmp_path: Path, workers: Workers) -> Iterator[MakeService]:
    made: list[NotifyService] = []

    def make(*, worker: bool = False, **env: str) -> NotifyService:
        settings = load_settings({"DATA_DIR": str(tmp_path / "data"), **FAST, **env})
        db = Database(settings)
        db.open()
        registry = TargetRegistry(settings)
        running = NotifyWorker(settings, db, registry)
        service = NotifyService(settings, db, registry, wake=running.wake)
        made.append(service)
        if worker:
            running.start()
            workers[service] = running
        else:
            running.sync_config()  # what the worker does at start: env targets get their rows
        return service

    yield make
    for service in made:
        if service in workers:
            workers.pop(service).stop()
        service.db.close()


def store_lead(service: NotifyService, kind: str = "Lead", **fields: str) -> int:
    values = shapes.lead_values(dict(shapes.sample_lead(kind), **fields))
    outcome = service.db.writer.run_sync(
        lambda c: records.store_lead(c, values, delivery_id=None, now=utcnow())
    )
    return outcome.lead_id


def wait_for_quiet_pass(worker: NotifyWorker) -> None:
    """Until the worker has polled and found nothing to do in a pass begun after this call (the
    pass under way now may have begun before it)."""
    after = worker.passes + 1
    eventually(lambda: worker.last_quiet_pass > after)


def test_targets_list_add_edit_disable_remove(
    make_service: MakeService, json_sink: JsonSink
) -> None:
    service = make_service(APPRISE_URLS=json_sink.url("/env"))
    [env] = service.list_targets()
    assert (env.source, env.editable, env.kinds) == ("env", False, ("lead", "appointment"))

    added = service.add_target(
        f"json://user:{SECRET}@127.0.0.1:{json_sink.port}/db", name="Phone", kinds=["appointment"]
    )
    assert (added.source, added.editable, added.name, added.kinds) == (
        "db",
        True,
        "Phone",
        ("appointment",),
    )
    assert SECRET not in added.url_masked and "****" in added.url_masked
    assert SECRET not in repr(service.list_targets())

    # The page posts the masked URL back unchanged: the real one is kept.
    service.update_target(
        added.key, url=added.url_masked, name="My phone", kinds=["lead", "chatlog"]
    )
    changed = service.get_target(added.key)
    assert (changed.name, changed.kinds) == ("My phone", ("lead", "chatlog"))
    [result] = service.send_test([added.key])
    assert result.ok, result.error
    assert json_sink.wait(1, "/db")[0]["title"] == "[Test] New lead — David Garcia"

    assert service.set_enabled(added.key, False).enabled is False
    with pytest.raises(TargetError, match="read-only"):
        service.update_target(env.key, name="mine now")
    with pytest.raises(TargetError, match="read-only"):
        service.remove_target(env.key)
    with pytest.raises(TargetError, match="Apprise cannot use this URL"):
        service.add_target("nosuchservice://whatever")
    with pytest.raises(TargetError, match="already a target"):
        service.add_target(json_sink.url("/env"))
    with pytest.raises(TargetError, match="unknown kind"):
        service.add_target(json_sink.url("/other"), kinds=["leads"])

    service.remove_target(added.key)
    with pytest.raises(UnknownTarget):
        service.get_target(added.key)
    assert [t.key for t in service.list_targets()] == [env.key]


def test_send_test_reports_each_targets_real_result(
    make_service: MakeService, json_sink: JsonSink
) -> None:
    json_sink.fail("/broken", 1)
    urls = f"{json_sink.url('/fine')}, {json_sink.url('/broken')}\njson://127.0.0.1:1/nobody"
    service = make_service(APPRISE_URLS=urls)
    ok, broken, unreachable = service.send_test()

    assert ok.ok and ok.error is None
    assert not broken.ok and "500" in str(broken.error)
    assert not unreachable.ok and "Connection error" in str(unreachable.error)
    assert json_sink.received("/fine")[0]["title"] == "[Test] New lead — David Garcia"
    assert service.outbox_rows() == []  # a test is not a lead: nothing queued, no health change
    assert all(view.failing_streak == 0 for view in service.list_targets())
    [missing] = service.send_test(["db:nope"])
    assert (missing.ok, missing.error) == (False, "no such notification target")


def test_problems_in_the_configuration_are_reported_masked(make_service: MakeService) -> None:
    service = make_service(
        APPRISE_URLS=f"nosuchservice://{SECRET}@host", APPRISE_CONFIG="/nonexistent/apprise.yml"
    )
    problems = service.problems()
    assert len(problems) == 2
    assert "APPRISE_URLS entry 1" in problems[0] and SECRET not in problems[0]
    assert "APPRISE_CONFIG: cannot read" in problems[1]
    assert service.list_targets() == []


def test_secrets_are_scrubbed_from_error_text() -> None:
    url = "tgram://123456789:AAbbCCddEEffGGhh_secret/12315544/"
    plugin = apprise.Apprise.instantiate(url)
    masked = as_written(url, plugin)
    assert masked == "tgram://****/12315544/"
    target = Target(
        "k", "env", "Telegram", masked, "Telegram", frozenset(), secrets=target_secrets(plugin)
    )
    error = target.scrub("Telegram said no to 123456789:AAbbCCddEEffGGhh_secret")
    assert "AAbbCCddEEffGGhh_secret" not in error and "****" in error


def test_routing_status_give_up_and_retry_now(
    make_service: MakeService, json_sink: JsonSink
) -> None:
    json_sink.fail("/env", 10**9)
    service = make_service(
        worker=True, APPRISE_URLS=json_sink.url("/env"), NOTIFY_RETRY_MAX_HOURS="0.0005"
    )
    db_target = service.add_target(json_sink.url("/appointments"), kinds=["appointment"])
    [env] = [t for t in service.list_targets() if t.source == "env"]
    store_lead(service, "Lead")
    store_lead(service, "Appointment")

    # Routing: the UI target took only the appointment.
    assert [r.kind for r in service.outbox_rows(db_target.key)] == ["appointment"]
    json_sink.wait(1, "/appointments")
    # The env target keeps failing (500) until its rows are given up (1.8 s here).
    eventually(lambda: service.get_target(env.key).given_up == 2)
    status = service.get_target(env.key)
    assert status.failing and status.failing_streak >= 2 and "500" in str(status.last_error)
    assert status.pending == 0
    assert all(
        str(row.last_error).startswith("gave up after 0.0005 h:") and "500" in str(row.last_error)
        for row in service.outbox_rows(env.key)
    )

    json_sink.fail("/env", 0)
    assert service.retry_now(env.key) == 2
    json_sink.wait(2, "/env")
    eventually(lambda: service.get_target(env.key).sent == 2)
    status = service.get_target(env.key)
    assert (status.failing_streak, status.pending, status.given_up) == (0, 0, 0)
    assert sorted(str(n["title"]).split(" — ")[0] for n in json_sink.received("/env")) == [
        "New appointment",
        "New lead",
    ]
    with pytest.raises(UnknownTarget):
        service.retry_now("db:nope")


def test_a_disabled_target_gets_no_rows(make_service: MakeService, json_sink: JsonSink) -> None:
    service = make_service(worker=True)
    target = service.add_target(json_sink.url("/off"), enabled=False)
    store_lead(service, "Lead")
    assert service.outbox_rows(target.key) == []
    service.set_enabled(target.key, True)
    store_lead(service, "Lead", FirstName="Ana")
    assert json_sink.wait(1, "/off")[0]["title"] == "New lead — Ana Garcia"


def test_templates_from_the_ui_and_files(make_service: MakeService, json_sink: JsonSink) -> None:
    service = make_service(worker=True, APPRISE_URLS=json_sink.url("/t"))
    assert {t.origin for t in service.list_templates()} == {"default"}
    folder = service.settings.data_dir / "notify-templates"
    folder.mkdir(parents=True)
    (folder / "lead.body.j2").write_text("Call {{ phone }} about: {{ content }}")
    [body] = [t for t in service.list_templates() if (t.kind, t.part) == ("lead", "body")]
    assert body.origin == "file" and body.path == str(folder / "lead.body.j2")

    with pytest.raises(TemplateInvalid, match="undefined"):
        service.set_template("lead", "title", "Lead {{ nmae }}")
    with pytest.raises(TemplateInvalid, match="lead title"):
        service.set_template("lead", "title", "{% if %}")
    with pytest.raises(TemplateInvalid, match="one line"):
        service.set_template("lead", "title", "a\nb")
    saved = service.set_template("lead", "title", "☎ {{ name }} ({{ type }})")
    assert saved.origin == "ui"
    assert service.preview("lead").title == "☎ David Garcia (Lead)"
    assert service.preview("lead", body="{{ email }}").body == "test@example.com"

    store_lead(service, "Lead", Content="hello")
    [note] = json_sink.wait(1, "/t")
    assert note["title"] == "☎ David Garcia (Lead)"
    assert note["message"] == "Call +1 555 0100 about: hello"
    assert service.set_template("lead", "title", None).origin == "default"


def test_apprise_log_records_lose_known_secrets(
    make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    token = "123456789:AAbbCCddEEffGGhh_secret"
    make_service(APPRISE_URLS=f"tgram://{token}/12315544/")
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        # What Apprise's Telegram plugin logs at DEBUG before each request.
        logging.getLogger("apprise").debug("Telegram POST URL: https://x/bot%s/sendMessage", token)
    assert "bot****/sendMessage" in caplog.text
    assert "AAbbCCddEEffGGhh_secret" not in caplog.text


def test_a_stored_lead_wakes_the_worker_without_waiting_for_the_poll(
    make_service: MakeService, workers: Workers, json_sink: JsonSink
) -> None:
    service = make_service(
        worker=True, APPRISE_URLS=json_sink.url("/now"), NOTIFY_POLL_SECONDS="60"
    )
    eventually(lambda: workers[service].passes >= 1)  # polled once; the next is a minute away
    started = time.monotonic()
    store_lead(service, "Appointment")
    json_sink.wait(1, "/now", timeout=5)
    assert time.monotonic() - started < 2


def test_a_target_gone_from_the_environment_keeps_its_rows_until_it_returns(
    make_service: MakeService, workers: Workers, json_sink: JsonSink
) -> None:
    json_sink.fail("/phone", 10**9)
    url = json_sink.url("/phone")
    first = make_service(worker=True, APPRISE_URLS=url)
    store_lead(first, "Lead")
    eventually(lambda: first.outbox_rows()[0].attempts >= 1)
    workers.pop(first).stop()
    first.db.close()

    json_sink.fail("/phone", 0)
    without = make_service(worker=True)  # restarted with the URL removed from APPRISE_URLS
    wait_for_quiet_pass(workers[without])  # nothing may be sent to a target not configured
    [gone] = without.list_targets()
    assert (gone.present, gone.pending, gone.editable) == (False, 1, False)
    assert gone.error == "no longer in the configuration"
    assert json_sink.received() == []
    workers.pop(without).stop()
    without.db.close()

    back = make_service(worker=True, APPRISE_URLS=url)  # it returns within the retry window
    json_sink.wait(1, "/phone")
    eventually(lambda: back.list_targets()[0].sent == 1)
    assert back.list_targets()[0].present
