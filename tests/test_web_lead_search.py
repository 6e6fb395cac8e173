"""A search in date order however the leads arrived (app/web/queries/lead_search.py and
leads.read_in_date_order), on a real migrated SQLite file: a common search walks the date
index a window at a time, a rare one sorts its few leads, and both list exactly what sorting
every match would, on every page both ways, with the count; the look-up is kept only while
nothing is written.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, text

from app.db import Database
from app.web.paging import Cursor
from app.web.queries import lead_place, lead_search, leads
from app.web.queries.lead_filter import LeadFilter

TZ = ZoneInfo("Europe/Berlin")
LEADS = 4_000  # more than the first window (2,000) and than lead_search.COMMON
START = datetime(2025, 1, 1)
FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def made(n: int, rng: random.Random) -> datetime:
    """Creation times mostly in arrival (id) order, as pushed leads are, but jittered, and every
    fifth made long before it arrived (an import, a retry, a late push)."""
    late = timedelta(days=rng.randrange(1, 30)) if n % 5 == 0 else timedelta()
    return START + timedelta(minutes=10 * n + rng.randrange(-300, 300)) - late


def store(count: int, first: int, rng: random.Random) -> Any:
    def job(connection: Connection) -> None:
        for n in range(first, first + count):
            when = made(n, rng)
            connection.execute(
                text(
                    "INSERT INTO lead (serial_number, type, phone_number, create_time_raw,"
                    " session_id, received_at, created_at, first_name, last_name, email,"
                    " content, uri, status) VALUES ('bot', :type, '', :raw, :n, :received,"
                    " :created, '', '', '', :content, '', :status)"
                ),
                {
                    "type": "Lead" if n % 3 else "Appointment",
                    "raw": f"r{n}",
                    "n": n,
                    "received": (when + timedelta(days=2)).strftime(FORMAT),
                    # Some leads have no creation time: they sort by when they arrived.
                    "created": None if n % 17 == 0 else when.strftime(FORMAT),
                    "content": "quokka" + (" wombat" if n % 97 == 0 else ""),
                    "status": ("new", "contacted", "done", "archived")[n % 4],
                },
            )

    return job


@pytest.fixture
def stored(db: Database) -> Database:
    db.writer.run_sync(store(LEADS, 0, random.Random(5)))
    return db


def expected(db: Database, where: LeadFilter) -> list[int]:
    """Every match, sorted in Python: what each page must agree with."""
    with db.read() as connection:
        rows = connection.execute(leads.matching_ids(connection, where, TZ)).scalars().all()
        found = connection.execute(
            text(
                "SELECT id, coalesce(created_at, received_at) FROM lead"
                f" WHERE id IN ({','.join(map(str, rows)) or 'NULL'})"
            )
        ).all()
    return [lead_id for lead_id, _ in sorted(found, key=lambda row: (row[1], row[0]), reverse=True)]


def pages_older(db: Database, where: LeadFilter) -> list[int]:
    listed: list[int] = []
    while True:
        with db.read() as connection:
            page = lead_place.list_page(connection, where, TZ)
        listed += [row.id for row in page.rows]
        if page.older is None:
            return listed
        where = LeadFilter.parse({**where.query_args(cursor=page.older), "limit": str(where.limit)})


@pytest.mark.parametrize(
    "args",
    [
        {"q": "quokka"},  # common: the date index walked a window at a time
        {"q": "quokka", "status": "all", "type": "appointment"},
        # Fewer than a page in the first window (about 170): the next, longer one is read.
        {"q": "quokka", "status": "new", "type": "appointment", "limit": "200"},
        {"q": "wombat", "status": "all"},  # rare: its few leads read by id and sorted
    ],
)
def test_every_page_lists_newest_first_as_sorting_every_match_would(
    stored: Database, args: dict[str, str]
) -> None:
    where = LeadFilter.parse({"limit": "300", **args})
    want = expected(stored, where)
    assert len(want) > 10
    with stored.read() as connection:
        common = lead_search.look_up(connection, where.q)
        assert common is not None and common.many == (args["q"] == "quokka")
        assert lead_place.count(connection, where, TZ) == len(want)
    assert pages_older(stored, where) == want


def test_newer_pages_and_neighbours_agree_with_the_sorted_list(stored: Database) -> None:
    where = LeadFilter.parse({"q": "quokka", "limit": "300"})
    want = expected(stored, where)
    middle = want[1000]
    with stored.read() as connection:
        row = connection.execute(
            text("SELECT id, coalesce(created_at, received_at) AS w FROM lead WHERE id = :id"),
            {"id": middle},
        ).one()
        here = Cursor(datetime.fromisoformat(row.w).replace(tzinfo=UTC), middle)
        newer = LeadFilter.parse({"q": "quokka", "limit": "300", "newer": here.encode()})
        page = lead_place.list_page(connection, newer, TZ)
        previous, following = lead_place.neighbours(connection, where, TZ, here)
    assert [row.id for row in page.rows] == want[700:1000]
    assert (previous, following) == (want[999], want[1001])


def test_a_write_is_seen_by_the_next_search(stored: Database) -> None:
    where = LeadFilter.parse({"q": "wombat", "status": "all"})
    with stored.read() as connection:
        before = lead_place.count(connection, where, TZ)
    stored.writer.run_sync(store(1, 97 * 1000, random.Random(6)))  # 97,000: a wombat
    with stored.read() as connection:
        assert lead_place.count(connection, where, TZ) == before + 1
    assert pages_older(stored, where) == expected(stored, where)


def test_a_numbers_words_match_in_a_row(db: Database) -> None:
    rng = random.Random(7)
    db.writer.run_sync(store(1, 0, rng))

    def note(connection: Connection) -> None:
        connection.execute(text("UPDATE lead SET content = 'order 170 6950233, ref 99'"))

    db.writer.run_sync(note)
    with db.read() as connection:
        hits = [
            len(leads.page(connection, LeadFilter.parse({"q": typed}), TZ).rows)
            for typed in ("170 6950233", "6950233", "0170 6950233")
        ]
    # The groups in a row as written; "0170" is no word of it (and no phone is stored).
    assert hits == [1, 1, 0]
