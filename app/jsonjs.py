"""Emulate JavaScript's ``JSON.stringify(JSON.parse(text))`` byte for byte.

Hello Client signs ``t + "." + JSON.stringify(req.body)``: the signed bytes are
not the bytes we receive but Node.js's re-serialisation of the parsed body. To
verify a signature we must rebuild exactly what Node would print, which differs
from Python's ``json`` in number formatting, property order, lone-surrogate
escaping and which inputs are rejected. Each difference is handled below and
checked against a real ``node`` in ``tests/test_jsonjs.py``.

Known limit: nesting deeper than Python's recursion limit (a little under 1000
levels, less when called from deep in a stack) cannot be emulated. ``js_parse``
lets the ``RecursionError`` escape (JS would not throw there, so
``NotJavaScriptJSON`` would be a lie) and ``js_restringify`` returns ``None``.
Node's own ``JSON.stringify`` throws a RangeError a few thousand levels deep
(between 2,000 and 5,000 on Node 20), so only bodies between the two limits,
which no real webhook comes near, are signable but unverifiable here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from itertools import chain
from json.encoder import encode_basestring

__all__ = [
    "NotJavaScriptJSON",
    "js_number",
    "js_parse",
    "js_parse_value",
    "js_restringify",
    "js_stringify",
]


class NotJavaScriptJSON(ValueError):
    """JSON.parse would throw on this text."""


# --- parsing ----------------------------------------------------------------


def _reject_constant(name: str) -> object:
    # Python's json accepts NaN/Infinity/-Infinity by default; JSON.parse does not.
    raise NotJavaScriptJSON(f"{name} is not valid JSON")


# Every JS number is a double, so integers are parsed through float() too: that
# rounds integers beyond 2**53 exactly as V8 does (correctly rounded, ties to
# even) and turns out-of-range literals such as 1e400 into inf, like JS.
_DECODER = json.JSONDecoder(
    parse_float=float,
    parse_int=float,
    parse_constant=_reject_constant,
    strict=True,  # raw U+0000..U+001F inside strings is an error in JS as well
)


def js_parse(text: str) -> object:
    """Parse ``text`` like JS ``JSON.parse``; raise ``NotJavaScriptJSON`` where JS throws.

    Numbers become floats. Duplicate keys: the last value wins but the key keeps
    the position of its first occurrence, which is both what Python dicts do and
    what JS's CreateDataProperty does. Only JSON whitespace (space, tab, CR, LF)
    is skipped and trailing garbage is an error, as ``JSONDecoder.decode``
    already enforces. A leading BOM is an error too (JSON.parse treats it as an
    unexpected token); strip it before calling, as body-parser does.

    ``RecursionError`` propagates for very deep nesting: see the module docstring.
    """
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise NotJavaScriptJSON(str(exc)) from exc


def js_parse_value(text: str, index: int) -> tuple[object, int]:
    """The one value starting at ``text[index]`` and where it ends, parsed as ``js_parse``
    would; raise ``NotJavaScriptJSON`` where there is none (what follows it is not looked at).
    """
    try:
        return _DECODER.scan_once(text, index)  # type: ignore[attr-defined, no-any-return]
    except StopIteration as exc:
        raise NotJavaScriptJSON(f"no JSON value at {exc.value}") from None
    except json.JSONDecodeError as exc:
        raise NotJavaScriptJSON(str(exc)) from exc


# --- numbers ----------------------------------------------------------------

_SAFE_INTEGER = 2.0**53


def js_number(x: float) -> str:
    """Format a double like ECMAScript Number::toString(x) with radix 10."""
    if x.is_integer():
        if -_SAFE_INTEGER <= x <= _SAFE_INTEGER:
            # Every integer up to 2**53 is exact, so its shortest digits padded
            # with zeros are its plain decimal form. int() also maps -0.0 to "0",
            # which is what JS prints.
            return str(int(x))
    elif 1e-4 <= abs(x) < 1e16:
        # Non-integers here have exponent -4 < n <= 16, where Python's repr uses
        # plain decimal notation laid out exactly as JS does (JS only switches
        # to exponent form outside -6 < n <= 21). Saves the digit juggling below
        # for most real-world numbers.
        return repr(x)
    if math.isinf(x) or math.isnan(x):
        return "null"  # JSON.stringify prints non-finite numbers as null
    # repr() yields the shortest digit string that round-trips (closest when
    # there are ties), which is the digit string ECMAScript requires; only the
    # layout differs (Python switches to exponent form at other thresholds and
    # pads exponents to two digits). Decompose it into digits d and exponent n
    # with value = 0.d * 10**n, then lay it out per the spec.
    text = repr(x)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exp = text.partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    significant = digits.lstrip("0")
    n = len(int_part) + (int(exp) if exp else 0) - (len(digits) - len(significant))
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        e = n - 1
        fraction = "." + digits[1:] if k > 1 else ""
        body = f"{digits[0]}{fraction}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body


# --- property order -----------------------------------------------------------

_MAX_ARRAY_INDEX = 2**32 - 2


def _is_array_index(key: str) -> bool:
    # An array index is the canonical decimal form of an integer in
    # [0, 2**32 - 2]: "0" is one, "01", "-0", "1.5" and "4294967295" are not.
    # isascii() excludes Unicode digits (e.g. U+0661) that isdigit() accepts.
    return (
        key.isdigit()
        and key.isascii()
        and (key == "0" or key[0] != "0")
        and int(key) <= _MAX_ARRAY_INDEX
    )


def _js_items(obj: dict[str, object]) -> Iterable[tuple[str, object]]:
    """Items in OrdinaryOwnPropertyKeys order: array indices ascending, then the rest."""
    # Cheap C-level pre-check: almost no object has an all-digit key.
    if not any(map(str.isdigit, obj)):
        return obj.items()
    indices = sorted((key for key in obj if _is_array_index(key)), key=int)
    others = (key for key in obj if not _is_array_index(key))
    return [(key, obj[key]) for key in chain(indices, others)]


# --- stringify --------------------------------------------------------------

# JSON.stringify (well-formed, Node >= 12) escapes lone surrogates as \udxxx.
# Python's ``json.loads`` already joins every valid escaped pair into one code
# point, so any surrogate left in a parsed str is lone and must be escaped.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# The emitters handle scalar members inline and call the container emitters
# directly: both matter on 100 MB bodies with millions of small values, and the
# latter keeps Python stack use to one frame per nesting level.
#
# Strings go through encode_basestring, the C function behind
# json.dumps(s, ensure_ascii=False) minus the per-call JSONEncoder construction.
# Its escapes are exactly JS's (\" \\ \b \f \n \r \t, other C0 controls as
# lowercase \u00xx; "/", U+007F, U+2028/9 and non-ASCII left raw) except that
# lone surrogates stay raw; those are fixed up once, on the whole output,
# because a surrogate can only occur inside a string literal of it.


def _emit(value: object, out: Callable[[str], object]) -> None:
    if isinstance(value, str):
        out(encode_basestring(value))
    elif isinstance(value, float):
        out(js_number(value))
    elif isinstance(value, dict):
        _emit_object(value, out)
    elif isinstance(value, list):
        _emit_array(value, out)
    elif value is None:
        out("null")
    elif isinstance(value, bool):  # before int: bool is an int
        out("true" if value else "false")
    elif isinstance(value, int):
        # Not produced by js_parse, but a JS number is a double whatever its source.
        try:
            out(js_number(float(value)))
        except OverflowError:
            out("null")  # Number(hugeLiteral) is Infinity in JS
    else:
        raise TypeError(f"cannot stringify {type(value).__name__} like JavaScript")


def _emit_array(items: list[object], out: Callable[[str], object]) -> None:
    sep = "["
    for item in items:
        if isinstance(item, str):
            out(sep + encode_basestring(item))
        elif isinstance(item, float):
            out(sep + js_number(item))
        else:
            out(sep)
            if isinstance(item, dict):
                _emit_object(item, out)
            elif isinstance(item, list):
                _emit_array(item, out)
            else:
                _emit(item, out)
        sep = ","
    out("]" if items else "[]")


def _emit_object(obj: dict[str, object], out: Callable[[str], object]) -> None:
    sep = "{"
    for key, item in _js_items(obj):
        prefix = sep + encode_basestring(key) + ":"
        if isinstance(item, str):
            out(prefix + encode_basestring(item))
        elif isinstance(item, float):
            out(prefix + js_number(item))
        else:
            out(prefix)
            if isinstance(item, dict):
                _emit_object(item, out)
            elif isinstance(item, list):
                _emit_array(item, out)
            else:
                _emit(item, out)
        sep = ","
    out("}" if obj else "{}")


def _stringify_raw(value: object) -> str:
    """JSON.stringify text, except that lone surrogates are still raw."""
    parts: list[str] = []
    _emit(value, parts.append)
    return "".join(parts)


def js_stringify(value: object) -> str:
    """Serialise ``value`` exactly like JS ``JSON.stringify`` (no indentation).

    Meant for values produced by ``js_parse``: dict (str keys), list, str,
    float, bool and None; int is accepted and treated as a JS number.
    """
    text = _stringify_raw(value)
    # isascii() is O(1); the regex scan only runs on non-ASCII output and the
    # substitution only when a surrogate is really there.
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub(_escape_surrogate, text)
    return text


def js_restringify(body: bytes | bytearray) -> bytes | None:
    """UTF-8 bytes of ``JSON.stringify(JSON.parse(body))`` as Node/express computes it.

    The body is decoded the way body-parser does: UTF-8 with invalid sequences
    replaced by U+FFFD (Python's "replace" handler follows the same WHATWG
    "maximal subpart" rule as Node, verified in the tests) and one leading BOM
    removed. Returns ``None`` when JSON.parse would throw, or when the nesting
    is too deep to emulate (see the module docstring).
    """
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        text = _stringify_raw(js_parse(text))
    except (NotJavaScriptJSON, RecursionError):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Surrogates are the only code points UTF-8 refuses, so the encode we
        # need anyway doubles as a free surrogate check (a regex scan of 100 MB
        # costs ~10x more) and the escaping pass runs only when it fails.
        return _SURROGATE.sub(_escape_surrogate, text).encode("utf-8")
