"""POST /webhook end to end: a real server process, the Hello Client fake, a real SQLite file."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable

import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess
from spec_examples import SPEC_APPOINTMENT, SPEC_CHATLOG, SPEC_LEAD
from vendor import HelloClientFake

SUCCESS = b'{"status":"success"}'


def lead(**fields: object) -> dict[str, object]:
    return {**SPEC_LEAD, **fields}


def assert_refused(response: httpx.Response, status: int, *words: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer["status"] == "error"
    assert "success" not in response.text
    assert SIGNING_KEY not in response.text
    for word in words:
        assert word in answer["error"]
    return answer


def test_every_example_from_the_vendor_document_is_stored(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    for payload in (SPEC_LEAD, SPEC_APPOINTMENT, SPEC_CHATLOG):
        response = vendor.post(payload)
        assert response.status_code == 200
        assert response.content == SUCCESS
        assert response.headers["content-type"] == "application/json"

    leads = app_server.query("SELECT * FROM lead ORDER BY session_id")
    assert [(row["type"], row["session_id"]) for row in leads] == [
        ("Lead", 31305),
        ("Appointment", 31306),
    ]
    first = leads[0]
    assert (first["first_name"], first["last_name"], first["email"]) == (
        "David",
        "Garcia",
        "test@qq.com",
    )
    assert first["create_time_raw"] == "2023-11-23T18:36:21.512302Z"
    assert first["created_at"].startswith("2023-11-23 18:36:21.512302")
    assert first["status"] == "new"
    messages = app_server.query(
        "SELECT m.type, m.content FROM message m JOIN conversation c ON c.id = m.conversation_id "
        "WHERE c.session_id = 31302 ORDER BY m.position"
    )
    assert [tuple(m) for m in messages] == [
        ("AI", "Hi What can I help you with?"),
        ("User", "make an appointment"),
        ("AI", "Please select the date and time..."),
    ]
    assert app_server.scalar("SELECT name FROM chatbot") == "test..."
    kinds = app_server.query("SELECT kind, signed_form, key_number FROM delivery ORDER BY id")
    assert [tuple(k) for k in kinds] == [
        ("lead", "raw", 1),
        ("appointment", "raw", 1),
        ("chatlog", "raw", 1),
    ]


@pytest.mark.parametrize(
    "content",
    [
        "Ünïcödé — 日本語 — emoji 🎉👩‍👩‍👧",
        "<script>alert(1)</script> & <b>bold</b> \"quotes\" 'single'",
        "line\u2028separator\u2029paragraph and \u0000\u001f controls",
        "x" * 1_000_000,
    ],
    ids=["unicode-emoji", "html-chars", "u2028-controls", "1MB"],
)
def test_awkward_content_is_stored_exactly(
    app_server: AppProcess, vendor: HelloClientFake, content: str
) -> None:
    response = vendor.post(lead(Content=content, FirstName="Zoë 🙂"))
    assert response.content == SUCCESS
    row = app_server.query("SELECT content, first_name FROM lead")[0]
    assert row["content"] == content
    assert row["first_name"] == "Zoë 🙂"


def test_pretty_printed_body_signed_in_json_stringify_form(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    """The vendor's sample signs JSON.stringify(req.body), not the bytes on the wire."""
    body = json.dumps(
        lead(Content="pretty ✓ 1e-7", Score=1.0), indent=2, ensure_ascii=True
    ).encode()
    assert vendor.node.restringify(body) != body
    response = vendor.post(body=body)
    assert response.content == SUCCESS
    row = app_server.query("SELECT signed_form, body FROM delivery")[0]
    assert row["signed_form"] == "json-stringify"
    assert row["body"] == body  # stored as received, not as re-serialised
    assert app_server.scalar("SELECT extra FROM lead") == '{"Score": 1.0}'


def test_a_rotated_key_is_accepted_and_recorded(
    make_app: Callable[..., AppProcess], node_json
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(WEBHOOK_SIGNING_KEY=f"old-key, {SIGNING_KEY}")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    assert vendor.post(SPEC_LEAD).content == SUCCESS
    row = app.query("SELECT key_number, key_fingerprint FROM delivery")[0]
    assert row["key_number"] == 2
    assert row["key_fingerprint"] and row["key_fingerprint"] not in SIGNING_KEY


def test_stored_deliveries_survive_a_restart(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    assert vendor.post(SPEC_LEAD).content == SUCCESS
    assert vendor.post(SPEC_CHATLOG).content == SUCCESS
    app_server.restart()
    assert app_server.scalar("SELECT count(*) FROM lead") == 1
    assert app_server.scalar("SELECT count(*) FROM message") == 3
    assert vendor.post(SPEC_APPOINTMENT).content == SUCCESS
    assert app_server.scalar("SELECT count(*) FROM lead") == 2


def test_retries_and_replays_create_nothing_twice(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    assert vendor.post(SPEC_LEAD).content == SUCCESS
    assert vendor.post(SPEC_LEAD, t=int(time.time()) + 1).content == SUCCESS  # vendor retry
    pretty = json.dumps(SPEC_LEAD, indent=1).encode()  # same event, other bytes
    assert vendor.post(body=pretty).content == SUCCESS
    assert vendor.post(SPEC_CHATLOG).content == SUCCESS
    assert vendor.post(body=json.dumps(SPEC_CHATLOG, indent=3).encode()).content == SUCCESS

    assert app_server.scalar("SELECT count(*) FROM lead") == 1
    assert app_server.scalar("SELECT count(*) FROM chat_window") == 1
    assert app_server.scalar("SELECT count(*) FROM message") == 3
    outcomes = [r[0] for r in app_server.query("SELECT outcome FROM delivery ORDER BY id")]
    assert outcomes == ["accepted", "duplicate", "accepted", "accepted", "accepted"]
    stored_bodies = app_server.scalar("SELECT count(*) FROM delivery WHERE body IS NOT NULL")
    assert stored_bodies == 4  # the byte-identical retry kept no second copy


def test_verified_but_unparseable_bodies_are_kept_and_flagged(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    cases = {
        b"{not json": "invalid JSON",
        json.dumps(lead(SessionID="abc")).encode(): "SessionID",
        json.dumps(lead(FirstName=42)).encode(): "FirstName: expected a string",
        json.dumps({"Something": "else"}).encode(): "not a lead",
        json.dumps([1, 2]).encode(): "not a lead",
    }
    for body in cases:
        response = vendor.post(body=body)
        assert response.content == SUCCESS, body  # retrying cannot fix a body
    rows = app_server.query("SELECT body, process_status, process_error FROM delivery ORDER BY id")
    for row, (body, expected) in zip(rows, cases.items(), strict=True):
        assert row["body"] == body
        assert row["process_status"] == "failed"
        assert expected in row["process_error"]
    assert app_server.scalar("SELECT count(*) FROM lead") == 0


def test_unknown_types_and_extra_fields_are_kept(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    assert vendor.post(lead(Type="Callback", Budget=5000, Tags=["a"])).content == SUCCESS
    row = app_server.query("SELECT type, extra FROM lead")[0]
    assert row["type"] == "Callback"
    assert json.loads(row["extra"]) == {"Budget": 5000, "Tags": ["a"]}
    assert app_server.scalar("SELECT kind FROM delivery") == "other"


# ---- refusals ---------------------------------------------------------------------------


def test_unsigned_delivery_is_refused_and_quarantined(
    app_server: AppProcess, vendor: HelloClientFake
) -> None:
    assert_refused(vendor.post(SPEC_LEAD, signed=False), 401, "missing X-Webhook-Signature")
    row = app_server.query("SELECT outcome, status_code, body, reason FROM delivery")[0]
    assert (row["outcome"], row["status_code"]) == ("quarantined", 401)
    assert json.loads(row["body"]) == SPEC_LEAD
    assert app_server.scalar("SELECT count(*) FROM lead") == 0


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("garbage", "t= timestamp"),
        ("t=abc,v1=" + "0" * 64, "digits"),
        ("t=123", "v1="),
        ("t=1700000000,v1=zz", "v1="),
        ("v1=" + "a" * 64, "t= timestamp"),
    ],
)
def test_garbled_headers_are_refused(
    app_server: AppProcess, vendor: HelloClientFake, header: str, words: str
) -> None:
    response = vendor.post(SPEC_LEAD, signed=False, headers={"X-Webhook-Signature": header})
    assert_refused(response, 401, words)


def test_wrong_key_is_refused(app_server: AppProcess, vendor: HelloClientFake) -> None:
    assert_refused(vendor.post(SPEC_LEAD, key="not-the-key"), 401, "does not match")
    assert app_server.scalar("SELECT outcome FROM delivery") == "quarantined"


# +302, not +301: int(time.time()) drops up to a second, and the request takes time to arrive.
@pytest.mark.parametrize("offset", [-301, 302])
def test_timestamps_outside_the_tolerance_are_refused(
    app_server: AppProcess, vendor: HelloClientFake, offset: int
) -> None:
    response = vendor.post(SPEC_LEAD, t=int(time.time()) + offset)
    assert_refused(response, 401, "tolerance 300 s")
    assert vendor.post(SPEC_LEAD, t=int(time.time()) - 200).content == SUCCESS


def test_tolerance_zero_turns_the_clock_check_off(
    make_app: Callable[..., AppProcess], node_json
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(WEBHOOK_TOLERANCE_SECONDS="0")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    assert vendor.post(SPEC_LEAD, t=1492774577).content == SUCCESS


def test_ip_allowlist(make_app: Callable[..., AppProcess], node_json) -> None:  # type: ignore[no-untyped-def]
    app = make_app(WEBHOOK_ALLOWED_IPS="hello-client")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    assert_refused(vendor.post(SPEC_LEAD), 403, "127.0.0.1")
    # X-Forwarded-For from a peer that is not a trusted proxy is ignored.
    spoofed = vendor.post(SPEC_LEAD, headers={"X-Forwarded-For": "138.91.187.181"})
    assert_refused(spoofed, 403, "127.0.0.1")
    assert app.scalar("SELECT count(*) FROM lead") == 0
    assert app.scalar("SELECT group_concat(DISTINCT outcome) FROM delivery") == "rejected"


def test_forwarded_for_is_believed_from_a_trusted_proxy(
    make_app: Callable[..., AppProcess], node_json
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(WEBHOOK_ALLOWED_IPS="hello-client", TRUSTED_PROXIES="127.0.0.1")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    forwarded = {"X-Forwarded-For": "203.0.113.9, 20.245.232.251"}
    assert vendor.post(SPEC_LEAD, headers=forwarded).content == SUCCESS
    assert app.scalar("SELECT client_ip FROM delivery") == "20.245.232.251"
    refused = vendor.post(SPEC_APPOINTMENT, headers={"X-Forwarded-For": "203.0.113.9"})
    assert_refused(refused, 403, "203.0.113.9")


def test_body_over_the_limit_is_refused(make_app: Callable[..., AppProcess], node_json) -> None:  # type: ignore[no-untyped-def]
    app = make_app(MAX_BODY_MB="1")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    response = vendor.post(lead(Content="x" * (1024 * 1024 + 10)))
    assert_refused(response, 413, "MAX_BODY_MB")
    assert app.scalar("SELECT status_code FROM delivery") == 413


def test_without_a_signing_key_the_webhook_says_what_to_set(
    make_app: Callable[..., AppProcess],
    node_json,  # type: ignore[no-untyped-def]
) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    assert_refused(vendor.post(SPEC_LEAD), 503, "WEBHOOK_SIGNING_KEY")
    assert app.log().count("WEBHOOK_SIGNING_KEY is not set") == 1
    assert app.scalar("SELECT outcome FROM delivery") == "quarantined"  # kept for later


def test_a_locked_database_answers_503_never_success(
    make_app: Callable[..., AppProcess],
    node_json,  # type: ignore[no-untyped-def]
) -> None:
    app = make_app(DATABASE_BUSY_TIMEOUT_SECONDS="0.3")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    holder = sqlite3.connect(app.db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert_refused(vendor.post(SPEC_LEAD), 503, "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert vendor.post(SPEC_LEAD).content == SUCCESS  # recovers by itself
    assert app.scalar("SELECT count(*) FROM lead") == 1


def test_get_explains_the_endpoint(app_server: AppProcess) -> None:
    assert_refused(httpx.get(f"{app_server.url}/webhook"), 405, "POST")


def test_a_malformed_content_length_is_a_400(app_server: AppProcess) -> None:
    """uvicorn's HTTP parser refuses it before the app runs; it must never reach a 5xx."""
    with socket.create_connection(("127.0.0.1", app_server.port), timeout=10) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
        status_line = sock.recv(1024).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 400")
    assert app_server.scalar("SELECT count(*) FROM delivery") == 0


# ---- unsigned-event policies ------------------------------------------------------------


def test_reject_policy_logs_without_quarantine(
    make_app: Callable[..., AppProcess], node_json
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(UNSIGNED_EVENTS="reject")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    body = json.dumps(lead(Content="y" * 10_000)).encode()
    assert_refused(vendor.post(body=body, signed=False), 401)
    row = app.query("SELECT outcome, body_size, length(body) AS kept FROM delivery")[0]
    assert (row["outcome"], row["body_size"], row["kept"]) == ("rejected", len(body), 4096)


def test_accept_from_allowed_ips_policy(make_app: Callable[..., AppProcess], node_json) -> None:  # type: ignore[no-untyped-def]
    app = make_app(UNSIGNED_EVENTS="accept-from-allowed-ips", WEBHOOK_ALLOWED_IPS="127.0.0.1")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    assert vendor.post(SPEC_LEAD, signed=False).content == SUCCESS
    assert app.scalar("SELECT signed_form FROM delivery") == "unsigned-allowed-ip"
    assert app.scalar("SELECT count(*) FROM lead") == 1
    # A signature that is present but wrong is still refused: that is tampering or a wrong key.
    assert_refused(vendor.post(SPEC_APPOINTMENT, key="wrong"), 401)


def test_quarantine_is_bounded(make_app: Callable[..., AppProcess], node_json) -> None:  # type: ignore[no-untyped-def]
    app = make_app(QUARANTINE_MAX_ITEMS="3", QUARANTINE_RATE_PER_MINUTE="5")
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    for number in range(8):
        assert_refused(vendor.post(lead(SessionID=number), signed=False), 401)
    quarantined = app.query("SELECT body FROM delivery WHERE outcome = 'quarantined' ORDER BY id")
    assert [json.loads(r["body"])["SessionID"] for r in quarantined] == [2, 3, 4]
    limited = app.scalar("SELECT count(*) FROM delivery WHERE reason LIKE '%rate limit%'")
    assert limited == 3
