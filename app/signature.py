"""The ``X-Webhook-Signature`` header: parsing, and checking it against the configured keys.

``v1`` is HMAC-SHA256, keyed with the Sign Key as shown in Hello Client, over ``t + "." + payload``.
The vendor's own sample signs ``JSON.stringify(req.body)`` (the body parsed and re-serialised),
other senders sign the raw bytes; a delivery passes when any ``v1`` matches either form.

The checks run cheapest first, so that a stranger's request costs what it must and no more: the
header's syntax, the clock, the HMAC of the raw bytes, and only then the JavaScript form, which
``restringify`` streams into the HMACs piece by piece (``app.restringify``). Like the vendor's
sample (``header.split(",")`` folded into an object), the last ``t=`` of a header wins; unlike it,
each of several headers is tried, since a proxy may add one in front of the vendor's.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

HEADER = "X-Webhook-Signature"
RAW = "raw"
JSON_STRINGIFY = "json-stringify"
MAX_HEADERS = 4  # each costs an HMAC of the whole body per key: a stranger gets no more

Write = Callable[[bytes | bytearray | memoryview], object]
# Writes the JavaScript form of a body in pieces; raises ValueError when it has none.
Restringify = Callable[[bytes | bytearray, Write], None]

_HEX = frozenset(string.hexdigits)


class SignatureError(ValueError):
    """The delivery is unsigned, garbled or does not verify; the message is for a human."""


class MissingSignature(SignatureError):
    pass


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: str  # digits, exactly as sent: they are part of the signed message
    signatures: tuple[bytes, ...]


@dataclass(frozen=True)
class Match:
    key_number: int  # 1-based position in WEBHOOK_SIGNING_KEY
    key_fingerprint: str
    form: str  # RAW or JSON_STRINGIFY
    timestamp: int


def parse_headers(values: Sequence[str]) -> tuple[SignatureHeader, ...]:
    """Every usable header of a request, in order; raise the first one's error when none is."""
    present = [value for value in values if value.strip()]
    if not present:
        raise MissingSignature(f"missing {HEADER} header")
    if len(present) > MAX_HEADERS:
        raise SignatureError(f"more than {MAX_HEADERS} {HEADER} headers")
    headers: list[SignatureHeader] = []
    errors: list[SignatureError] = []
    for value in present:
        try:
            headers.append(parse_header(value))
        except SignatureError as exc:
            errors.append(exc)
    if not headers:
        raise errors[0]
    return tuple(headers)


def parse_header(value: str | None) -> SignatureHeader:
    """Lenient: parts split on ',', spaces stripped, each split on its first '='; the last t=
    wins, as in the vendor's sample."""
    if value is None or not value.strip():
        raise MissingSignature(f"missing {HEADER} header")
    timestamp: str | None = None
    signatures: list[bytes] = []
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        name, item = name.strip(), item.strip()
        if not sep:
            continue
        if name == "t":
            timestamp = item
        elif name == "v1" and len(item) == 64 and _HEX.issuperset(item):
            signatures.append(bytes.fromhex(item))
    if not timestamp:
        raise SignatureError(f"{HEADER} header has no usable t= timestamp")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 18):
        raise SignatureError(f"{HEADER} header: t= must be Unix seconds (digits)")
    if not signatures:
        raise SignatureError(f"{HEADER} header has no v1= signature of 64 hex digits")
    return SignatureHeader(timestamp, tuple(signatures))


@lru_cache(maxsize=64)  # a handful of keys, asked for on every verified delivery
def key_fingerprint(key: str) -> str:
    """Tells configured keys apart in logs and pages without revealing them."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def sign(key: str, timestamp: str, payload: bytes | bytearray) -> str:
    mac = hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b".", hashlib.sha256)
    mac.update(payload)  # no concatenation: payloads can be 100 MB
    return mac.hexdigest()


def _macs(
    headers: Sequence[SignatureHeader], keys: Sequence[str]
) -> list[tuple[int, int, hmac.HMAC]]:
    """(header, key number, HMAC so far of ``t + "."``) for every pair."""
    return [
        (
            h,
            number,
            hmac.new(key.encode("utf-8"), header.timestamp.encode("ascii") + b".", "sha256"),
        )
        for h, header in enumerate(headers)
        for number, key in enumerate(keys, start=1)
    ]


def _matched(
    headers: Sequence[SignatureHeader],
    keys: Sequence[str],
    macs: list[tuple[int, int, hmac.HMAC]],
    form: str,
) -> Match | None:
    for h, number, mac in macs:
        expected = mac.digest()
        # Every candidate is compared, in constant time, so timing tells nothing either way.
        if any([hmac.compare_digest(expected, given) for given in headers[h].signatures]):
            fingerprint = key_fingerprint(keys[number - 1])
            return Match(number, fingerprint, form, int(headers[h].timestamp))
    return None


def fresh(
    headers: Sequence[SignatureHeader], *, now: float, tolerance_seconds: int
) -> tuple[SignatureHeader, ...]:
    """The headers whose timestamp is within the tolerance; checked before any HMAC, so a
    replayed or stale body costs nothing more. Raise ``SignatureError`` when none is."""
    if not tolerance_seconds:
        return tuple(headers)
    within = tuple(h for h in headers if abs(now - int(h.timestamp)) <= tolerance_seconds)
    if not within:
        off = int(now - int(headers[0].timestamp))
        raise SignatureError(
            f"signature timestamp is {off} s away from this server's clock "
            f"(tolerance {tolerance_seconds} s): check the clock, or a replay"
        )
    return within


def match_raw(
    headers: Sequence[SignatureHeader], keys: Sequence[str], body: bytes | bytearray
) -> Match | None:
    """Whether a signature is over the bytes as received (one pass of each HMAC, no copy)."""
    macs = _macs(headers, keys)
    for _, _, mac in macs:
        mac.update(body)
    return _matched(headers, keys, macs, RAW)


def match_stringified(
    headers: Sequence[SignatureHeader],
    keys: Sequence[str],
    body: bytes | bytearray,
    restringify: Restringify,
) -> Match | None:
    """Whether a signature is over the body's JavaScript form, written straight into the HMACs."""
    macs = _macs(headers, keys)

    def write(piece: bytes | bytearray | memoryview) -> None:
        for _, _, mac in macs:
            mac.update(piece)

    try:
        restringify(body, write)
    except ValueError:
        return None  # JSON.parse would throw: the vendor cannot have signed this form
    return _matched(headers, keys, macs, JSON_STRINGIFY)


NO_MATCH = "signature does not match the configured signing key(s)"


def verify(
    headers: Sequence[SignatureHeader],
    body: bytes | bytearray,  # the webhook keeps a large body as the bytearray it read into
    keys: Sequence[str],
    *,
    now: float,
    tolerance_seconds: int,
    restringify: Restringify,
) -> Match:
    """Return which key and form matched, or raise ``SignatureError`` saying why not: the
    clock first, then the raw bytes, then (only if they do not match) the JavaScript form."""
    within = fresh(headers, now=now, tolerance_seconds=tolerance_seconds)
    match = match_raw(within, keys, body) or match_stringified(within, keys, body, restringify)
    if match is None:
        raise SignatureError(NO_MATCH)
    return match
