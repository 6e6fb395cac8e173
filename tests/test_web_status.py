"""The setup/status page: what to paste into Hello Client, key and allowlist state, the last
delivery, and the test button that sends a signed lead through the real endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess, InboxClient, inbox_client
from vendor import HelloClientFake

from app import __version__
from app.signature import key_fingerprint


def test_status_shows_url_key_version_and_last_delivery(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    inbox_vendor.post({"Type": "Lead"}, key="not the key")
    page = inbox.get("/status").text
    assert f'value="{inbox.app.url}/webhook"' in page
    assert "Taken from the address of this page" in page
    assert "Configured" in page and key_fingerprint(SIGNING_KEY) in page
    assert SIGNING_KEY not in page
    assert f"Version {__version__}" in page
    assert "refused 401" in page or "quarantined" in page
    assert "signature does not match" in page
    assert "Off: any address may deliver" in page
    # Opened at http://127.0.0.1: the URL it shows is one Hello Client could never reach.
    assert re.findall(r'<li data-kind="([a-z-]+)">', page) == ["loopback", "http"]
    assert 'href="/welcome">Set-up guide</a>' in page


def test_base_url_and_missing_key(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(
        INBOX_PASSWORD=INBOX_PASSWORD, BASE_URL="https://inbox.example.com/", WEBHOOK_SIGNING_KEY=""
    )
    page = inbox_client(app).get("/status").text
    assert 'value="https://inbox.example.com/webhook"' in page
    assert "Taken from the address" not in page
    assert "Missing" in page and "WEBHOOK_SIGNING_KEY" in page


def test_test_button_sends_a_signed_lead_through_the_endpoint(inbox: InboxClient) -> None:
    before = inbox.app.scalar("SELECT count(*) FROM delivery WHERE outcome = 'accepted'")
    sent = inbox.post("/status/test-lead")
    assert sent.status_code == 303 and sent.headers["location"] == "/status#test"
    page = inbox.get("/status").text
    assert "Accepted: HTTP 200" in page
    lead = int(re.search(r'href="/leads/(\d+)">Open the test lead', page).group(1))
    assert inbox.app.scalar("SELECT first_name FROM lead WHERE id = ?", (lead,)) == "Test"
    after = inbox.app.scalar("SELECT count(*) FROM delivery WHERE outcome = 'accepted'")
    assert after == before + 1
    form = inbox.app.scalar("SELECT signed_form FROM delivery ORDER BY id DESC LIMIT 1")
    assert form == "raw"  # verified by signature like any vendor delivery, not waved through


def test_test_button_follows_post_redirect_get(inbox: InboxClient) -> None:
    """A reload shows the page without the result and sends nothing; a GET of the form's
    address (a bookmark, a reload after the redirect was lost) is the page, not 405."""
    assert inbox.post("/status/test-lead").status_code == 303
    assert "Accepted: HTTP 200" in inbox.get("/status").text
    count = inbox.app.scalar("SELECT count(*) FROM delivery")
    assert "Accepted: HTTP 200" not in inbox.get("/status").text
    assert inbox.app.scalar("SELECT count(*) FROM delivery") == count
    bookmark = inbox.get("/status/test-lead")
    assert bookmark.status_code == 303 and bookmark.headers["location"] == "/status"
    assert inbox.app.scalar("SELECT count(*) FROM delivery") == count


def test_allowlist_hits_misses_and_a_refused_test(
    make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, WEBHOOK_ALLOWED_IPS="10.20.30.40")
    vendor = vendor_for(app)
    for _ in range(2):
        assert vendor.post({"Type": "Lead"}).status_code == 403
    browser = inbox_client(app)
    page = browser.get("/status").text
    assert 'Only <span class="mono">10.20.30.40/32</span> may deliver' in page
    assert "<strong>0</strong> allowed, <strong>2</strong> refused" in page
    assert 'last from <span class="mono">127.0.0.1</span>' in page
    assert browser.post("/status/test-lead").status_code == 303
    refused = browser.get("/status").text
    assert "Not accepted: HTTP 403" in refused and "not in WEBHOOK_ALLOWED_IPS" in refused

    open_app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, WEBHOOK_ALLOWED_IPS="127.0.0.1")
    assert vendor_for(open_app).post({"Type": "Lead"}).status_code == 200
    page = inbox_client(open_app).get("/status").text
    assert "<strong>1</strong> allowed, <strong>0</strong> refused" in page
