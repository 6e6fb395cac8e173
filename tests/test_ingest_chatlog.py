"""app.ingest.chatlog: a chat log to windows, conversations and messages, as a small body is
stored (parsed whole, in one transaction); the streamed path is in test_ingest_processor.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatlogs import apply, chatlog, conversation, match, rows, snapshot, window
from spec_examples import SERIAL
from sqlalchemy import text

from app.db import Database
from app.ingest.chatlog import CHUNK_MESSAGES
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
