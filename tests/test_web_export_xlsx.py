"""XLSX export: typed cells (phone numbers and formula-like text as text, times as dates in
TZ), notes, the inbox's filter, bounded memory; read back by openpyxl and by LibreOffice Calc.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from conftest import INBOX_PASSWORD, AppProcess, InboxClient, inbox_client
from peak_memory import PeakMemory
from spreadsheets import CSV_OUT, convert
from vendor import HelloClientFake

from app.web.pages import export_xlsx
from app.web.pages.export_rows import Record, headers

BOT = "cccc4444cccc4444cccc4444cccc4444"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEAD = {
    "SerialNumber": BOT,
    "Type": "Lead",
    "FirstName": '=HYPERLINK("http://x","y")',
    "LastName": "Grüße ✓",
    "Email": "-2+3@example.com",
    "PhoneNumber": "+49 170 6950233",
    "CreateTime": "2026-08-01T12:00:00Z",
    "SessionID": 92_001,
    "Content": "=1+1",
    "URI": "0170 6950233",
}


def as_table(content: bytes) -> list[dict[str, Any]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    header, *rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_xlsx_holds_typed_cells_notes_and_follows_the_filter(
    inbox: InboxClient, inbox_vendor: HelloClientFake, tmp_path: Path
) -> None:
    assert inbox_vendor.post(LEAD).status_code == 200
    other = {**LEAD, "Type": "Appointment", "SessionID": 92_002, "FirstName": "Other"}
    assert inbox_vendor.post(other).status_code == 200
    lead_id = inbox.app.scalar("SELECT id FROM lead WHERE session_id = 92001")
    assert inbox.post(f"/leads/{lead_id}/notes", {"body": "Rang: =no answer"}).status_code == 303
    answer = inbox.get(f"/export.xlsx?chatbot={BOT}&type=lead")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    assert 'attachment; filename="leads-' in answer.headers["content-disposition"]
    assert answer.headers["content-disposition"].endswith('.xlsx"')
    assert int(answer.headers["content-length"]) == len(answer.content)
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Leads"]
    header, row = list(book.active.iter_rows())
    cell = {str(title.value): value for title, value in zip(header, row, strict=True)}
    assert cell["id"].value == lead_id and cell["id"].data_type == "n"
    for name, field in (("first_name", "FirstName"), ("content", "Content"), ("uri", "URI")):
        assert cell[name].data_type == "s" and cell[name].value == LEAD[field]  # never a formula
    assert cell["phone_number"].data_type == "s"
    assert cell["phone_number"].value == "+49 170 6950233"
    assert cell["last_name"].value == "Grüße ✓"
    assert cell["created (Europe/Berlin)"].value == datetime(2026, 8, 1, 14, 0)  # a date, in TZ
    assert cell["created (Europe/Berlin)"].is_date
    assert cell["received (Europe/Berlin)"].is_date
    assert cell["notes"].value.endswith(" Rang: =no answer")
    assert cell["session_id"].value == 92_001
    assert as_table(inbox.get("/export.xlsx?q=nothingmatchesthis").content) == []
    assert inbox.get("/export.xlsx?status=nope").status_code == 400

    shown = tmp_path / "leads.xlsx"  # and as LibreOffice Calc opens it: the text as typed
    shown.write_bytes(answer.content)
    calc = list(csv.DictReader(convert(shown, CSV_OUT).open(encoding="utf-8", newline="")))
    assert [row["content"] for row in calc] == ["=1+1"]
    assert calc[0]["first_name"] == LEAD["FirstName"]
    assert calc[0]["phone_number"] == "+49 170 6950233"
    assert calc[0]["uri"] == "0170 6950233"  # the leading zero kept: a text cell


def record(n: int, **fields: Any) -> Record:
    values: dict[str, Any] = {
        "id": n,
        "type": "Lead",
        "status": "new",
        "created": datetime(2026, 1, 1, 12, 0),
        "first_name": f"Lead {n}",
        "last_name": "",
        "email": "",
        "phone_number": "",
        "content": "",
        "notes": "",
        "chatbot": "",
        "chatbot_serial_number": "bot",
        "session_id": n,
        "uri": "",
        "received": datetime(2026, 1, 1, 12, 0),
        **fields,
    }
    return Record(**values)


def test_full_sheets_continue_on_the_next_and_oversized_texts_are_cut(tmp_path: Path) -> None:
    long = "x" * 40_000
    leads = [
        record(1, content=long),
        record(2, content="bell\x07 and half an emoji \ud83d"),
        record(3, session_id=2**60 + 1, created=None),
        record(4),
        record(5),
    ]
    with (tmp_path / "out.xlsx").open("w+b") as file:
        export_xlsx.write(
            file, leads, headers(ZoneInfo("Europe/Berlin")), tmpdir=tmp_path, rows_per_sheet=2
        )
    book = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert book.sheetnames == ["Leads", "Leads 2", "Leads 3"]
    sheets = [[[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in book]
    assert [len(rows) for rows in sheets] == [3, 3, 2]  # each with its header row
    assert all(rows[0][0] == "id" for rows in sheets)
    first, second = sheets[0][1], sheets[0][2]
    assert first[8].startswith("x" * 32_000) and first[8].endswith(export_xlsx.CUT_NOTE)
    assert len(first[8]) <= export_xlsx.CELL_UNITS
    # XML cannot hold a control character: it is written in Excel's own escape (which Excel
    # turns back into the character; openpyxl leaves it), the half emoji as U+FFFD.
    assert second[8] == "bell_x0007_ and half an emoji \ufffd"
    assert sheets[1][1][12] == str(2**60 + 1)  # too long for a number cell: kept exact as text
    assert sheets[1][1][3] is None
    assert [rows[1][0] for rows in sheets] == [1, 3, 5]


def test_a_large_xlsx_export_keeps_memory_bounded(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    count, text = 20_000, "words " * 250  # ~1.5 KB a lead, every one a distinct text
    connection = sqlite3.connect(app.db_path, timeout=30)
    with connection:
        connection.executemany(
            "INSERT INTO lead (serial_number, type, first_name, last_name, email, phone_number,"
            " create_time_raw, created_at, content, session_id, uri, status, received_at)"
            " VALUES ('bulk', 'Lead', 'Bulk', ?, '', '+49 170 6950233', ?, ?, ?, ?, '', 'new',"
            " '2025-01-01 00:00:00.000000')",
            (
                (
                    str(n),
                    f"raw{n}",
                    f"2025-01-01 00:{n // 1000 % 60:02d}:{n % 60:02d}.000000",
                    f"{n} {text}",
                    n,
                )
                for n in range(count)
            ),
        )
    connection.close()
    browser = inbox_client(app)
    started = time.monotonic()
    with PeakMemory(app) as peak:
        answer = browser.get("/export.xlsx")
    took, grown_mb = time.monotonic() - started, peak.grown_mb
    print(f"\nXLSX of {count} leads: {len(answer.content) / 1e6:.1f} MB in {took:.1f} s, "
          f"server peak RSS grew {grown_mb:.1f} MB")  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    assert sum(1 for _ in book.active.iter_rows()) == count + 1
    assert grown_mb < 40, f"the server grew {grown_mb:.0f} MB for {count} leads"
    leftovers = [p for p in app.data_dir.iterdir() if p.name.startswith("tmp")]
    assert leftovers == []  # the workbook and XlsxWriter's row files are gone
