"""``python -m app notify-test``: real notifications and each target's real result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import APP_VARIABLES, JsonSink


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    environment.update(DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "app", "notify-test", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_notify_test_sends_to_every_target_and_shows_each_result(
    tmp_path: Path, json_sink: JsonSink
) -> None:
    json_sink.fail("/broken", 1)
    done = run(tmp_path, APPRISE_URLS=f"{json_sink.url('/ok')} {json_sink.url('/broken')}")

    assert done.returncode == 1, done.stderr
    ok_line, failed_line = done.stdout.splitlines()
    assert ok_line.startswith("ok ") and "/ok" in ok_line
    assert failed_line.startswith("FAILED ") and "/broken" in failed_line and "500" in failed_line
    [note] = json_sink.received("/ok")
    assert note["title"] == "[Test] New lead — David Garcia"


def test_notify_test_with_a_tag_picks_targets_and_sample(
    tmp_path: Path, json_sink: JsonSink
) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text(
        "version: 1\nurls:\n"
        f"  - {json_sink.url('/appointments')}:\n      tag: appointment\n"
        f"  - {json_sink.url('/leads')}:\n      tag: lead\n"
    )
    done = run(tmp_path, "--tag", "appointment", APPRISE_CONFIG=str(config))

    assert done.returncode == 0, done.stdout + done.stderr
    assert [n["title"] for n in json_sink.received()] == ["[Test] New appointment — David Garcia"]
    assert json_sink.received("/leads") == []


def test_notify_test_lists_targets_and_explains_an_empty_setup(tmp_path: Path) -> None:
    secret = "tokensecret123"
    listed = run(tmp_path, "--list", APPRISE_URLS=f"ntfys://user:{secret}@ntfy.example.com/t")
    assert listed.returncode == 0
    assert "ntfys://user:****@ntfy.example.com/t" in listed.stdout
    assert secret not in listed.stdout + listed.stderr
    assert "1 target(s)" in listed.stdout

    empty = run(tmp_path)
    assert empty.returncode == 2
    assert "no notification targets" in empty.stderr
