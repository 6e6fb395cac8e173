"""The daily chat-log push: one ~100 MB signed delivery, against the simple approach, in one run.

    .venv/bin/python bench/push.py [--messages 500000] [--mb 100] [--chatbots 300] [--pretty]

Generates a push shaped like the vendor's chat-log webhook (many chatbots, one window each, varied
text with some non-ASCII), signs it as the vendor does, POSTs it to a real ``python -m app`` with
its own DATA_DIR and measures: seconds from the end of the upload to ``{"status":"success"}``,
seconds until every message is stored and searchable (FTS5 is kept by triggers in the same
transaction, so a committed message is a searchable one; the end is checked with MATCH and FTS5's
integrity-check), and the server's peak RSS (VmHWM, children included). Then it runs two
references (``bench/push_references.py``), each in a fresh process on a fresh database with the
same migrations: the floor (the same rows through plain sqlite3, FTS5 triggers included) and the
simple approach (``json.loads`` of the whole body and ORM inserts, ``Session.add``), and prints
the ratios. ``--app-root`` runs the app from another source tree, to measure a change side by
side. ``--pretty`` then pushes the same content pretty-printed to a fresh server, signed over
its JSON.stringify form as the vendor signs, so it verifies only in that form, and reports its
peak too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from push_build import FINAL_MARKER, KEY, build_push, free_port, pretty_printed, signature

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = Path(__file__).with_name("push_references.py")  # the baseline and the floor
TARGETS = {"ack": 5.0, "searchable": 60.0, "rss_mb": 300.0}

# ---- measuring the server ---------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return pids


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    return sum(status_kb(p, "VmHWM") for p in process_tree(pid)) / 1024


class RssSampler(threading.Thread):
    """RSS every 20 ms, labelled with the phase, to tell which step sets the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.phase, self.done = pid, "idle", threading.Event()
        self.peaks: dict[str, float] = {}
        self.kinds: dict[str, dict[str, float]] = {}  # anonymous, file-backed, shared

    def run(self) -> None:
        while not self.done.is_set():
            pids = process_tree(self.pid)
            rss = sum(status_kb(p, "VmRSS") for p in pids) / 1024
            if rss > self.peaks.get(self.phase, 0.0):
                phase = self.phase
                self.peaks[phase] = rss
                self.kinds[phase] = {
                    kind: sum(status_kb(p, kind) for p in pids) / 1024
                    for kind in ("RssAnon", "RssFile", "RssShmem")
                }
            time.sleep(0.02)


def post(port: int, body: bytes, signed: bytes) -> tuple[float, float, int, bytes]:
    """Upload seconds, seconds from the last byte sent to the whole answer, status, answer;
    ``signed`` is what the signature covers (the body itself, unless pretty-printed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("POST", "/webhook")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("X-Webhook-Signature", signature(signed, str(int(time.time()))))
    connection.endheaders()
    started = time.monotonic()
    view = memoryview(body)
    for offset in range(0, len(body), 1 << 20):
        connection.send(view[offset : offset + (1 << 20)])
    uploaded = time.monotonic()
    response = connection.getresponse()
    answer = response.read()
    answered = time.monotonic()
    connection.close()
    return uploaded - started, answered - uploaded, response.status, answer


def wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()}")


def run_app(
    work: Path, body: bytes, expected: int, profile: str | None, root: Path, signed: bytes
) -> dict[str, Any]:
    data = work / "app-data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SIGNING_KEY", "DATABASE_URL")}
    env.update(DATA_DIR=str(data), WEBHOOK_SIGNING_KEY=KEY, HOST="127.0.0.1", PORT=str(port))
    env["PYTHONPATH"] = str(root)  # -m app from cwd would find it too; say it outright
    env.setdefault("LOG_LEVEL", "warning")
    log = work / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root
        )
    sampler = RssSampler(process.pid)
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_healthy(port, process, log)
        idle = sum(status_kb(p, "VmRSS") for p in process_tree(process.pid)) / 1024
        sampler.start()
        if profile:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                 str(process.pid), "--threads", "--rate", "50", "--format", "speedscope",
                 "--output", profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )  # fmt: skip
            time.sleep(1)
        sampler.phase = "upload"
        upload, ack, status, answer = post(port, body, signed)
        answered = time.monotonic() - ack
        sampler.phase = "processing"
        database = sqlite3.connect(data / "inbox.db", timeout=30)
        while True:
            row = database.execute(
                "SELECT process_status, process_error FROM delivery ORDER BY id LIMIT 1"
            ).fetchone()
            if row and row[0] != "pending":
                break
            if process.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text()}")
            time.sleep(0.05)
        searchable = time.monotonic() - answered
        sampler.phase = "after"
        time.sleep(0.5)
        peak = peak_rss_mb(process.pid)
        check = verify(database, expected)
        timeline = database.execute(
            "SELECT (julianday(processing_started_at) - julianday(committed_at)) * 86400, "
            "(julianday(processed_at) - julianday(processing_started_at)) * 86400, "
            "record_count, process_status, process_error FROM delivery ORDER BY id LIMIT 1"
        ).fetchone()
        database.close()
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(120)
        sampler.done.set()
        process.send_signal(signal.SIGTERM)
        process.wait(120)
    return {
        "status": status,
        "answer": answer,
        "upload": upload,
        "ack": ack,
        "searchable": searchable,
        "idle_mb": idle,
        "peak_mb": peak,
        "phase_peaks": sampler.peaks,
        "phase_kinds": sampler.kinds,
        "queue_wait": timeline[0],
        "processing": timeline[1],
        "records": timeline[2],
        "process_status": timeline[3],
        "process_error": timeline[4],
        **check,
    }


def verify(database: sqlite3.Connection, expected: int) -> dict[str, Any]:
    started = time.monotonic()
    messages = database.execute("SELECT count(*) FROM message").fetchone()[0]
    final = database.execute(
        "SELECT count(*) FROM message_fts WHERE message_fts MATCH ?", (FINAL_MARKER,)
    ).fetchone()[0]
    try:
        database.execute("INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")
        integrity = "ok"
    except sqlite3.DatabaseError as exc:
        integrity = str(exc)
    return {
        "messages": messages,
        "final_found": final,
        "fts_integrity": integrity,
        "ok": messages == expected and final == 1 and integrity == "ok",
        "verify_seconds": time.monotonic() - started,
    }


def run_worker(kind: str, work: Path, body_path: Path, expected: int) -> dict[str, Any]:
    data = work / f"{kind}-data"
    output = subprocess.run(
        [sys.executable, str(REFERENCES), kind, str(body_path), str(data)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    database = sqlite3.connect(data / "inbox.db")
    result.update(verify(database, expected))
    database.close()
    return result


# ---- the run ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--mb", type=float, default=100.0, help="approximate body size")
    parser.add_argument("--chatbots", type=int, default=300)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--pretty",
        action="store_true",
        help="also push it pretty-printed (signed in JSON.stringify form) to a fresh server",
    )
    parser.add_argument("--profile", help="py-spy speedscope output file for the app run")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=ROOT,
        help="run the app from this source tree (to measure a proposed change side by side)",
    )
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}", flush=True)
    started = time.monotonic()
    body = build_push(args.messages, args.mb, min(args.chatbots, args.messages))
    print(
        f"push: {len(body) / 1e6:.1f} MB, {args.messages} messages, {args.chatbots} chatbots "
        f"(built in {time.monotonic() - started:.1f} s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        work = Path(tmp)
        body_path = work / "push.json"
        body_path.write_bytes(body)
        app_root = args.app_root.resolve()
        app = run_app(work, body, args.messages, args.profile, app_root, body)
        pretty = None
        if args.pretty:
            (work / "pretty").mkdir()
            indented = pretty_printed(body)
            print(f"pretty-printed: {len(indented) / 1e6:.1f} MB", flush=True)
            pretty = run_app(work / "pretty", indented, args.messages, None, app_root, body)
            del indented
        del body
        print(f"load average after app run: {os.getloadavg()}", flush=True)
        floor = run_worker("floor", work, body_path, args.messages)
        print(f"load average after floor: {os.getloadavg()}", flush=True)
        base = None
        if not args.skip_baseline:
            base = run_worker("baseline", work, body_path, args.messages)
            print(f"load average after baseline: {os.getloadavg()}", flush=True)
        if app["process_error"]:
            print(f"app errors: {app['process_error'][:500]}")
        print(
            f"app: HTTP {app['status']} {app['answer'][:40]!r}; upload {app['upload']:.2f} s; "
            f"end of upload -> success {app['ack']:.2f} s (target <= {TARGETS['ack']:.0f}); "
            f"success -> all searchable {app['searchable']:.1f} s "
            f"(committed -> processing started {app['queue_wait']:.2f} s, "
            f"processing {app['processing']:.1f} s); "
            f"total end of upload -> searchable {app['ack'] + app['searchable']:.1f} s "
            f"(target <= {TARGETS['searchable']:.0f})"
        )
        kinds = app["phase_kinds"]
        phases = ", ".join(
            f"{k} {v:.0f} ({' '.join(f'{n[3:]} {m:.0f}' for n, m in kinds.get(k, {}).items())})"
            for k, v in app["phase_peaks"].items()
        )
        print(
            f"app memory: idle {app['idle_mb']:.0f} MB, peak (VmHWM) {app['peak_mb']:.0f} MB "
            f"(target <= {TARGETS['rss_mb']:.0f}); sampled RSS peak by phase (MB): {phases}"
        )
        print(
            f"app check: {app['messages']} messages stored, final message found "
            f"{app['final_found']}x, FTS integrity {app['fts_integrity']}"
        )
        searchable = app["ack"] + app["searchable"]
        print(
            f"floor (sqlite3 executemany, same rows and commits, FTS5 triggers): "
            f"{floor['total']:.1f} s ({floor['cpu']:.1f} s CPU), FTS integrity "
            f"{floor['fts_integrity']}; app processing / floor "
            f"{app['processing'] / floor['total']:.2f}"
        )
        if pretty is not None:
            print(
                f"pretty-printed push (JSON.stringify form): HTTP {pretty['status']}; "
                f"end of upload -> success {pretty['ack']:.2f} s; -> all searchable "
                f"{pretty['ack'] + pretty['searchable']:.1f} s; peak (VmHWM) "
                f"{pretty['peak_mb']:.0f} MB (target <= {TARGETS['rss_mb']:.0f}); "
                f"{pretty['messages']} messages, FTS integrity {pretty['fts_integrity']}"
            )
        pretty_ok = pretty is None or (
            pretty["ok"]
            and pretty["answer"] == b'{"status":"success"}'
            and pretty["peak_mb"] <= TARGETS["rss_mb"]
        )
        ok = (
            pretty_ok
            and app["ok"]
            and app["answer"] == b'{"status":"success"}'
            and app["ack"] <= TARGETS["ack"]
            and searchable <= TARGETS["searchable"]
            and app["peak_mb"] <= TARGETS["rss_mb"]
        )
        if base is not None:
            print(
                f"simple approach (json.loads + ORM): parse {base['parse']:.1f} s, total "
                f"{base['total']:.1f} s, peak {base['peak_mb']:.0f} MB; {base['messages']} "
                f"messages, FTS integrity {base['fts_integrity']}"
            )
            print(
                f"ratios app/simple: time to success {app['ack'] / base['total']:.3f}, "
                f"time to searchable {searchable / base['total']:.2f}, "
                f"peak RSS {app['peak_mb'] / base['peak_mb']:.2f}"
            )
        print("all targets met" if ok else "TARGET MISSED or check failed")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
