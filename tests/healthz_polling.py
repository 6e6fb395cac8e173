"""Polling /healthz as the container's check does (4 s timeout), until it says what we expect."""

from __future__ import annotations

import time

import httpx
from servers import AppProcess

CHECK_TIMEOUT = 4.0  # the HEALTHCHECK's urlopen timeout in the Dockerfile and compose.yaml


def healthz(app: AppProcess) -> httpx.Response:
    """One check; the container's would fail on a slower answer, so this does too."""
    started = time.monotonic()
    response = httpx.get(f"{app.url}/healthz", timeout=CHECK_TIMEOUT + 1)
    elapsed = time.monotonic() - started
    assert elapsed < CHECK_TIMEOUT, f"/healthz took {elapsed:.1f} s"
    assert response.status_code in (200, 503), response.text
    body = response.json()
    assert body["status"] == ("ok" if response.status_code == 200 else "error"), body
    return response


def wait_for_health(app: AppProcess, status: int, *, timeout: float = 30) -> httpx.Response:
    """Poll (as a load balancer would) until /healthz answers ``status``; that answer."""
    deadline = time.monotonic() + timeout
    while (response := healthz(app)).status_code != status:
        assert time.monotonic() < deadline, f"/healthz still {response.text}"
        time.sleep(0.2)
    return response
