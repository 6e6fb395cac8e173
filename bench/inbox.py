"""Inbox at scale: 1M leads and 5M chat messages, server time per page, export memory.

    .venv/bin/python bench/inbox.py [--leads 1000000] [--messages 5000000] [--runs 25]
                                    [--keep DIR] [--reuse DIR] [--verify] [--compare-search]

Builds a database straight into SQLite: the app's own migrations first, then bulk inserts with
the column formats SQLAlchemy writes. For speed the indexes and FTS triggers the migrations
made are dropped during the inserts and then re-created from their own stored SQL, and the
FTS5 indexes are filled with FTS5's ``rebuild`` (which reads every row of the content table,
as the insert triggers would have one by one); the schema is checked to be identical
afterwards, and ``--verify`` runs FTS5's ``integrity-check`` against the content too.

It then starts ``python -m app`` on it, signs in, and requests each page ``--runs`` times over
real HTTP, reporting the handler's own time from the ``Server-Timing`` header (median, p95),
with ``/healthz`` in the same run as the floor. The CSV export is timed to its first body byte,
then downloaded whole while the server's RSS is sampled at every tenth of the rows. Targets:
every page ≤ 50 ms server time (Insights ≤ 100 ms: bench/insights_timing.py), export RSS flat.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import insights_timing  # bench/, beside this file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = ["David", "Maria", "Wei", "Aisha", "John", "Sofia", "Liam", "Yuki", "Omar", "Emma"]
LAST = ["Garcia", "Smith", "Chen", "Khan", "Müller", "Rossi", "Silva", "Tanaka", "Ali", "Brown"]
# Deliberately tiny (22 words): every content word matches a large share of rows, the worst
# case for search.
WORDS = (  # noqa: SIM905 (one line of prose reads better than 22 of list)
    "quote window door kitchen roof repair price visit call tomorrow morning evening "
    "garden paint floor heating boiler leak urgent weekend estimate insurance"
).split()
BOTS = [f"{n:032x}" for n in range(1, 6)]
PASSWORD = "bench password 1"
METRICS_TOKEN = "bench metrics token"
FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy stores for DateTime on SQLite
DAYS = 730
PER_CONVERSATION = 10
PAGE = 51  # one page of results and the look-ahead row, as the app asks for
BULK_TABLES = ("lead", "chat_window", "conversation", "message")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sentences(rng: random.Random, words: int, count: int = 4096) -> list[str]:
    """A pool to draw from: drawing 60M random words one by one would dominate the build."""
    return [
        " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(count)
    ]


def schema(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    return sorted(connection.execute("SELECT name, sql FROM sqlite_master WHERE sql NOT NULL"))


def build(data_dir: Path, leads: int, messages: int, *, verify: bool) -> None:
    from app.config import load_settings
    from app.db import Database

    database = Database(load_settings({"DATA_DIR": str(data_dir)}))
    database.open()  # migrations, exactly as at start-up
    database.close()
    connection = sqlite3.connect(data_dir / "inbox.db", isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")  # a bench fixture, not data anyone keeps
    connection.execute("PRAGMA cache_size=-1000000")  # 1 GB: index builds sort in memory
    before = schema(connection)
    deferred = connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN (?, ?, ?, ?)"
        " AND type IN ('index', 'trigger') AND sql NOT NULL ORDER BY type",  # indexes first
        BULK_TABLES,
    ).fetchall()
    for kind, name, _ in deferred:
        connection.execute(f"DROP {kind.upper()} {name}")
    started = time.monotonic()
    connection.execute("BEGIN")
    insert_leads(connection, leads)
    insert_chat_logs(connection, leads, messages)
    connection.execute("COMMIT")
    print(f"  rows inserted in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    connection.execute("BEGIN")
    for _, _, sql in deferred:
        connection.execute(sql)
    for fts in ("lead_fts", "message_fts"):
        connection.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    fill_phone_index(connection)
    connection.execute("COMMIT")
    print(f"  indexes and FTS built in {time.monotonic() - started:.0f} s", flush=True)
    if schema(connection) != before:
        raise SystemExit("the rebuilt schema differs from what the migrations made")
    if verify:
        started = time.monotonic()
        for fts in ("lead_fts", "message_fts"):
            # rank=1: compare the index with the content table too, not only its structure.
            connection.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
        print(f"  FTS integrity-check passed in {time.monotonic() - started:.0f} s", flush=True)
    connection.execute("ANALYZE")
    connection.close()


def fill_phone_index(connection: sqlite3.Connection) -> None:
    """The phone index (migration phones_0001) is contentless, so FTS5 cannot ``rebuild`` it:
    it is filled with the keys ``app.phones`` gives, as its insert trigger would have."""
    from app import phones

    found = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'lead_phone_fts'")
    if found.fetchone() is None:
        return
    rows = connection.execute("SELECT id, phone_number FROM lead WHERE phone_number <> ''")
    rows = rows.fetchall()
    connection.executemany(
        "INSERT INTO lead_phone_fts(rowid, phone_key) VALUES (?, ?)",
        ((lead_id, phones.stored_key(number)) for lead_id, number in rows),
    )


def insert_leads(connection: sqlite3.Connection, leads: int) -> None:
    rng = random.Random(7)
    pool = sentences(rng, 25)
    start = datetime(2024, 1, 1)
    step = timedelta(days=DAYS) / max(leads, 1)
    now = datetime.now(UTC).strftime(FORMAT)
    connection.executemany(
        "INSERT INTO chatbot (serial_number, name, first_seen_at, last_seen_at)"
        " VALUES (?, ?, ?, ?)",
        [(bot, f"Bot {n}", now, now) for n, bot in enumerate(BOTS)],
    )
    statuses = ("new", "contacted", "done", "archived")

    def rows() -> Iterator[tuple[object, ...]]:
        for n in range(leads):
            moment = (start + step * n).strftime(FORMAT)
            first, last = FIRST[rng.randrange(10)], LAST[rng.randrange(10)]
            yield (
                BOTS[rng.randrange(5)],
                "Appointment" if n % 4 == 0 else "Lead",
                first,
                last,
                f"{first.lower()}.{last.lower()}{n}@example.com",
                f"+1 555 {n:07d}",
                moment,
                moment,
                pool[rng.getrandbits(12)],
                1_000_000 + n,
                statuses[rng.randrange(4)],
                moment,
            )

    connection.executemany(
        "INSERT INTO lead (serial_number, type, first_name, last_name, email, phone_number,"
        " create_time_raw, created_at, content, session_id, status, received_at, uri)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'www.example.com')",
        rows(),
    )


def insert_chat_logs(connection: sqlite3.Connection, leads: int, messages: int) -> None:
    """Daily windows per chatbot over two years, conversations of ten messages, in order."""
    rng = random.Random(8)
    pool = sentences(rng, 12)
    start = datetime(2024, 1, 1)
    now = datetime.now(UTC).strftime(FORMAT)
    conversations = max(1, messages // PER_CONVERSATION)
    windows = [(day, bot) for day in range(DAYS) for bot in BOTS]
    per_window = -(-conversations // len(windows))
    window_rows, conversation_rows = [], []
    conversation_id = 0
    for window_id, (day, bot) in enumerate(windows, start=1):
        if conversation_id >= conversations:
            break
        begin = start + timedelta(days=day)
        count = min(per_window, conversations - conversation_id)
        end = begin + timedelta(days=1)
        raw, parsed = (begin.isoformat() + "Z", end.isoformat() + "Z"), (begin, end)
        messages_in = count * PER_CONVERSATION
        window_rows.append(
            (window_id, bot, *raw, *(t.strftime(FORMAT) for t in parsed), now, count, messages_in)
        )
        for n in range(count):
            conversation_id += 1
            moment = (begin + timedelta(seconds=n * 86400 // count)).strftime(FORMAT)
            session = 1_000_000 + rng.randrange(max(leads, 1))
            conversation_rows.append(
                (conversation_id, window_id, bot, session, moment, PER_CONVERSATION)
            )
    connection.executemany(
        "INSERT INTO chat_window (id, serial_number, name, start_time_raw, end_time_raw,"
        " start_time, end_time, received_at, conversation_count, message_count, complete)"
        " VALUES (?, ?, 'Bot', ?, ?, ?, ?, ?, ?, ?, 1)",
        window_rows,
    )
    connection.executemany(
        "INSERT INTO conversation (id, window_id, serial_number, session_id, create_time_raw,"
        " created_at, uri, message_count) VALUES (?, ?, ?, ?, '', ?, '', ?)",
        conversation_rows,
    )

    def rows() -> Iterator[tuple[object, ...]]:
        for conversation in range(1, conversation_id + 1):
            for position in range(PER_CONVERSATION):
                kind = "AI" if position % 2 == 0 else "User"
                yield conversation, position, kind, pool[rng.getrandbits(12)]

    connection.executemany(
        "INSERT INTO message (conversation_id, position, type, content) VALUES (?, ?, ?, ?)",
        rows(),
    )


def server_ms(answer: httpx.Response) -> float:
    return float(re.search(r"dur=([\d.]+)", answer.headers["server-timing"])[1])


def measure(client: httpx.Client, path: str, runs: int) -> tuple[float, float, float]:
    """(median, p95) of the handler's Server-Timing, and the median wall time, in ms."""
    client.get(path)  # warm caches once
    server, wall = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        server.append(server_ms(answer))
    server.sort()
    return (
        statistics.median(server),
        server[max(int(len(server) * 0.95) - 1, 0)],
        statistics.median(wall),
    )


def export_start(client: httpx.Client, path: str, runs: int) -> tuple[float, float, float, float]:
    """Medians in ms: Server-Timing (handler to response start), wall time to the headers, to
    the first body byte (the header row and the first rows), and the worst Server-Timing."""
    server, headers, first_byte = [], [], []
    for _ in range(runs + 1):
        started = time.perf_counter()
        with client.stream("GET", path) as answer:
            headers.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
            next(answer.iter_raw())
            first_byte.append((time.perf_counter() - started) * 1000)
            server.append(server_ms(answer))
        # The server notices the hang-up only when it next sends: let the abandoned export's
        # chunk finish rather than time the next start against it.
        time.sleep(0.5)
    server, headers, first_byte = server[1:], headers[1:], first_byte[1:]  # [0] warmed caches
    return (
        statistics.median(server),
        statistics.median(headers),
        statistics.median(first_byte),
        max(server),
    )


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def export_memory(client: httpx.Client, pid: int, total: int) -> tuple[list[int], int, float]:
    """Download the whole export; RSS (kB) each time another tenth of ``total`` rows arrived."""
    samples, rows, marks, size = [], 0, 1, 0
    started = time.monotonic()
    with client.stream("GET", "/export.csv?status=all") as answer:
        for chunk in answer.iter_raw(1 << 16):
            size += len(chunk)
            rows += chunk.count(b"\n")  # generated cells hold no line breaks
            while marks <= 10 and rows - 1 >= total * marks / 10:
                samples.append(rss_kb(pid))
                marks += 1
    assert rows - 1 == total, f"exported {rows - 1:,} rows of {total:,}"
    print(f"  exported {total:,} leads, {size / 1e6:.0f} MB in {time.monotonic() - started:.0f} s")
    return samples, rss_kb(pid, "VmHWM"), size


def serve(data: Path, runs: int) -> int:
    counts = (
        sqlite3.connect(data / "inbox.db")
        .execute("SELECT (SELECT count(*) FROM lead), (SELECT count(*) FROM message)")
        .fetchone()
    )
    print(f"database: {counts[0]:,} leads, {counts[1]:,} messages", flush=True)
    port = free_port()
    env = {
        "DATA_DIR": str(data),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "INBOX_PASSWORD": PASSWORD,
        "LOG_LEVEL": "warning",
        "PATH": "/usr/bin:/bin",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    server = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        for _ in range(600):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        client.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})
        deep = client.get("/").text
        for _ in range(20):  # 20 pages in: the keyset cursor, not an OFFSET
            cursor = re.search(r'href="/\?(cursor=[^"]+)"', deep)[1]
            deep = client.get(f"/?{cursor}").text
        phone = f"{counts[0] * 3 // 4:07d}"
        typed = f"+1 (555) {phone[:3]}-{phone[3:]}"
        messages = "/conversations?q=boiler+leak"
        second = re.search(r'href="/conversations\?([^"]*before=[^"]+)"', client.get(messages).text)
        pages = {
            "/healthz (floor)": "/healthz",
            "inbox, first page": "/",
            "inbox, 21st page": f"/?{cursor}",
            "filtered: type+status+chatbot+dates": (
                f"/?type=appointment&status=new&chatbot={BOTS[2]}&since=2024-06-01&until=2025-06-30"
            ),
            "search, common name (garcia)": "/?q=garcia",
            "search, one person (email)": "/?q=maria.rossi",
            "search + filter": "/?q=kitchen+roof&type=lead&status=all",
            # Stored as "+1 555 0nnnnnn": typed another way, and six-plus digits of it.
            "search, phone as typed (+1 (555) …)": "/?q=" + quote(typed),
            "search, phone digits (6+)": f"/?q={phone[-6:]}",
            "chat logs, first page": "/conversations",
            f"message search ({counts[1]:,})": messages,
            "message search, 2nd page": "/conversations?" + second[1].replace("&amp;", "&"),
        }
        print("\n| page | server median | server p95 | wall median |")
        print("| --- | --- | --- | --- |")
        worst = 0.0
        for label, path in pages.items():
            median, p95, wall = measure(client, path, runs)
            if not path.startswith("/healthz"):
                worst = max(worst, p95)
            print(f"| {label} | {median:.1f} ms | {p95:.1f} ms | {wall:.1f} ms |", flush=True)
        insights_worst = insights_timing.insights(client, measure, runs, METRICS_TOKEN)
        print("\n| export | server median | server max | wall to headers | wall to first rows |")
        print("| --- | --- | --- | --- | --- |")
        for label, path in {
            "all leads": "/export.csv?status=all",
            "search (garcia)": "/export.csv?q=garcia",
        }.items():
            median, to_headers, first_byte, most = export_start(client, path, min(runs, 10))
            worst = max(worst, first_byte)
            print(
                f"| {label} | {median:.1f} ms | {most:.1f} ms | {to_headers:.1f} ms "
                f"| {first_byte:.1f} ms |",
                flush=True,
            )
        idle = rss_kb(server.pid)
        samples, peak, _ = export_memory(client, server.pid, counts[0])
        print(
            f"\nserver RSS before export {idle / 1024:.0f} MB; during, at each tenth of rows (MB):"
        )
        print("  " + " ".join(f"{kb / 1024:.0f}" for kb in samples))
        growth = (samples[-1] - samples[0]) / 1024
        print(f"  10% -> 100%: {growth:+.1f} MB; peak (VmHWM) {peak / 1024:.0f} MB")
        flat = abs(growth) < 20
        print(
            f"\nworst p95 {worst:.1f} ms: {'within' if worst <= 50 else 'OVER'} 50 ms; "
            f"export memory {'flat' if flat else 'GROWS'}"
        )
        return 0 if worst <= 50 and flat and insights_worst <= insights_timing.TARGET_MS else 1
    finally:
        server.terminate()
        server.wait(60)


def compare_search(data: Path, runs: int = 7) -> None:
    """In-process, on the same database, alternating: FTS5's own prefix query (what the app did
    before web_0002) against the expanded one ``app.web.queries.search`` builds now, one page
    each."""
    from sqlalchemy import text

    from app.config import load_settings
    from app.db import create_db_engine, migrate
    from app.web.queries import search

    engine = create_db_engine(load_settings({"DATA_DIR": str(data)}))
    migrate(engine)
    print("\n| FTS table | query | FTS5 prefix query | expanded (finding the terms) | expression |")
    print("| --- | --- | --- | --- | --- |")
    with engine.connect() as connection:
        for name, query in (
            ("lead_fts", "garcia"),
            ("lead_fts", "maria rossi"),
            ("lead_fts", "kitchen roof"),
            ("message_fts", "boiler leak"),
        ):
            page = text(
                f"SELECT rowid FROM {name} WHERE {name} MATCH :q ORDER BY rowid DESC LIMIT 51"
            )
            words = search.terms(query)
            old, new, finding = [], [], []
            for _ in range(runs):
                started = time.perf_counter()
                connection.execute(page, {"q": " ".join(f'"{w}"*' for w in words)}).all()
                old.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                expression = " AND ".join(search.expand(connection, name, w) for w in words)
                found = time.perf_counter()
                connection.execute(page, {"q": expression}).all()
                new.append((time.perf_counter() - started) * 1000)
                finding.append((found - started) * 1000)
            print(
                f"| {name} | {query} | {statistics.median(old):.1f} ms "
                f"| {statistics.median(new):.1f} ms ({statistics.median(finding):.1f} ms) "
                f"| `{expression if len(expression) < 40 else expression[:37] + '...'}` |"
            )
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="build into DIR and keep it (for --reuse)")
    parser.add_argument("--reuse", type=Path, help="measure a DIR kept by --keep; no build")
    parser.add_argument("--verify", action="store_true", help="FTS5 integrity-check after build")
    parser.add_argument("--compare-search", action="store_true", help="old vs new FTS queries")
    args = parser.parse_args()
    if args.reuse:
        if args.compare_search:
            compare_search(args.reuse)
        return serve(args.reuse, args.runs)
    with tempfile.TemporaryDirectory() as temp:
        data = args.keep or Path(temp) / "data"
        if args.keep and args.keep.exists():
            shutil.rmtree(args.keep)
        started = time.monotonic()
        print(f"building {args.leads:,} leads, {args.messages:,} messages", flush=True)
        build(data, args.leads, args.messages, verify=args.verify)
        print(f"built in {time.monotonic() - started:.0f} s", flush=True)
        if args.compare_search:
            compare_search(data)
        return serve(data, args.runs)


if __name__ == "__main__":
    sys.exit(main())
