"""The connection bound on the edge (app/edge.py): stalled strangers cannot use up the file
descriptors the vendor's next delivery needs. At the bound a new connection evicts the one
silent longest, never one whose request is being answered."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess, MakeApp
from edge_sockets import (
    closed_count,
    connect,
    open_files_limit,
    post_head,
    read_response,
    read_until_closed,
)
from nodejs import NodeJSON
from vendor import HelloClientFake, succeeded

from app import shapes

NEVER = "600"  # header deadline far beyond the test: only the bound can free a slot
STALLED = b"POST /webhook HTTP/1.1\r\nHost: inbox\r\nContent-Ty"
# A whole head, then a body that stops: the app is already reading it.
STALLED_BODY = post_head("/webhook", 1000, {"Content-Type": "application/json"}) + b'{"a":'


@pytest.fixture
def strangers() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    yield held
    for sock in held:
        sock.close()


def quick_vendor(app: AppProcess, node_json: NodeJSON) -> HelloClientFake:
    # A short timeout: a delivery that cannot get a connection should fail the test quickly.
    return HelloClientFake(
        f"{app.url}/webhook", SIGNING_KEY, node_json, client=httpx.Client(timeout=20)
    )


def test_stalled_connections_beyond_the_file_limit_do_not_lock_the_vendor_out(
    make_app: MakeApp, node_json: NodeJSON, strangers: list[socket.socket]
) -> None:
    """The issue's case: 420 stalled connections against a server allowed 400 open files."""
    with open_files_limit(400):
        app = make_app(HTTP_HEADER_TIMEOUT_SECONDS=NEVER)
    strangers.extend(connect(app, STALLED) for _ in range(420))
    vendor = quick_vendor(app, node_json)
    for _ in range(3):
        lead = shapes.sample_lead()
        assert succeeded(vendor.post(lead))
        app.wait_for(f"SELECT count(*) FROM lead WHERE session_id = {lead['SessionID']}", 1)
    # The oldest strangers made room; the server says why it lowered the bound.
    read_until_closed(strangers[0], within=10)
    assert "HTTP_MAX_CONNECTIONS lowered from 512 to 300" in app.log()
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200


def test_at_the_bound_the_longest_silent_connection_is_evicted(
    make_app: MakeApp, strangers: list[socket.socket]
) -> None:
    app = make_app(HTTP_MAX_CONNECTIONS="8", HTTP_HEADER_TIMEOUT_SECONDS=NEVER)
    strangers.extend(connect(app, STALLED) for _ in range(8))
    # All 8 are held. A newcomer must not be refused: the first stranger, silent longest, goes.
    newcomer = connect(app, b"GET /healthz HTTP/1.1\r\nHost: inbox\r\n\r\n")
    try:
        assert read_response(newcomer).startswith(b"HTTP/1.1 200 ")
    finally:
        newcomer.close()
    read_until_closed(strangers[0], within=10)
    # The one that spoke last is still open: it can still finish its request.
    strangers[-1].sendall(b"pe: text/plain\r\nContent-Length: 0\r\n\r\n")
    assert read_response(strangers[-1]).startswith(b"HTTP/1.1 401 ")


def test_a_request_being_answered_is_never_evicted(
    make_app: MakeApp, node_json: NodeJSON, strangers: list[socket.socket]
) -> None:
    """A signed lead, fully received, waits for the database (another process holds the write
    lock) while strangers flood the bound with stalled bodies, each of them newer and so less
    silent than the lead: they evict one another, never the lead."""
    app = make_app(
        HTTP_MAX_CONNECTIONS="8",
        HTTP_HEADER_TIMEOUT_SECONDS=NEVER,
        DATABASE_BUSY_TIMEOUT_SECONDS="60",
    )
    vendor = quick_vendor(app, node_json)
    lead = shapes.sample_lead()
    body = vendor.body_for(lead)
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Signature": vendor.signature(body),
        "Expect": "100-continue",  # so we see the app start on it before the body goes
    }
    holder = sqlite3.connect(app.db_path, isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    answering = connect(app, post_head("/webhook", len(body), headers))
    try:
        answering.settimeout(10)
        assert answering.recv(100).startswith(b"HTTP/1.1 100 ")
        answering.sendall(body)
        strangers.extend(connect(app, STALLED_BODY) for _ in range(20))
        # 20 strangers and the lead at a bound of 8: 13 strangers had to make room.
        assert closed_count(strangers, 13, within=10) >= 13
        holder.execute("COMMIT")
        answer = read_response(answering, within=60)
    finally:
        holder.close()
        answering.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b'{"status":"success"}')
    app.wait_for(f"SELECT count(*) FROM lead WHERE session_id = {lead['SessionID']}", 1)
