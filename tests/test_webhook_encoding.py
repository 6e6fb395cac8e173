"""What the vendor's own receiver (Express + ``express.json()``) accepts, accepted here too, and
nothing more: compressed bodies (bounded as inflated), signature-header quirks of its sample,
invalid UTF-8 in a verified body, and a large pretty-printed push verified in its JavaScript form.
Against a real server process, with the Hello Client fake signing as the vendor does.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess, VendorFor
from spec_examples import SPEC_LEAD
from vendor import HelloClientFake

from app.signature import sign

SUCCESS = b'{"status":"success"}'
MB = 1024 * 1024

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as Node's createInflate reads it
    "br": brotli.compress,
}


def lead(**fields: object) -> dict[str, object]:
    return {**SPEC_LEAD, **fields}


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["status"] == "error"
    assert words in response.json()["error"]


@pytest.mark.parametrize("encoding", list(COMPRESS))
def test_compressed_bodies_are_inflated_and_verified(
    app_server: AppProcess, vendor: HelloClientFake, encoding: str
) -> None:
    body = vendor.body_for(lead(Content=f"sent with {encoding} ✓"))
    headers = {"Content-Encoding": encoding.upper(), "X-Webhook-Signature": vendor.signature(body)}
    response = vendor.post(body=COMPRESS[encoding](body), signed=False, headers=headers)
    assert response.content == SUCCESS, response.text
    assert app_server.scalar("SELECT content FROM lead") == f"sent with {encoding} ✓"
    assert app_server.scalar("SELECT body FROM delivery") == body  # kept as it inflates


def test_gzip_members_one_after_another_are_one_body(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    body = vendor.body_for(lead())
    sent = gzip.compress(body[:20]) + gzip.compress(body[20:])
    headers = {"Content-Encoding": "gzip", "X-Webhook-Signature": vendor.signature(body)}
    assert vendor.post(body=sent, signed=False, headers=headers).content == SUCCESS


def bomb(encoding: str, megabytes: int) -> bytes:
    """``megabytes`` of spaces (valid JSON whitespace), compressed a piece at a time."""
    piece = b" " * MB
    if encoding == "br":
        compressor = brotli.Compressor(quality=1)
        return b"".join(compressor.process(piece) for _ in range(megabytes)) + compressor.finish()
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    return b"".join(compressor.compress(piece) for _ in range(megabytes)) + compressor.flush()


@pytest.mark.parametrize("encoding", list(COMPRESS))
def test_a_zip_bomb_is_refused_at_the_limit_in_bounded_memory(
    make_app: Callable[..., AppProcess], vendor_for: VendorFor, encoding: str
) -> None:
    app = make_app(MAX_BODY_MB="8")
    vendor = vendor_for(app)
    sent = bomb(encoding, 1024)  # 1 GB once inflated, a megabyte or two as sent
    assert len(sent) < 8 * MB
    before = _hwm_kb(app)
    response = vendor.post(body=sent, signed=False, headers={"Content-Encoding": encoding})
    refused(response, 413, "MAX_BODY_MB (8 MB) once decompressed")
    grown = (_hwm_kb(app) - before) / 1024
    assert grown < 8 + 24, f"inflating grew the server by {grown:.0f} MB"
    assert app.scalar("SELECT status_code FROM delivery") == 413
    assert vendor.post(lead()).content == SUCCESS  # and it still serves


def _hwm_kb(app: AppProcess) -> int:
    assert app.proc is not None
    status = Path(f"/proc/{app.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


@pytest.mark.parametrize(
    ("encoding", "sent", "status", "words"),
    [
        ("gzip", b"not gzip at all", 400, "not valid gzip"),
        ("gzip", gzip.compress(b'{"a":1}')[:-6], 400, "ends before the stream does"),
        ("deflate", zlib.compress(b"{}") + b"more", 400, "after the end of the deflate"),
        ("br", b"\xff\xff\xff", 400, "not valid br"),
        ("compress", b"{}", 415, "unsupported Content-Encoding 'compress'"),
        ("gzip, br", b"{}", 415, "unsupported Content-Encoding"),
    ],
)
def test_bad_or_unknown_encodings_get_a_reason(
    app_server: AppProcess,
    vendor: HelloClientFake,
    encoding: str,
    sent: bytes,
    status: int,
    words: str,
) -> None:
    refused(vendor.post(body=sent, headers={"Content-Encoding": encoding}), status, words)
    assert app_server.scalar("SELECT count(*) FROM lead") == 0


# ---- the sample's header quirks ---------------------------------------------------------


def post_with(app: AppProcess, body: bytes, *signatures: str) -> httpx.Response:
    headers = [("Content-Type", "application/json")]
    headers += [("X-Webhook-Signature", value) for value in signatures]
    return httpx.post(f"{app.url}/webhook", content=body, headers=headers, timeout=60)


def test_two_signature_headers_and_the_good_one_second(app_server: AppProcess) -> None:
    body = json.dumps(lead(), separators=(",", ":")).encode()
    now = str(int(time.time()))
    good = f"t={now},v1={sign(SIGNING_KEY, now, body)}"
    assert post_with(app_server, body, f"t={now},v1={'0' * 64}", good).content == SUCCESS
    assert post_with(app_server, body, "garbled", good).content == SUCCESS
    assert app_server.scalar("SELECT count(*) FROM lead") == 1
    # Still refused: no good one among them, or too many to try.
    refused(post_with(app_server, body, f"t={now},v1={'0' * 64}", "t=1"), 401, "does not match")
    refused(post_with(app_server, body, *[good] * 5), 401, "more than 4")


def test_the_last_timestamp_of_a_header_wins(app_server: AppProcess) -> None:
    body = json.dumps(lead(), separators=(",", ":")).encode()
    now = str(int(time.time()))
    assert (
        post_with(app_server, body, f"t=1,t={now},v1={sign(SIGNING_KEY, now, body)}").content
        == SUCCESS
    )
    refused(
        post_with(app_server, body, f"t={now},t=1,v1={sign(SIGNING_KEY, now, body)}"),
        401,
        "tolerance",
    )


# ---- invalid UTF-8 in a verified body -----------------------------------------------------


def test_invalid_utf8_in_a_verified_lead_becomes_a_lead(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    """The vendor's stack decodes invalid UTF-8 as U+FFFD and signs that; so does the lead."""
    body = (
        vendor.body_for(lead(FirstName="Zoe", Content="cut"))
        .replace(b'"Zoe"', b'"Zo\xc3"')
        .replace(b'"cut"', b'"c\xffu\xed\xa0\xbdt"')
    )
    response = vendor.post(body=body)
    assert response.content == SUCCESS, response.text
    row = app_server.query("SELECT first_name, content FROM lead")[0]
    assert (row["first_name"], row["content"]) == ("Zo\ufffd", "c\ufffdu\ufffd\ufffd\ufffdt")
    stored = app_server.query("SELECT body, signed_form, process_status FROM delivery")[0]
    assert stored["body"] == body  # as received, byte for byte
    assert (stored["signed_form"], stored["process_status"]) == ("json-stringify", "processed")


# ---- a large pretty-printed push: the JavaScript form, streamed ---------------------------


def test_a_large_pretty_printed_push_verifies_in_its_javascript_form(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    conversations = [
        {"SessionID": 10_000 + n, "CreateTime": "2023-11-21T10:00:00.000001Z", "URI": "x.com",
         "Messages": [{"Type": "User", "Content": f"hällo {n} \u00e9 {'x' * 200}"}] * 8}
        for n in range(4000)
    ]  # fmt: skip
    window = {"SerialNumber": "pretty", "Name": "Bot", "Conversations": conversations}
    window |= {"StartTime": "2023-11-21T00:00:00Z", "EndTime": "2023-11-22T00:00:00Z"}
    payload = {"Collection": [window]}
    body = json.dumps(payload, indent=2).encode()  # \u00e9 escapes too: not the signed bytes
    assert len(body) > 8 * MB
    response = vendor.post(body=body)
    assert response.content == SUCCESS, response.text
    assert app_server.scalar("SELECT signed_form FROM delivery") == "json-stringify"
    app_server.wait_for("SELECT process_status FROM delivery", "processed", timeout=120)
    assert app_server.scalar("SELECT count(*) FROM conversation") == 4000
