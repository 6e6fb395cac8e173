"""The two references ``bench/push.py`` runs beside the app, each in a process of its own.

    python bench/push_references.py {baseline,floor} BODY_FILE DATA_DIR

``baseline``: the simple approach, ``json.loads`` of the whole body and ORM objects added to a
``Session``, one transaction. ``floor``: the same rows through plain ``sqlite3``, in the app's
commit size, FTS5 triggers included: what SQLite itself needs. Both migrate a fresh database
with the app's own migrations first and print their timings as one JSON line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# ---- the simple approach, in a process of its own ---------------------------------------


def baseline_worker(body_path: Path, data_dir: Path) -> None:
    """json.loads the whole body, then ORM objects through a Session, one transaction."""
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    from sqlmodel import Session

    from app.config import load_settings
    from app.db import create_db_engine, migrate
    from app.models import Chatbot, ChatWindow, Conversation, Message, utcnow
    from app.shapes import parse_time

    engine = create_db_engine(load_settings())
    migrate(engine)
    body = body_path.read_bytes()
    started = time.monotonic()
    document = json.loads(body)
    parsed = time.monotonic()
    now = utcnow()
    with Session(engine) as session:
        for window in document["Collection"]:
            session.merge(
                Chatbot(
                    serial_number=window["SerialNumber"],
                    name=window["Name"],
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
            chat_window = ChatWindow(
                serial_number=window["SerialNumber"],
                name=window["Name"],
                start_time_raw=window["StartTime"],
                end_time_raw=window["EndTime"],
                start_time=parse_time(window["StartTime"]),
                end_time=parse_time(window["EndTime"]),
                received_at=now,
                conversation_count=len(window["Conversations"]),
                message_count=sum(len(c["Messages"]) for c in window["Conversations"]),
                complete=True,
            )
            session.add(chat_window)
            session.flush()  # the ids the children point at
            for item in window["Conversations"]:
                conversation = Conversation(
                    window_id=chat_window.id,
                    serial_number=window["SerialNumber"],
                    session_id=item["SessionID"],
                    create_time_raw=item["CreateTime"],
                    created_at=parse_time(item["CreateTime"]),
                    uri=item["URI"],
                    message_count=len(item["Messages"]),
                )
                session.add(conversation)
                session.flush()
                for position, message in enumerate(item["Messages"]):
                    session.add(
                        Message(
                            conversation_id=conversation.id,
                            position=position,
                            type=message["Type"],
                            content=message["Content"],
                        )
                    )
        session.commit()
    finished = time.monotonic()
    print(
        json.dumps(
            {
                "parse": parsed - started,
                "total": finished - started,
                "peak_mb": status_kb("VmHWM") / 1024,
            }
        )
    )


def floor_worker(body_path: Path, data_dir: Path) -> None:
    """What SQLite itself needs: the same rows straight through sqlite3 (no SQLAlchemy, no
    streaming), in commits of the app's chunk size, FTS5 triggers included. The ceiling."""
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    from app.config import load_settings
    from app.db import create_db_engine, migrate
    from app.ingest.chatlog import CHUNK_MESSAGES

    migrate(create_db_engine(load_settings()))
    document = json.loads(body_path.read_bytes())
    database = sqlite3.connect(data_dir / "inbox.db", isolation_level=None)
    database.execute("PRAGMA synchronous=FULL")
    started, cpu = time.monotonic(), time.process_time()
    database.execute("BEGIN IMMEDIATE")
    pending = 0
    for window in document["Collection"]:
        (window_id,) = database.execute(
            "INSERT INTO chat_window (serial_number, name, start_time_raw, end_time_raw, "
            "received_at, conversation_count, message_count, complete) "
            "VALUES (?, ?, ?, ?, datetime('now'), 0, 0, 1) RETURNING id",
            (window["SerialNumber"], window["Name"], window["StartTime"], window["EndTime"]),
        ).fetchone()
        for item in window["Conversations"]:
            (conversation_id,) = database.execute(
                "INSERT INTO conversation (window_id, serial_number, session_id, "
                "create_time_raw, uri, message_count) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    window_id,
                    window["SerialNumber"],
                    item["SessionID"],
                    item["CreateTime"],
                    item["URI"],
                    len(item["Messages"]),
                ),
            ).fetchone()
            database.executemany(
                "INSERT INTO message (conversation_id, position, type, content) "
                "VALUES (?, ?, ?, ?)",
                [
                    (conversation_id, position, message["Type"], message["Content"])
                    for position, message in enumerate(item["Messages"])
                ],
            )
            pending += len(item["Messages"])
            if pending >= CHUNK_MESSAGES:
                database.execute("COMMIT")
                database.execute("BEGIN IMMEDIATE")
                pending = 0
    database.execute("COMMIT")
    result = {"total": time.monotonic() - started, "cpu": time.process_time() - cpu}
    print(json.dumps(result))


if __name__ == "__main__":
    kind, body, data = sys.argv[1:4]
    {"baseline": baseline_worker, "floor": floor_worker}[kind](Path(body), Path(data))
