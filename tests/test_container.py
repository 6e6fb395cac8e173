"""The Docker appliance for real: image, compose.yaml, entrypoint, shutdown, size budget.

Needs a Docker engine; `../shared/tools/container-env` provides one here (and a local stand-in
for the base image, as no image registry is reachable). Without an engine the Docker tests skip
with the reason, unless REQUIRE_DOCKER=1 (set by .ci/run), which turns the skip into a failure.
Select them with `-m container`. The first run builds the image (a minute or two).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import APP_VARIABLES, SIGNING_KEY, free_port
from test_backup import post_lead, session_ids

from app.config import documented_names

API_TOKEN = "container-test-api-token"

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_ENV = ROOT.parent / "shared" / "tools" / "container-env"
BUDGET_BYTES = 100 * 1000 * 1000  # what the image may add to its base (docker's MB)
PUID, PGID = 1234, 2345  # deliberately not 1000, the image's default, nor the host's root
FIXED_BY_IMAGE = {"HOST", "PORT", "DATA_DIR"}

docker_test = pytest.mark.container


def base_image() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "Dockerfile declares ARG PYTHON_IMAGE=<base image>"
    return match.group(1)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def compose_service() -> dict[str, object]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["inbox"]


# ---- fast checks: no engine needed ----------------------------------------------------------


def test_compose_hands_every_setting_through() -> None:
    """compose.yaml lists variables one by one; a new setting must not be forgotten there."""
    environment = compose_service()["environment"]
    assert isinstance(environment, dict)
    expected = [name for name in documented_names() if name not in FIXED_BY_IMAGE]
    missing = [f"      {name}: ${{{name}:-}}" for name in expected if name not in environment]
    assert missing == [], "add to compose.yaml's environment:\n" + "\n".join(missing)
    assert sorted(set(environment) - set(expected)) == []
    for name, value in environment.items():
        assert str(value).startswith(f"${{{name}:-"), f"{name} comes from .env or the shell"


def test_compose_is_the_documented_shape() -> None:
    service = compose_service()
    assert service["build"] == "."
    assert service["image"]
    assert service["ports"] == ["8080:8080"]
    assert service["volumes"] == ["./data:/data"]
    assert service["restart"] == "unless-stopped"
    assert "python" in service["healthcheck"]["test"]  # type: ignore[index]


def test_image_labels_carry_the_project_version() -> None:
    match = re.search(r"^ARG VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match and match.group(1) == project_version()


# ---- the engine and a compose project on a temporary data folder ---------------------------


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def engine() -> None:
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
        compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
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
        service["healthcheck"]["interval"] = "2s"
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
            time.sleep(1)

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


@pytest.fixture(scope="module")
def stack(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("compose"))
    stack.write_compose_file()
    # A folder made by root, as `mkdir data` with sudo or an earlier root container leaves it.
    stack.data.mkdir()
    (stack.data / "left-by-root.txt").write_text("the entrypoint hands this to PUID:PGID\n")
    dangling_before = set(run(["docker", "images", "-q", "--filter", "dangling=true"]).split())
    try:
        stack.compose("up", "-d", "--build")
        stack.wait_healthy()
        yield stack
    finally:
        stack.attempt("down", "--volumes", "--rmi", "all", "--remove-orphans", timeout=300)
        # The builder stage is left behind untagged by the classic builder: ours to remove too.
        dangling = set(run(["docker", "images", "-q", "--filter", "dangling=true"]).split())
        for image in dangling - dangling_before:
            subprocess.run(["docker", "rmi", "--force", image], capture_output=True, timeout=120)


def up(stack: Stack) -> None:
    """Make each test independent of which ran before it."""
    if stack.container() == "" or stack.inspect("{{.State.Running}}") != "true":
        stack.compose("up", "-d")
    stack.wait_healthy()


# ---- the appliance ----------------------------------------------------------------------------


@docker_test
def test_runs_healthy_as_puid_pgid_and_hands_them_the_data(stack: Stack) -> None:
    up(stack)
    status = dict(line.split(":", 1) for line in stack.exec("cat", "/proc/1/status").splitlines())
    assert status["Uid"].split() == [str(PUID)] * 4, "the server runs as PUID, not root"
    assert status["Gid"].split() == [str(PGID)] * 4
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"
    assert "python -m app" in stack.exec("cat", "/proc/1/cmdline").replace("\0", " ")

    entries = [stack.data, *stack.data.rglob("*")]
    assert (stack.data / "inbox.db") in entries
    assert {(p.stat().st_uid, p.stat().st_gid) for p in entries} == {(PUID, PGID)}
    assert (stack.data / "inbox.db").stat().st_mode & 0o007 == 0, "UMASK=027 was applied"
    assert stack.exec("date", "+%Z").strip() in ("CET", "CEST"), "TZ reaches the process"
    assert httpx.get(f"{stack.url}/healthz", timeout=10).json()["status"] == "ok"


@docker_test
def test_a_lead_survives_restart_down_and_up(stack: Stack) -> None:
    up(stack)
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    command = [sys.executable, "-m", "app", "send-test", "lead"]
    sent = subprocess.run(
        [*command, "--url", f"{stack.url}/webhook", "--key", SIGNING_KEY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    leads = stack.leads_seen_inside()
    assert len(leads) >= 1
    assert session_ids(stack.data / "inbox.db") == leads, "the bind mount is the database"

    # `docker compose exec` runs as root; the backup must still belong to PUID:PGID.
    stack.exec("python", "-m", "app", "backup", "/data/backups/")
    (backup,) = (stack.data / "backups").glob("inbox-*.db")
    assert (backup.stat().st_uid, backup.stat().st_gid) == (PUID, PGID)
    assert session_ids(backup) == leads

    stack.compose("restart")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == leads

    stack.compose("down")
    assert (stack.data / "inbox.db").is_file(), "down keeps the data folder"
    assert session_ids(stack.data / "inbox.db") == leads

    stack.compose("up", "-d")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == leads


@docker_test
def test_backup_and_restore_the_documented_way(stack: Stack) -> None:
    """docs/upgrading.md: backup with `exec` while serving, restore with `run` when stopped."""
    up(stack)
    stack.exec("python", "-m", "app", "backup", "/data/restore-test.db")
    saved = session_ids(stack.data / "restore-test.db")
    with httpx.Client(timeout=10) as client:
        later = post_lead(client, stack.url)
    assert later is not None and later not in saved

    refused = stack.attempt(
        "exec", "-T", "inbox", "python", "-m", "app", "restore", "/data/restore-test.db"
    )
    assert refused.returncode != 0 and "in use" in refused.stderr, "not under a running server"

    stack.compose("stop")
    restored = stack.compose(
        "run", "--rm", "inbox", "python", "-m", "app", "restore", "/data/restore-test.db"
    )
    assert "restored" in restored
    database = stack.data / "inbox.db"
    assert (database.stat().st_uid, database.stat().st_gid) == (PUID, PGID)
    (kept,) = stack.data.glob("inbox.db.before-restore-*")
    assert later in session_ids(kept)

    stack.compose("up", "-d")
    stack.wait_healthy()
    assert stack.leads_seen_inside() == saved


@docker_test
def test_sigterm_during_a_burst_keeps_every_acknowledged_delivery(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    up(stack)
    before = session_ids(stack.data / "inbox.db")
    acknowledged: list[int] = []
    answered_at: list[float] = []
    failed = 0
    stop = threading.Event()
    lock = threading.Lock()

    def send() -> None:
        nonlocal failed
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                session = post_lead(client, stack.url)
                with lock:
                    if session is None:
                        failed += 1
                    else:
                        acknowledged.append(session)
                        answered_at.append(time.monotonic())

    senders = [threading.Thread(target=send, daemon=True) for _ in range(8)]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 100:
        assert time.monotonic() < deadline, f"only {len(acknowledged)} acknowledged"
        time.sleep(0.05)
    acknowledged_before_stop = len(acknowledged)
    stopping = time.monotonic()
    stack.compose("stop")  # SIGTERM, then compose waits (stop_grace_period) for the exit
    time.sleep(1)  # the senders keep knocking on a closed door for a moment
    stop.set()
    for sender in senders:
        sender.join(90)

    assert stack.inspect("{{.State.Status}} {{.State.ExitCode}}") == "exited 0", "clean exit"
    logs = stack.compose("logs", "--no-color", "inbox")
    assert "Finished server process" in logs, "uvicorn shut down gracefully"
    assert failed > 0, "the burst was still going when the server stopped"
    stored = session_ids(stack.data / "inbox.db")
    late = sum(moment > stopping for moment in answered_at)
    with capsys.disabled():
        print(
            f"\nSIGTERM burst: {len(acknowledged)} acknowledged ({late} after `stop` began), "
            f"{failed} refused or cut off, {len(stored - before)} stored"
        )
    assert set(acknowledged) <= stored, "every acknowledged delivery is stored"
    assert len(stored - before) >= acknowledged_before_stop


@docker_test
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


@docker_test
def test_starts_without_any_configuration(stack: Stack) -> None:
    """`docker run IMAGE` alone: an anonymous /data volume, no key, no password."""
    container = run(["docker", "run", "-d", "-p", "127.0.0.1::8080", stack.image]).strip()
    try:
        published = run(["docker", "port", container, "8080/tcp"]).split()[0]
        url = f"http://{published}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, run(["docker", "logs", container])
            time.sleep(0.5)
        page = httpx.get(url, follow_redirects=True, timeout=10)
        assert page.status_code == 200
        assert page.url.path == "/setup", "a fresh install opens on the setup page"
        uid = run(["docker", "exec", container, "stat", "-c", "%u:%g", "/data/inbox.db"])
        assert uid.strip() == "1000:1000", "the default PUID:PGID own the anonymous volume"
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", container], capture_output=True)
