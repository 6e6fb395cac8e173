"""app.ingest.chatlog: a chat log to windows, conversations and messages, as a small body is
stored (parsed whole, in one transaction), and pushes for one window merging by SessionID; the
streamed path is in test_ingest_processor.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatlogs import NOW, apply, chatlog, conversation, match, rows, snapshot, window
from spec_examples import SERIAL
from sqlalchemy import text

from app.db import Database
from app.ingest.chatlog import CHUNK_MESSAGES, document_events, write_chatlog
from app.ingest.pipeline import WritePipeline
from app.ingest.result import Result
from app.models import ProcessStatus


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


def test_redelivered_window_stores_nothing_twice(db: Database) -> None:
    apply(db, chatlog())
    first = snapshot(db)
    result = apply(db, chatlog())
    assert result.records == 3
    assert snapshot(db) == first  # nothing doubled
    assert len(match(db, "message", "appointment")) == 1
    assert rows(db, "SELECT count(*) FROM conversation") == [(1,)]

    # The same window re-sent with a conversation more: one conversation more, none doubled.
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


def test_a_day_split_over_two_pushes_keeps_both_halves(db: Database) -> None:
    """Issue 11, finding 7: the second push merges by SessionID instead of replacing the day."""
    apply(db, {"Collection": [window("bot-a", 1, [conversation(n) for n in range(50)])]})
    updated = conversation(49, 3, URI="example.com/later")
    updated["Messages"][2]["Content"] = "rescheduled"
    second = [*(conversation(n) for n in range(50, 100)), updated]
    result = apply(db, {"Collection": [window("bot-a", 1, second, Name="renamed", Tz="CET")]})
    assert (result.records, result.errors) == (103, [])

    assert rows(db, "SELECT session_id, count(*) FROM conversation GROUP BY 1 ORDER BY 1") == [
        (n, 1) for n in range(100)
    ]
    assert rows(db, "SELECT uri, message_count FROM conversation WHERE session_id = 49") == [
        ("example.com/later", 3)
    ]
    # The window's fields follow the newest push; its counts cover both.
    assert rows(db, "SELECT name, extra, conversation_count, message_count, complete "
                    "FROM chat_window") == [("renamed", '{"Tz": "CET"}', 100, 201, 1)]  # fmt: skip
    assert rows(db, "SELECT count(*) FROM message") == [(201,)]
    # Search finds every stored message once, and nothing of the replaced conversation.
    first_lines = rows(db, "SELECT id FROM message WHERE position = 0 ORDER BY id")
    assert match(db, "message", "m0") == [row[0] for row in first_lines]
    assert len(match(db, "message", "s49 AND m1")) == 1
    assert len(match(db, "message", "rescheduled")) == 1


def test_a_session_twice_in_one_push_keeps_both_until_a_later_push(db: Database) -> None:
    """Within one push nothing is replaced, even across its chunks: the vendor sent both."""
    filler = [conversation(n, 20) for n in range(100, 100 + CHUNK_MESSAGES // 20)]
    talks = [conversation(1), conversation(1, 3), conversation(2), *filler, conversation(1, 5)]
    apply(db, {"Collection": [window("bot-a", 1, talks)]})
    counts = "SELECT session_id, message_count FROM conversation WHERE session_id < 100 ORDER BY id"
    assert rows(db, counts) == [(1, 2), (1, 3), (2, 2), (1, 5)]

    apply(db, {"Collection": [window("bot-a", 1, [conversation(1, 4)])]})
    assert rows(db, counts) == [(2, 2), (1, 4)]
    assert rows(db, "SELECT conversation_count FROM chat_window") == [(len(filler) + 2,)]
    assert len(match(db, "message", "s1")) == 4


def test_a_push_cut_short_loses_nothing_of_the_earlier_one(db: Database) -> None:
    """A large push is written in chunks, each committed on its own: a crash in the middle
    leaves each conversation as it was or as the push sent it, and the push redone after the
    restart (the processor's way) ends as if it had never been cut."""
    apply(db, {"Collection": [window("bot-a", 1, [conversation(n, 20) for n in range(600)])]})
    later = window("bot-a", 1, [conversation(n, 20, URI="later") for n in range(300, 900)])
    events = list(document_events({"Collection": [later]}))
    cut = events[: 1 + 300]  # the window and 300 conversations: one chunk written, then cut
    pipeline = WritePipeline(db)
    write_chatlog(cut, pipeline, Result(), delivery_id=None, now=lambda: NOW)
    pipeline.drain()  # what was committed before the crash

    by_uri = "SELECT uri, count(*), min(session_id), max(session_id) FROM conversation GROUP BY 1"
    chunk = CHUNK_MESSAGES // 20
    assert rows(db, by_uri) == [
        ("later", chunk, 300, 300 + chunk - 1),
        ("www.helloclient.com", 600 - chunk, 0, 599),
    ]
    assert rows(db, "SELECT count(DISTINCT session_id) FROM conversation") == [(600,)]
    assert rows(db, "SELECT complete FROM chat_window") == [(0,)]  # being written

    pipeline = WritePipeline(db)
    result = Result()
    write_chatlog(events, pipeline, result, delivery_id=None, now=lambda: NOW)
    pipeline.drain()
    assert (result.records, result.errors) == (600 * 20, [])
    assert rows(db, by_uri) == [("later", 600, 300, 899), ("www.helloclient.com", 300, 0, 299)]
    assert rows(db, "SELECT conversation_count, message_count, complete FROM chat_window") == [
        (900, 900 * 20, 1)
    ]
    assert len(match(db, "message", "m0")) == 900


def test_a_window_larger_than_a_chunk_is_still_one_transaction(db: Database) -> None:
    """Parsed whole, a chat log is written by the same window writer as a streamed one, in
    chunks, but every chunk runs in the one transaction that stores the body."""
    talks = [conversation(n, 20) for n in range(CHUNK_MESSAGES // 20 + 10)]
    commits = db.writer.commits
    result = apply(db, {"Collection": [window("bot-a", 1, talks), window("bot-b", 1, [])]})
    assert db.writer.commits - commits == 1
    assert (result.records, result.errors) == (len(talks) * 20, [])
    assert rows(db, "SELECT serial_number, conversation_count, message_count, complete "
                    "FROM chat_window ORDER BY id") == [
        ("bot-a", len(talks), len(talks) * 20, 1),
        ("bot-b", 0, 0, 1),
    ]  # fmt: skip
    assert rows(db, "SELECT count(*) FROM message") == [(len(talks) * 20,)]


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
    # A bad window stores nothing, not even its chatbot.
    assert rows(db, "SELECT serial_number FROM chatbot ORDER BY 1") == [("bot-a",), ("bot-e",)]


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
