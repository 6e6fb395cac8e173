"""The XLSX export, written by XlsxWriter in its constant-memory mode: each row goes to a
temporary file as soon as the next one starts, and texts are written inline rather than into a
shared-strings table (which openpyxl's write-only mode keeps in memory, one entry per distinct
text), so memory stays flat however many leads there are.

Every text is a text cell, never a formula or a number ("+49 170 6950233" and "=1+1" stay as
typed); ids are numbers; times are date cells in the user's zone, named in the header.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from app.web import safe
from app.web.pages.export_rows import Record

SHEET_ROWS = 1_048_576  # Excel's limit; further leads go on to a next sheet
CELL_UNITS = 32_767  # Excel's limit on a cell's text, in UTF-16 code units
CUT_NOTE = "\n… (cut here: the whole text is on the lead's page)"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
WIDTHS = (8, 12, 10, 19, 16, 16, 28, 20, 60, 40, 20, 34, 12, 30, 19)
OPTIONS = {
    "constant_memory": True,
    # Texts as texts, whatever they look like (write_string never converts; this is for
    # anything written through write()).
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


def fitted(text: str) -> str:
    """``text`` made safe to write, and cut to what a cell holds, saying so when it is cut."""
    text = safe.text(text)
    if len(text) <= CELL_UNITS // 2 or len(text.encode("utf-16-le")) // 2 <= CELL_UNITS:
        return text
    room = CELL_UNITS - len(CUT_NOTE)
    kept = text.encode("utf-16-le")[: room * 2].decode("utf-16-le", errors="ignore")
    return kept + CUT_NOTE


class Sheets:
    """Worksheets filled in turn, each with the header row, a frozen top row and a filter."""

    def __init__(self, workbook: xlsxwriter.Workbook, headers: list[str], rows_per_sheet: int):
        self.workbook, self.headers, self.rows_per_sheet = workbook, headers, rows_per_sheet
        self.bold = workbook.add_format({"bold": True})
        self.time: Format = workbook.add_format({"num_format": TIME_FORMAT})
        self.sheet: Worksheet | None = None
        self.row = 0

    def next_row(self) -> tuple[Worksheet, int]:
        if self.sheet is None or self.row == self.rows_per_sheet:
            if self.sheet is not None:
                self._filter(self.sheet)
            self.sheet, self.row = self._new_sheet(), 0
        self.row += 1
        return self.sheet, self.row

    def finish(self) -> None:
        """Close the sheet being filled (no leads: a sheet with the header row all the same)."""
        if self.sheet is None:
            self.sheet = self._new_sheet()
        self._filter(self.sheet)

    def _filter(self, sheet: Worksheet) -> None:
        sheet.autofilter(0, 0, self.row, len(self.headers) - 1)

    def _new_sheet(self) -> Worksheet:
        number = len(self.workbook.worksheets()) + 1
        sheet = self.workbook.add_worksheet("Leads" if number == 1 else f"Leads {number}")
        for column, width in enumerate(WIDTHS):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(1, 0)
        for column, header in enumerate(self.headers):
            sheet.write_string(0, column, header, self.bold)
        return sheet


def cells(lead: Record) -> tuple[int | str | datetime | None, ...]:
    """The row's values in the order of ``export_rows.headers``."""
    return (
        lead.id,
        lead.type,
        lead.status,
        lead.created,
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.phone_number,
        lead.content,
        lead.notes,
        lead.chatbot,
        lead.chatbot_serial_number,
        # Past 2**53 a number cell would round the id: keep such an id as text.
        lead.session_id if abs(lead.session_id) < 2**53 else str(lead.session_id),
        lead.uri,
        lead.received,
    )


def write_row(sheet: Worksheet, row: int, lead: Record, time: Format) -> None:
    for column, value in enumerate(cells(lead)):
        if isinstance(value, str):
            sheet.write_string(row, column, fitted(value))
        elif isinstance(value, datetime):
            sheet.write_datetime(row, column, value, time)
        elif value is not None:
            sheet.write_number(row, column, value)


def write(
    file: IO[bytes],
    leads: Iterable[Record],
    headers: list[str],
    *,
    tmpdir: Path,
    rows_per_sheet: int = SHEET_ROWS - 1,
) -> None:
    workbook = xlsxwriter.Workbook(file, {**OPTIONS, "tmpdir": str(tmpdir)})
    sheets = Sheets(workbook, headers, rows_per_sheet)
    for lead in leads:
        sheet, row = sheets.next_row()
        write_row(sheet, row, lead, sheets.time)
    sheets.finish()
    workbook.close()
