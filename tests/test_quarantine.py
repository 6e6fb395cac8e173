"""The quarantine against a stranger, through a real server: unsigned bodies, however large or
many, never push out the vendor's deliveries that came with a well-formed signature header
(here signed with a mistyped Sign Key), and a body over ``QUARANTINE_ITEM_MAX_MB`` is only logged.
"""

from __future__ import annotations

import json

from conftest import MakeApp, VendorFor
from spec_examples import SPEC_LEAD

MB = 1024 * 1024
MISTYPED_KEY = "whsec_test_sign_kye"
ITEMS = 20  # QUARANTINE_MAX_ITEMS, small so that a few dozen requests press on the count


def junk(size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes, as a stranger who read the docs might send."""
    return b'{"x":"' + b"j" * (size - 8) + b'"}'


def test_unsigned_junk_never_evicts_deliveries_with_a_signature_header(
    make_app: MakeApp, vendor_for: VendorFor
) -> None:
    app = make_app(QUARANTINE_MAX_ITEMS=str(ITEMS), QUARANTINE_RATE_PER_MINUTE="10000")
    vendor = vendor_for(app)
    leads = [vendor.body_for({**SPEC_LEAD, "SessionID": 500 + n}) for n in range(5)]
    for body in leads:
        assert vendor.post(body=body, key=MISTYPED_KEY).status_code == 401

    # One 64 MB stranger: the whole of QUARANTINE_MAX_MB, far over QUARANTINE_ITEM_MAX_MB (8).
    assert vendor.post(body=junk(64 * MB), signed=False).status_code == 401
    # Then many: bodies just under the item cap (together past the 64 MB total), and small
    # ones past the item count.
    for _ in range(10):
        assert vendor.post(body=junk(8 * MB - 1024), signed=False).status_code == 401
    for number in range(2 * ITEMS):
        assert vendor.post(body=junk(100 + number), signed=False).status_code == 401

    kept = app.query(
        "SELECT body, signature_timestamp IS NOT NULL AS signed, body_size FROM delivery "
        "WHERE outcome = 'quarantined' ORDER BY id"
    )
    assert [row["body"] for row in kept if row["signed"]] == leads  # all five, byte for byte
    assert len(kept) == ITEMS  # the unsigned shared what was left, newest first
    assert sum(row["body_size"] for row in kept) <= 64 * MB
    assert [json.loads(row["body"])["x"][:1] for row in kept if not row["signed"]] == ["j"] * 15

    logged = app.query(
        "SELECT reason, body_size, length(body) AS kept, body_truncated FROM delivery "
        "WHERE body_size = ?",
        (64 * MB,),
    )
    assert [(r["body_size"], r["kept"], r["body_truncated"]) for r in logged] == [
        (64 * MB, 4096, 1)
    ]
    assert "too large for the quarantine" in logged[0]["reason"]


def test_a_vendor_push_under_a_mistyped_key_is_kept_whole(
    make_app: MakeApp, vendor_for: VendorFor
) -> None:
    """The exception worth keeping: a day's chat log of a few chatbots, a few MB, signed with a
    wrong key, stays whole beside the leads (a truncated body could never be accepted later)."""
    app = make_app(QUARANTINE_RATE_PER_MINUTE="10000")
    vendor = vendor_for(app)
    lead = vendor.body_for(SPEC_LEAD)
    push = vendor.body_for({"Collection": [], "Padding": "m" * (6 * MB)})
    assert vendor.post(body=lead, key=MISTYPED_KEY).status_code == 401
    assert vendor.post(body=push, key=MISTYPED_KEY).status_code == 401
    for _ in range(12):  # 96 MB of unsigned bodies just under the item cap
        assert vendor.post(body=junk(8 * MB - 1024), signed=False).status_code == 401
    kept = app.query(
        "SELECT body FROM delivery WHERE outcome = 'quarantined' "
        "AND signature_timestamp IS NOT NULL ORDER BY id"
    )
    assert [row["body"] for row in kept] == [lead, push]
