"""app.signature: the lenient header parser and HMAC verification in both signed forms."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json

import pytest

from app import signature
from app.jsonjs import js_restringify
from app.restringify import restringify_into
from app.signature import (
    JSON_STRINGIFY,
    RAW,
    MissingSignature,
    SignatureError,
    SignatureHeader,
    Write,
    key_fingerprint,
    parse_header,
    parse_headers,
    sign,
    verify,
)

KEY = "whsec_test_sign_key"
T = "1700000000"
NOW = float(T)
BODY = b'{"SerialNumber":"59001dd73709417321c58b11693183a2","Type":"Lead","SessionID":31305}'
OTHER_HEX = "ab" * 32


def header_for(body: bytes = BODY, key: str = KEY, t: str = T) -> str:
    return f"t={t},v1={sign(key, t, body)}"


def check(
    header: str | SignatureHeader,
    body: bytes = BODY,
    keys: tuple[str, ...] = (KEY,),
    *,
    now: float = NOW,
    tolerance: int = 300,
) -> signature.Match:
    parsed = parse_header(header) if isinstance(header, str) else header
    return verify(
        (parsed,), body, keys, now=now, tolerance_seconds=tolerance, restringify=restringify_into
    )


# ---- parse_header ----------------------------------------------------------------------


def test_parses_the_vendor_example() -> None:
    example = "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
    parsed = parse_header(example)
    assert parsed.timestamp == "1492774577"
    assert parsed.signatures == (
        bytes.fromhex("5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"),
    )


def test_spaces_and_unknown_parts_are_tolerated() -> None:
    digest = sign(KEY, T, BODY)
    parsed = parse_header(f"  t = {T} ,v0=old, scheme=x, garbage ,, v1 = {digest} ")
    assert parsed.timestamp == T
    assert parsed.signatures == (bytes.fromhex(digest),)
    assert check(parsed).form == RAW


def test_several_v1_values_are_all_kept_and_any_may_match() -> None:
    digest = sign(KEY, T, BODY)
    parsed = parse_header(f"t={T},v1={OTHER_HEX},v1={digest}")
    assert parsed.signatures == (bytes.fromhex(OTHER_HEX), bytes.fromhex(digest))
    assert check(parsed).key_number == 1


def test_uppercase_hex_verifies() -> None:
    assert check(f"t={T},v1={sign(KEY, T, BODY).upper()}").form == RAW


@pytest.mark.parametrize(
    "bad", ["abcd", "ab" * 31, "ab" * 33, "zz" * 32, "ab" * 31 + "a\u0661"], ids=str
)
def test_v1_that_is_not_64_hex_digits_is_ignored(bad: str) -> None:
    digest = sign(KEY, T, BODY)
    assert parse_header(f"t={T},v1={bad},v1={digest}").signatures == (bytes.fromhex(digest),)
    with pytest.raises(SignatureError, match="v1="):
        parse_header(f"t={T},v1={bad}")


@pytest.mark.parametrize(
    "value",
    [
        f"v1={OTHER_HEX}",  # no t at all
        f"t=,v1={OTHER_HEX}",  # empty t
        f"t=12a,v1={OTHER_HEX}",
        f"t=-5,v1={OTHER_HEX}",
        f"t=+5,v1={OTHER_HEX}",
        f"t=1.5,v1={OTHER_HEX}",
        f"t=\u0661\u0662\u0663,v1={OTHER_HEX}",  # Unicode digits: isdigit() but not ASCII
        f"t={'9' * 19},v1={OTHER_HEX}",  # over-long
        ",",
        "nonsense",
    ],
    ids=repr,
)
def test_unusable_timestamp_is_a_signature_error_not_a_missing_one(value: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_header(value)
    assert not isinstance(caught.value, MissingSignature)


def test_the_last_timestamp_wins_as_in_the_vendor_sample() -> None:
    """The sample folds ``header.split(",")`` into an object: a later t= overwrites an earlier."""
    assert check(f"t=1,t={T},v1={sign(KEY, T, BODY)}").timestamp == int(T)
    with pytest.raises(SignatureError, match="does not match"):
        check(f"t={T},t={int(T) - 1},v1={sign(KEY, T, BODY)}")  # the last one was not signed
    with pytest.raises(SignatureError, match="digits"):
        parse_header(f"t={T},t=x1,v1={OTHER_HEX}")


def test_each_header_is_tried_and_the_good_one_may_be_second() -> None:
    good = header_for()
    headers = parse_headers([f"t={T},v1={OTHER_HEX}", "garbled", good])
    assert len(headers) == 2  # the garbled one is skipped
    match = verify(
        headers, BODY, [KEY], now=NOW, tolerance_seconds=300, restringify=restringify_into
    )
    assert match.form == RAW
    stale = f"t={int(T) - 3600},v1={sign(KEY, str(int(T) - 3600), BODY)}"
    with pytest.raises(SignatureError, match="tolerance"):  # a good one must also be fresh
        verify(parse_headers([stale]), BODY, [KEY], now=NOW, tolerance_seconds=300,
               restringify=restringify_into)  # fmt: skip
    with pytest.raises(SignatureError, match="no usable t="):
        parse_headers(["garbled", "v1=" + OTHER_HEX])
    with pytest.raises(MissingSignature):
        parse_headers(["", " "])
    with pytest.raises(SignatureError, match="more than 4"):
        parse_headers([good] * 5)


def test_eighteen_digit_timestamp_is_still_accepted() -> None:
    assert parse_header(f"t={'9' * 18},v1={OTHER_HEX}").timestamp == "9" * 18


@pytest.mark.parametrize("value", [None, "", "   ", "\t"], ids=repr)
def test_empty_header_is_missing(value: str | None) -> None:
    with pytest.raises(MissingSignature, match="missing X-Webhook-Signature"):
        parse_header(value)


def test_timestamp_is_kept_exactly_as_sent() -> None:
    # Leading zeros are part of the signed message, so they must not be normalised away.
    digest = sign(KEY, "0" + T, BODY)
    parsed = parse_header(f"t=0{T},v1={digest}")
    assert parsed.timestamp == "0" + T
    assert check(parsed).timestamp == int(T)


# ---- verify ------------------------------------------------------------------------------


def test_raw_form_matches() -> None:
    match = check(header_for())
    assert (match.key_number, match.form, match.timestamp) == (1, RAW, int(T))
    assert match.key_fingerprint == key_fingerprint(KEY)


def test_json_stringify_form_matches_a_pretty_printed_body() -> None:
    document = {"Type": "Lead", "FirstName": "Zoë", "Amount": 1.50, "SessionID": 31305}
    pretty = json.dumps(document, indent=2).encode()  # ensure_ascii: "Zo\u00eb", "1.5"
    canonical = js_restringify(pretty)
    assert canonical is not None
    assert check(header_for(canonical), pretty).form == JSON_STRINGIFY
    assert canonical == '{"Type":"Lead","FirstName":"Zoë","Amount":1.5,"SessionID":31305}'.encode()
    match = check(header_for(canonical), pretty)
    assert match.form == JSON_STRINGIFY
    assert match.key_number == 1


def counting(calls: list[bytes | bytearray]) -> object:
    def restringify(body: bytes | bytearray, write: Write) -> None:
        calls.append(body)
        restringify_into(body, write)

    return restringify


def test_restringify_is_only_called_when_the_raw_bytes_do_not_match() -> None:
    calls: list[bytes | bytearray] = []
    parsed = (parse_header(header_for()),)
    verify(parsed, BODY, [KEY], now=NOW, tolerance_seconds=300, restringify=counting(calls))  # type: ignore[arg-type]
    assert calls == []
    with pytest.raises(SignatureError):
        verify(parsed, BODY + b" ", [KEY + "x"], now=NOW, tolerance_seconds=300,
               restringify=counting(calls))  # type: ignore[arg-type]  # fmt: skip
    assert calls == [BODY + b" "]


def test_the_clock_is_checked_before_any_hmac() -> None:
    """A stale or future timestamp is refused before the body is hashed or parsed: a replay
    or a stranger's request then costs nothing more (issue 11)."""
    calls: list[bytes | bytearray] = []
    stale = (parse_header(f"t={int(T) - 3600},v1={OTHER_HEX}"),)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(stale, b"[" + b"{}," * 1000 + b"{}]", [KEY], now=NOW, tolerance_seconds=300,
               restringify=counting(calls))  # type: ignore[arg-type]  # fmt: skip
    assert calls == []


def test_body_that_is_not_json_can_only_match_raw() -> None:
    body = b"not json at all"
    assert check(header_for(body), body).form == RAW
    with pytest.raises(SignatureError, match="does not match"):
        check(header_for(body), body + b"!")


def test_second_key_matches_during_rotation() -> None:
    match = check(header_for(), keys=("whsec_old_key", KEY))
    assert match.key_number == 2
    assert match.key_fingerprint == key_fingerprint(KEY)
    assert match.key_fingerprint != key_fingerprint("whsec_old_key")
    assert KEY not in match.key_fingerprint
    assert len(match.key_fingerprint) == 8


def test_wrong_key_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(header_for(key="whsec_someone_else"))


def test_no_keys_fails() -> None:
    with pytest.raises(SignatureError):
        check(header_for(), keys=())


def test_tampered_body_fails() -> None:
    with pytest.raises(SignatureError):
        check(header_for(), BODY.replace(b"31305", b"31306"))


def test_signature_differing_only_in_the_last_byte_fails() -> None:
    digest = sign(KEY, T, BODY)
    last = int(digest[-2:], 16) ^ 0x01
    with pytest.raises(SignatureError):
        check(f"t={T},v1={digest[:-2]}{last:02x}")


def test_timestamp_is_part_of_the_signed_message() -> None:
    digest = sign(KEY, T, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        check(f"t={int(T) + 1},v1={digest}", now=NOW + 1)


@pytest.mark.parametrize("offset", [-301, 301, -10_000_000, 10_000_000])
def test_timestamp_outside_tolerance_fails_either_side(offset: int) -> None:
    with pytest.raises(SignatureError, match="tolerance 300 s"):
        check(header_for(), now=NOW + offset)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_within_tolerance_passes(offset: int) -> None:
    assert check(header_for(), now=NOW + offset).form == RAW


def test_tolerance_zero_turns_the_check_off() -> None:
    assert check(header_for(), now=NOW + 10 * 365 * 86400, tolerance=0).key_number == 1


def test_comparison_is_constant_time() -> None:
    # A guard against a refactor back to ==, which leaks how many leading bytes matched.
    source = inspect.getsource(signature._matched)
    assert "hmac.compare_digest" in source
    assert "==" not in source


def test_sign_matches_a_plain_hmac() -> None:
    expected = hmac.new(KEY.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(KEY, T, BODY) == expected
