"""Time limits on the edge (app/edge.py), against a real server on loopback with raw sockets:
half-sent headers and stalled bodies are closed within their bounds, on fresh and kept-alive
connections, while a body that keeps moving gets through however long it takes in total."""

from __future__ import annotations

import json
import time

from conftest import AppProcess, MakeApp, VendorFor
from edge_sockets import connect, post_head, read_response, read_until_closed

from app import shapes

BOUND = 1.0  # the documented settings, set short; each close is awaited, not slept for
SHORT = {"HTTP_HEADER_TIMEOUT_SECONDS": str(BOUND), "HTTP_BODY_STALL_SECONDS": str(BOUND)}
# How late a close may come: the bound, plus a loaded machine's scheduling.
LATE = BOUND + 4


def assert_408_then_closed(app: AppProcess, first: bytes) -> float:
    sock = connect(app, first)
    try:
        received, took = read_until_closed(sock, within=LATE)
    finally:
        sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), received
    assert b"content-type: application/json" in head.lower()
    answer = json.loads(body)
    assert answer["status"] == "error"
    assert "headers not complete within 1 s" in answer["error"]
    return took


def test_half_sent_headers_are_answered_408_and_closed(make_app: MakeApp) -> None:
    app = make_app(**SHORT)
    for first in (
        b"POST /webhook HTTP/1.1\r\nHost: inbox\r\nContent-Type: appl",  # slowloris
        b"POST /webh",  # not even the request line
    ):
        took = assert_408_then_closed(app, first)
        assert took >= BOUND * 0.9, f"closed after {took:.2f} s, before the bound"


def test_a_connection_that_never_speaks_is_closed(make_app: MakeApp) -> None:
    app = make_app(**SHORT)
    sock = connect(app)
    try:
        received, took = read_until_closed(sock, within=LATE)
    finally:
        sock.close()
    assert received == b"", "nothing to answer: no request was started"
    assert took >= BOUND * 0.9


def test_headers_sent_byte_by_byte_cannot_outlast_the_deadline(make_app: MakeApp) -> None:
    """The deadline is for the whole head, not per byte (uvicorn's keep-alive timer is reset by
    every byte, which is how a slow sender held connections open for ever)."""
    app = make_app(**SHORT)
    sock = connect(app)
    started = time.monotonic()
    try:
        for byte in b"POST /webhook HTTP/1.1\r\nHost: inbox\r\n":
            try:
                sock.send(bytes([byte]))
            except OSError:
                break  # closed under us: what should happen
            time.sleep(BOUND / 10)  # a trickle, each byte well inside any per-byte timer
            if time.monotonic() - started > LATE:
                raise AssertionError("a trickled request head was not cut off")
        read_until_closed(sock, within=LATE)
    finally:
        sock.close()
    assert time.monotonic() - started < LATE


def test_the_deadline_starts_again_for_the_next_request_on_a_kept_alive_connection(
    make_app: MakeApp,
) -> None:
    app = make_app(**SHORT)
    sock = connect(app, b"GET /healthz HTTP/1.1\r\nHost: inbox\r\n\r\n")
    try:
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /heal")  # the next request starts, and stops
        received, _took = read_until_closed(sock, within=LATE)
    finally:
        sock.close()
    assert received.startswith(b"HTTP/1.1 408 "), received


def test_a_stalled_body_is_closed_and_nothing_is_stored(make_app: MakeApp) -> None:
    app = make_app(**SHORT)
    sock = connect(app, post_head("/webhook", 1000, {"Content-Type": "application/json"}))
    try:
        sock.sendall(b'{"SerialNumber": "')
        received, took = read_until_closed(sock, within=LATE)
    finally:
        sock.close()
    assert b"HTTP/1.1 5" not in received
    assert took >= BOUND * 0.9
    assert app.scalar("SELECT count(*) FROM delivery") == 0
    assert "Traceback" not in app.log()


def test_a_slow_body_that_keeps_moving_gets_through(
    make_app: MakeApp, vendor_for: VendorFor
) -> None:
    """A stall timeout, not a cap on the total: the vendor's push over a slow link takes as
    long as it takes, as long as bytes keep coming (here several times the stall bound)."""
    app = make_app(**SHORT)
    vendor = vendor_for(app)
    lead = shapes.sample_lead()
    body = vendor.body_for(lead)
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": vendor.signature(body)}
    sock = connect(app, post_head("/webhook", len(body), headers))
    pieces = 12
    step = -(-len(body) // pieces)
    started = time.monotonic()
    try:
        for at in range(0, len(body), step):
            time.sleep(BOUND / 3)  # pacing a slow link: a third of the stall bound per piece
            sock.sendall(body[at : at + step])
        answer = read_response(sock)
    finally:
        sock.close()
    assert time.monotonic() - started > 3 * BOUND
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b'{"status":"success"}')
    app.wait_for(f"SELECT count(*) FROM lead WHERE session_id = {lead['SessionID']}", 1)


def test_a_client_waiting_for_100_continue_is_not_stalling(make_app: MakeApp) -> None:
    """Until the app asks for the body, the client is right to wait: only our own silence."""
    app = make_app(**SHORT)
    body = b'{"hello": "world"}'
    head = post_head("/webhook", len(body), {"Expect": "100-continue"})
    sock = connect(app, head)
    try:
        sock.settimeout(LATE)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        answer = read_response(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 401 "), answer  # unsigned: refused, but heard out
