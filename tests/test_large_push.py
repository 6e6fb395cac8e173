"""The daily chat-log push: acknowledged once stored raw, parsed afterwards, resumably."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time

import httpx
from conftest import SIGNING_KEY, AppProcess

from app.ingest.documents import INLINE_MAX_BYTES

SUCCESS = b'{"status":"success"}'


def chatlog_push(*, windows: int, conversations: int, messages: int, filler: int) -> bytes:
    """Compact JSON, built as text: a 100 MB payload this way takes a second, not a minute.

    Compact ASCII with whole numbers is exactly what JSON.stringify would print, so signing the
    raw bytes is signing what the vendor signs.
    """
    text = "x" * filler
    parts: list[str] = ['{"Collection":[']
    for w in range(windows):
        if w:
            parts.append(",")
        parts.append(
            f'{{"SerialNumber":"bot{w:04d}","Name":"Bot {w}","StartTime":"2023-11-21T00:00:00Z",'
            f'"EndTime":"2023-11-22T00:00:00Z","Conversations":['
        )
        for c in range(conversations):
            turns = ",".join(
                f'{{"Type":"{"AI" if m % 2 == 0 else "User"}","Content":"w{w}c{c}m{m} {text}"}}'
                for m in range(messages)
            )
            parts.append(
                f'{"," if c else ""}{{"SessionID":{w * 100_000 + c},'
                f'"CreateTime":"2023-11-21T10:00:00.000001Z","URI":"example.com",'
                f'"Messages":[{turns}]}}'
            )
        parts.append("]}")
    parts.append("]}")
    return "".join(parts).encode()


def post_signed(app: AppProcess, body: bytes) -> httpx.Response:
    timestamp = str(int(time.time()))
    mac = hmac.new(SIGNING_KEY.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Signature": f"t={timestamp},v1={mac.hexdigest()}",
    }
    return httpx.post(f"{app.url}/webhook", content=body, headers=headers, timeout=300)


def test_a_100_mb_push_is_acknowledged_before_it_is_parsed(app_server: AppProcess) -> None:
    windows, conversations, messages = 40, 250, 20
    body = chatlog_push(windows=windows, conversations=conversations, messages=messages, filler=460)
    assert len(body) > 100 * 1000 * 1000

    response = post_signed(app_server, body)
    assert response.status_code == 200
    assert response.content == SUCCESS

    delivery = app_server.query(
        "SELECT id, body_size, committed_at, processing_started_at FROM delivery"
    )[0]
    assert delivery["body_size"] == len(body)
    app_server.wait_for("SELECT process_status FROM delivery", "processed", timeout=600)
    started = app_server.scalar("SELECT processing_started_at FROM delivery")
    # Parsing began only after the raw body's commit: it was not on the request path.
    assert delivery["committed_at"] <= started

    total = windows * conversations * messages
    assert app_server.scalar("SELECT count(*) FROM message") == total
    assert app_server.scalar("SELECT sum(message_count) FROM chat_window WHERE complete") == total
    assert app_server.scalar("SELECT count(*) FROM chat_window") == windows
    last = f"w{windows - 1}c{conversations - 1}m{messages - 1}"
    hits = app_server.query("SELECT rowid FROM message_fts WHERE message_fts MATCH ?", (last,))
    assert len(hits) == 1


def test_parsing_resumes_after_a_crash_without_doubling(app_server: AppProcess) -> None:
    windows, conversations, messages = 8, 300, 10
    body = chatlog_push(windows=windows, conversations=conversations, messages=messages, filler=200)
    assert post_signed(app_server, body).content == SUCCESS
    deadline = time.monotonic() + 120
    while app_server.scalar("SELECT count(*) FROM message") == 0:
        assert time.monotonic() < deadline, "processing never started"
        time.sleep(0.01)
    app_server.stop(signal.SIGKILL)  # mid-way through the chunks
    assert app_server.scalar("SELECT process_status FROM delivery") == "pending"

    app_server.start()
    app_server.wait_for("SELECT process_status FROM delivery", "processed", timeout=300)
    assert app_server.scalar("SELECT count(*) FROM message") == windows * conversations * messages
    assert app_server.scalar("SELECT count(*) FROM chat_window") == windows
    assert app_server.scalar("SELECT count(*) FROM conversation") == windows * conversations


def one_day(sessions: list[int], *, name: str, words: dict[int, str], filler: int = 0) -> bytes:
    """One chatbot's day: two messages a conversation, the first holding the word "opening",
    each its session's own word (``words``, else ``s<n>``); compact ASCII, as in
    ``chatlog_push``, so the raw bytes are what the vendor signs."""
    text = "y" * filler
    conversations = [
        {
            "SessionID": n,
            "CreateTime": "2026-03-02T10:00:00.000001Z",
            "URI": "example.com",
            "Messages": [
                {"Type": "AI", "Content": f"opening {words.get(n, f's{n}')} {text}"},
                {"Type": "User", "Content": f"reply {words.get(n, f's{n}')}"},
            ],
        }
        for n in sessions
    ]
    window = {
        "SerialNumber": "bot-split",
        "Name": name,
        "StartTime": "2026-03-02T00:00:00Z",
        "EndTime": "2026-03-03T00:00:00Z",
        "Conversations": conversations,
    }
    return json.dumps({"Collection": [window]}, separators=(",", ":")).encode()


def test_a_day_split_over_two_pushes_keeps_both_halves(app_server: AppProcess) -> None:
    """Issue 11, finding 7. The first half is small (parsed as it is stored), the second larger
    than the inline limit (streamed by the processor): both paths merge by SessionID."""
    first = one_day(list(range(50)), name="Desk", words={49: "before"})
    assert post_signed(app_server, first).content == SUCCESS
    second = one_day(list(range(49, 100)), name="Front desk", words={49: "after"}, filler=45_000)
    assert len(second) > INLINE_MAX_BYTES
    assert post_signed(app_server, second).content == SUCCESS
    processed = "SELECT count(*) FROM delivery WHERE process_status = 'processed'"
    app_server.wait_for(processed, 2)
    # The vendor's retry of the first push, byte for byte: a duplicate, stored once.
    assert post_signed(app_server, first).content == SUCCESS
    assert app_server.scalar("SELECT outcome FROM delivery ORDER BY id DESC LIMIT 1") == "duplicate"

    sessions = app_server.query("SELECT DISTINCT session_id FROM conversation ORDER BY 1")
    assert [row[0] for row in sessions] == list(range(100))
    assert app_server.scalar("SELECT count(*) FROM conversation") == 100
    window = app_server.query(
        "SELECT name, conversation_count, message_count, complete FROM chat_window"
    )
    assert [tuple(row) for row in window] == [("Front desk", 100, 200, 1)]

    def hits(query: str) -> list[int]:
        found = app_server.query(
            "SELECT rowid FROM message_fts WHERE message_fts MATCH ?", (query,)
        )
        return sorted(row[0] for row in found)

    openings = app_server.query("SELECT id FROM message WHERE position = 0 ORDER BY id")
    assert hits("opening") == [row[0] for row in openings]  # each once, nothing stale
    assert len(hits("s0")) == len(hits("s99")) == 2  # a half from each push
    assert len(hits("after")) == 2  # the conversation both pushes held: the later one's
    assert hits("before") == []
