"""Insights: leads and appointments per day by chatbot, conversations per day, leads per 100
conversations, time to contact, and the busiest hours of the week, for the last 30/90/365 days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web import charts
from app.web.context import web
from app.web.errors import BadParameter
from app.web.queries import insights as queries
from app.web.queries.insights import Span
from app.web.templating import chatbot_label

RANGES = (30, 90, 365)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEAT_LEVELS = 5  # shades of the heat map, besides zero
CATCH_UP_SECONDS = 3.0


@dataclass(frozen=True)
class PerDayChart:
    """One stacked chart and the numbers beside it."""

    title: str
    image: Markup  # a data: URI of base64 (no character HTML would escape): not escaped again
    names: list[str]
    rows: list[tuple[date, list[int], int]]  # day, per chatbot, total
    totals: list[int]  # per chatbot
    total: int


def _days(request: Request) -> int:
    raw = request.query_params.get("days", str(RANGES[0]))
    if not raw.isdigit() or int(raw) not in RANGES:
        raise BadParameter("days: one of 30, 90 or 365")
    return int(raw)


def _label(day: date, days: int) -> str:
    return f"{day.day} {day:%b}" if days <= 90 else f"{day:%b %Y}"


def per_day_chart(
    title: str, span: Span, counts: dict[str, list[int]], names: dict[str, str]
) -> PerDayChart:
    serials = sorted(counts, key=lambda serial: (-sum(counts[serial]), serial))
    labels = [chatbot_label(names.get(serial), serial) for serial in serials]
    dates = span.dates
    image = Markup(
        charts.per_day(
            tuple(_label(day, span.days) for day in dates),
            tuple((label, tuple(counts[s])) for label, s in zip(labels, serials, strict=True)),
        )
    )
    rows = [
        (day, [counts[s][n] for s in serials], sum(counts[s][n] for s in serials))
        for n, day in enumerate(dates)
    ]
    totals = [sum(counts[s]) for s in serials]
    return PerDayChart(title, image, labels, rows, totals, sum(totals))


def lead_rates(
    leads: dict[str, list[int]],
    appointments: dict[str, list[int]],
    chats: dict[str, list[int]],
    names: dict[str, str],
) -> list[dict[str, Any]]:
    """Per chatbot with conversations: leads (and appointments) per 100 of them."""
    rates = []
    for serial in sorted(chats, key=lambda s: (-sum(chats[s]), s)):
        conversations = sum(chats[serial])
        found = sum(leads.get(serial, ()))
        if conversations:
            rates.append(
                {
                    "name": chatbot_label(names.get(serial), serial),
                    "conversations": conversations,
                    "leads": found,
                    "appointments": sum(appointments.get(serial, ())),
                    "rate": 100 * found / conversations,
                }
            )
    return rates


def heat_map(grid: list[list[int]]) -> dict[str, Any]:
    """Rows of hours (a phone is narrow, a week is 7 columns), each cell with its shade."""
    peak = max((count for day in grid for count in day), default=0)

    def level(count: int) -> int:
        return 0 if not count else 1 + (HEAT_LEVELS - 1) * count // max(peak, 1)

    rows = [
        (f"{hour:02d}:00", [(grid[day][hour], level(grid[day][hour])) for day in range(7)])
        for hour in range(24)
    ]
    busiest = max(
        ((grid[day][hour], day, hour) for day in range(7) for hour in range(24)), default=None
    )
    return {"weekdays": WEEKDAYS, "rows": rows, "peak": peak, "busiest": busiest}


def describe_wait(wait: timedelta | None) -> str:
    if wait is None:
        return "—"
    minutes = int(wait.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // 1440} days {minutes % 1440 // 60} h"


async def insights_page(request: Request) -> Response:
    app = web(request)
    days = _days(request)
    tz = app.settings.tz
    # Count the leads that arrived since the last view, in steps so ingest never waits long;
    # the first view after an upgrade or an import of many leads counts for CATCH_UP_SECONDS
    # at most, shows what is counted so far, and says so.
    deadline = time.monotonic() + CATCH_UP_SECONDS
    counting = True
    while counting and time.monotonic() < deadline:
        counting = await app.db.writer.run(lambda c: queries.catch_up(c, tz))
    context = await run_in_threadpool(_context, request, days)
    return await app.render_async(request, "insights.html", {**context, "counting": counting})


def _context(request: Request, days: int) -> dict[str, Any]:
    app = web(request)
    span = Span.ending_today(days, app.settings.tz)
    with app.db.read() as connection:
        per_day = queries.leads_per_day(connection, span)
        chats = queries.conversations_per_day(connection, span)
        contacted = queries.time_to_contact(connection, span)
        grid = queries.busiest_hours(connection, span)
        names = queries.chatbot_names(connection)
    leads, appointments = per_day["lead"], per_day["appointment"]
    rates = lead_rates(leads, appointments, chats, names)
    return {
        "days": days,
        "ranges": RANGES,
        "tz": app.settings.tz.key,
        "span": span,
        "charts": [
            per_day_chart("Leads per day", span, leads, names),
            per_day_chart("Appointments per day", span, appointments, names),
            per_day_chart("Conversations per day", span, chats, names),
        ],
        "rates": rates,
        "rates_image": Markup(charts.per_chatbot(tuple((r["name"], r["rate"]) for r in rates)))
        if rates
        else None,
        "contacted": contacted,
        "wait": describe_wait(contacted.median),
        "heat": heat_map(grid),
    }


ROUTES = [Route("/insights", insights_page, methods=["GET"])]
