"""Lead ingest: the app's durable rate beside a bare endpoint and the vendor's Node sample, one run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16] [--node-dir DIR]
    .venv/bin/python bench/ingest.py --database postgresql      # app on PostgreSQL vs psycopg
    .venv/bin/python bench/ingest.py --only app --profile app.json   # py-spy, app alone
    .venv/bin/python bench/ingest.py --app-root DIR   # the app from another source tree

Contenders, each one process on loopback, each driven in turn by the same ``wrk -t1 -cN`` load
of distinct pre-signed leads (a Lua table; each request a new lead):
- **bare**: a Starlette endpoint that only answers success (``bench/bare_app.py``): the ceiling;
- **node**: the vendor document's own sample (``bench/node_receiver/``: Express,
  ``express.json()``, its verify code, better-sqlite3 with WAL and ``synchronous=FULL``),
  installed by this script with npm into a temporary folder (``--node-dir`` keeps one);
- **psycopg** (with ``--database postgresql``, instead of node): verify, INSERT, commit per lead;
- **app**: ``python -m app`` with one notification target, on SQLite or PostgreSQL.
Prints requests/s, p50/p99, the server's CPU per request, the ratios, then checks each
receiver's tables: every acknowledged lead stored exactly once; for the app also one accepted
delivery and one queued notification per lead, and the lead found by the inbox's search.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ingest_check import app_complete, postgres_query, sqlite_query, stored_once
from ingest_support import (
    KEY,
    LUA,
    cpu_seconds,
    create_database,
    free_port,
    postgres_cluster,
    run_wrk,
    start,
    thread_ticks,
    write_requests,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
API_TOKEN = "bench-api-token"
UVICORN = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "--no-access-log"]


def install_node_sample(folder: Path) -> Path:
    """``npm install`` of Express and better-sqlite3@12 next to the sample's server.js."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "server.js"):
        shutil.copy(BENCH / "node_receiver" / name, folder / name)
    if (folder / "node_modules" / "better-sqlite3" / "build" / "Release").is_dir():
        return folder
    env = dict(os.environ)
    if Path("/usr/include/node/node_api.h").exists():
        # When better-sqlite3's prebuilt binary cannot be fetched (GitHub unreachable), it is
        # compiled with node-gyp, which would otherwise download Node's headers from nodejs.org.
        env.setdefault("npm_config_nodedir", "/usr")
    print(f"npm install express better-sqlite3@12 in {folder} (a source build takes minutes)")
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        env=env,
        check=True,
    )
    return folder


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--leads", type=int, default=150_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--node-dir", type=Path, help="install the Node sample here and keep it")
    parser.add_argument("--only", action="append", help="run only these contenders")
    parser.add_argument("--profile", type=Path, help="py-spy speedscope profile of the app")
    parser.add_argument("--app-root", type=Path, help="run the app from this source tree")
    parser.add_argument(
        "--no-target",
        action="store_true",
        help="no notification target (a diagnosis, not the goal)",
    )
    args = parser.parse_args()
    baseline = "node" if args.database == "sqlite" else "psycopg"
    names = args.only or ["bare", baseline, "app"]

    with tempfile.TemporaryDirectory() as tmp, postgres_or_none(args.database) as postgres:
        work = Path(tmp)
        script, data = work / "leads.lua", work / "leads.txt"
        script.write_text(LUA)
        if "node" in names:  # before signing: a source build can outlast the clock tolerance
            args.node_dir = install_node_sample(args.node_dir or work / "node")
        write_requests(data, args.leads)
        env = {k: v for k, v in os.environ.items() if k != "WEBHOOK_SIGNING_KEY"}
        env.update(WEBHOOK_SIGNING_KEY=KEY, LOG_LEVEL="warning", HOST="127.0.0.1")
        results: dict[str, dict[str, float]] = {}
        problems: dict[str, list[str]] = {}
        for name in names:
            port = free_port()
            command, run_env, cwd, query = contender(name, args, work, postgres, env, port)
            print(f"{name}: load average {load()}", flush=True)
            process = start(command, run_env, port, work / f"{name}.log", cwd)
            try:
                results[name] = measure(process.pid, port, script, data, args, name)
                acknowledged = int(results[name]["requests"] - results[name]["failed"])
                problems[name] = (
                    [] if query is None else stored_once(query, acknowledged, args.connections)
                )
                if name == "app":
                    base_url = f"http://127.0.0.1:{port}"
                    problems[name] += app_complete(
                        query, base_url, API_TOKEN, notified=not args.no_target
                    )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
    report(results, problems, baseline)
    return 0 if all(not p for p in problems.values()) else 1


def contender(
    name: str,
    args: argparse.Namespace,
    work: Path,
    postgres: tuple[str, Path] | None,
    env: dict[str, str],
    port: int,
) -> tuple[list[str], dict[str, str], Path | None, Any]:
    """Command, environment, folder and table query for one contender."""
    run_env = {**env, "PORT": str(port)}
    if name == "bare":
        return [*UVICORN, "--port", str(port), "bare_app:app"], run_env, None, None
    if name == "node":
        run_env["DB_PATH"] = str(work / "node.db")
        return ["node", "server.js"], run_env, args.node_dir, sqlite_query(str(work / "node.db"))
    if name == "psycopg":
        assert postgres is not None
        url = create_database(postgres[1], postgres[0], "baseline")
        run_env["DATABASE_URL"] = url
        command = [*UVICORN, "--port", str(port), "psycopg_receiver:app"]
        return command, run_env, None, postgres_query(url)
    if args.app_root:
        run_env["PYTHONPATH"] = str(args.app_root.resolve())
    run_env.update(
        DATA_DIR=str(work / "data"),
        API_TOKEN=API_TOKEN,
        # One target, so every lead queues a notification; nothing listens there, so after its
        # first failure the target backs off and sending stays out of the measurement.
        APPRISE_URLS="" if args.no_target else f"json://127.0.0.1:{free_port()}/",
    )
    if postgres is not None:
        url = create_database(postgres[1], postgres[0], "inbox")
        run_env["DATABASE_URL"] = url.replace("postgresql://", "postgresql+psycopg://")
        return [sys.executable, "-m", "app"], run_env, args.app_root, postgres_query(url)
    query = sqlite_query(str(work / "data" / "inbox.db"))
    return [sys.executable, "-m", "app"], run_env, args.app_root, query


def measure(
    pid: int, port: int, script: Path, data: Path, args: argparse.Namespace, name: str
) -> dict[str, float]:
    profiler = None
    if args.profile and name == "app":
        profiler = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "py-spy"), "record", "--threads", "--idle"),
                "--subprocesses",
                *("-r", "250", "-f", "speedscope", "-o", str(args.profile), "-p", str(pid)),
            ],
            stdout=subprocess.DEVNULL,
        )
    cpu_before, threads_before = cpu_seconds(pid), thread_ticks(pid)
    result = run_wrk(port, script, data, args.seconds, args.connections)
    clock = os.sysconf("SC_CLK_TCK")
    busy = [(tid, t - threads_before.get(tid, 0)) for tid, t in thread_ticks(pid).items()]
    result["cpu_us"] = 1e6 * (cpu_seconds(pid) - cpu_before) / result["requests"]
    result["threads"] = sorted(
        ((1e6 * b / clock / result["requests"], tid.split()[0]) for tid, b in busy if b),
        reverse=True,
    )  # type: ignore[assignment]
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)
    return result


def postgres_or_none(database: str) -> Any:
    return postgres_cluster() if database == "postgresql" else contextlib.nullcontext(None)


def report(
    results: dict[str, dict[str, float]], problems: dict[str, list[str]], baseline: str
) -> None:
    for name, r in results.items():
        threads = ", ".join(f"{name} {t:.0f}" for t, name in r["threads"][:3])  # type: ignore[attr-defined]
        print(
            f"{name:8} {r['rps']:8.0f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
            f"requests {r['requests']:.0f}  non-2xx {r['failed']:.0f}  "
            f"CPU {r['cpu_us']:.0f} us/request (busiest threads {threads})"
        )
        if r.get("socket_errors"):
            print(f"{'':8} socket errors: {r['socket_errors']}")
    if "app" in results:
        app = results["app"]
        for other in ("bare", baseline):
            if other in results:
                print(f"app/{other}: {app['rps'] / results[other]['rps']:.2f}")
        if baseline in results:
            met = app["rps"] >= 1.5 * results[baseline]["rps"] and app["p99"] <= 25
            print(
                f"goal (app >= 1.5 x {baseline}, app p99 <= 25 ms): {'met' if met else 'NOT met'}"
            )
    for name, found in problems.items():
        print(f"{name}: " + ("; ".join(found) if found else "every acknowledged lead stored once"))


if __name__ == "__main__":
    sys.exit(main())
