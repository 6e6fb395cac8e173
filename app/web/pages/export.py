"""Exports of the inbox's current filter, every lead with its notes, times in ``TZ``:

- CSV, streamed in chunks (a million rows never sit in memory): UTF-8 with a BOM (how Excel
  knows it is UTF-8), CRLF line ends, times as ``2026-08-01 14:00:00`` (a date to every
  spreadsheet) with the zone named in the header, and only the cells a spreadsheet would run
  as a formula neutralised;
- XLSX (``export_xlsx``): typed cells, so nothing needs neutralising there.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.web import safe
from app.web.context import web
from app.web.pages import export_xlsx
from app.web.pages.export_rows import FIRST_ROWS, ROWS_PER_CHUNK, Record, headers, records
from app.web.queries import leads
from app.web.queries.lead_filter import LeadFilter

BOM = "\ufeff"
FILE_CHUNK = 1 << 16
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A cell starting with one of these may be a formula to Excel, LibreOffice or Google Sheets
# (tab and carriage return too, as OWASP advises): anyone can type into the chatbot.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Starts like a formula, yet no spreadsheet runs it: a plain number (read as that number), or
# a phone number in groups of digits ("+49 170 6950233": numbers side by side are no formula,
# so the text stays as it is). Anything else, "-2+3" and "+49-170-…" included, is neutralised.
INERT = re.compile(r"[+-]?\d+(?:\.\d+)?|\+\d{1,4}(?: \d{1,14})+")


def neutralise(value: str) -> str:
    """``value`` as a CSV cell: a leading ``'`` if a spreadsheet would run it as a formula."""
    text = safe.text(value)
    if text.startswith(FORMULA_STARTS) and not INERT.fullmatch(text):
        return "'" + text
    return text


def csv_cells(lead: Record) -> list[str]:
    text = neutralise
    return [
        str(lead.id),
        text(lead.type),
        text(lead.status),
        lead.created.strftime(TIME_FORMAT) if lead.created else "",
        text(lead.first_name),
        text(lead.last_name),
        text(lead.email),
        text(lead.phone_number),
        text(lead.content),
        text(lead.notes),
        text(lead.chatbot),
        text(lead.chatbot_serial_number),
        str(lead.session_id),
        text(lead.uri),
        lead.received.strftime(TIME_FORMAT),
    ]


def csv_chunks(read: leads.Read, where: LeadFilter, tz: ZoneInfo) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(headers(tz))
    for count, lead in enumerate(records(read, where, tz), start=1):
        writer.writerow(csv_cells(lead))
        if count % ROWS_PER_CHUNK == 0 or count == FIRST_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def file_name(request: Request, suffix: str) -> str:
    app = web(request)
    stamp = datetime.now(UTC).astimezone(app.settings.tz).strftime("%Y%m%d-%H%M")
    return f'attachment; filename="leads-{stamp}.{suffix}"'


def export_csv(request: Request) -> Response:
    app = web(request)
    where = LeadFilter.parse(request.query_params)  # or 400: BadParameter
    return StreamingResponse(
        csv_chunks(app.db.read, where, app.settings.tz),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": file_name(request, "csv")},
    )


def export_xlsx_file(request: Request) -> Response:
    """The workbook is written to an unnamed temporary file in ``DATA_DIR`` (rows go to disk
    as they are read; see ``export_xlsx``), then sent from it; the file vanishes on close."""
    app = web(request)
    where = LeadFilter.parse(request.query_params)  # or 400: BadParameter
    tz, folder = app.settings.tz, app.settings.data_dir
    file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - _sent closes it, or the except
    try:
        export_xlsx.write(file, records(app.db.read, where, tz), headers(tz), tmpdir=folder)
        size = file.tell()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return StreamingResponse(
        _sent(file),
        media_type=XLSX_TYPE,
        headers={"content-disposition": file_name(request, "xlsx"), "content-length": str(size)},
    )


def _sent(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while chunk := file.read(FILE_CHUNK):
            yield chunk


ROUTES = [
    Route("/export.csv", export_csv, methods=["GET"]),
    Route("/export.xlsx", export_xlsx_file, methods=["GET"]),
]
