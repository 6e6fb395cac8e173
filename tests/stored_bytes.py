"""Helpers for tests/test_web_stored_bytes.py and tests/test_web_params.py: the application's own
routes (read from its router, so a new route is covered without a test naming it), requests as
a signed-in person or an API script, and JSON *text* holding what Python's json cannot write:
lone surrogates (``"\\ud83d"``, as Node's JSON.stringify writes half an emoji), ``1e999``,
integers of thousands of digits, deep nesting.

A helper module, not a test module: the test modules import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import httpx
from conftest import API_TOKEN, InboxClient
from hypothesis import strategies as st

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path as declared, ``{name:convertor}`` kept) of every route but /static."""
    from starlette.routing import Route

    from app.config import load_settings
    from app.server import create_app

    settings = load_settings({"DATA_DIR": str(tmp_path), "INBOX_PASSWORD": "x" * 12})
    found = []
    for route in create_app(settings).routes:
        if isinstance(route, Route):
            found += [
                (method, route.path) for method in sorted((route.methods or set()) - {"HEAD"})
            ]
    return found


def fill(path: str, values: Mapping[str, object], default: object = 1) -> str:
    """The path with each ``{name}`` replaced by ``values[name]`` (or ``default``)."""
    return PARAMETER.sub(lambda m: str(values.get(m.group(1), default)), path)


def send(
    inbox: InboxClient, method: str, path: str, params: Mapping[str, str] | None = None
) -> httpx.Response:
    """As the signed-in owner would (a form post with its CSRF token); /api with the token."""
    if path.startswith("/api/"):
        return inbox.client.request(method, path, params=params, headers=AUTH)
    if method == "POST":
        return inbox.post(path)
    return inbox.get(path, params=params)


# ---- JSON text with what Python's json module cannot write -------------------------------

LONE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
# json.dumps escapes every non-ASCII character, a lone surrogate as \udxxx: what Node sends.
STRINGS = st.text(st.one_of(st.characters(), LONE), max_size=12).map(json.dumps)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**63, max_value=2**80).map(str),  # past a 64-bit column
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        [
            "1e999",  # infinity in Python and JavaScript alike
            "-1e999",
            "1e-999",
            "-0",
            "9" * 4300,  # the longest integer Python's json still reads
            "-" + "9" * 4300,
            "9" * 4301,  # one digit more: the lead is flagged, its body still shown
        ]
    ),
)
SCALARS = st.one_of(st.sampled_from(["null", "true", "false"]), NUMBERS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(STRINGS, inner), max_size=3).map(
            lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"
        ),
    ),
    max_leaves=8,
)
# Deep, but short of ~980 levels, where storing a verified lead fails (reported, not ours).
DEEP = st.tuples(st.integers(0, 900), VALUES).map(lambda dv: "[" * dv[0] + dv[1] + "]" * dv[0])
# Keys start with X: a random key must not replace one of the lead's own fields.
EXTRAS = st.lists(
    st.tuples(STRINGS.map(lambda key: '"X' + key[1:]), st.one_of(VALUES, DEEP)),
    min_size=1,
    max_size=4,
).map(lambda pairs: "".join(f",{key}:{value}" for key, value in pairs))


def lead_body(
    serial: str, session: int, extras: str, *, kind: str = "Lead", text: str = ""
) -> bytes:
    """A lead the vendor could send: ``text`` (JSON-escaped) ends its content, ``extras`` (JSON
    text starting with a comma) follow its fields."""
    return (
        f'{{"SerialNumber":"{serial}","Type":"{kind}","FirstName":"Stored",'
        f'"CreateTime":"2026-10-01T08:00:00Z","SessionID":{session},"Content":"at 10:00 {text}"'
        f"{extras}}}"
    ).encode()


def chatlog_body(serial: str, day: int, session: int, content: str, extras: str) -> bytes:
    """A one-conversation chat log for UTC day ``day`` after 2026-01-01; ``content`` is JSON
    text of a string, ``extras`` JSON text starting with a comma (on the conversation)."""
    start = date(2026, 1, 1) + timedelta(days=day)
    end = start + timedelta(days=1)
    return (
        f'{{"Collection":[{{"SerialNumber":"{serial}","Name":{content},'
        f'"StartTime":"{start}T00:00:00Z","EndTime":"{end}T00:00:00Z","Conversations":[{{'
        f'"SessionID":{session},"CreateTime":"{start}T10:00:00Z","URI":"example.com","Messages":['
        f'{{"Type":"User","Content":{content}}}]{extras}}}]}}]}}'
    ).encode()
