"""Settings → Forwarding in a real browser session: a destination added here gets its own
secret (shown once), its extra headers, a log with the answers escaped, test, retry, replay,
and the lead page tells where the lead went. Secrets never come back in any page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import INBOX_PASSWORD, MakeApp, VendorFor, inbox_client
from forward_receivers import Receiver, wait_for_quiet_forward_pass

from app import shapes

PAGE = "/settings/forwarding"
FAST = {
    "INBOX_PASSWORD": INBOX_PASSWORD,
    "FORWARD_RETRY_FIRST_SECONDS": "0.2",
    "FORWARD_RETRY_CAP_SECONDS": "1",
    "FORWARD_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "debug",
}
SECRET_SHOWN = re.compile(r'<code class="secret">(whsec_[A-Za-z0-9+/=]+)</code>')


@pytest.fixture
def crm() -> Iterator[Receiver]:
    receiver = Receiver().on()
    yield receiver
    receiver.off()


def test_a_destination_added_here_gets_its_own_secret_headers_log_and_lead_block(
    make_app: MakeApp, vendor_for: VendorFor, crm: Receiver
) -> None:
    app = make_app(**FAST)
    browser = inbox_client(app)
    page = browser.post(
        f"{PAGE}/add",
        {
            "url": crm.url("/hook/abcdefghijklmnop?token=sekrit-token"),
            "name": "CRM",
            "kinds": "lead",
            "headers": "X-Api-Key: key-1234567890",
            "enabled": "1",
        },
    )
    assert page.status_code == 200
    found = SECRET_SHOWN.search(page.text)
    assert found, page.text[:2000]
    crm.secret = found.group(1)  # the receiver verifies with the secret shown once

    listing = browser.get(PAGE).text
    for secret in (crm.secret, "sekrit-token", "key-1234567890", "abcdefghijklmnop"):
        assert secret not in listing
    assert "X-Api-Key: ****" in listing and "token=****" in listing

    crm.statuses = [500]  # answered with markup: the log shows it escaped
    vendor = vendor_for(app)
    payload = {**shapes.sample_lead(), "SessionID": 999}
    vendor.post(payload)
    first, second = crm.wait(2, attempts=True)
    assert first.headers["x-api-key"] == "key-1234567890"
    assert first.webhook_id == second.webhook_id and second.document == payload
    app.wait_for("SELECT count(*) FROM forward_outbox WHERE status = 'sent'", 1)

    key = str(app.scalar("SELECT key FROM forward_destination"))
    log = browser.get(f"{PAGE}/log", params={"key": key}).text
    assert "&lt;b&gt;nope&lt;/b&gt;" in log and "<b>nope</b>" not in log
    assert "HTTP 500" in log and first.webhook_id in log

    lead_id = app.scalar("SELECT id FROM lead")
    lead_page = browser.get(f"/leads/{lead_id}").text
    assert "Forwarded to" in lead_page and "delivered" in lead_page

    # "Forward again" from the lead page: a new message, so a deduplicating CRM takes it.
    browser.post(f"{PAGE}/replay", {"lead_id": str(lead_id)})
    third = crm.wait(2)[-1]
    assert third.webhook_id != first.webhook_id and third.body == first.body

    # A new secret: shown once, used from the next request on.
    rotated = SECRET_SHOWN.search(browser.post(f"{PAGE}/rotate", {"key": key}).text)
    assert rotated and rotated.group(1) != crm.secret
    crm.secret = rotated.group(1)
    results = browser.post(f"{PAGE}/test", {"key": key}).text
    assert "HTTP 200" in results
    assert crm.unverified == []

    assert browser.post(f"{PAGE}/remove", {"key": key}).status_code == 303
    assert app.scalar("SELECT count(*) FROM forward_outbox") == 0


def test_the_inbox_itself_and_bad_input_are_refused(make_app: MakeApp) -> None:
    app = make_app(**FAST)
    browser = inbox_client(app)
    for url in (
        f"http://127.0.0.1:{app.port}/webhook",
        f"http://localhost:{app.port}/",
        "ftp://example.com/x",
        "not a url",
    ):
        answer = browser.post(f"{PAGE}/add", {"url": url, "kinds": "lead"})
        assert answer.status_code == 303, url
        assert "Not added" in browser.get(PAGE).text, url
    assert app.scalar("SELECT count(*) FROM forward_destination") == 0
    bad_header = browser.post(
        f"{PAGE}/add", {"url": "http://192.0.2.7/x", "headers": "webhook-id: mine"}
    )
    assert bad_header.status_code == 303
    assert "set by the inbox itself" in browser.get(PAGE).text
    assert browser.post(f"{PAGE}/replay", {"since": "yesterday"}).status_code == 400
    assert browser.get(f"{PAGE}/log", params={"key": "db:nope"}).status_code == 404


def test_retry_now_and_replay_a_time_range_reach_a_destination_added_later(
    make_app: MakeApp, vendor_for: VendorFor, crm: Receiver
) -> None:
    app = make_app(**FAST)
    vendor = vendor_for(app)
    for n in range(3):
        vendor.post({**shapes.sample_lead(), "SessionID": 500 + n})
    browser = inbox_client(app)
    page = browser.post(f"{PAGE}/add", {"url": crm.url(), "kinds": "lead", "enabled": "1"})
    found = SECRET_SHOWN.search(page.text)
    assert found
    crm.secret = found.group(1)
    key = str(app.scalar("SELECT key FROM forward_destination"))
    wait_for_quiet_forward_pass(app)
    assert crm.attempts == []  # history is not pushed at a new destination by itself
    browser.post(f"{PAGE}/replay", {"key": key, "since": "2000-01-01T00:00"})
    got = crm.wait(3)
    assert sorted(r.document["SessionID"] for r in got) == [500, 501, 502]
    wait_for_quiet_forward_pass(app)
    assert len(crm.attempts) == 3
    answer = browser.post(f"{PAGE}/retry", {"key": key})
    assert answer.status_code == 303
