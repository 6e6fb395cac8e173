"""CSV export of the inbox's current filter, streamed in chunks (a million rows never sit in
memory), UTF-8 with a BOM so spreadsheets guess the encoding, formula-like cells neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.web import safe
from app.web.context import web
from app.web.paging import AnyRow
from app.web.queries import leads
from app.web.queries.lead_filter import LeadFilter

BOM = "\ufeff"
ROWS_PER_CHUNK = 500
FIRST_ROWS = 100  # sent on their own, so the download starts before a whole chunk is read
COLUMNS = (
    "id",
    "type",
    "status",
    "created",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "content",
    "chatbot",
    "chatbot_serial_number",
    "session_id",
    "uri",
    "received",
)
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and carriage return too, as OWASP advises): anyone can type into the chatbot.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else safe.text(str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cells(row: AnyRow, tz: ZoneInfo) -> list[str]:
    lead = row
    created = row.when.astimezone(tz).isoformat(timespec="seconds") if row.when else ""
    received = lead.received_at.astimezone(tz).isoformat(timespec="seconds")
    values = (
        lead.id,
        lead.type,
        lead.status,
        created,
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.phone_number,
        lead.content,
        row.chatbot_name or "",
        lead.serial_number,
        lead.session_id,
        lead.uri,
        received,
    )
    return [neutralise(value) for value in values]


def csv_chunks(read: leads.Read, where: LeadFilter, tz: ZoneInfo) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    for count, row in enumerate(leads.iterate(read, where, tz, first=FIRST_ROWS), start=1):
        writer.writerow(_cells(row, tz))
        if count % ROWS_PER_CHUNK == 0 or count == FIRST_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def export_csv(request: Request) -> Response:
    app = web(request)
    where = LeadFilter.parse(request.query_params)  # or 400: BadParameter
    stamp = datetime.now(UTC).astimezone(app.settings.tz).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        csv_chunks(app.db.read, where, app.settings.tz),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="leads-{stamp}.csv"'},
    )


ROUTES = [Route("/export.csv", export_csv, methods=["GET"])]
