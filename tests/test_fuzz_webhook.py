"""POST /webhook under hostile input: hypothesis against one real server process.

Over ten thousand requests (random bytes, random JSON, the vendor's shapes with wrong types, deep
nesting, bodies at and over MAX_BODY_MB, odd and duplicated headers, good and bad signatures,
Content-Length lies, forged bodies shaped to be costly, compressed bodies and zip bombs) and,
whatever arrives: never a 5xx, a JSON reason with every 4xx, success
only for a verified body, the process alive and healthy afterwards, and a lead row only from a
delivery that carried a valid signature. Derandomized, so CI runs the same cases every time.

The server and the ledger judging its answers are in fuzz_server.py; the cases and strategies in
webhook_fuzzing.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator

import httpx
import pytest
from fuzz_server import INLINE, LIMIT, Fuzzer, check_answer, forms_for, fuzz, running_fuzzer
from hypothesis import given
from hypothesis import strategies as st
from webhook_fuzzing import (
    ANY_JSON,
    BAD_FORMS,
    CONTENT_TYPES,
    ENCODINGS,
    FORGED_SHAPES,
    GARBLED,
    GOOD_FORMS,
    JS_SAFE,
    OPTIONAL,
    OTHER_HEADERS,
    SAFE_TEXT,
    SIGN,
    Headers,
    compact,
    damaged,
    forged_header,
    forged_large,
    header_for,
    lead_body,
    lead_key,
    raw_exchange,
    signature,
    signed,
    stringified,
    vendor_shapes,
)


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    with running_fuzzer(tmp_path_factory) as running:
        yield running


# Each generated body goes out several times, signed differently: generating is the slow part.
BAD = st.sampled_from(BAD_FORMS[1:])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_forged_large_bodies_cost_their_bytes(fuzzer: Fuzzer) -> None:
    """First in the file, while the server's peak is still its idle one: four forged bodies at
    once, of the shape that cost 31x its size when the JavaScript form was built whole (issue
    11), grow it by their own bytes and a constant (tests/test_webhook_cost.py has the rest)."""
    before = fuzzer.peak_mb()
    body = forged_large("empty objects", LIMIT - 64)
    forged = [(body, [(b"X-Webhook-Signature", forged_header("zeros", body))], 0)]
    fuzzer.post("forged large", forged * 4)
    grown = fuzzer.peak_mb() - before
    assert grown <= 4 * LIMIT / 2**20 + 40, f"four forged 3 MB bodies grew it by {grown:.0f} MB"


@fuzz(40)
@given(
    shape=st.sampled_from(FORGED_SHAPES),
    size=st.integers(INLINE // 4, LIMIT - 8192),
    form=st.sampled_from(["zeros", "stale", "wrong-key"]),
    chunked=st.booleans(),
)
def test_forged_large_bodies(
    fuzzer: Fuzzer, shape: str, size: int, form: str, chunked: bool
) -> None:
    body = forged_large(shape, size)
    forged = (body, [(b"X-Webhook-Signature", forged_header(form, body))], 0)
    fuzzer.post("forged large", [forged], chunked=chunked)


@fuzz(60)
@given(
    session=st.integers(6 * 10**6, 7 * 10**6),
    encoding=st.sampled_from(ENCODINGS),
    damage=st.sampled_from(["none", "none", "truncated", "garbage", "bomb"]),
    form=st.sampled_from(["raw", "two-v1-one-good", "wrong-key", "stale"]),
)
def test_compressed_bodies_and_zip_bombs(
    fuzzer: Fuzzer, session: int, encoding: str, damage: str, form: str
) -> None:
    body = compact(lead_body(session))
    sent, expected = damaged(body, encoding, damage, LIMIT)
    _, headers, valid = signed(body, form)
    headers.append((b"Content-Encoding", encoding.encode()))
    fuzzer.post_compressed(body, sent, headers, bool(valid), expected)


@fuzz(200)
@given(body=st.binary(max_size=3000))
def test_random_bytes(fuzzer: Fuzzer, body: bytes) -> None:
    fuzzer.post("random bytes", [signed(body, form) for form in forms_for(body, 4, 4)])


@fuzz(200)
@given(safe=JS_SAFE, anything=ANY_JSON)
def test_random_json(fuzzer: Fuzzer, safe: object, anything: object) -> None:
    body = json.dumps(anything).encode()
    cases = [signed(body, form) for form in forms_for(body, 3, 4)]
    pretty = json.dumps(safe, indent=2).encode()
    cases += [stringified(pretty, safe), stringified(compact(safe), safe), signed(pretty, "raw")]
    fuzzer.post("random JSON", cases)


@fuzz(250)
@given(body=vendor_shapes())
def test_vendor_shapes_with_wrong_types(fuzzer: Fuzzer, body: bytes) -> None:
    fuzzer.post("wrong types", [signed(body, form) for form in forms_for(body, 4, 4)])


@fuzz(170)
@given(
    session=st.integers(10**6, 2 * 10**6),
    fields=st.fixed_dictionaries({}, optional={k: SAFE_TEXT for k in OPTIONAL}),
    kind=st.sampled_from(["Lead", "Appointment", "Survey", "lead"]),
    layout=st.sampled_from(["compact", "pretty", "bom"]),
)
def test_good_and_bad_signatures(
    fuzzer: Fuzzer, session: int, fields: dict[str, str], kind: str, layout: str
) -> None:
    payload = lead_body(session, Type=kind, **fields)
    body = {
        "compact": compact(payload),
        "pretty": json.dumps(payload, indent=1).encode(),
        "bom": b"\xef\xbb\xbf" + compact(payload),
    }[layout]
    cases = [signed(body, form) for form in GOOD_FORMS + BAD_FORMS]
    if layout != "bom":  # JSON.parse refuses a BOM: the vendor could not have signed one
        cases.append(stringified(body, payload))
    fuzzer.post("signatures", cases)


@fuzz(1000)
@given(
    session=st.integers(2 * 10**6, 3 * 10**6),
    forms=st.lists(st.one_of(SIGN, GARBLED), max_size=3),
    content_type=st.one_of(st.none(), CONTENT_TYPES),
    extra=st.lists(st.tuples(st.sampled_from(OTHER_HEADERS), GARBLED), max_size=3),
)
def test_odd_headers(
    fuzzer: Fuzzer,
    session: int,
    forms: list[str | bytes],
    content_type: bytes | None,
    extra: Headers,
) -> None:
    body = compact(lead_body(session))
    headers: Headers = [] if content_type is None else [(b"Content-Type", content_type)]
    for form in forms:
        value = form if isinstance(form, bytes) else header_for(form, body)
        if value is not None:
            headers.append(
                (b"X-Webhook-Signature", value if isinstance(value, bytes) else value.encode())
            )
    valid = sum(form in GOOD_FORMS for form in forms if isinstance(form, str))
    fuzzer.post("odd headers", [(body, headers + extra, valid)])


@fuzz(150)
@given(
    depth=st.one_of(st.integers(1, 3000), st.sampled_from([900, 990, 1000, 1001, 5000, 100_000])),
    opener=st.sampled_from(["[", '{"a":']),
    where=st.sampled_from(["top", "lead", "chat log"]),
    balanced=st.booleans(),
    bad=BAD,
)
def test_deep_nesting(
    fuzzer: Fuzzer, depth: int, opener: str, where: str, balanced: bool, bad: str
) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "0" + (closer * depth if balanced else "")
    session = 3 * 10**6 + depth
    text = {
        "top": nested,
        "lead": f'{{"SerialNumber":"deep","Type":"Lead","CreateTime":"t","SessionID":{session},'
        f'"X":{nested}}}',
        "chat log": '{"Collection":[{"SerialNumber":"deep","StartTime":"a","EndTime":"b",'
        f'"Conversations":[{{"SessionID":1,"Messages":[{{"Type":"AI","X":{nested}}}]}}]}}]}}',
    }[where]
    cases = [signed(text.encode(), form) for form in ("raw", bad)]
    fuzzer.post("deep nesting", cases, certain=depth < 500)


@fuzz(16)
@given(
    size=st.one_of(
        st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1, INLINE, INLINE + 1, LIMIT + 4096]),
        st.integers(INLINE - 64, LIMIT + 64),
    ),
    shape=st.sampled_from(["lead", "chat log", "garbage", "deep", "digits"]),
    chunked=st.booleans(),
    form=st.sampled_from(["raw", "raw", "none", "wrong-key"]),
)
def test_huge_bodies_near_and_over_the_limit(
    fuzzer: Fuzzer, size: int, shape: str, chunked: bool, form: str
) -> None:
    head, tail = {
        "lead": (
            f'{{"SerialNumber":"huge","Type":"Lead","CreateTime":"t","SessionID":{size},'
            '"Content":"',
            '"}',
        ),
        "chat log": (
            '{"Collection":[{"SerialNumber":"huge","StartTime":"a","EndTime":"b",'
            '"Conversations":[{"SessionID":1,"Messages":[{"Type":"User","Content":"',
            '"}]}]}]}',
        ),
        "garbage": ("\xff", ""),
        "deep": ("[", ""),
        "digits": ("9", ""),
    }[shape]
    pad = {"garbage": b"\xff\x00{", "deep": b"[", "digits": b"9"}.get(shape, b"x")
    body = head.encode("latin-1") + pad * (size // len(pad) + 1)
    body = body[: size - len(tail)] + tail.encode()
    assert len(body) == size
    fuzzer.post("huge bodies", [signed(body, form)], chunked=chunked)


@fuzz(500)
@given(
    session=st.integers(4 * 10**6, 5 * 10**6),
    delta=st.one_of(st.just(0), st.integers(-400, -1), st.integers(1, 50)),
    trailing=st.sampled_from([b"", b"GET / HTTP/1.1\r\n\r\n", b"\x00\xff garbage"]),
)
def test_content_length_that_lies(
    fuzzer: Fuzzer, session: int, delta: int, trailing: bytes
) -> None:
    """Raw sockets, since httpx always tells the truth about the length it sends."""
    body = compact(lead_body(session))
    declared = max(0, len(body) + delta)
    request = (
        b"POST /webhook HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
        + f"X-Webhook-Signature: {signature(body)}\r\nContent-Length: {declared}\r\n\r\n".encode()
        + body
        + (trailing if delta <= 0 else b"")
    )
    status, headers, answer = raw_exchange(fuzzer.app.port, request, hang_up=delta > 0)
    fuzzer.ledger.sent += 1
    fuzzer.ledger.by_test["content length"] += 1
    if status is None:
        assert delta > 0, "a complete request got no answer"
        return
    if "content-security-policy" not in headers:  # uvicorn's HTTP parser, before the app
        assert 400 <= status < 500, (status, answer)
        return
    check_answer(httpx.Response(status, headers=headers, content=answer))
    assert (status == 200) == (delta == 0), (status, answer)
    if status == 200:
        fuzzer.ledger.verified_bodies.add(hashlib.sha256(body).hexdigest())
        key = lead_key(body)
        assert key is not None
        fuzzer.ledger.allowed.add(key)
        fuzzer.ledger.required.add(key)


@pytest.mark.parametrize("where", ["number", "SessionID string", "chat-log SessionID", "large"])
def test_thousands_of_digits_are_flagged_not_retried_for_ever(fuzzer: Fuzzer, where: str) -> None:
    """Python refuses to convert more than 4,300 digits to an int (a ValueError, not a JSON
    error): a signed body holding such a number must still be stored and flagged, not 503."""
    digits = "9" * 4400
    text = {
        "number": '{"SerialNumber":"digits","Type":"Lead","CreateTime":"t",'
        f'"SessionID":{digits}}}',
        "SessionID string": '{"SerialNumber":"digits","Type":"Lead","CreateTime":"t",'
        f'"SessionID":"{digits}"}}',
        "chat-log SessionID": '{"Collection":[{"SerialNumber":"digits","StartTime":"a",'
        f'"EndTime":"b","Conversations":[{{"SessionID":"{digits}"}}]}}]}}',
        "large": f'{{"Pad":"{"x" * INLINE}","SessionID":{digits}}}',
    }[where]
    body = text.encode()
    fuzzer.post("digits", [signed(body, "raw")])  # success: stored, as every verified body is
    sha256 = hashlib.sha256(body).hexdigest()
    query = f"SELECT process_status FROM delivery WHERE body_sha256 = '{sha256}'"
    fuzzer.app.wait_for(query, "failed", timeout=30)  # flagged for the admin, queue not blocked


FUZZ_TESTS = {
    "random bytes", "random JSON", "wrong types", "signatures", "odd headers", "deep nesting",
    "huge bodies", "content length", "forged large", "compressed",
}  # fmt: skip


def test_afterwards_the_server_is_healthy_and_stored_only_verified_leads(fuzzer: Fuzzer) -> None:
    app, ledger = fuzzer.app, fuzzer.ledger
    if set(ledger.by_test) >= FUZZ_TESTS:
        assert ledger.sent >= 10_000, ledger.by_test
    assert app.proc is not None and app.proc.poll() is None, "the server died"
    assert fuzzer.client.get("/healthz").json()["status"] == "ok"
    # Large bodies are parsed in the background; every one must come to an end.
    app.wait_for("SELECT count(*) FROM delivery WHERE process_status = 'pending'", 0, timeout=60)
    assert "Traceback" not in app.log(), "something raised that nothing expected"

    rows = app.query(
        "SELECT lead.serial_number, lead.type, lead.session_id, lead.create_time_raw, "
        "delivery.outcome, delivery.signed_form, delivery.body_sha256 "
        "FROM lead LEFT JOIN delivery ON delivery.id = lead.delivery_id"
    )
    for row in rows:
        assert row["outcome"] == "accepted", tuple(row)
        assert row["signed_form"] in ("raw", "json-stringify"), tuple(row)
        assert row["body_sha256"] in ledger.verified_bodies, tuple(row)
    stored = {(r[0], r[1], r[2], r[3]) for r in rows}
    assert len(stored) == len(rows)
    assert ledger.required <= stored, sorted(ledger.required - stored)[:5]
    assert stored <= ledger.allowed, sorted(stored - ledger.allowed)[:5]
    assert len(ledger.required) > 200  # the fuzz reached the lead path, not only refusals
