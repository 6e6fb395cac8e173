"""`python -m app` subcommands, run as a user would, against a real server and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import APP_VARIABLES, SIGNING_KEY, AppProcess
from spec_examples import SPEC_APPOINTMENT, SPEC_CHATLOG, SPEC_LEAD
from vendor import HelloClientFake


def run_cli(app: AppProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    environment.update({"DATA_DIR": str(app.data_dir), "PORT": str(app.port), **env})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["lead", "appointment", "chatlog"])
def test_send_test_posts_a_signed_sample_end_to_end(app_server: AppProcess, kind: str) -> None:
    result = run_cli(
        app_server, "send-test", kind, "--url", f"{app_server.url}/webhook", "--key", SIGNING_KEY
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '200 {"status":"success"}'
    row = app_server.query("SELECT kind, process_status, signed_form FROM delivery")[0]
    assert tuple(row) == (kind, "processed", "raw")
    table = "message" if kind == "chatlog" else "lead"
    assert app_server.scalar(f"SELECT count(*) FROM {table}") >= 1


def test_send_test_uses_the_configured_key_and_port(app_server: AppProcess) -> None:
    result = run_cli(app_server, "send-test", "lead", WEBHOOK_SIGNING_KEY=SIGNING_KEY)
    assert result.returncode == 0, result.stderr


def test_send_test_fails_loudly_on_a_wrong_key(app_server: AppProcess) -> None:
    result = run_cli(app_server, "send-test", "lead", "--key", "wrong")
    assert result.returncode == 1
    assert result.stdout.startswith("401 ")
    assert "does not match" in result.stdout


def test_send_test_reports_an_unreachable_url(app_server: AppProcess) -> None:
    result = run_cli(
        app_server, "send-test", "lead", "--key", "k", "--url", "http://127.0.0.1:9/webhook"
    )
    assert result.returncode == 1
    assert "could not reach" in result.stderr


def test_reprocess_rebuilds_records_from_stored_raw_bodies(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:

    vendor.post(SPEC_LEAD)
    vendor.post(SPEC_CHATLOG)
    vendor.post(body=b"{broken")
    app_server.stop()
    # As after an upgrade whose parser changed: the records go, the raw deliveries stay.
    db = app_server.db_path
    subprocess.run(
        ["sqlite3", str(db), "PRAGMA foreign_keys=ON; DELETE FROM lead; DELETE FROM chat_window;"],
        check=True,
    )

    result = run_cli(app_server, "reprocess", "--all")
    assert result.returncode == 1  # one body is still broken, and it says so
    assert "1 with errors" in result.stdout
    assert "invalid JSON" in result.stdout
    assert app_server.scalar("SELECT count(*) FROM lead") == 1
    assert app_server.scalar("SELECT count(*) FROM message") == 3

    again = run_cli(app_server, "reprocess", "1", "2")
    assert again.returncode == 0, again.stdout
    assert app_server.scalar("SELECT count(*) FROM lead") == 1  # nothing doubled
    assert app_server.scalar("SELECT count(*) FROM message") == 3


def test_quarantine_list_accept_and_discard(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:

    vendor.post(SPEC_LEAD, signed=False)
    vendor.post(SPEC_APPOINTMENT, key="some-other-workspace")
    listing = run_cli(app_server, "quarantine", "list")
    assert listing.returncode == 0
    assert "2 quarantined" in listing.stdout
    assert "missing X-Webhook-Signature" in listing.stdout

    accepted = run_cli(app_server, "quarantine", "accept", "1")
    assert accepted.returncode == 0, accepted.stderr
    row = app_server.query("SELECT outcome, signed_form, process_status FROM delivery WHERE id=1")
    assert tuple(row[0]) == ("accepted", "quarantine-accepted", "processed")
    assert json.loads(app_server.scalar("SELECT json_object('n', first_name) FROM lead")) == {
        "n": "David"
    }

    assert run_cli(app_server, "quarantine", "discard", "2").returncode == 0
    assert app_server.scalar("SELECT count(*) FROM delivery WHERE outcome='quarantined'") == 0
    missing = run_cli(app_server, "quarantine", "accept", "2")
    assert missing.returncode == 1
    assert "not in the quarantine" in missing.stderr


def test_bad_configuration_stops_with_the_variable_named(app_server: AppProcess) -> None:
    result = run_cli(app_server, "serve", PORT="eighty")
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "eighty" in result.stderr
