"""The Standard Webhooks signature (https://www.standardwebhooks.com/): what receivers check
with the official ``standardwebhooks`` libraries.

``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA256, keyed with the bytes the
``whsec_`` secret encodes, of ``<webhook-id>.<webhook-timestamp>.<body>``. The id stays the same
on every retry of a message (receivers deduplicate by it); the timestamp is each attempt's own,
since receivers refuse one more than five minutes off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from app.forward.destinations import secret_bytes


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = b"%s.%d.%s" % (message_id.encode("utf-8"), timestamp, body)
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str, message_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(at),
        "webhook-signature": signature(secret, message_id, at, body),
    }
