"""The Docker appliance under test: the engine, and one compose project built from this checkout.

`../shared/tools/container-env` provides an engine here (and a local stand-in for the base image,
as no image registry is reachable). Without an engine the Docker tests skip with the reason,
unless REQUIRE_DOCKER=1 (set by .ci/run), which turns the skip into a failure. The fixtures
(``engine``, ``stack``) are in conftest.py; the image is built once per session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from servers import APP_VARIABLES, SIGNING_KEY, free_port

API_TOKEN = "container-test-api-token"

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_ENV = ROOT.parent / "shared" / "tools" / "container-env"
PUID, PGID = 1234, 2345  # deliberately not 1000, the image's default, nor the host's root


def base_image() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "Dockerfile declares ARG PYTHON_IMAGE=<base image>"
    return match.group(1)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def compose_file() -> dict[str, dict[str, dict[str, object]]]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


# ---- the engine ---------------------------------------------------------------------------


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


def ensure_engine() -> None:
    """A Docker engine with compose and the base image, or skip (fail under REQUIRE_DOCKER=1)."""
    base = base_image()
    if CONTAINER_ENV.exists():
        try:
            result = subprocess.run(
                [str(CONTAINER_ENV), base], capture_output=True, text=True, timeout=1200
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            unavailable(f"{CONTAINER_ENV} did not finish: {exc}")
        else:
            if result.returncode != 0:
                unavailable(f"{CONTAINER_ENV} failed: {result.stderr.strip()[-500:]}")
    elif shutil.which("docker") is None:
        unavailable(f"neither docker nor {CONTAINER_ENV} is available")
    for probe in (["docker", "info"], ["docker", "compose", "version"]):
        if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
            unavailable(f"`{' '.join(probe)}` does not answer")
    if subprocess.run(["docker", "image", "inspect", base], capture_output=True).returncode:
        unavailable(f"base image {base} is not present and cannot be pulled here")


def dangling_images() -> set[str]:
    return set(run(["docker", "images", "-q", "--filter", "dangling=true"]).split())


# ---- a compose project on a temporary data folder ------------------------------------------


@dataclass
class Stack:
    """One compose project: the real compose.yaml with a temporary data folder and port."""

    workdir: Path
    name: str = field(default_factory=lambda: f"inboxtest{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def image(self) -> str:
        return f"hello-client-inbox-test:{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_compose_file(self) -> None:
        compose = compose_file()
        service = compose["services"]["inbox"]
        # Only what must differ on a shared test machine: the build context (this file lives
        # elsewhere), a throwaway image tag, a free loopback port, the temporary data folder,
        # and a short health interval so "healthy" comes in seconds, not after 30 s.
        service.update(
            build=str(ROOT),
            image=self.image,
            ports=[f"127.0.0.1:{self.port}:8080"],
            volumes=[f"{self.data}:/data"],
        )
        healthcheck = service["healthcheck"]
        assert isinstance(healthcheck, dict)
        healthcheck["interval"] = "2s"
        (self.workdir / "compose.yaml").write_text(yaml.safe_dump(compose))

    def environ(self) -> dict[str, str]:
        # The developer's own settings must not leak in through compose's ${VAR} interpolation.
        env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
        env.pop("COMPOSE_FILE", None)
        env.pop("COMPOSE_PROJECT_NAME", None)
        env.update(
            PUID=str(PUID),
            PGID=str(PGID),
            UMASK="027",
            TZ="Europe/Berlin",
            WEBHOOK_SIGNING_KEY=SIGNING_KEY,
            API_TOKEN=API_TOKEN,
        )
        return env

    def attempt(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-p", self.name, "-f", str(self.workdir / "compose.yaml")]
        return subprocess.run(
            [*command, *args], env=self.environ(), capture_output=True, text=True, timeout=timeout
        )

    def compose(self, *args: str, timeout: float = 900) -> str:
        result = self.attempt(*args, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result.stdout

    def container(self) -> str:
        return self.compose("ps", "-q", "inbox").strip()

    def inspect(self, template: str) -> str:
        return run(["docker", "inspect", "--format", template, self.container()]).strip()

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while (status := self.inspect("{{.State.Health.Status}}")) != "healthy":
            if time.monotonic() > deadline or self.inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"container is {status}:\n{self.compose('logs')}")
            time.sleep(0.5)

    def up(self) -> None:
        """Running and healthy, whatever the test before left it as: tests stay independent."""
        if self.container() == "" or self.inspect("{{.State.Running}}") != "true":
            self.compose("up", "-d")
        self.wait_healthy()

    def exec(self, *command: str, user: str | None = None) -> str:
        as_user = ["-u", user] if user else []
        return self.compose("exec", "-T", *as_user, "inbox", *command)

    def leads_seen_inside(self) -> set[int]:
        """The session ids of the stored leads, read back through the JSON API."""
        response = httpx.get(
            f"{self.url}/api/leads",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=30,
        )
        response.raise_for_status()
        return {lead["session_id"] for lead in response.json()["leads"]}

    def remove(self) -> None:
        """Down, with the volumes and the images built for it."""
        self.attempt("down", "--volumes", "--rmi", "all", "--remove-orphans", timeout=300)
