"""The image on its own: lean, labelled, holding only the app, and starting with no settings.

Needs a Docker engine (see tests/containers.py); select with `-m container`. The first run
builds the image (a minute or two).
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from conftest import eventually
from containers import Stack, base_image, project_version, run

pytestmark = pytest.mark.container

BUDGET_BYTES = 100 * 1000 * 1000  # what the image may add to its base (docker's MB)


def test_the_image_is_lean_and_holds_only_the_app(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    size = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", stack.image]))
    base = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", base_image()]))
    added = size - base
    with capsys.disabled():
        print(
            f"\nimage {stack.image}: {size / 1e6:.1f} MB, base {base_image()} "
            f"{base / 1e6:.1f} MB, the project adds {added / 1e6:.1f} MB "
            f"(budget {BUDGET_BYTES / 1e6:.0f} MB)"
        )
    assert added <= BUDGET_BYTES

    labels = json.loads(
        run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", stack.image])
    )
    assert labels["org.opencontainers.image.version"] == project_version()
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert "org.opencontainers.image.source" in labels

    look = "ls -A /app; command -v gcc cc curl || true"
    listing = run(["docker", "run", "--rm", "--entrypoint", "sh", stack.image, "-c", look]).split()
    assert "app" in listing and "templates" in listing and "static" in listing
    for unwanted in ("tests", ".git", ".venv", "data", ".env", "bench", "docs", "gcc", "cc"):
        assert unwanted not in listing
    assert not any(entry.endswith(("/curl", "/gcc", "/cc")) for entry in listing)


def answers_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_starts_without_any_configuration(stack: Stack) -> None:
    """`docker run IMAGE` alone: an anonymous /data volume, no key, no password."""
    container = run(["docker", "run", "-d", "-p", "127.0.0.1::8080", stack.image]).strip()
    try:
        published = run(["docker", "port", container, "8080/tcp"]).split()[0]
        url = f"http://{published}"
        eventually(
            lambda: answers_health(url),
            what=lambda: run(["docker", "logs", container]),
            timeout=60,
            every=0.2,
        )
        page = httpx.get(url, follow_redirects=True, timeout=10)
        assert page.status_code == 200
        assert page.url.path == "/setup", "a fresh install opens on the setup page"
        uid = run(["docker", "exec", container, "stat", "-c", "%u:%g", "/data/inbox.db"])
        assert uid.strip() == "1000:1000", "the default PUID:PGID own the anonymous volume"
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", container], capture_output=True)
