"""app.ingest.stream: a chat-log body read as a stream of windows and conversations."""

from __future__ import annotations

import io
import json
from typing import Any

import ijson
import pytest
from chatlogs import chatlog, conversation, reorder, window
from spec_examples import SPEC_CHATLOG

from app.ingest.stream import NotAChatLog, stream_chatlog


def streamed(document: Any) -> list[tuple[str, Any]]:
    return list(stream_chatlog(io.BytesIO(json.dumps(document).encode())))


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


class Trickle(io.RawIOBase):
    """A body read three bytes at a time, so characters are cut between reads."""

    def __init__(self, body: bytes) -> None:
        self.body, self.at = body, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self.body[self.at : self.at + min(len(buffer), 3)]
        buffer[: len(piece)] = piece
        self.at += len(piece)
        return len(piece)


def test_stream_reads_invalid_utf8_as_the_vendors_stack_does() -> None:
    talk = conversation(1, messages=1)
    talk["Messages"][0]["Content"] = "MARK"
    text = json.dumps({"Collection": [window("bot", 21, [talk])]}).encode()
    body = b"\xef\xbb\xbf" + text.replace(b"MARK", b"Jos\xe9 \xf0\x9f\x98\x80")
    events = list(stream_chatlog(io.BufferedReader(Trickle(body), buffer_size=3)))
    talks = [value for kind, value in events if kind == "conversation"]
    assert [m["Content"] for m in talks[0]["Messages"]] == ["Jos\ufffd \U0001f600"]
