"""The vendor's shapes, pure: field lists, times, and the checks that turn a body into values.

Follows the vendor's document. Validation is strict about types (a wrong type is flagged for the
admin, never guessed at) and generous about extras (unknown fields and ``Type`` values are kept).
Nothing here touches the database, so every stage downstream of the receiver may import it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# The only answer the vendor counts as delivered; anything else is retried after 1 and 3 minutes.
SUCCESS = b'{"status":"success"}'

# Deeper bodies are kept raw and flagged (the vendor's shapes nest five levels): storing a value
# writes it as JSON again, recursively, and about 980 levels would hit Python's recursion limit
# inside the writer.
MAX_DEPTH = 940

LEAD_FIELDS = {
    "SerialNumber": "serial_number",
    "Type": "type",
    "FirstName": "first_name",
    "LastName": "last_name",
    "Email": "email",
    "PhoneNumber": "phone_number",
    "CreateTime": "create_time_raw",
    "Content": "content",
    "SessionID": "session_id",
    "URI": "uri",
}
WINDOW_FIELDS = ("SerialNumber", "Name", "StartTime", "EndTime", "Conversations")
CONVERSATION_FIELDS = ("SessionID", "CreateTime", "URI", "Messages")
MESSAGE_FIELDS = ("Type", "Content")


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins valid pairs, so any is lone


class IngestError(ValueError):
    """The body is not a shape we can store as records; the message says what is wrong."""


def kind_of(document: object) -> str:
    if isinstance(document, dict):
        if "Collection" in document:
            return "chatlog"
        kind = document.get("Type")
        if isinstance(kind, str):
            return kind.lower() if kind.lower() in ("lead", "appointment") else "other"
    return "unknown"


def _reject_constant(name: str) -> None:
    raise IngestError(f"invalid JSON: {name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # json.loads would build one a call


def parse_json(body: bytes | bytearray) -> Any:
    # Decoded as the vendor's stack decodes it (body-parser: one BOM dropped, invalid UTF-8 as
    # U+FFFD), which is also what its signature covered: a verified lead is a lead.
    try:
        document = _DECODER.decode(body.decode("utf-8-sig", "replace"))
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise IngestError("invalid JSON: nested too deeply") from None
    except IngestError:
        raise  # NaN or Infinity (_reject_constant): a ValueError, already worded
    except ValueError as exc:
        # An integer literal past Python's int-from-string digit limit (4,300 digits); left
        # uncaught it fails the storing transaction: a 503 the vendor retries for ever.
        raise IngestError(f"invalid JSON: {exc}") from None
    if _deeper_than(document, MAX_DEPTH):
        raise IngestError(f"invalid JSON: nested too deeply (over {MAX_DEPTH} levels)")
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Walked without recursion: storing a value writes it as JSON again, recursively, and
    Python's recursion limit (about 1,000) would fail that transaction: a 503 for ever."""
    if not isinstance(document, dict | list):
        return limit < 1
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth + (1 if children else 0) > limit:  # a container's items are one level deeper
            return True
        # Only the containers are walked further: a lead is one object of strings and numbers.
        stack.extend((each, depth + 1) for each in children if isinstance(each, dict | list))
    return False


def parse_time(raw: str) -> datetime | None:
    """Vendor times are ISO 8601 in UTC; an unparseable one is kept raw, shown as sent."""
    try:
        parsed = datetime.fromisoformat(raw)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing it past year 1..9999
        return None


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


def text_field(document: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = document.get(key)
    if value is None:
        if required:
            raise IngestError(f"{key}: missing")
        return ""
    if not isinstance(value, str):
        raise IngestError(f"{key}: expected a string, got {type_name(value)}")
    if required and not value:
        raise IngestError(f"{key}: empty")
    # JSON may escape a lone surrogate (JSON.stringify does, for an emoji cut in half); the
    # database cannot encode one, and failing would refuse the whole delivery. The raw body
    # keeps the original; the record shows U+FFFD.
    return value if value.isascii() else _LONE_SURROGATE.sub("\ufffd", value)


def int_field(document: Mapping[str, Any], key: str) -> int:
    value = document.get(key)
    if value is None:
        raise IngestError(f"{key}: missing")
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isascii() and value.isdigit():
            if len(value.lstrip("0")) > 19:  # past 64 bits, and int() refuses 4,301+ digits
                raise IngestError(f"{key}: {value[:20]}… is out of range for a 64-bit integer")
            value = int(value)  # a number sent as a string is unambiguous; accept it
        else:
            raise IngestError(f"{key}: expected an integer, got {type_name(value)}")
    # Checked here, not left to the BIGINT column: the driver's OverflowError would fail the
    # whole storing transaction (a 503, retried forever) instead of flagging this record.
    if not _BIGINT_MIN <= value <= _BIGINT_MAX:
        raise IngestError(f"{key}: {value} is out of range for a 64-bit integer")
    return value


def extras(document: Mapping[str, Any], known: Any) -> dict[str, Any] | None:
    rest = {key: value for key, value in document.items() if key not in known}
    return rest or None


def lead_values(document: object) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise IngestError(f"expected a JSON object, got {type_name(document)}")
    values: dict[str, Any] = {
        "serial_number": text_field(document, "SerialNumber", required=True),
        "type": text_field(document, "Type", required=True),
        "create_time_raw": text_field(document, "CreateTime", required=True),
        "session_id": int_field(document, "SessionID"),
    }
    for key in ("FirstName", "LastName", "Email", "PhoneNumber", "Content", "URI"):
        values[LEAD_FIELDS[key]] = text_field(document, key)
    values["created_at"] = parse_time(values["create_time_raw"])
    values["extra"] = extras(document, LEAD_FIELDS)
    return values


def lead_in(document: object) -> tuple[str, dict[str, Any]] | None:
    """The kind and columns of a parsed body that is a valid lead or appointment, else None.

    The webhook's fast path: anything else (a chat log, a bad field) returns None and takes the
    general path, which records what was wrong.
    """
    kind = kind_of(document)
    if kind in ("chatlog", "unknown"):
        return None
    try:
        return kind, lead_values(document)
    except IngestError:
        return None


@dataclass
class WindowHeader:
    serial_number: str
    name: str
    start_time_raw: str
    end_time_raw: str
    extra: dict[str, Any] | None

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> WindowHeader:
        return cls(
            serial_number=text_field(document, "SerialNumber", required=True),
            name=text_field(document, "Name"),
            start_time_raw=text_field(document, "StartTime", required=True),
            end_time_raw=text_field(document, "EndTime", required=True),
            extra=extras(document, WINDOW_FIELDS),
        )


def parse_window(document: object) -> WindowHeader:
    """A chat-log window's own fields, checked; its conversations are parsed one by one."""
    if not isinstance(document, dict):
        raise IngestError("expected an object")
    header = WindowHeader.parse(document)
    conversations = document.get("Conversations")
    # Absent or null is a window without chats; "or []" would also let {} and "" pass.
    if conversations is not None and not isinstance(conversations, list):
        raise IngestError("Conversations: expected an array")
    return header


@dataclass
class ParsedConversation:
    values: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)


def parse_conversation(document: object) -> ParsedConversation:
    if not isinstance(document, dict):
        raise IngestError(f"conversation: expected an object, got {type_name(document)}")
    create_time_raw = text_field(document, "CreateTime")
    conversation = ParsedConversation(
        {
            "session_id": int_field(document, "SessionID"),
            "create_time_raw": create_time_raw,
            "created_at": parse_time(create_time_raw),
            "uri": text_field(document, "URI"),
            "extra": extras(document, CONVERSATION_FIELDS),
        }
    )
    messages = document.get("Messages")
    if messages is None:
        messages = []  # absent or null: a conversation without messages
    elif not isinstance(messages, list):  # "or []" would let {} and "" pass as empty
        raise IngestError(f"Messages: expected an array, got {type_name(messages)}")
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise IngestError(f"message {position}: expected an object")
        conversation.messages.append(
            {
                "position": position,
                "type": text_field(message, "Type"),
                "content": text_field(message, "Content"),
                "extra": extras(message, MESSAGE_FIELDS),
            }
        )
    return conversation


def person_name(first: str, last: str, email: str = "", phone: str = "") -> str:
    """How a lead is named everywhere (pages, notifications, calendar): the best field it has."""
    return f"{first.strip()} {last.strip()}".strip() or email or phone or "Unknown visitor"


# ---- samples, shaped exactly like the vendor's documented examples, stamped with now ----

SAMPLE_SERIAL = "59001dd73709417321c58b11693183a2"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sample_lead(kind: str = "Lead", now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    return {
        "SerialNumber": SAMPLE_SERIAL,
        "Type": kind,
        "FirstName": "David",
        "LastName": "Garcia",
        "Email": "test@example.com",
        "PhoneNumber": "+1 555 0100",
        "CreateTime": _iso(moment),
        "Content": "Test from `python -m app send-test`: please call me back."
        if kind == "Lead"
        else "Appointment request: tomorrow at 10:00",
        "SessionID": 10_000_000 + secrets.randbelow(90_000_000),
        "URI": "www.helloclient.com",
    }


def sample_chatlog(now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return {
        "Collection": [
            {
                "SerialNumber": SAMPLE_SERIAL,
                "Name": "Test chatbot",
                "StartTime": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "EndTime": (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Conversations": [
                    {
                        "SessionID": 31302,
                        "CreateTime": _iso(day + timedelta(hours=16, minutes=22)),
                        "URI": "www.helloclient.com",
                        "Messages": [
                            {"Type": "AI", "Content": "Hi What can I help you with?"},
                            {"Type": "User", "Content": "make an appointment"},
                            {"Type": "AI", "Content": "Please select the date and time..."},
                        ],
                    }
                ],
            }
        ]
    }


def sample(kind: str) -> dict[str, Any]:
    if kind == "chatlog":
        return sample_chatlog()
    return sample_lead("Appointment" if kind == "appointment" else "Lead")
