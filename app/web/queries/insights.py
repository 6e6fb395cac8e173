"""What the Insights page reads: leads per local day (``insights_lead_day``) and hour
(``insights_lead_hour``), conversations per day (from the daily chat logs), and the time from
arrival to contact.

Grouping a year of 1M leads by local day takes SQLite over a second, so leads are counted once
into those two tables by ``catch_up``, a writer job run in short steps before each view: only
leads newer than the high-water mark kept in ``app_setting`` are read, by primary key. Days and
hours are local to ``TZ``; when ``TZ`` changes, both are rebuilt. Leads are never deleted and
their times never change, so counting each once stays right.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, cast, delete, func, select
from sqlmodel import col

from app.models import (
    Chatbot,
    ChatWindow,
    InsightsLeadDay,
    InsightsLeadHour,
    Lead,
    UTCDateTime,
    table_of,
)
from app.statements import upsert_insert
from app.web import store

ROLLUP_STATE = "insights_rollup"  # app_setting: {"tz": "Europe/Berlin", "lead_id": 123}
STEP_LEADS = 5_000  # leads per writer job: about 25 ms (idle machine), so ingest never waits long
QUARTER = 900  # seconds: every UTC offset in use is a whole number of quarter hours
EPOCH = datetime(1970, 1, 1)
EPOCH_DAY = date(1970, 1, 1)
THURSDAY = 3  # 1970-01-01, as date.weekday() counts (Monday 0)
KINDS = ("lead", "appointment")
DAYS = table_of(InsightsLeadDay)
HOURS = table_of(InsightsLeadHour)
LEAD_WHEN = func.coalesce(col(Lead.created_at), col(Lead.received_at), type_=UTCDateTime())
WINDOW_WHEN = func.coalesce(
    col(ChatWindow.start_time), col(ChatWindow.received_at), type_=UTCDateTime()
)


# ---- keeping insights_lead_hour up to date (a writer job, run until it says it is done) ---


def _quarter(connection: Connection) -> Any:
    """A lead's UTC quarter hour since the epoch, in the database's own arithmetic."""
    if connection.dialect.name == "sqlite":
        return cast(func.strftime("%s", LEAD_WHEN), Integer) / QUARTER
    return cast(func.floor(func.extract("epoch", LEAD_WHEN) / QUARTER), Integer)


def local_hour(quarter: int, tz: ZoneInfo) -> int:
    """Hours since 1970-01-01 00:00 on the local clock, for a UTC quarter hour."""
    local = datetime.fromtimestamp(quarter * QUARTER, UTC).astimezone(tz).replace(tzinfo=None)
    return int((local - EPOCH).total_seconds() // 3600)


def catch_up(connection: Connection, tz: ZoneInfo) -> bool:
    """Count up to ``STEP_LEADS`` more leads into the day and hour tables; True if more remain.

    Safe to run twice (the writer may rerun a job): the mark is read in the same transaction.
    """
    state = json.loads(store.get(connection, ROLLUP_STATE) or "{}")
    done = int(state.get("lead_id", 0))
    if state.get("tz") != tz.key:
        connection.execute(delete(InsightsLeadDay))
        connection.execute(delete(InsightsLeadHour))
        done = 0
    newest = int(connection.execute(select(func.max(col(Lead.id)))).scalar() or 0)
    upto = min(newest, done + STEP_LEADS)
    if upto > done:
        _count_leads(connection, tz, done, upto)
    if upto != done or state.get("tz") != tz.key:
        store.put(connection, ROLLUP_STATE, json.dumps({"tz": tz.key, "lead_id": upto}))
    return upto < newest


def _count_leads(connection: Connection, tz: ZoneInfo, after: int, upto: int) -> None:
    quarter = _quarter(connection).label("quarter")
    lowered = func.lower(col(Lead.type)).label("kind")
    rows = connection.execute(
        select(col(Lead.serial_number), lowered, quarter, func.count())
        .where(col(Lead.id) > after, col(Lead.id) <= upto)
        .group_by(col(Lead.serial_number), lowered, quarter)
    ).all()
    per_day: Counter[tuple[int, str, str]] = Counter()
    per_hour: Counter[int] = Counter()
    hours: dict[int, int] = {}
    for serial, raw_kind, when, count in rows:
        if when is None:
            continue
        hour = hours.get(when)
        if hour is None:  # a quarter hour's local hour, worked out once per quarter
            hour = hours[when] = local_hour(int(when), tz)
        kind = _kind(raw_kind)
        per_day[hour // 24, serial, kind] += int(count)
        if kind in KINDS:
            per_hour[hour] += int(count)
    _add(
        connection,
        DAYS,
        ["day", "serial_number", "kind"],
        [
            {"day": day, "serial_number": serial, "kind": kind, "leads": count}
            for (day, serial, kind), count in per_day.items()
        ],
    )
    _add(
        connection,
        HOURS,
        ["hour"],
        [{"hour": hour, "leads": count} for hour, count in per_hour.items()],
    )


def _add(
    connection: Connection, table: Any, key: list[str], rows: list[dict[str, int | str]]
) -> None:
    """Add ``rows``' counts to those already in ``table``."""
    if not rows:
        return
    insert = upsert_insert(connection.dialect.name, table)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=key, set_={"leads": table.c.leads + insert.excluded.leads}
        ),
        rows,
    )


def _kind(raw: str | None) -> str:
    return raw if raw in KINDS else "other"


# ---- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The last ``days`` local days, today included."""

    first: date
    days: int
    tz: ZoneInfo

    @classmethod
    def ending_today(cls, days: int, tz: ZoneInfo) -> Span:
        today = datetime.now(UTC).astimezone(tz).date()
        return cls(today - timedelta(days=days - 1), days, tz)

    @property
    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    @property
    def first_hour(self) -> int:
        return (self.first - EPOCH_DAY).days * 24

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=self.tz).astimezone(UTC)


# kind -> chatbot serial -> count per day of the span
PerDay = dict[str, dict[str, list[int]]]


def leads_per_day(connection: Connection, span: Span) -> PerDay:
    first = (span.first - EPOCH_DAY).days
    day = DAYS.c.day
    rows = connection.execute(
        select(day, DAYS.c.serial_number, DAYS.c.kind, DAYS.c.leads).where(
            day >= first, day < first + span.days
        )
    ).all()
    found: PerDay = {kind: {} for kind in (*KINDS, "other")}
    for number, serial, kind, count in rows:
        values = found[kind].setdefault(serial, [0] * span.days)
        values[int(number) - first] += int(count)
    return found


def busiest_hours(connection: Connection, span: Span) -> list[list[int]]:
    """Leads and appointments per local weekday (Monday first) and hour of the day."""
    hour = HOURS.c.hour
    weekday = ((hour / 24 + THURSDAY) % 7).label("weekday")
    of_day = (hour % 24).label("of_day")
    rows = connection.execute(
        select(weekday, of_day, func.sum(HOURS.c.leads))
        .where(hour >= span.first_hour, hour < span.first_hour + span.days * 24)
        .group_by(weekday, of_day)
    ).all()
    grid = [[0] * 24 for _ in range(7)]
    for day, clock, count in rows:
        grid[int(day)][int(clock)] = int(count)
    return grid


def conversations_per_day(connection: Connection, span: Span) -> dict[str, list[int]]:
    """Per chatbot, from the daily chat logs (days as Hello Client cuts them: UTC)."""
    day = func.date(WINDOW_WHEN).label("day")
    first = datetime.combine(span.first, datetime.min.time(), tzinfo=UTC)
    rows = connection.execute(
        select(day, col(ChatWindow.serial_number), func.sum(col(ChatWindow.conversation_count)))
        .where(first <= WINDOW_WHEN, col(ChatWindow.complete))
        .group_by(day, col(ChatWindow.serial_number))
    ).all()
    found: dict[str, list[int]] = {}
    for when, serial, count in rows:
        index = (date.fromisoformat(str(when)[:10]) - span.first).days
        if 0 <= index < span.days:
            found.setdefault(serial, [0] * span.days)[index] += int(count or 0)
    return found


@dataclass(frozen=True)
class Contacted:
    count: int
    median: timedelta | None


def time_to_contact(connection: Connection, span: Span) -> Contacted:
    """Leads that arrived in the span and were contacted: the median wait, arrival to contact."""
    start = span.start_utc
    rows = connection.execute(
        select(col(Lead.received_at), col(Lead.contacted_at)).where(
            col(Lead.contacted_at) >= start, col(Lead.received_at) >= start
        )
    ).all()
    waits = [(contacted - arrived).total_seconds() for arrived, contacted in rows if contacted]
    if not waits:
        return Contacted(0, None)
    return Contacted(len(waits), timedelta(seconds=max(0.0, statistics.median(waits))))


def chatbot_names(connection: Connection) -> dict[str, str]:
    rows = connection.execute(select(col(Chatbot.serial_number), col(Chatbot.name))).all()
    return {serial: name for serial, name in rows}
