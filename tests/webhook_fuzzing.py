"""Cases for tests/test_fuzz_webhook.py: what a lead is (judged without the app's code), how
a request is signed, well or badly, and the hypothesis strategies for hostile bodies and headers.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import hmac
import json
import re
import socket
import time
import zlib
from typing import Any

import brotli
from conftest import SIGNING_KEY
from hypothesis import strategies as st
from spec_examples import SPEC_APPOINTMENT, SPEC_CHATLOG, SPEC_LEAD

TOLERANCE = 300  # WEBHOOK_TOLERANCE_SECONDS' default
Headers = list[tuple[bytes, bytes]]
LeadKey = tuple[str, str, int, str]
Case = tuple[bytes, Headers, int]  # body, headers, how many signature headers are valid


# ---- what the vendor's document says a lead is, judged here without the app's code ----------

OPTIONAL = ("FirstName", "LastName", "Email", "PhoneNumber", "Content", "URI")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constants(name: str) -> None:
    raise ValueError(name)


def lead_key(body: bytes) -> LeadKey | None:
    """(SerialNumber, Type, SessionID, CreateTime) of a body that is a storable lead, else None."""
    try:
        doc = json.loads(body.decode("utf-8-sig"), parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "Collection" in doc:
        return None
    texts = [doc.get(name) for name in ("SerialNumber", "Type", "CreateTime")]
    if not all(isinstance(text, str) and text for text in texts):
        return None
    if not all(doc.get(name) is None or isinstance(doc.get(name), str) for name in OPTIONAL):
        return None
    session = doc.get("SessionID")
    digits = isinstance(session, str) and session.isascii() and session.isdigit()
    if digits and len(str(session).lstrip("0")) < 20:
        session = int(str(session))
    if isinstance(session, bool) or not isinstance(session, int):
        return None
    if not -(2**63) <= session < 2**63:
        return None
    serial, kind, created = (LONE_SURROGATE.sub("\ufffd", str(text)) for text in texts)
    return serial, kind, session, created


# ---- signatures ------------------------------------------------------------------------


def signature(payload: bytes, *, t: int | None = None, key: str = SIGNING_KEY) -> str:
    stamp = str(int(time.time()) if t is None else t)
    mac = hmac.new(key.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def compact(value: object) -> bytes:
    """JSON.stringify's text for values without floats, big integers or array-index keys."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# How a request is signed, and whether that signature is valid (the oracle for each case).
GOOD_FORMS = ("raw", "raw-spaced", "raw-upper", "raw-extra-parts", "two-v1-one-good", "reversed")
BAD_FORMS = (
    "none", "wrong-key", "stale", "future", "tampered", "no-t", "two-t", "short-v1",
    "other-body", "empty",
)  # fmt: skip


def header_for(form: str, body: bytes) -> str | None:
    now = int(time.time())
    good = signature(body)
    hexdigest = good.split("v1=")[1]
    return {
        "raw": good,
        "raw-spaced": f"t = {now} ,  v1 = {hexdigest}",
        "raw-upper": f"t={now},v1={hexdigest.upper()}",
        "raw-extra-parts": f"t={now},v0=abc,junk,v1={hexdigest},x=",
        "two-v1-one-good": f"t={now},v1={'0' * 64},v1={hexdigest}",
        "reversed": f"v1={hexdigest},t={now}",
        "none": None,
        "wrong-key": signature(body, key="whsec_not_the_key"),
        "stale": signature(body, t=now - TOLERANCE - 120),
        "future": signature(body, t=now + TOLERANCE + 120),
        "tampered": signature(body + b" "),
        "no-t": f"v1={hexdigest}",
        "two-t": f"t={now},t={now - 1},v1={hexdigest}",
        "short-v1": f"t={now},v1={hexdigest[:63]}",
        "other-body": signature(b'{"SerialNumber":"another"}'),
        "empty": "",
    }[form]


# ---- strategies ------------------------------------------------------------------------

TRICKY = st.sampled_from(
    ["\x00", "\x1f", "\x7f", "\u2028", '"', "\\", "😀", "é", "\ufeff", "<script>", "'; --"]
)
SAFE_TEXT = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), TRICKY), max_size=12).map(
    "".join
)
ANY_TEXT = st.lists(st.one_of(st.characters(), TRICKY), max_size=12).map("".join)
ARRAY_INDEX = re.compile(r"(0|[1-9][0-9]*)")
# What JSON.stringify prints exactly as json.dumps does: no floats, safe integers, and no keys
# that JavaScript would move to the front of an object (array indices).
JS_SAFE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | SAFE_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            SAFE_TEXT.filter(lambda k: not ARRAY_INDEX.fullmatch(k)), inner, max_size=4
        )
    ),
    max_leaves=10,
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=10,
)
HUGE_NUMBER = "\x00huge number\x00"  # replaced after json.dumps: Python cannot print one
HUGE_DIGITS = "\x00huge digit string\x00"
# Wrong types and edge values for the vendor's fields (the markers become 4,400 digits).
WRONG_VALUES = [None, True, 0, -1, 1.5, 1e300, "", "x", [], {}, 2**63, -(2**63) - 1, "12345",
                "0x10", "١٢٣", " 7", HUGE_NUMBER, HUGE_DIGITS]  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT
WRONG = st.one_of(st.sampled_from(WRONG_VALUES), SCALARS, st.lists(SCALARS, max_size=2))
DELETE = object()


def dumps(value: object, **options: Any) -> bytes:
    text = json.dumps(value, **options)
    text = text.replace(json.dumps(HUGE_NUMBER), "9" * 4400)
    return text.replace(json.dumps(HUGE_DIGITS), '"' + "9" * 4400 + '"').encode()


def lead_paths(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    if "Collection" not in doc:
        return [(name,) for name in [*doc, "Extra"]]
    window = ("Collection", 0)
    conversation = (*window, "Conversations", 0)
    message = (*conversation, "Messages", 0)
    return [
        ("Collection",),
        *((*window, name) for name in ("SerialNumber", "Name", "StartTime", "EndTime", "X")),
        (*window, "Conversations"),
        *((*conversation, name) for name in ("SessionID", "CreateTime", "URI", "X")),
        (*conversation, "Messages"),
        message,
        *((*message, name) for name in ("Type", "Content", "X")),
    ]


def mutate(doc: Any, path: tuple[Any, ...], value: object) -> None:
    *parents, last = path
    for step in parents:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation replaced this part already
    if isinstance(doc, dict) and value is DELETE:
        doc.pop(last, None)
    elif isinstance(doc, dict) or (isinstance(doc, list) and isinstance(last, int) and doc):
        doc[last if isinstance(doc, dict) else 0] = None if value is DELETE else value


@st.composite
def vendor_shapes(draw: st.DrawFn) -> bytes:
    doc = copy.deepcopy(draw(st.sampled_from([SPEC_LEAD, SPEC_APPOINTMENT, SPEC_CHATLOG])))
    if "Collection" not in doc:
        doc["SessionID"] = draw(st.integers(1, 10**6))
    paths = lead_paths(doc)
    changes = st.lists(st.tuples(st.sampled_from(paths), WRONG | st.just(DELETE)), max_size=4)
    for path, value in draw(changes):
        mutate(doc, path, value)
    return dumps(doc, ensure_ascii=draw(st.booleans()))


GARBLED = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
).map(lambda text: text.strip(" ").encode("latin-1"))
CONTENT_TYPE_VALUES = [b"application/json", b"application/json; charset=utf-16", b"text/plain",
                       b"", b"multipart/form-data; boundary=x", b"*/*", b"application/json, x/y",
                       b"application/x-www-form-urlencoded"]  # fmt: skip
CONTENT_TYPES = st.one_of(st.sampled_from(CONTENT_TYPE_VALUES), GARBLED)
OTHER_HEADERS = [b"X-Forwarded-For", b"X-Real-IP", b"Forwarded", b"Content-Encoding",
                 b"X-Webhook-Signature-V2", b"Authorization", b"Cookie", b"User-Agent"]  # fmt: skip


def lead_body(session: int, **fields: object) -> dict[str, Any]:
    return {**SPEC_LEAD, "SessionID": session, **fields}


def signed(body: bytes, *forms: str) -> Case:
    headers: Headers = [(b"Content-Type", b"application/json")]
    for form in forms:
        value = header_for(form, body)
        if value is not None:
            headers.append((b"X-Webhook-Signature", value.encode()))
    return body, headers, sum(form in GOOD_FORMS for form in forms)


def stringified(body: bytes, value: object) -> Case:
    """Signed as the vendor signs: JSON.stringify of the parsed body, not the bytes sent."""
    return body, [(b"X-Webhook-Signature", signature(compact(value)).encode())], 1


SIGN = st.sampled_from(GOOD_FORMS + BAD_FORMS)


def raw_exchange(
    port: int, request: bytes, *, hang_up: bool
) -> tuple[int | None, dict[str, str], bytes]:
    """One request on its own connection; (status, headers, body) of the first answer, or
    (None, {}, b"") when the server closed without one. ``hang_up`` closes our side after
    sending: the server then waits in vain for the rest of a body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    if not received:
        return None, {}, b""
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", len(rest)))
    return int(status_line.split()[1]), headers, rest[:length]


# ---- forged large bodies and compressed ones ----------------------------------------------

# What cost most when the JavaScript form was built whole, or could in a stream: tiny values,
# deep nesting, escapes, one long string, pretty-printed objects, an object with many keys.
FORGED_SHAPES = ("empty objects", "deep", "escapes", "long string", "pretty", "many keys")


def forged_large(shape: str, size: int) -> bytes:
    """Valid JSON of about ``size`` bytes, shaped to be expensive."""
    body = {
        "empty objects": lambda: b"[" + b"{}," * (size // 3) + b"{}]",
        "deep": lambda: b"[" * 900 + b"0," * (size // 2) + b"0" + b"]" * 900,
        "escapes": lambda: b'["' + b"\\u00e9\\n\\ud83d" * (size // 16) + b'"]',
        "long string": lambda: b'["\xf0\x9f\x98\x80' + b"x" * size + b'"]',
        "pretty": lambda: json.dumps([{"Type": "AI", "Content": "x" * 40}] * (size // 60),
                                     indent=4).encode(),
        "many keys": lambda: b"{" + b",".join(b'"k%d":0' % n for n in range(size // 9)) + b"}",
    }[shape]()  # fmt: skip
    return body


def forged_header(form: str, body: bytes) -> bytes:
    """A stranger's signature: 64 zeros with a fresh or stale timestamp, or the wrong key."""
    now = int(time.time())
    return {
        "zeros": f"t={now},v1={'0' * 64}",
        "stale": f"t={now - 3600},v1={'0' * 64}",
        "wrong-key": signature(body, key="whsec_not_the_key"),
    }[form].encode()


ENCODINGS = ("gzip", "deflate", "br")


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return bytes(brotli.compress(body))


def damaged(body: bytes, encoding: str, damage: str, limit: int) -> tuple[bytes, int]:
    """The compressed body as sent, and the status it must get when validly signed."""
    sent = compress(body, encoding)
    if damage == "truncated":
        return sent[: len(sent) // 2], 400
    if damage == "garbage":
        return b"\x00garbage" + sent, 400
    if damage == "bomb":  # still JSON once inflated, only too large
        return compress(body + b" " * (limit + 4096), encoding), 413
    return sent, 200
