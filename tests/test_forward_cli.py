"""``python -m app forward-test``: a signed sample lead to each destination, each one's result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import APP_VARIABLES
from forward_receivers import SECRET, Receiver


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    environ.update(DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "app", "forward-test", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_forward_test_sends_a_signed_sample_to_each_destination(tmp_path: Path) -> None:
    good, bad = Receiver().on(), Receiver(statuses=[503]).on()
    try:
        urls = f"{good.url('/a')},{bad.url('/b')}"
        done = run(tmp_path, FORWARD_URLS=urls, FORWARD_SECRET=SECRET)
        assert done.returncode == 1, done.stderr
        assert "ok" in done.stdout and "HTTP 200" in done.stdout
        assert "FAILED" in done.stdout and "HTTP 503" in done.stdout
        (got,) = good.wait(1)
        assert got.document["Type"] == "Lead" and got.webhook_id.startswith("msg_")
        assert good.unverified == [] and bad.unverified == []
        listed = run(tmp_path, "--list", FORWARD_URLS=urls, FORWARD_SECRET=SECRET)
        assert "2 destination(s)" in listed.stdout
        key = listed.stdout.split("\t")[0]
        one = run(tmp_path, "--destination", key, FORWARD_URLS=urls, FORWARD_SECRET=SECRET)
        assert one.stdout.count("\n") == 1
    finally:
        good.off()
        bad.off()


def test_forward_test_explains_an_empty_or_unsigned_setup(tmp_path: Path) -> None:
    empty = run(tmp_path)
    assert empty.returncode == 2 and "FORWARD_URLS" in empty.stderr
    unsigned = run(tmp_path, FORWARD_URLS="http://192.0.2.1/x")
    assert "FORWARD_SECRET is not set" in unsigned.stderr + unsigned.stdout
    assert unsigned.returncode != 0
