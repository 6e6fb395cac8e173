"""CSV export: the inbox's filter, UTF-8 with BOM, formula cells neutralised, streamed."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

from conftest import INBOX_PASSWORD, AppProcess, InboxClient, inbox_client
from vendor import HelloClientFake

BOT = "ffff1111ffff1111ffff1111ffff1111"


def rows_of(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets look for
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_follows_the_filter_and_neutralises_formulas(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    hostile = {
        "SerialNumber": BOT,
        "Type": "Lead",
        "FirstName": '=HYPERLINK("http://x")',
        "LastName": "@SUM(A1)",
        "Email": "-2+3@example.com",
        "PhoneNumber": "+1 555 0100",
        "CreateTime": "2026-08-01T12:00:00Z",
        "SessionID": 91001,
        "Content": "Grüße, naïve café ✓\nsecond line",
    }
    plain = {
        **hostile,
        "Type": "Appointment",
        "FirstName": "Plain",
        "LastName": "Person",
        "Email": "plain@example.com",
        "PhoneNumber": "",
        "SessionID": 91002,
    }
    for payload in (hostile, plain):
        assert inbox_vendor.post(payload).status_code == 200
    answer = inbox.get(f"/export.csv?chatbot={BOT}")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="leads-' in answer.headers["content-disposition"]
    rows = rows_of(answer.content)
    assert [row["first_name"] for row in rows] == ["Plain", '\'=HYPERLINK("http://x")']
    formula = rows[1]
    assert formula["last_name"] == "'@SUM(A1)"
    assert formula["email"] == "'-2+3@example.com"
    assert formula["phone_number"] == "'+1 555 0100"
    assert formula["content"] == "Grüße, naïve café ✓\nsecond line"
    assert formula["created"] == "2026-08-01T14:00:00+02:00"  # in TZ
    assert formula["chatbot_serial_number"] == BOT
    only = rows_of(inbox.get(f"/export.csv?chatbot={BOT}&type=appointment").content)
    assert [row["first_name"] for row in only] == ["Plain"]
    empty = rows_of(inbox.get("/export.csv?q=nothingmatchesthis").content)
    assert empty == []
    assert inbox.get("/export.csv?status=nope").status_code == 400


def peak_memory_kb(app: AppProcess) -> int:
    assert app.proc is not None
    status = Path(f"/proc/{app.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def test_a_large_export_streams_in_bounded_memory(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    count, text = 60_000, "words " * 250  # ~1.5 KB a lead, ~90 MB of CSV
    connection = sqlite3.connect(app.db_path, timeout=30)
    with connection:
        connection.executemany(
            "INSERT INTO lead (serial_number, type, first_name, last_name, email, phone_number,"
            " create_time_raw, created_at, content, session_id, uri, status, received_at)"
            " VALUES ('bulk', 'Lead', 'Bulk', ?, '', '', ?, ?, ?, ?, '', 'new', ?)",
            (
                (
                    str(n),
                    f"raw{n}",
                    f"2025-01-01 00:{n // 1000 % 60:02d}:00.000000",
                    text,
                    n,
                    "2025-01-01 00:00:00.000000",
                )
                for n in range(count)
            ),
        )
    connection.close()
    browser = inbox_client(app)
    before = peak_memory_kb(app)
    size = lines = 0
    with browser.client.stream("GET", "/export.csv") as answer:
        assert "content-length" not in answer.headers  # streamed, not built first
        for chunk in answer.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")  # a "\r\n" may straddle two chunks
    assert lines == count + 1
    assert size > 80_000_000
    grown_mb = (peak_memory_kb(app) - before) / 1024
    assert grown_mb < 40, f"the server grew {grown_mb:.0f} MB for a {size / 1e6:.0f} MB export"
