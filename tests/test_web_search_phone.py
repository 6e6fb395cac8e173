"""Phone numbers found however typed: the inbox, the API and the export on a real server, and
the index the search reads (migration phones_0001) kept in step with every change to a lead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from conftest import API_TOKEN, SIGNING_KEY, AppProcess, InboxClient
from nodejs import NodeJSON
from sqlalchemy import Connection, text
from vendor import HelloClientFake

from app import phones
from app.db import Database, migrate
from app.shapes import sample_lead

TYPED = (
    "6950233",
    "+491706950233",
    "01706950233",
    "0049 170 6950233",
    "+49 (170) 695-0233",
)
_sessions = itertools.count(771_000)


def post_lead(vendor: HelloClientFake, **fields: Any) -> int:
    session = next(_sessions)
    payload = {**sample_lead(), "SessionID": session, "Content": "", **fields}
    answer = vendor.post(payload)
    assert answer.status_code == 200, answer.text
    return session


def api_sessions(inbox: InboxClient, query: str) -> set[int]:
    answer = inbox.client.get(
        f"/api/leads?status=all&limit=200&q={quote(query)}",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert answer.status_code == 200, answer.text
    return {lead["session_id"] for lead in answer.json()["leads"]}


@pytest.fixture(scope="module")
def stored(inbox_app: AppProcess, node_json: NodeJSON) -> dict[str, int]:
    """Leads on the module's server, posted once for all the tests that search them."""
    vendor = HelloClientFake(f"{inbox_app.url}/webhook", SIGNING_KEY, node_json)
    return {
        "international": post_lead(vendor, FirstName="Ina", PhoneNumber="+49 170 6950233"),
        "national": post_lead(vendor, FirstName="Nat", PhoneNumber="0170 6950233"),
        "other": post_lead(vendor, FirstName="Otto", PhoneNumber="+49 170 6950234"),
        "words": post_lead(vendor, FirstName="Wanda", PhoneNumber="", Content="order 6950233"),
    }


@pytest.mark.parametrize("typed", TYPED)
def test_every_way_of_typing_finds_both_stored_forms(
    inbox: InboxClient, stored: dict[str, int], typed: str
) -> None:
    found = api_sessions(inbox, typed) & set(stored.values())
    expected = {stored["international"], stored["national"]}
    if typed == "6950233":  # digits alone still match as a word too, as before
        expected.add(stored["words"])
    assert found == expected


def test_a_number_among_words_narrows_by_both(inbox: InboxClient, stored: dict[str, int]) -> None:
    assert api_sessions(inbox, "Nat +49 170 6950233") & set(stored.values()) == {stored["national"]}
    assert api_sessions(inbox, "Ina 0170-695-0234") & set(stored.values()) == set()


def test_the_inbox_page_and_the_export_search_alike(
    inbox: InboxClient, stored: dict[str, int]
) -> None:
    page = inbox.get(f"/?status=all&q={quote('+49 (170) 695-0233')}")
    assert page.status_code == 200
    assert "Ina" in page.text and "Nat" in page.text and "Otto" not in page.text
    export = inbox.get(f"/export.csv?status=all&q={quote('01706950233')}").text
    assert "Ina" in export and "Nat" in export and "Otto" not in export


# ---- the index itself, in a migrated database of this process ---------------------------

NUMBERS = (
    "+49 170 6950233",
    "0049 (0)170 6950233",
    "+49\u00a0170\u20116950233",
    "(0170) 695.02.33",
    "0170/6950233",
    "+1 (555) 010-0100",
    "call me on 0170",
    "-",
    "",
)


def insert(number: str, session: int) -> Any:
    def job(connection: Connection) -> int:
        return int(
            connection.execute(
                text(
                    "INSERT INTO lead (serial_number, type, phone_number, create_time_raw,"
                    " session_id, received_at, first_name, last_name, email, content, uri,"
                    " status) VALUES ('bot', 'Lead', :number, :raw, :session,"
                    " '2026-01-01 00:00:00', '', '', '', '', '', 'new') RETURNING id"
                ),
                {"number": number, "raw": f"r{session}", "session": session},
            ).scalar_one()
        )

    return job


def indexed_under(db: Database, key: str) -> set[int]:
    """Leads whose indexed key is exactly ``key`` (the anchors make a substring whole)."""
    with db.read() as connection:
        rows = connection.execute(
            text("SELECT rowid FROM lead_phone_fts WHERE lead_phone_fts MATCH :q"),
            {"q": f'"{key}"'},
        )
        return {row[0] for row in rows}


@pytest.fixture
def numbered(db: Database) -> Iterator[dict[str, int]]:
    yield {number: db.writer.run_sync(insert(number, n)) for n, number in enumerate(NUMBERS)}


def test_the_index_holds_the_key_python_computes(db: Database, numbered: dict[str, int]) -> None:
    for number, lead_id in numbered.items():
        key = phones.stored_key(number)
        if key:
            assert lead_id in indexed_under(db, key), number
    assert indexed_under(db, "^+491706950233$") == {
        numbered[n] for n in ("+49 170 6950233", "0049 (0)170 6950233", NUMBERS[2])
    }


def test_the_index_follows_updates_and_deletes(db: Database, numbered: dict[str, int]) -> None:
    moved = numbered["+49 170 6950233"]
    db.writer.run_sync(
        lambda c: c.execute(
            text("UPDATE lead SET phone_number = '+44 20 7946 0000' WHERE id = :id"), {"id": moved}
        )
    )
    assert moved not in indexed_under(db, "^+491706950233$")
    assert indexed_under(db, "^+442079460000$") == {moved}
    db.writer.run_sync(lambda c: c.execute(text("DELETE FROM lead WHERE id = :id"), {"id": moved}))
    assert indexed_under(db, "^+442079460000$") == set()
    with db.read() as connection:  # FTS5's own check of a contentless index against itself
        connection.execute(
            text("INSERT INTO lead_phone_fts(lead_phone_fts) VALUES ('integrity-check')")
        )


def test_leads_stored_before_the_migration_are_indexed_by_it(db: Database) -> None:
    with db.engine.begin() as connection:  # phones_0001's downgrade, by hand
        for trigger in ("insert", "delete", "update"):
            connection.exec_driver_sql(f"DROP TRIGGER lead_phone_fts_{trigger}")
        connection.exec_driver_sql("DROP TABLE lead_phone_fts")
        connection.exec_driver_sql("DELETE FROM alembic_version WHERE version_num = 'phones_0001'")
    old = db.writer.run_sync(insert("0170 6950233", 1))
    migrate(db.engine)
    assert indexed_under(db, "^01706950233$") == {old}
