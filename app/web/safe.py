"""Stored values made safe to show and to send, whatever a delivery carried.

Python holds things that UTF-8 and JSON cannot: the vendor's Node.js writes a string cut inside
an emoji as ``"\\ud83d"`` (a lone surrogate, which UTF-8 cannot encode), ``1e999`` parses as
infinity (which JSON cannot carry), and a stranger's body may hold either anywhere. Left alone,
each turns a page or an API answer into a 500. So every page shows values through ``shown``
(Jinja's ``finalize``, set in ``templating``), and every JSON answer is written by ``dumps``:

- a lone surrogate becomes U+FFFD, the replacement character (as a browser shows it);
- infinities and NaN become the strings ``"Infinity"``, ``"-Infinity"``, ``"NaN"``; so does an
  integer too long for Python to print (over 4,300 digits), as a short description;
- nesting of any depth is written without recursion (a verified lead may nest ~1,000 deep).

The stored rows and the raw body keep what was received; only what is shown changes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

from markupsafe import Markup
from starlette.responses import JSONResponse

LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins valid pairs: any left is lone
REPLACEMENT = "\ufffd"


def text(value: str) -> str:
    """``value`` with every lone surrogate replaced: encodable as UTF-8."""
    if value.isascii():  # a flag on the string: free, and the common case
        return value
    return LONE_SURROGATE.sub(REPLACEMENT, value)


def number(value: int | float) -> int | float | str:
    """A number as JSON can carry it: non-finite floats and unprintable integers as text."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    try:
        str(value)  # past sys.get_int_max_str_digits() (4,300) int() refuses to print it
    except ValueError:
        return f"an integer of {value.bit_length()} bits, too long to show"
    return value


def shown(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ … }}`` passes here before it is escaped."""
    if isinstance(value, Markup):  # already ours (a macro, a filter): keep it markup
        return Markup(text(value)) if not value.isascii() else value
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value)
    return value


def _scalar(value: object) -> str:
    """One JSON value that holds no other."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        safe = number(value)
        if isinstance(safe, str):
            return encode_basestring(safe)
        return repr(safe) if isinstance(safe, float) else int.__repr__(safe)
    return encode_basestring(text(value if isinstance(value, str) else str(value)))


def _members(value: object, sort_keys: bool) -> tuple[str, Iterator[tuple[str | None, Any]], str]:
    """A container's opening, its (key or None, child) pairs, its closing."""
    if isinstance(value, dict):
        pairs = [(text(k if isinstance(k, str) else str(k)), v) for k, v in value.items()]
        if sort_keys:
            pairs.sort(key=lambda pair: pair[0])
        return "{", ((encode_basestring(key), child) for key, child in pairs), "}"
    assert isinstance(value, (list, tuple))
    return "[", ((None, item) for item in value), "]"


def dumps(value: object, *, sort_keys: bool = False) -> str:
    """Compact JSON of ``value`` that never fails: see the module's docstring.

    Written with a stack of open containers rather than by recursion, so depth costs memory,
    not Python's recursion limit.
    """
    parts: list[str] = []
    stack: list[tuple[Iterator[tuple[str | None, Any]], str]] = [(iter([(None, value)]), "")]
    first = [True]
    while stack:
        children, closing = stack[-1]
        pair = next(children, None)
        if pair is None:
            stack.pop()
            first.pop()
            parts.append(closing)
            continue
        key, child = pair
        if not first[-1]:
            parts.append(",")
        first[-1] = False
        if key is not None:
            parts += (key, ":")
        if isinstance(child, (dict, list, tuple)):
            opening, members, closing = _members(child, sort_keys)
            parts.append(opening)
            stack.append((members, closing))
            first.append(True)
        else:
            parts.append(_scalar(child))
    return "".join(parts)


class SafeJSONResponse(JSONResponse):
    """A JSON answer written by ``dumps``: whatever the stored rows hold, it can be sent."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
