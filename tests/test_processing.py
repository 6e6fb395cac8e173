"""app.processing: chat logs to rows, inline (apply_document) and streamed (process_stored).

The streamed path must give exactly the rows the inline one gives, whatever the body's layout.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ijson
import pytest
from spec_examples import SERIAL, SPEC_CHATLOG
from sqlalchemy import insert, text

from app.chatlog_stream import NotAChatLog, SQLiteBlobReader, stream_chatlog
from app.config import load_settings
from app.db import Database
from app.models import Delivery, Outcome, ProcessStatus
from app.processing import (
    CHUNK_BYTES,
    CHUNK_MESSAGES,
    Result,
    apply_document,
    parse_body,
    process_inline,
    process_stored,
)
from app.shapes import parse_json

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def other_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(load_settings({"DATA_DIR": str(tmp_path / "b")}))
    database.open()
    try:
        yield database
    finally:
        database.close()


def chatlog() -> dict[str, Any]:
    return copy.deepcopy(SPEC_CHATLOG)


def conversation(session: int, messages: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "SessionID": session,
        "CreateTime": f"2023-11-21T10:{session % 60:02d}:00.000001Z",
        "URI": "www.helloclient.com",
        "Messages": [
            {"Type": "User" if i % 2 else "AI", "Content": f"s{session} m{i}"}
            for i in range(messages)
        ],
        **extra,
    }


def window(serial: str, day: int, conversations: list[Any], **fields: Any) -> dict[str, Any]:
    return {
        "SerialNumber": serial,
        "Name": f"bot {serial}",
        "StartTime": f"2023-11-{day:02d}T00:00:00Z",
        "EndTime": f"2023-11-{day + 1:02d}T00:00:00Z",
        "Conversations": conversations,
        **fields,
    }


def reorder(document: dict[str, Any], *first: str) -> dict[str, Any]:
    """The same object with the ``first`` keys moved to the front."""
    return {**{key: document[key] for key in first}, **document}


def apply(db: Database, document: Any) -> Result:
    return db.writer.run_sync(lambda c: apply_document(c, document, delivery_id=None, now=NOW))


def stored_delivery(db: Database, body: bytes) -> int:
    """A raw accepted delivery, as the webhook leaves a large one for the processor."""
    values = {
        "received_at": NOW,
        "client_ip": "127.0.0.1",
        "outcome": Outcome.ACCEPTED,
        "status_code": 200,
        "body": body,
        "body_size": len(body),
        "body_sha256": "0" * 64,
        "process_status": ProcessStatus.PENDING,
    }
    return db.writer.run_sync(
        lambda c: c.execute(insert(Delivery).values(**values)).inserted_primary_key[0]
    )


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


SNAPSHOT = {
    "chatbot": "SELECT serial_number, name FROM chatbot ORDER BY serial_number",
    "window": "SELECT serial_number, name, start_time_raw, end_time_raw, start_time, end_time, "
    "extra, conversation_count, message_count, complete FROM chat_window ORDER BY id",
    "conversation": "SELECT w.start_time_raw, c.serial_number, c.session_id, c.create_time_raw, "
    "c.created_at, c.uri, c.extra, c.message_count FROM conversation c "
    "JOIN chat_window w ON w.id = c.window_id ORDER BY c.id",
    "message": "SELECT w.serial_number, w.start_time_raw, c.session_id, m.position, m.type, "
    "m.content, m.extra FROM message m JOIN conversation c ON c.id = m.conversation_id "
    "JOIN chat_window w ON w.id = c.window_id ORDER BY m.id",
    "lead": "SELECT serial_number, type, session_id, content, extra FROM lead ORDER BY id",
    # External-content FTS5: only MATCH reads the index itself (count(*) reads the table).
    "fts": "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'm0 OR m1 OR appointment'",
}


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows(db, sql) for name, sql in SNAPSHOT.items()}


def match(db: Database, table: str, query: str) -> list[int]:
    sql = f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH '{query}' ORDER BY rowid"
    return [row[0] for row in rows(db, sql)]


def streamed(document: Any) -> list[tuple[str, Any]]:
    return list(stream_chatlog(io.BytesIO(json.dumps(document).encode())))


# ---- apply_document ----------------------------------------------------------------------


def test_spec_example(db: Database) -> None:
    result = apply(db, chatlog())
    assert (result.kind, result.records, result.errors) == ("chatlog", 3, [])
    assert result.status == ProcessStatus.PROCESSED
    snap = snapshot(db)
    assert snap["chatbot"] == [(SERIAL, "test...")]
    assert snap["window"] == [
        (
            SERIAL,
            "test...",
            "2023-11-21T00:00:00Z",
            "2023-11-22T00:00:00Z",
            "2023-11-21 00:00:00.000000",
            "2023-11-22 00:00:00.000000",
            None,
            1,
            3,
            1,
        )
    ]
    assert snap["conversation"] == [
        (
            "2023-11-21T00:00:00Z",
            SERIAL,
            31302,
            "2023-11-21T16:22:42.264484Z",
            "2023-11-21 16:22:42.264484",
            "www.helloclient.com",
            None,
            3,
        )
    ]
    assert [row[3:6] for row in snap["message"]] == [
        (0, "AI", "Hi What can I help you with?"),
        (1, "User", "make an appointment"),
        (2, "AI", "Please select the date and time..."),
    ]


def test_redelivered_window_replaces_itself(db: Database) -> None:
    apply(db, chatlog())
    first = snapshot(db)
    result = apply(db, chatlog())
    assert result.records == 3
    assert snapshot(db) == first  # nothing doubled
    assert len(match(db, "message", "appointment")) == 1
    assert rows(db, "SELECT count(*) FROM conversation") == [(1,)]

    # The same window re-sent with a conversation more replaces the old one entirely.
    more = chatlog()
    more["Collection"][0]["Conversations"].append(conversation(31303, 4))
    assert apply(db, more).records == 7
    assert rows(db, "SELECT conversation_count, message_count FROM chat_window") == [(2, 7)]
    assert rows(db, "SELECT count(*) FROM message") == [(7,)]

    # Another day is another window, kept alongside.
    other_day = chatlog()
    other_day["Collection"][0]["StartTime"] = "2023-11-22T00:00:00Z"
    apply(db, other_day)
    assert rows(db, "SELECT count(*) FROM chat_window") == [(2,)]


def test_bad_conversations_are_flagged_while_good_ones_are_stored(db: Database) -> None:
    document = {
        "Collection": [
            window(
                "bot-a",
                1,
                [
                    conversation(1),
                    "not an object",
                    conversation(2) | {"SessionID": "x"},
                    conversation(3) | {"Messages": {"Type": "AI"}},
                    conversation(4) | {"Messages": [{"Type": "AI", "Content": 5}]},
                    conversation(5) | {"Messages": None},
                    conversation(6) | {"Messages": {}},
                    conversation(7),
                ],
            )
        ]
    }
    result = apply(db, document)
    assert result.errors == [
        "Collection[0].Conversations[1]: conversation: expected an object, got string",
        "Collection[0].Conversations[2]: SessionID: expected an integer, got string",
        "Collection[0].Conversations[3]: Messages: expected an array, got object",
        "Collection[0].Conversations[4]: Content: expected a string, got number",
        "Collection[0].Conversations[6]: Messages: expected an array, got object",
    ]
    assert result.status == ProcessStatus.FAILED
    assert result.records == 4
    assert rows(db, "SELECT session_id, message_count FROM conversation ORDER BY id") == [
        (1, 2),
        (5, 0),
        (7, 2),
    ]
    assert rows(db, "SELECT conversation_count, message_count, complete FROM chat_window") == [
        (3, 4, 1)
    ]


def test_bad_windows_are_flagged_while_good_ones_are_stored(db: Database) -> None:
    good = window("bot-a", 1, [conversation(1)])
    document = {
        "Collection": [
            "not a window",
            window("bot-b", 1, [conversation(2)], StartTime=None),
            window("bot-c", 1, {"0": conversation(3)}),
            window("bot-d", 1, [conversation(4)], Name=["x"]),
            good,
            window("bot-e", 1, None),
            window("bot-f", 1, ""),
        ]
    }
    result = apply(db, document)
    assert result.errors == [
        "Collection[0]: expected an object",
        "Collection[1]: StartTime: missing",
        "Collection[2]: Conversations: expected an array",
        "Collection[3]: Name: expected a string, got array",
        "Collection[6]: Conversations: expected an array",
    ]
    assert rows(db, "SELECT serial_number, conversation_count FROM chat_window ORDER BY id") == [
        ("bot-a", 1),
        ("bot-e", 0),
    ]


@pytest.mark.parametrize("collection", [{}, None, "x", 5])
def test_collection_that_is_not_an_array_is_flagged(db: Database, collection: Any) -> None:
    result = apply(db, {"Collection": collection})
    assert (result.kind, result.errors) == ("chatlog", ["Collection: expected an array"])


def test_window_extras_are_kept(db: Database) -> None:
    extra = {"Timezone": "UTC", "Meta": {"a": [1, {"b": None}]}}
    apply(db, {"Collection": [window("bot-a", 1, [conversation(1, Channel="web")], **extra)]})
    assert rows(db, "SELECT extra FROM chat_window") == [(json.dumps(extra),)]
    assert rows(db, "SELECT extra FROM conversation") == [('{"Channel": "web"}',)]


def test_message_search_and_window_deletion(db: Database) -> None:
    apply(db, chatlog())
    apply(db, {"Collection": [window("bot-b", 5, [conversation(7, 3)])]})
    (appointment,) = match(db, "message", "appointment")
    assert rows(db, f"SELECT content FROM message WHERE id = {appointment}") == [
        ("make an appointment",)
    ]
    assert len(match(db, "message", "m1")) == 1
    db.writer.run_sync(
        lambda c: c.execute(text("DELETE FROM chat_window WHERE serial_number = :s"), {"s": SERIAL})
    )
    assert match(db, "message", "appointment") == []
    assert match(db, "message", "m0 OR m1 OR m2") == [
        row[0] for row in rows(db, "SELECT id FROM message")
    ]
    assert rows(db, "SELECT count(*) FROM conversation") == [(1,)]  # cascaded


def test_redelivery_leaves_no_stale_search_entries(db: Database) -> None:
    apply(db, chatlog())
    apply(db, chatlog())
    current = rows(db, "SELECT id FROM message WHERE content = 'make an appointment'")
    assert match(db, "message", "appointment") == [row[0] for row in current]


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


# ---- stream_chatlog ----------------------------------------------------------------------


def test_stream_yields_the_window_before_its_conversations() -> None:
    events = streamed(chatlog())
    header = {k: v for k, v in SPEC_CHATLOG["Collection"][0].items() if k != "Conversations"}
    assert events == [
        ("window", header),
        ("conversation", SPEC_CHATLOG["Collection"][0]["Conversations"][0]),
        ("window", header),
        ("end", None),
    ]


def test_stream_with_window_fields_after_conversations() -> None:
    conversations = [conversation(1), conversation(2, 0)]
    document = window("bot-a", 1, conversations, Meta={"k": [1, 2.5]})
    events = streamed({"Collection": [reorder(document, "Conversations")]})
    header = {k: v for k, v in document.items() if k != "Conversations"}
    assert events == [
        ("conversation", conversations[0]),
        ("conversation", conversations[1]),
        ("window", header),
        ("end", None),
    ]


def test_stream_with_some_fields_after_conversations() -> None:
    # The window opens as soon as its key fields are known; the rest follows at its end.
    document = window("bot-a", 1, [conversation(1)], Tail={"late": True})
    document = reorder(document, "SerialNumber", "StartTime", "EndTime", "Conversations")
    events = streamed({"Collection": [document]})
    assert [name for name, _ in events] == ["window", "conversation", "window", "end"]
    assert events[0][1] == {"SerialNumber": "bot-a", "StartTime": document["StartTime"],
                            "EndTime": document["EndTime"]}  # fmt: skip
    assert events[2][1] == {k: v for k, v in document.items() if k != "Conversations"}


def test_stream_with_extra_nested_fields() -> None:
    nested = {
        "Meta": {"a": [1, {"b": [2, {"c": None}]}], "Conversations": [{"not": "these"}]},
        "Tags": [["x"], {"y": 1.5}],
        "a.b": {"item": 1},  # keys that ijson's dotted prefixes would confuse
        "item": [True, False],
        "Empty": {},
    }
    talk = conversation(1, 1, Extra={"deep": [{"deeper": [1]}]})
    events = streamed({"Collection": [window("bot-a", 1, [talk], **nested)]})
    assert events[1] == ("conversation", talk)
    assert events[2][0] == "window"
    assert {k: events[2][1][k] for k in nested} == nested


def test_stream_of_several_windows_and_odd_items() -> None:
    document = {
        "Before": {"Collection": [1]},
        "Collection": [
            window("bot-a", 1, [conversation(1), 5, None]),
            "not a window",
            window("bot-b", 2, {"x": 1}),
        ],
        "After": [1, 2],
    }
    events = streamed(document)
    assert [name for name, _ in events] == [
        "window", "conversation", "conversation", "conversation", "window", "end",
        "window", "end",
        "window", "end",
    ]  # fmt: skip
    assert [value for name, value in events if name == "conversation"][1:] == [5, None]
    assert events[6] == ("window", "not a window")
    assert events[8][1]["Conversations"] == {"x": 1}


def test_stream_reports_a_collection_that_is_not_an_array() -> None:
    assert streamed({"Collection": {"item": {"SerialNumber": "x"}}}) == [
        ("error", "Collection: expected an array")
    ]


@pytest.mark.parametrize(
    "document",
    [{"Type": "Lead", "Content": "Collection"}, [{"Collection": []}], "Collection", {}],
    ids=repr,
)
def test_stream_of_something_else_is_not_a_chat_log(document: Any) -> None:
    with pytest.raises(NotAChatLog):
        streamed(document)


@pytest.mark.parametrize(
    "body", [b'{"Collection": []} trailing', b'{"Collection": [{"Name": "x"', b""], ids=repr
)
def test_stream_of_invalid_json_raises(body: bytes) -> None:
    with pytest.raises(ijson.JSONError):
        list(stream_chatlog(io.BytesIO(body)))


# ---- process_stored: streamed, same rows as inline --------------------------------------


def assert_same_as_inline(
    db: Database, other_db: Database, body: bytes, *, ignore: tuple[str, ...] = ()
) -> tuple[Result, Result]:
    inline = apply(db, parse_json(body))
    delivery_id = stored_delivery(other_db, body)
    result = process_stored(other_db, delivery_id)
    expected, got = snapshot(db), snapshot(other_db)
    for name in ignore:
        del expected[name], got[name]
    assert got == expected
    assert (result.kind, result.records, result.errors) == (
        inline.kind,
        inline.records,
        inline.errors,
    )
    ((kind, status, count, error),) = rows(
        other_db, "SELECT kind, process_status, record_count, process_error FROM delivery"
    )
    assert (kind, status, count) == (result.kind, result.status, result.records)
    assert error == ("\n".join(result.errors) or None)
    return inline, result


def test_large_multi_window_chat_log_streams_to_the_same_rows(
    db: Database, other_db: Database
) -> None:
    big = [conversation(n, 20) for n in range(CHUNK_MESSAGES // 20 + 40)]  # > one chunk
    late_name = window("bot-b", 1, [conversation(n, 7) for n in range(300)], Meta={"v": [1.5]})
    late_all = window("bot-c", 3, [conversation(n, 3, Tag=n) for n in range(200)], Extra=None)
    document = {
        "Collection": [
            window("bot-a", 1, big, Meta={"nested": {"list": [1, {"x": None}]}}),
            reorder(late_name, "SerialNumber", "StartTime", "EndTime", "Conversations"),
            reorder(late_all, "Conversations"),
            window("bot-a", 2, []),
        ]
    }
    body = json.dumps(document).encode()
    commits = other_db.writer.commits
    inline, _ = assert_same_as_inline(db, other_db, body)
    assert inline.records == len(big) * 20 + 300 * 7 + 200 * 3
    assert inline.records > CHUNK_MESSAGES
    assert other_db.writer.commits - commits > 8  # written in chunks, not one transaction
    assert rows(other_db, "SELECT name FROM chat_window ORDER BY id") == [
        ("bot bot-a",),
        ("bot bot-b",),
        ("bot bot-c",),
        ("bot bot-a",),
    ]


def test_streamed_errors_match_inline(db: Database, other_db: Database) -> None:
    document = {
        "Collection": [
            window("bot-a", 1, [conversation(1), 7, conversation(2) | {"SessionID": True}]),
            "not a window",
            window("bot-b", 1, [conversation(3)], StartTime=None),
            reorder(window("bot-c", 1, [conversation(4), "x"], EndTime=5), "Conversations"),
            window("bot-d", 1, {"0": conversation(5)}),
            window("bot-e", 1, [conversation(6)], Messages=None),
        ]
    }
    _, result = assert_same_as_inline(db, other_db, json.dumps(document).encode())
    assert len(result.errors) == 6


def test_late_bad_field_drops_the_streamed_window(db: Database, other_db: Database) -> None:
    bad = window("bot-a", 1, [conversation(n, 2) for n in range(3)], Name=5)
    document = {
        "Collection": [reorder(bad, "SerialNumber", "StartTime", "EndTime", "Conversations")]
    }
    # The chatbot itself was seen (its window was opened before the bad field came): the one
    # row streaming may keep that the inline path never writes.
    body = json.dumps(document).encode()
    _, result = assert_same_as_inline(db, other_db, body, ignore=("chatbot",))
    assert result.errors == ["Collection[0]: Name: expected a string, got number"]
    assert rows(other_db, "SELECT count(*) FROM chat_window") == [(0,)]
    assert match(other_db, "message", "m0 OR m1") == []


def test_chat_log_with_a_bom_streams(db: Database, other_db: Database) -> None:
    assert_same_as_inline(db, other_db, b"\xef\xbb\xbf" + json.dumps(chatlog()).encode())


def test_stored_lead_mentioning_collection_is_still_a_lead(db: Database) -> None:
    body = json.dumps(
        {
            "SerialNumber": "s",
            "Type": "Lead",
            "CreateTime": "t",
            "SessionID": 1,
            "Content": "Collection",
        }
    ).encode()
    result = process_stored(db, stored_delivery(db, body))
    assert (result.kind, result.records, result.errors) == ("lead", 1, [])
    assert rows(db, "SELECT content FROM lead") == [("Collection",)]


def test_stored_chat_log_with_trailing_garbage_is_flagged(db: Database) -> None:
    body = json.dumps(chatlog()).encode() + b" and more"
    result = process_stored(db, stored_delivery(db, body))
    assert result.status == ProcessStatus.FAILED
    assert result.errors[0].startswith("invalid JSON")


def test_reprocessing_adds_nothing_twice(db: Database) -> None:
    delivery_id = stored_delivery(db, json.dumps(chatlog()).encode())
    process_stored(db, delivery_id)
    first = snapshot(db)
    process_stored(db, delivery_id)
    assert snapshot(db) == first


def test_stop_leaves_the_delivery_pending(db: Database) -> None:
    stop = threading.Event()
    stop.set()
    delivery_id = stored_delivery(db, json.dumps(chatlog()).encode())
    process_stored(db, delivery_id, stop=stop)
    assert rows(db, "SELECT process_status FROM delivery") == [("pending",)]


# ---- large stored bodies: read in pieces, written in bounded chunks ---------------------


def test_blob_reader_reads_the_stored_body_exactly(db: Database) -> None:
    body = bytes(range(256)) * 40_000  # 10 MB, no two neighbouring pieces alike
    delivery_id = stored_delivery(db, body)
    raw = db.engine.raw_connection()
    try:
        # A small reopen interval: most reads cross from one blob handle to the next.
        reader = SQLiteBlobReader(
            raw.driver_connection, "delivery", "body", delivery_id, reopen_bytes=300_001
        )
        with io.BufferedReader(reader, buffer_size=65_536) as stream:
            assert stream.read(7) == body[:7]
            stream.seek(5_000_003)
            assert stream.read(1_000_000) == body[5_000_003:6_000_003]
            stream.seek(0)
            assert stream.read() == body
            assert stream.read(10) == b""
    finally:
        raw.close()


def test_processing_a_stored_push_never_holds_its_body(db: Database) -> None:
    """The body is read in pieces and written in chunks of bounded size, so Python's memory
    stays far below the body's size even when a few huge messages make up the whole push."""
    text = "lorem ipsum dolor sit amet " * 800  # 21.6 kB a message
    conversations = [
        {"SessionID": n, "Messages": [{"Type": "User", "Content": f"{text} n{n}"}] * 4}
        for n in range(300)
    ]
    body = json.dumps(window("bot-a", 1, conversations)).encode()
    body = b'{"Collection":[' + body + b"]}"
    assert len(body) > 25_000_000
    delivery_id = stored_delivery(db, body)
    commits = db.writer.commits
    del conversations
    tracemalloc.start()
    try:
        result = process_stored(db, delivery_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.records, result.errors) == (1200, [])
    assert peak < len(body) / 2, f"peak {peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB body"
    assert db.writer.commits - commits >= len(body) // CHUNK_BYTES // 2  # chunked by size
    assert match(db, "message", "n299") == [1197, 1198, 1199, 1200]
