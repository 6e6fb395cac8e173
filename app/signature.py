"""The ``X-Webhook-Signature`` header: parsing, and checking it against the configured keys.

``v1`` is HMAC-SHA256, keyed with the Sign Key as shown in Hello Client, over ``t + "." + payload``.
The vendor's own sample signs ``JSON.stringify(req.body)`` (the body parsed and re-serialised),
other senders sign the raw bytes; a delivery passes when any ``v1`` matches either form.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HEADER = "X-Webhook-Signature"
RAW = "raw"
JSON_STRINGIFY = "json-stringify"

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


def parse_header(value: str | None) -> SignatureHeader:
    """Lenient: parts split on ',', spaces stripped, each split on its first '='."""
    if value is None or not value.strip():
        raise MissingSignature(f"missing {HEADER} header")
    timestamps: set[str] = set()
    signatures: list[bytes] = []
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        name, item = name.strip(), item.strip()
        if not sep:
            continue
        if name == "t":
            timestamps.add(item)
        elif name == "v1" and len(item) == 64 and _HEX.issuperset(item):
            signatures.append(bytes.fromhex(item))
    if len(timestamps) != 1:
        raise SignatureError(f"{HEADER} header has no usable t= timestamp")
    timestamp = timestamps.pop()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 18):
        raise SignatureError(f"{HEADER} header: t= must be Unix seconds (digits)")
    if not signatures:
        raise SignatureError(f"{HEADER} header has no v1= signature of 64 hex digits")
    return SignatureHeader(timestamp, tuple(signatures))


def key_fingerprint(key: str) -> str:
    """Tells configured keys apart in logs and pages without revealing them."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def sign(key: str, timestamp: str, payload: bytes | bytearray) -> str:
    mac = hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b".", hashlib.sha256)
    mac.update(payload)  # no concatenation: payloads can be 100 MB
    return mac.hexdigest()


def _find(header: SignatureHeader, keys: Sequence[str], payload: bytes | bytearray) -> int | None:
    for number, key in enumerate(keys, start=1):
        expected = bytes.fromhex(sign(key, header.timestamp, payload))
        # Every candidate is compared, in constant time, so timing tells nothing either way.
        if any([hmac.compare_digest(expected, given) for given in header.signatures]):
            return number
    return None


def verify(
    header: SignatureHeader,
    body: bytes | bytearray,  # the webhook keeps a large body as the bytearray it read into
    keys: Sequence[str],
    *,
    now: float,
    tolerance_seconds: int,
    restringify: Callable[[bytes | bytearray], bytes | None],
) -> Match:
    """Return which key and form matched, or raise ``SignatureError`` saying why not.

    ``restringify`` turns the body into what JavaScript's ``JSON.stringify(JSON.parse(body))``
    gives; it is only called when the raw bytes do not match, since it parses the whole body.
    """
    form = RAW
    number = _find(header, keys, body)
    if number is None:
        canonical = restringify(body)
        if canonical is not None and canonical != body:
            form = JSON_STRINGIFY
            number = _find(header, keys, canonical)
    if number is None:
        raise SignatureError("signature does not match the configured signing key(s)")
    timestamp = int(header.timestamp)
    if tolerance_seconds and abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(
            f"signature timestamp is {int(now - timestamp)} s away from this server's clock "
            f"(tolerance {tolerance_seconds} s): check the clock, or a replay"
        )
    return Match(number, key_fingerprint(keys[number - 1]), form, timestamp)
