"""Lead ingest: the app's durable rate against a bare Starlette endpoint, in one run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16]

Starts both servers (same uvicorn settings, one process each), drives each with wrk using
pre-signed, distinct lead deliveries from a Lua table, prints requests/s, latency percentiles and
the ratio, then checks that every acknowledged lead is in the database.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-sign-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


THREADS = 2
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


def write_requests(path: Path, count: int) -> None:
    """Distinct, signed lead bodies, one per line; each wrk thread walks its own stride."""
    now = str(int(time.time()))
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps(
                {
                    "SerialNumber": "59001dd73709417321c58b11693183a2",
                    "Type": "Lead" if n % 3 else "Appointment",
                    "FirstName": f"First{n}",
                    "LastName": "Bench",
                    "Email": f"lead{n}@example.com",
                    "PhoneNumber": "+1 555 0100",
                    "CreateTime": "2026-11-25T10:00:00.000000Z",
                    "Content": "Please call me back about the offer.",
                    "SessionID": n,
                    "URI": "www.helloclient.com",
                },
                separators=(",", ":"),
            )
            mac = hmac.new(KEY.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"t={now},v1={mac}\t{body}\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used so far."""
    return _ticks(Path(f"/proc/{pid}/stat")) / os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[str, int]:
    return {task.name: _ticks(task / "stat") for task in Path(f"/proc/{pid}/task").iterdir()}


def _ticks(stat: Path) -> int:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/webhook", content=b"{}", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {log.read_text()}")


def run_wrk(
    port: int, script: Path, data: Path, seconds: int, connections: int
) -> dict[str, float]:
    output = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/webhook",
            "--",
            str(data),
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

    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50": latency("50%"),
        "p99": latency("99%"),
        "requests": requests,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--leads", type=int, default=150_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script, data = work / "leads.lua", work / "leads.txt"
        script.write_text(LUA)
        write_requests(data, args.leads)
        env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SIGNING_KEY",)}
        env.update(DATA_DIR=str(work / "data"), WEBHOOK_SIGNING_KEY=KEY, LOG_LEVEL="warning")
        results = {}
        per_thread: dict[str, list[int]] = {}
        for name, command in (
            (
                "bare",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(ROOT / "bench"),
                    "bare_app:app",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
            ),
            ("app", [sys.executable, "-m", "app"]),
        ):
            port = free_port()
            run_env = {**env, "PORT": str(port), "HOST": "127.0.0.1"}
            if name == "bare":
                command = [*command, "--port", str(port)]
            process = start(command, run_env, port, work / f"{name}.log")
            try:
                cpu_before = cpu_seconds(process.pid)
                threads_before = thread_ticks(process.pid)
                results[name] = run_wrk(port, script, data, args.seconds, args.connections)
                busy = [
                    ticks - threads_before.get(tid, 0)
                    for tid, ticks in thread_ticks(process.pid).items()
                ]
                per_thread[name] = sorted((b for b in busy if b), reverse=True)
                results[name]["cpu_us"] = (
                    1e6 * (cpu_seconds(process.pid) - cpu_before) / results[name]["requests"]
                )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        database = sqlite3.connect(work / "data" / "inbox.db")
        stored = database.execute("SELECT count(*) FROM lead").fetchone()[0]
        acknowledged = results["app"]["requests"] - results["app"]["failed"]

    for name, result in results.items():
        print(
            f"{name:5} {result['rps']:9.0f} req/s  p50 {result['p50']:6.2f} ms  "
            f"p99 {result['p99']:6.2f} ms  requests {result['requests']:.0f}  "
            f"non-2xx {result['failed']:.0f}  server CPU {result['cpu_us']:.0f} us/request"
        )
    for name, ticks in per_thread.items():
        clock = os.sysconf("SC_CLK_TCK")
        shares = ", ".join(f"{1e6 * t / clock / results[name]['requests']:.0f}" for t in ticks)
        print(f"{name:5} busiest threads, us CPU/request: {shares}")
    ratio = results["app"]["rps"] / results["bare"]["rps"]
    # CPU time per request is what a busy machine disturbs least: it bounds the ratio that an
    # otherwise idle machine would show, when both servers are CPU-bound.
    cpu_ratio = results["bare"]["cpu_us"] / results["app"]["cpu_us"]
    print(f"CPU-per-request ratio bare/app: {cpu_ratio:.2f}")
    print(
        f"ratio app/bare: {ratio:.2f} (target >= 0.5); app p99 {results['app']['p99']:.2f} ms "
        "(target <= 25)"
    )
    # wrk stops counting at the deadline; up to one request per connection was still in flight
    # then, answered by the server but not counted, so stored may exceed acknowledged by that.
    print(f"acknowledged {acknowledged:.0f}, stored {stored} (leads in the table: {args.leads})")
    ok = (
        acknowledged <= stored <= acknowledged + args.connections
        and results["app"]["failed"] == 0
        and results["app"]["requests"] < args.leads  # every request a distinct lead
    )
    print("every acknowledged lead stored" if ok else "MISMATCH between acknowledged and stored")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
