"""What bench/ingest.py needs besides its contenders: signed leads, wrk, /proc, PostgreSQL."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

KEY = "bench-sign-key"
THREADS = 1  # wrk -t1: one load thread, so the servers keep the other core

LUA = """
local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
function init(args)
  sigs, bodies = {}, {}
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    sigs[#sigs + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
  stride = tonumber(args[2])
  i = offset
end
function request()
  local n = (i % #bodies) + 1
  i = i + stride
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Webhook-Signature"] = sigs[n]
  return wrk.format("POST", nil, nil, bodies[n])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lead(n: int) -> dict[str, object]:
    """The n-th lead: a third are appointments; ``Zq{n}x`` is a word no other lead holds."""
    return {
        "SerialNumber": "59001dd73709417321c58b11693183a2",
        "Type": "Lead" if n % 3 else "Appointment",
        "FirstName": f"Zq{n}x",
        "LastName": "Bench",
        "Email": f"lead{n}@example.com",
        "PhoneNumber": "+1 555 0100",
        "CreateTime": "2026-11-25T10:00:00.000000Z",
        "Content": "Please call me back about the offer.",
        "SessionID": n,
        "URI": "www.helloclient.com",
    }


def write_requests(path: Path, count: int) -> None:
    """Distinct, signed lead bodies, one per line. Compact ASCII JSON, so the raw body is also
    what Node's ``JSON.stringify(req.body)`` gives: the Node sample's check passes too."""
    now = str(int(time.time()))
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps(lead(n), separators=(",", ":"))
            mac = hmac.new(KEY.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"t={now},v1={mac}\t{body}\n")


def family(pid: int) -> list[int]:
    """The process and its descendants (the app's ingest process is a fork of the server)."""
    pids = [pid]
    for parent in pids:
        with contextlib.suppress(FileNotFoundError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    pids += [int(child) for child in (task / "children").read_text().split()]
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its children (all threads) have used so far."""
    ticks = 0
    for member in family(pid):
        with contextlib.suppress(FileNotFoundError):
            ticks += _ticks(Path(f"/proc/{member}/stat"))
    return ticks / os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[str, int]:
    """CPU ticks per thread of the process and its children, by ``name pid/tid``."""
    ticks = {}
    for member in family(pid):
        with contextlib.suppress(FileNotFoundError):
            for task in Path(f"/proc/{member}/task").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    name = (task / "comm").read_text().strip().replace(" ", "_")
                    where = "" if member == pid else "child:"  # the app's ingest process
                    ticks[f"{where}{name} {member}/{task.name}"] = _ticks(task / "stat")
    return ticks


def _ticks(stat: Path) -> int:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(
    command: list[str], env: dict[str, str], port: int, log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start: {log.read_text()}")


def run_wrk(
    port: int, script: Path, data: Path, seconds: int, connections: int
) -> dict[str, float]:
    output = subprocess.run(
        [
            *("wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"),
            *("-s", str(script), f"http://127.0.0.1:{port}/webhook", "--", str(data)),
            str(THREADS),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert requests and rate, output
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return {
        "rps": float(rate.group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "requests": int(requests.group(1)),
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",  # type: ignore[dict-item]
    }


def as_postgres_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package creates the "postgres" user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_cluster() -> Iterator[tuple[str, Path]]:
    """A throwaway PostgreSQL cluster (as tests/test_postgres.py starts one): its bare URL
    (``postgresql://…/``, no database) and its bin folder."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise SystemExit("PostgreSQL server binaries not installed (Debian package postgresql)")
    bin_dir = Path(binaries[-1])
    root = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "inbox"]
    subprocess.run(as_postgres_user(initdb), check=True, capture_output=True)
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w"]
    # fsync and synchronous_commit stay at their defaults (on): a commit is on disk.
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(as_postgres_user([*pg_ctl, "-o", options, "start"]), check=True)
    try:
        yield f"postgresql://inbox@127.0.0.1:{port}", bin_dir
    finally:
        subprocess.run(as_postgres_user([*pg_ctl, "-m", "fast", "stop"]), check=False)
        shutil.rmtree(root, ignore_errors=True)


def create_database(bin_dir: Path, url: str, name: str) -> str:
    port = url.rsplit(":", 1)[1]
    createdb = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "inbox", name]
    subprocess.run(as_postgres_user(createdb), check=True)
    return f"{url}/{name}"
