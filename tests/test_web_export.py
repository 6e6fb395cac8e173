"""CSV export: the inbox's filter with notes, UTF-8 with BOM and CRLF, times in TZ, streamed;
opened by a real spreadsheet (LibreOffice Calc), no cell runs as a formula and phone numbers
show as typed.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
from conftest import INBOX_PASSWORD, AppProcess, InboxClient, inbox_client
from peak_memory import PeakMemory
from spreadsheets import CSV_IN, convert
from vendor import HelloClientFake

BOT = "ffff1111ffff1111ffff1111ffff1111"
CREATED = "created (Europe/Berlin)"
HOSTILE = {
    "FirstName": '=HYPERLINK("http://x","y")',
    "LastName": "@SUM(A1)",
    "Email": "-2+3@example.com",
    "URI": "=1+1",
    "Content": "-2+3",
}
_sessions = itertools.count(91_001)


def rows_of(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets look for
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def lead(**fields: Any) -> dict[str, Any]:
    return {
        "SerialNumber": BOT,
        "Type": "Lead",
        "FirstName": "Plain",
        "LastName": "Person",
        "Email": "plain@example.com",
        "PhoneNumber": "+49 170 6950233",
        "CreateTime": "2026-08-01T12:00:00Z",
        "SessionID": next(_sessions),
        "Content": "Grüße, naïve café ✓\nsecond line",
        **fields,
    }


def post(inbox: InboxClient, vendor: HelloClientFake, payload: dict[str, Any]) -> int:
    assert vendor.post(payload).status_code == 200
    found = inbox.app.scalar("SELECT id FROM lead WHERE session_id = ?", (payload["SessionID"],))
    assert isinstance(found, int)
    return found


def test_csv_follows_the_filter_with_notes_and_times_in_tz(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    hostile = post(inbox, inbox_vendor, lead(**HOSTILE))
    plain = post(inbox, inbox_vendor, lead(Type="Appointment", CreateTime="2026-08-01T13:00:00Z"))
    for body in ("Called back: no answer", "=1+1 is\nwhat they asked"):
        assert inbox.post(f"/leads/{hostile}/notes", {"body": body}).status_code == 303
    answer = inbox.get(f"/export.csv?chatbot={BOT}")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="leads-' in answer.headers["content-disposition"]
    rows = rows_of(answer.content)
    # Records end in CRLF; a line break inside a cell is LF, as Excel writes it (Alt+Enter).
    assert answer.content.count(b"\r\n") == answer.content.count(b"\r") == len(rows) + 1
    assert [int(row["id"]) for row in rows] == [plain, hostile]  # newest first
    formula = rows[1]
    assert formula["first_name"] == "'" + HOSTILE["FirstName"]
    assert formula["last_name"] == "'@SUM(A1)"
    assert formula["email"] == "'-2+3@example.com"
    assert formula["uri"] == "'=1+1"
    assert formula["content"] == "'-2+3"
    assert formula["phone_number"] == "+49 170 6950233"  # an ordinary number: no apostrophe
    assert rows[0]["content"] == "Grüße, naïve café ✓\nsecond line"
    assert formula[CREATED] == "2026-08-01 14:00:00"  # in TZ, which the header names
    received = datetime.strptime(formula["received (Europe/Berlin)"], "%Y-%m-%d %H:%M:%S")
    assert abs((received - datetime.now()).total_seconds()) < 3 * 3600
    assert formula["chatbot_serial_number"] == BOT
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d"  # when each note was added, in TZ
    assert re.fullmatch(
        f"{stamp} Called back: no answer\n{stamp} =1\\+1 is\nwhat they asked", formula["notes"]
    )
    assert rows[0]["notes"] == ""
    only = rows_of(inbox.get(f"/export.csv?chatbot={BOT}&type=appointment").content)
    assert [int(row["id"]) for row in only] == [plain]
    empty = rows_of(inbox.get("/export.csv?q=nothingmatchesthis").content)
    assert empty == []
    assert inbox.get("/export.csv?status=nope").status_code == 400


def test_only_what_a_spreadsheet_would_run_is_neutralised(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    kept = ("+49 170 6950233", "+1 555 0100", "-5", "+491706950233", "0170 6950233", "12.5")
    changed = ("+49-170-6950233", "-2+3", "+", "-", "@x", "\t=1", "=A1", "+49 (170) 6950233")
    bot = "eeee2222eeee2222eeee2222eeee2222"
    for value in (*kept, *changed):
        post(inbox, inbox_vendor, lead(SerialNumber=bot, PhoneNumber=value))
    rows = rows_of(inbox.get(f"/export.csv?chatbot={bot}").content)
    phones = {row["phone_number"] for row in rows}
    assert phones == {*kept, *("'" + value for value in changed)}


# ---- opened by LibreOffice Calc ----------------------------------------------------------


def cells_after_calc_opens(csv_file: Path) -> list[list[openpyxl.cell.Cell]]:
    """The CSV as LibreOffice Calc reads it, saved as XLSX: each cell with its type."""
    book = openpyxl.load_workbook(convert(csv_file, "xlsx", infilter=CSV_IN))
    return [list(row) for row in book.active.iter_rows()]


def test_calc_runs_no_cell_of_the_export_and_shows_phone_numbers_as_typed(
    inbox: InboxClient, inbox_vendor: HelloClientFake, tmp_path: Path
) -> None:
    control = tmp_path / "control.csv"  # the same cell, not neutralised: Calc does run it
    control.write_text('id,v\r\n1,=1+1\r\n2,"=HYPERLINK(""http://x"",""y"")"\r\n', "utf-8-sig")
    assert {row[1].data_type for row in cells_after_calc_opens(control)[1:]} == {"f"}

    bot = "dddd3333dddd3333dddd3333dddd3333"
    post(inbox, inbox_vendor, lead(SerialNumber=bot, **HOSTILE))
    exported = tmp_path / "leads.csv"
    exported.write_bytes(inbox.get(f"/export.csv?chatbot={bot}").content)
    header, row = cells_after_calc_opens(exported)
    by_name = {str(title.value): cell for title, cell in zip(header, row, strict=True)}
    assert [cell.coordinate for cell in row if cell.data_type == "f"] == []
    assert by_name["first_name"].value == "'" + HOSTILE["FirstName"]  # shown, never run
    assert by_name["uri"].value == "'=1+1"
    assert by_name["content"].value == "'-2+3"
    assert by_name["phone_number"].data_type == "s"
    assert by_name["phone_number"].value == "+49 170 6950233"  # as typed, no apostrophe
    assert by_name[CREATED].value == datetime(2026, 8, 1, 14, 0)  # a real date, in TZ
    assert by_name["last_name"].value == "'@SUM(A1)"


# ---- a large export ----------------------------------------------------------------------


def fill(app: AppProcess, count: int, text: str) -> None:
    """``count`` leads written straight into the database, each with a note."""
    connection = sqlite3.connect(app.db_path, timeout=30)
    with connection:
        connection.executemany(
            "INSERT INTO lead (serial_number, type, first_name, last_name, email, phone_number,"
            " create_time_raw, created_at, content, session_id, uri, status, received_at)"
            " VALUES ('bulk', 'Lead', 'Bulk', ?, '', '+49 170 6950233', ?, ?, ?, ?, '', 'new', ?)",
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
        connection.execute(
            "INSERT INTO note (lead_id, created_at, body) SELECT id, received_at, 'noted' FROM lead"
        )
    connection.close()


def test_a_large_export_streams_in_bounded_memory(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    count = 60_000
    fill(app, count, "words " * 250)  # ~1.5 KB a lead, ~90 MB of CSV
    browser = inbox_client(app)
    size = lines = notes = 0
    with PeakMemory(app) as peak, browser.client.stream("GET", "/export.csv") as answer:
        assert "content-length" not in answer.headers  # streamed, not built first
        for chunk in answer.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")  # a "\r\n" may straddle two chunks
            notes += chunk.count(b" noted,")
    assert lines == count + 1
    assert notes == count
    assert size > 80_000_000
    print(f"\nCSV of {count} leads: {size / 1e6:.0f} MB, server peak grew {peak.grown_mb:.1f} MB")
    assert peak.grown_mb < 40, f"the server grew {peak.grown_mb:.0f} MB for {size / 1e6:.0f} MB"
