"""Leads and appointments to rows (app.shapes, app.ingest.records), strictly typed, extras kept,
stored once; and a small body's outcome recorded on its delivery (app.ingest.documents).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from chatlogs import stored_delivery
from spec_examples import SPEC_LEAD
from sqlalchemy import Connection, text

from app.db import Database
from app.ingest.documents import apply_document, parse_body, process_inline
from app.ingest.records import store_lead
from app.shapes import MAX_DEPTH, IngestError, kind_of, lead_values, parse_json, parse_time

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def lead(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SPEC_LEAD)
    document.update(changes)
    return document


def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def store(db: Database, document: dict[str, Any]) -> tuple[int, bool]:
    def job(connection: Connection) -> tuple[int, bool]:
        outcome = store_lead(connection, lead_values(document), delivery_id=None, now=NOW)
        return outcome.lead_id, outcome.created

    return db.writer.run_sync(job)


# ---- lead_values -------------------------------------------------------------------------


def test_every_documented_field_is_mapped() -> None:
    assert lead_values(SPEC_LEAD) == {
        "serial_number": "59001dd73709417321c58b11693183a2",
        "type": "Lead",
        "first_name": "David",
        "last_name": "Garcia",
        "email": "test@qq.com",
        "phone_number": "",
        "create_time_raw": "2023-11-23T18:36:21.512302Z",
        "created_at": datetime(2023, 11, 23, 18, 36, 21, 512302, tzinfo=UTC),
        "content": "test",
        "session_id": 31305,
        "uri": "www.helloclient.com",
        "extra": None,
    }


def test_appointment_is_the_same_shape() -> None:
    values = lead_values(lead(Type="Appointment", Content="Tomorrow 10:00"))
    assert (values["type"], values["content"]) == ("Appointment", "Tomorrow 10:00")


def test_extra_fields_are_kept() -> None:
    extra = {"Budget": 5000, "Tags": ["vip"], "Address": {"City": "Berlin", "Zip": None}}
    assert lead_values(lead(**extra))["extra"] == extra


def test_optional_fields_may_be_missing_or_null() -> None:
    document = {k: SPEC_LEAD[k] for k in ("SerialNumber", "Type", "CreateTime", "SessionID")}
    document["Email"] = None
    values = lead_values(document)
    for column in ("first_name", "last_name", "email", "phone_number", "content", "uri"):
        assert values[column] == ""


def test_session_id_as_a_digit_string_is_accepted() -> None:
    assert lead_values(lead(SessionID="31305"))["session_id"] == 31305


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SerialNumber": 5}, "SerialNumber: expected a string, got number"),
        ({"SerialNumber": ""}, "SerialNumber: empty"),
        ({"SerialNumber": None}, "SerialNumber: missing"),
        ({"Type": None}, "Type: missing"),
        ({"Type": ["Lead"]}, "Type: expected a string, got array"),
        ({"CreateTime": None}, "CreateTime: missing"),
        ({"CreateTime": 1700000000}, "CreateTime: expected a string, got number"),
        ({"SessionID": None}, "SessionID: missing"),
        ({"SessionID": "abc"}, "SessionID: expected an integer, got string"),
        ({"SessionID": "-5"}, "SessionID: expected an integer, got string"),
        ({"SessionID": 1.5}, "SessionID: expected an integer, got number"),
        ({"SessionID": True}, "SessionID: expected an integer, got boolean"),
        ({"SessionID": {"id": 1}}, "SessionID: expected an integer, got object"),
        ({"SessionID": 2**63}, "SessionID: "),  # would not fit the BIGINT column
        ({"SessionID": str(2**64)}, "SessionID: "),
        ({"FirstName": 5}, "FirstName: expected a string, got number"),
        ({"LastName": False}, "LastName: expected a string, got boolean"),
        ({"Email": ["a@b.c"]}, "Email: expected a string, got array"),
        ({"PhoneNumber": 5551234}, "PhoneNumber: expected a string, got number"),
        ({"Content": {"text": "x"}}, "Content: expected a string, got object"),
        ({"URI": 1}, "URI: expected a string, got number"),
    ],
    ids=repr,
)
def test_wrong_types_and_missing_fields_name_the_field(
    changes: dict[str, Any], message: str
) -> None:
    document = lead(**changes)
    for key, value in changes.items():
        if value is None:
            del document[key]
    with pytest.raises(IngestError, match=f"^{message}"):
        lead_values(document)


@pytest.mark.parametrize("document", [[SPEC_LEAD], "Lead", 5, None])
def test_non_object_is_refused(document: object) -> None:
    with pytest.raises(IngestError, match="expected a JSON object"):
        lead_values(document)


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        (SPEC_LEAD, "lead"),
        (lead(Type="Appointment"), "appointment"),
        (lead(Type="LEAD"), "lead"),
        (lead(Type="Ticket"), "other"),
        ({"Collection": []}, "chatlog"),
        (lead(Type=5), "unknown"),
        ([SPEC_LEAD], "unknown"),
        ("x", "unknown"),
    ],
    ids=repr,
)
def test_kind_of(document: object, kind: str) -> None:
    assert kind_of(document) == kind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-11-23T18:36:21.512302Z", datetime(2023, 11, 23, 18, 36, 21, 512302, tzinfo=UTC)),
        ("2023-11-23T18:36:21", datetime(2023, 11, 23, 18, 36, 21, tzinfo=UTC)),
        ("2023-11-23T20:36:21+02:00", datetime(2023, 11, 23, 18, 36, 21, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        ("0001-01-01T00:00:00+01:00", None),  # before year 1 in UTC: kept raw only
        ("9999-12-31T23:59:59-01:00", None),
    ],
)
def test_parse_time(raw: str, expected: datetime | None) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "invalid JSON"),
        (b'{"a": NaN}', "invalid JSON: NaN"),
        (b"\xff{}", "invalid JSON: Expecting value at line 1 column 1"),  # U+FFFD, as Node reads it
        (b"[" * 100_000, "invalid JSON"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested too deeply"),
    ],
)
def test_parse_json_errors(body: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        parse_json(body)


def test_parse_json_skips_a_bom() -> None:
    assert parse_json(b"\xef\xbb\xbf{}") == {}


def test_parse_json_reads_invalid_utf8_as_replacement_characters() -> None:
    assert parse_json(b'{"FirstName": "Jos\xe9"}') == {"FirstName": "Jos\ufffd"}


def test_parse_json_takes_nesting_up_to_its_limit() -> None:
    deep = b'{"a":' * (MAX_DEPTH - 1) + b"1" + b"}" * (MAX_DEPTH - 1)
    assert parse_json(deep) is not None


# ---- storing -----------------------------------------------------------------------------


def test_store_lead_is_idempotent(db: Database) -> None:
    first_id, created = store(db, SPEC_LEAD)
    assert created
    again_id, created_again = store(db, lead(FirstName="Changed"))  # same four key fields
    assert (again_id, created_again) == (first_id, False)
    assert rows(db, "SELECT id, first_name, status FROM lead") == [(first_id, "David", "new")]

    # Any one of the four key fields differing is another record.
    for changes in (
        {"CreateTime": "2023-11-23T18:36:22.000000Z"},
        {"Type": "Appointment"},
        {"SessionID": 31306},
        {"SerialNumber": "another-bot"},
    ):
        assert store(db, lead(**changes))[1]
    assert rows(db, "SELECT count(*) FROM lead") == [(5,)]
    assert rows(db, "SELECT serial_number, name FROM chatbot ORDER BY 1") == [
        ("59001dd73709417321c58b11693183a2", ""),
        ("another-bot", ""),
    ]


def test_stored_lead_keeps_times_and_extras(db: Database) -> None:
    store(db, lead(Budget=5000))
    ((created_at, received_at, extra),) = rows(
        db, "SELECT created_at, received_at, extra FROM lead"
    )
    assert created_at.startswith("2023-11-23 18:36:21.512302")  # naive UTC in the database
    assert received_at.startswith("2024-01-02 03:04:05")
    assert extra == '{"Budget": 5000}'


def test_unknown_type_is_stored_as_other(db: Database) -> None:
    result = db.writer.run_sync(
        lambda c: apply_document(c, lead(Type="Ticket"), delivery_id=None, now=NOW)
    )
    assert (result.kind, result.records, result.errors) == ("other", 1, [])
    assert rows(db, "SELECT type FROM lead") == [("Ticket",)]


def test_lead_with_a_bad_field_is_flagged_not_stored(db: Database) -> None:
    result = db.writer.run_sync(
        lambda c: apply_document(c, lead(SessionID="x"), delivery_id=None, now=NOW)
    )
    assert result.kind == "lead"
    assert result.errors == ["SessionID: expected an integer, got string"]
    assert rows(db, "SELECT count(*) FROM lead") == [(0,)]


def test_lone_surrogate_in_text_is_stored_replaced(db: Database) -> None:
    # JSON.stringify escapes a lone surrogate (an emoji cut in half) as \ud83d; Python decodes
    # it to a str that SQLite cannot encode. The raw body keeps the original.
    document = parse_json(b'{"SerialNumber":"s","Type":"Lead","CreateTime":"t","SessionID":1,'
                          b'"Content":"hi \\ud83d","FirstName":"\\udc00x"}')  # fmt: skip
    store(db, document)
    assert rows(db, "SELECT content, first_name FROM lead") == [("hi \ufffd", "\ufffdx")]


def test_lead_full_text_search(db: Database) -> None:
    lead_id, _ = store(db, lead(Content="Please call about the roof"))
    store(db, lead(SessionID=2, FirstName="Maria", LastName="Lopez", Content="nothing"))
    assert rows(db, "SELECT rowid FROM lead_fts WHERE lead_fts MATCH 'garcia'") == [(lead_id,)]
    assert rows(db, "SELECT rowid FROM lead_fts WHERE lead_fts MATCH 'roof'") == [(lead_id,)]
    assert rows(db, "SELECT rowid FROM lead_fts WHERE lead_fts MATCH 'email:\"test@qq.com\"'")
    db.writer.run_sync(lambda c: c.execute(text("DELETE FROM lead WHERE id = :i"), {"i": lead_id}))
    assert rows(db, "SELECT rowid FROM lead_fts WHERE lead_fts MATCH 'garcia'") == []


# ---- a small body's outcome, on its delivery ---------------------------------------------


def test_unknown_body_stores_nothing_inline(db: Database) -> None:
    delivery_id = stored_delivery(db, b"[1]")
    result = db.writer.run_sync(
        lambda c: process_inline(c, delivery_id, parse_body(b"[1]"), now=NOW)
    )
    assert result.kind == "unknown"
    assert rows(db, "SELECT kind, process_status, process_error FROM delivery") == [
        (
            "unknown",
            "failed",
            "not a lead, appointment or chat log: expected a JSON object with Type",
        )
    ]


def test_invalid_json_inline_is_flagged(db: Database) -> None:
    delivery_id = stored_delivery(db, b"{")
    db.writer.run_sync(lambda c: process_inline(c, delivery_id, parse_body(b"{"), now=NOW))
    ((status, error),) = rows(db, "SELECT process_status, process_error FROM delivery")
    assert status == "failed"
    assert error.startswith("invalid JSON")
