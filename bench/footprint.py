"""Footprint: idle memory, cold start to healthy, image size.

    .venv/bin/python bench/footprint.py [--runs 5] [--no-docker] [--source DIR]

Starts ``python -m app`` and, as the baseline, the bare Starlette endpoint of
``bench/bare_app.py`` under uvicorn (one process each, the same interpreter, loopback), each
``--runs`` times, and reports the median time from process start to the first good answer
(``GET /healthz`` 200 for the app, ``POST /webhook`` 200 for the bare endpoint): once with an
empty data directory (migrations included) and once restarting on an existing one. Memory is the
server's ``VmRSS`` from /proc, plus the private pages of its ingest process (a fork sharing the
rest), once it has answered and settled (restarted on an existing data
directory, as an appliance runs after its first start), and again after a few ordinary
requests (sign-in, inbox, chat logs, search, status page, CSV export, a refused webhook).
Targets: idle RSS ≤ 80 MB, cold start ≤ 2 s. Then, if a Docker engine answers
(``../shared/tools/container-env`` starts one here), it builds the image as
``tests/test_container.py`` does and reports its size beside the base image's; without an
engine it says that it skipped. ``--source DIR`` runs ``python -m app`` from another copy of
the source tree (to weigh a change before making it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app import shapes
from app.signature import HEADER, sign

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_ENV = ROOT.parent / "shared" / "tools" / "container-env"
PASSWORD = "bench password 1"
IMAGE = "hello-client-inbox-footprint:bench"
TARGETS = {"rss_mb": 80.0, "start_s": 2.0}
SIGN_KEY = "footprint-sign-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """The server's ``VmRSS``, plus what each child process holds of its own (the app's ingest
    process is a fork: the pages it shares with the server are counted once, in the server)."""
    status = Path(f"/proc/{pid}/status").read_text()
    total_kb = int(re.search(r"VmRSS:\s+(\d+)", status)[1])
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        rollup = Path(f"/proc/{child}/smaps_rollup").read_text()
        total_kb += sum(int(kb) for kb in re.findall(r"Private_(?:Clean|Dirty):\s+(\d+)", rollup))
    return total_kb / 1024


def command(kind: str, port: int) -> list[str]:
    if kind == "app":
        return [sys.executable, "-m", "app"]
    return [
        *(sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "bare_app:app"),
        *("--no-access-log", "--log-level", "warning", "--host", "127.0.0.1"),
        *("--port", str(port)),
    ]


def healthy(client: httpx.Client, kind: str) -> bool:
    try:
        if kind == "app":
            return client.get("/healthz").status_code == 200
        return client.post("/webhook", content=b"{}").status_code == 200
    except httpx.TransportError:
        return False


SOURCE = [ROOT]  # where ``python -m app`` runs from (--source)


def start(kind: str, data: Path) -> tuple[subprocess.Popen[bytes], httpx.Client, float]:
    """The server, a client for it, and the seconds from spawn to its first good answer."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(data),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "INBOX_PASSWORD": PASSWORD,
        "LOG_LEVEL": "warning",
        "WEBHOOK_SIGNING_KEY": SIGN_KEY,
    }
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    started = time.perf_counter()
    cwd = SOURCE[0] if kind == "app" else ROOT
    server = subprocess.Popen(command(kind, port), env=env, cwd=cwd, stderr=subprocess.DEVNULL)
    while not healthy(client, kind):
        if server.poll() is not None or time.perf_counter() - started > 60:
            raise SystemExit(f"{kind} did not start (exit {server.returncode})")
        time.sleep(0.005)
    return server, client, time.perf_counter() - started


def stop(server: subprocess.Popen[bytes], client: httpx.Client) -> None:
    client.close()
    server.terminate()
    server.wait(30)


def exercise(client: httpx.Client) -> None:
    """A few ordinary requests: what a person checking the inbox does."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
    signed = client.post(
        "/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD}
    )
    assert signed.status_code in (200, 303), signed.status_code
    for path in ("/", "/?q=garcia", "/conversations", "/conversations?q=boiler", "/status"):
        assert client.get(path).status_code == 200, path
    for path in ("/export.csv", "/healthz"):
        assert client.get(path).status_code == 200, path
    client.post("/webhook", content=b'{"Type":"Lead"}')  # unsigned: refused, and logged
    body = json.dumps(shapes.sample_lead(), separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    stored = client.post(
        "/webhook", content=body, headers={HEADER: f"t={stamp},v1={sign(SIGN_KEY, stamp, body)}"}
    )
    assert stored.json() == {"status": "success"}, stored.text  # the ingest process at work


def cold_starts(kind: str, runs: int, work: Path) -> tuple[float, float]:
    """Median seconds to healthy: on an empty data directory, and restarting on that one."""
    fresh, again = [], []
    for run in range(runs):
        data = work / f"{kind}-{run}"
        for times in (fresh, again):
            server, client, seconds = start(kind, data)
            times.append(seconds)
            stop(server, client)
    return statistics.median(fresh), statistics.median(again)


def memory(kind: str, work: Path) -> tuple[float, float]:
    """RSS (MB) settled after start, and after a few requests: a restart on existing data,
    as an appliance runs every day after its first start."""
    stop(*start(kind, work / f"{kind}-memory")[:2])
    server, client, _ = start(kind, work / f"{kind}-memory")
    try:
        time.sleep(2)  # start-up work done, threads parked
        idle = rss_mb(server.pid)
        if kind == "app":
            exercise(client)
        else:
            for _ in range(10):
                healthy(client, kind)
        time.sleep(2)
        return idle, rss_mb(server.pid)
    finally:
        stop(server, client)


def docker_ready() -> str | None:
    """None when a Docker engine answers (starting one with container-env); else why not."""
    if shutil.which("docker") is None and not CONTAINER_ENV.exists():
        return "no docker and no container-env"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)[1]
    if CONTAINER_ENV.exists():
        prepared = subprocess.run([str(CONTAINER_ENV), base], capture_output=True, text=True)
        if prepared.returncode != 0:
            return f"container-env failed: {prepared.stderr.strip()[-300:]}"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "`docker info` does not answer"
    return None


def image_sizes() -> tuple[int, int, float]:
    """(image bytes, base image bytes, build seconds)."""
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)[1]
    started = time.monotonic()
    subprocess.run(
        ["docker", "build", "-q", "-t", IMAGE, str(ROOT)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    seconds = time.monotonic() - started

    def size(image: str) -> int:
        found = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", image],
            check=True,
            capture_output=True,
            text=True,
        )
        return int(found.stdout.strip())

    return size(IMAGE), size(base), seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-docker", action="store_true", help="skip the image size")
    parser.add_argument("--source", type=Path, default=ROOT, help="run the app from DIR")
    args = parser.parse_args()
    SOURCE[0] = args.source.resolve()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} runs each", flush=True)
    failed = False
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        starts = {kind: cold_starts(kind, args.runs, work) for kind in ("bare", "app")}
        rss = {kind: memory(kind, work) for kind in ("bare", "app")}
    print("\n| | bare Starlette | app | app / bare |")
    print("| --- | --- | --- | --- |")
    for label, index in (("cold start, empty data dir", 0), ("cold start, existing data", 1)):
        bare, app = starts["bare"][index], starts["app"][index]
        print(f"| {label} (median) | {bare:.2f} s | {app:.2f} s | {app / bare:.1f}x |")
    for label, index in (("RSS after start", 0), ("RSS after a few requests", 1)):
        bare, app = rss["bare"][index], rss["app"][index]
        print(f"| {label} | {bare:.0f} MB | {app:.0f} MB | {app / bare:.1f}x |")
    worst_start = max(starts["app"])
    worst_rss = max(rss["app"])
    for name, value, target, unit in (
        ("cold start", worst_start, TARGETS["start_s"], "s"),
        ("idle RSS", worst_rss, TARGETS["rss_mb"], "MB"),
    ):
        ok = value <= target
        failed |= not ok
        verdict = "met" if ok else "MISSED"
        print(f"{name}: {value:.2f} {unit}, target ≤ {target:g} {unit}: {verdict}")
    if args.no_docker:
        print("image size: skipped (--no-docker)")
    elif (reason := docker_ready()) is not None:
        print(f"image size: skipped ({reason})")
    else:
        image, base, seconds = image_sizes()
        print(
            f"image size: {image / 1e6:.0f} MB ({base / 1e6:.0f} MB base + "
            f"{(image - base) / 1e6:.0f} MB of ours; built in {seconds:.0f} s)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
