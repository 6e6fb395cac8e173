"""app.restringify: JSON.stringify(JSON.parse(body)) in pieces and bounded memory, byte for byte
what a real Node prints (tests/nodejs.py), with the limits shrunk so that small bodies take every
path a 100 MB one does: objects written through, strings and escapes in pieces, C-parsed windows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nodejs import NodeJSON

from app.jsonjs import js_restringify
from app.restringify import MAX_KEY_BYTES, Unemulable, restringify_into

PROPERTY = settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# (hold_bytes, piece, window): the defaults, and tiny ones that make every body "large".
LIMITS = [(1 << 20, 1 << 16, 1 << 18), (48, 16, 32), (1, 6, 1)]


def streamed(body: bytes, hold: int, piece: int, window: int) -> bytes | None:
    out = bytearray()
    largest = 0

    def write(chunk: bytes | bytearray | memoryview) -> None:
        nonlocal largest
        largest = max(largest, len(chunk))
        out.extend(chunk)

    try:
        restringify_into(body, write, hold_bytes=hold, piece=piece, window=window)
    except Unemulable:
        return None
    # A piece may triple (invalid UTF-8 as U+FFFD) and a key goes out whole; no more.
    assert largest <= 5 * piece + MAX_KEY_BYTES, "pieces stay small"
    return bytes(out)


def agree(node: NodeJSON, body: bytes, *, orderly: bool) -> None:
    """Each limit gives Node's answer; with tiny limits a body whose large objects are not in
    JavaScript's key order may have none (Unemulable), never a different one."""
    expected = node.restringify(body)
    assert js_restringify(body) == expected
    for hold, piece, window in LIMITS:
        got = streamed(body, hold, piece, window)
        if got is None and not orderly and hold < 1 << 20:
            continue
        assert got == expected, (hold, piece, window)


TRICKY = st.sampled_from(["\x00", "\x1f", "\x7f", "\u2028", '"', "\\", "/", "😀", "é", "\ufeff",
                          "\ud83d", "\ude00", "\udbff\udfff"])  # fmt: skip
TEXT = st.lists(st.one_of(st.characters(), TRICKY), max_size=12).map("".join)
PLAIN_KEYS = st.text("abcXYZ_", min_size=1, max_size=4)
KEYS = st.one_of(PLAIN_KEYS, TEXT, st.sampled_from(["0", "1", "01", "10", "4294967295", "-0"]))
NUMBERS = st.one_of(
    st.integers(-(10**25), 10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e21, 1e-7, 5e-324, 0.1]),
)
VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
ORDERLY = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(PLAIN_KEYS, inner, max_size=5),
    max_leaves=30,
)
LAYOUTS = [{}, {"indent": 2}, {"separators": (" , ", " :\t")}, {"ensure_ascii": False}]


@PROPERTY
@given(value=VALUES, layout=st.sampled_from(LAYOUTS))
def test_any_json_as_node_prints_it(node_json: NodeJSON, value: object, layout: dict) -> None:  # type: ignore[type-arg]
    body = json.dumps(value, **layout).encode("utf-8", "surrogatepass")
    agree(node_json, body, orderly=False)


@PROPERTY
@given(value=ORDERLY, layout=st.sampled_from(LAYOUTS))
def test_plain_keys_always_emulable(node_json: NodeJSON, value: object, layout: dict) -> None:  # type: ignore[type-arg]
    body = json.dumps(value, **layout).encode("utf-8", "surrogatepass")
    agree(node_json, body, orderly=True)


@PROPERTY
@given(st.text(st.sampled_from('[]{}",:0123456789.eE+- \t\\u/trfalsnd8\ufeff\x0c'), max_size=14))
def test_token_soup_agrees_on_errors(node_json: NodeJSON, text: str) -> None:
    agree(node_json, text.encode(), orderly=False)


@PROPERTY
@given(payload=st.binary(max_size=24), bom=st.booleans())
def test_invalid_utf8_becomes_replacement_characters(
    node_json: NodeJSON, payload: bytes, bom: bool
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + b'{"a":"' + payload + b'","b":["' + payload + b'"]}'
    agree(node_json, body, orderly=True)


@pytest.mark.parametrize(
    "body",
    [
        b'{"b":1,"a":2,"1":3,"0":4}',
        b'{"a":1,"b":2,"a":3}',
        b'{"a":{"1":2,"0":1,"x":[1.0,-0,1e400]}}',
        b'["\\ud83d\\ude00", "\\ud83d", "\\/\\u00e9\\u0000\\u2028"]',
        b'{"\\u0031":1,"a":2}',
        b"[" + b'"\\ud83d\\ude00",' * 40 + b"0]",
        b"[" * 400 + b"]" * 400,
    ],
)
def test_named_cases(node_json: NodeJSON, body: bytes) -> None:
    agree(node_json, body, orderly=False)


def test_only_what_streaming_cannot_order_is_unemulable() -> None:
    late_index = b'{"a":"' + b"x" * 100 + b'","0":1}'
    repeated = b'{"a":"' + b"x" * 100 + b'","a":1}'
    for body in (late_index, repeated):
        assert streamed(body, 48, 16, 32) is None  # too large to hold: refused, not misprinted
        assert streamed(body, 1 << 20, 1 << 16, 1 << 18) == js_restringify(body)
    assert streamed(b"[" * 100_000 + b"]" * 100_000, 1 << 20, 1 << 16, 1 << 18) is None


# ---- memory: a child process measures its own peak, with nothing else in it --------------

PEAK = """
import resource, sys
from app.restringify import restringify_into
body = bytearray(sys.stdin.buffer.read())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    restringify_into(body, lambda piece: None)
except ValueError:
    pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
MB = 1024 * 1024


def _shapes() -> dict[str, Callable[[int], bytes]]:
    return {
        "empty objects": lambda n: b"[" + b"{}," * (n // 3) + b"{}]",
        "tiny keys": lambda n: b"{" + b",".join(b'"k%d":0' % i for i in range(n // 9)) + b"}",
        "one long string": lambda n: b'["\xf0\x9f\x98\x80' + b"x" * n + b'"]',
        "escapes": lambda n: b'["' + b"\\u00e9\\n" * (n // 8) + b'"]',
        "deep arrays": lambda n: b"[" * 999 + b"0," * (n // 2) + b"0" + b"]" * 999,
        "pretty objects": lambda n: json.dumps([{"Type": "AI", "Content": "x" * 40}] * (n // 60),
                                               indent=4).encode(),
    }  # fmt: skip


@pytest.mark.parametrize("shape", list(_shapes()))
def test_memory_stays_flat_whatever_the_body(shape: str) -> None:
    body = _shapes()[shape](40 * MB)
    grown = subprocess.run(
        [sys.executable, "-c", PEAK], input=body, capture_output=True, check=True
    ).stdout
    # 40 MB of body: the limits allow ~1 MB held, a 256 KB window parsed (~30x in objects).
    assert int(grown) < 24, f"{shape}: grew {int(grown)} MB"
