"""app.ingest.processor: a stored delivery (re)processed from its raw body; large chat logs
streamed in chunks, in bounded memory, to the rows the same body parsed whole gives.
"""

from __future__ import annotations

import io
import json
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatlogs import (
    NOW,
    apply,
    chatlog,
    conversation,
    match,
    reorder,
    rows,
    snapshot,
    stored_delivery,
    window,
)

from app.config import load_settings
from app.db import Database
from app.ingest.blob import SQLiteBlobReader
from app.ingest.chatlog import CHUNK_BYTES, CHUNK_MESSAGES, write_chatlog
from app.ingest.documents import apply_document
from app.ingest.pipeline import WritePipeline
from app.ingest.processor import process_stored
from app.ingest.result import Result
from app.ingest.stream import stream_chatlog
from app.models import ProcessStatus
from app.shapes import parse_json


@pytest.fixture
def other_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(load_settings({"DATA_DIR": str(tmp_path / "b")}))
    database.open()
    try:
        yield database
    finally:
        database.close()


def assert_same_as_inline(
    db: Database, other_db: Database, body: bytes, *, ignore: tuple[str, ...] = ()
) -> tuple[Result, Result]:
    """The body stored and streamed in ``other_db`` gives the rows, counts and error texts it
    gives parsed whole in ``db``, whatever the order of its fields."""
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
    assert result.errors == [
        "Collection[0].Conversations[1]: conversation: expected an object, got number",
        "Collection[0].Conversations[2]: SessionID: expected an integer, got boolean",
        "Collection[1]: expected an object",
        "Collection[2]: StartTime: missing",
        "Collection[3]: EndTime: expected a string, got number",
        "Collection[4]: Conversations: expected an array",
    ]


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


def test_a_push_processed_late_never_overwrites_a_later_one(db: Database) -> None:
    """A large push is processed after it is answered: a small one that arrived after it, and
    was stored at once, keeps what it stored; the rest of the large one merges as usual."""
    older = window("bot-a", 1, [conversation(1, 5), conversation(2)], Name="old")
    older_id = stored_delivery(db, json.dumps({"Collection": [older]}).encode())
    newer = {"Collection": [window("bot-a", 1, [conversation(1, 3)], Name="new")]}
    newer_id = stored_delivery(db, json.dumps(newer).encode())
    db.writer.run_sync(lambda c: apply_document(c, newer, delivery_id=newer_id, now=NOW))

    result = process_stored(db, older_id)
    assert (result.records, result.errors) == (2, [])
    assert rows(db, "SELECT session_id, message_count FROM conversation ORDER BY 1") == [
        (1, 3),
        (2, 2),
    ]
    assert rows(db, "SELECT name, conversation_count, message_count, delivery_id "
                    "FROM chat_window") == [("new", 2, 5, newer_id)]  # fmt: skip
    assert rows(db, "SELECT name FROM chatbot") == [("new",)]
    assert len(match(db, "message", "s1")) == 3


def late_bad_name(*conversations: dict[str, object]) -> bytes:
    """A streamed window whose Name, bad, comes after its conversations."""
    bad = window("bot-a", 1, list(conversations), Name=5)
    ordered = reorder(bad, "SerialNumber", "StartTime", "EndTime", "Conversations")
    return json.dumps({"Collection": [ordered]}).encode()


def test_late_bad_field_keeps_the_window_an_earlier_push_stored(db: Database) -> None:
    """The conversations the bad window replaced cannot be put back: its own (each valid) stay
    merged, the window keeps its fields, the delivery says what was wrong."""
    apply(db, {"Collection": [window("bot-a", 1, [conversation(n) for n in range(3)])]})
    result = process_stored(db, stored_delivery(db, late_bad_name(conversation(2, 5))))
    assert result.errors == ["Collection[0]: Name: expected a string, got number"]
    assert result.records == 5
    assert rows(db, "SELECT name, conversation_count, message_count, complete, delivery_id "
                    "FROM chat_window") == [("bot bot-a", 3, 9, 1, None)]  # fmt: skip
    assert rows(db, "SELECT session_id, message_count FROM conversation ORDER BY id") == [
        (0, 2),
        (1, 2),
        (2, 5),
    ]
    assert len(match(db, "message", "s2")) == 5


def test_late_bad_field_drops_a_window_its_own_cut_short_run_created(db: Database) -> None:
    """Redone after a crash, the delivery finds the window it created (never closed): still its
    own, dropped as if the run had not been cut."""
    body = late_bad_name(*(conversation(n, 20) for n in range(CHUNK_MESSAGES // 20 + 10)))
    delivery_id = stored_delivery(db, body)
    pipeline = WritePipeline(db)
    events = stream_chatlog(io.BytesIO(body))
    cut = (event for event, _ in zip(events, range(CHUNK_MESSAGES // 20 + 2), strict=False))
    write_chatlog(cut, pipeline, Result(), delivery_id=delivery_id, now=lambda: NOW)
    pipeline.drain()
    assert rows(db, "SELECT complete FROM chat_window") == [(0,)]
    assert rows(db, "SELECT count(*) FROM conversation") == [(CHUNK_MESSAGES // 20,)]

    result = process_stored(db, delivery_id)
    assert result.errors == ["Collection[0]: Name: expected a string, got number"]
    assert result.records == 0
    assert rows(db, "SELECT count(*) FROM chat_window") == [(0,)]
    assert match(db, "message", "m0") == []


def test_a_body_broken_off_settles_the_window_it_was_writing(db: Database) -> None:
    """Invalid JSON part-way: the window being written is a bad window (see above), so its
    counts stay right and it is not left "being written" for ever."""
    apply(db, {"Collection": [window("bot-a", 1, [conversation(n) for n in range(3)])]})
    for serial in ("bot-a", "bot-c"):
        talks = [conversation(2, 5), conversation(7)]
        body = json.dumps({"Collection": [window(serial, 1, talks)]}).encode()
        result = process_stored(db, stored_delivery(db, body[: body.index(b'"SessionID": 7')]))
        assert result.errors[0].startswith("invalid JSON")
    assert rows(db, "SELECT serial_number, conversation_count, message_count, complete "
                    "FROM chat_window") == [("bot-a", 3, 9, 1)]  # fmt: skip
    assert rows(db, "SELECT session_id, message_count FROM conversation ORDER BY id") == [
        (0, 2),
        (1, 2),
        (2, 5),
    ]


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
