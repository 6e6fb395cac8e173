"""Settings → Forwarding in a real browser session: a destination added here gets its own
secret (shown once), its extra headers, a log with the answers escaped, test, retry, replay,
and the lead page tells where the lead went. Secrets never come back in any page."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browsers import ARTIFACTS, open_page, sign_in
from conftest import INBOX_PASSWORD, InboxClient, MakeApp, VendorFor, inbox_client
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
FORMS = ("add", "update", "enabled", "remove", "rotate", "retry", "replay", "test")


def followed(browser: InboxClient, path: str, data: dict[str, str]) -> httpx.Response:
    """A form post answered with a redirect to this page (post/redirect/get), then the page."""
    answer = browser.post(path, data)
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"].startswith(PAGE), answer.headers["location"]
    page = browser.get(answer.headers["location"])
    assert page.status_code == 200
    return page


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
    page = followed(
        browser,
        f"{PAGE}/add",
        {
            "url": crm.url("/hook/abcdefghijklmnop?token=sekrit-token"),
            "name": "CRM",
            "kinds": "lead",
            "headers": "X-Api-Key: key-1234567890",
            "enabled": "1",
        },
    )
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
    rotated = SECRET_SHOWN.search(followed(browser, f"{PAGE}/rotate", {"key": key}).text)
    assert rotated and rotated.group(1) != crm.secret
    crm.secret = rotated.group(1)
    results = followed(browser, f"{PAGE}/test", {"key": key}).text
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
    page = followed(browser, f"{PAGE}/add", {"url": crm.url(), "kinds": "lead", "enabled": "1"})
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


def cookie_texts(answer: httpx.Response) -> list[str]:
    """Every Set-Cookie header as sent, and the session's payload decoded: it is signed, not
    encrypted, so anyone holding the cookie can read it."""
    texts = []
    for header in answer.headers.get_list("set-cookie"):
        value = header.split(";", 1)[0].split("=", 1)[1]
        payload = base64.b64decode(value.split(".", 1)[0] + "==")
        texts += [header, payload.decode("utf-8", errors="replace")]
    return texts


def carried_nowhere(secret: str, *answers: httpx.Response) -> None:
    """Neither a redirect's Location nor any cookie (decoded too) holds ``secret``."""
    decoded = [text for answer in answers for text in cookie_texts(answer)]
    assert any('"csrf"' in text for text in decoded), decoded  # the decoding does read them
    for answer in answers:
        assert secret not in answer.headers.get("location", "")
    assert not [text for text in decoded if secret in text]


def test_add_rotate_and_test_redirect_and_show_their_result_once_to_this_session(
    make_app: MakeApp, crm: Receiver
) -> None:
    app = make_app(**FAST)
    browser, someone_else = inbox_client(app), inbox_client(app)
    added = browser.post(f"{PAGE}/add", {"url": crm.url(), "name": "CRM", "kinds": "lead"})
    assert added.status_code == 303 and added.headers["location"] == PAGE
    assert not SECRET_SHOWN.search(someone_else.get(PAGE).text)  # kept for this session only
    shown = browser.get(added.headers["location"])
    found = SECRET_SHOWN.search(shown.text)
    assert found and "Added CRM." in shown.text
    crm.secret = found.group(1)
    carried_nowhere(crm.secret, added, shown)
    reloaded = browser.get(added.headers["location"])  # a reload is this GET, not the POST
    assert not SECRET_SHOWN.search(reloaded.text) and 'id="new-secret"' not in reloaded.text
    assert app.scalar("SELECT count(*) FROM forward_destination") == 1

    key = str(app.scalar("SELECT key FROM forward_destination"))
    rotated = browser.post(f"{PAGE}/rotate", {"key": key})
    assert rotated.status_code == 303 and rotated.headers["location"] == PAGE
    shown = browser.get(rotated.headers["location"])
    found = SECRET_SHOWN.search(shown.text)
    assert found and found.group(1) != crm.secret
    crm.secret = found.group(1)
    carried_nowhere(crm.secret, rotated, shown)
    assert not SECRET_SHOWN.search(browser.get(PAGE).text)

    tested = browser.post(f"{PAGE}/test", {"key": key})
    assert tested.status_code == 303 and tested.headers["location"] == PAGE
    assert len(crm.attempts) == 1  # sent before the answer: a resend would be here by now
    results = browser.get(tested.headers["location"]).text
    assert 'id="test-results"' in results and "HTTP 200" in results
    assert 'id="test-results"' not in browser.get(tested.headers["location"]).text
    assert len(crm.attempts) == 1 and crm.unverified == []


def test_a_get_of_every_form_address_leads_to_the_page(make_app: MakeApp) -> None:
    browser = inbox_client(make_app(**FAST))
    for name in FORMS:
        answer = browser.get(f"{PAGE}/{name}")
        assert answer.status_code == 303, name
        assert answer.headers["location"] == PAGE, name
    assert browser.get(f"{PAGE}/add", follow_redirects=True).url.path == PAGE


def test_a_secret_lost_in_a_restart_is_said_not_shown(make_app: MakeApp, crm: Receiver) -> None:
    app = make_app(**FAST)
    browser = inbox_client(app)
    added = browser.post(f"{PAGE}/add", {"url": crm.url(), "kinds": "lead"})
    assert added.status_code == 303
    app.restart()  # between the POST and its redirect: the secret lived in the old process
    page = browser.get(added.headers["location"]).text
    assert "can no longer be shown" in page and not SECRET_SHOWN.search(page)
    assert "can no longer be shown" not in browser.get(PAGE).text


def test_reloading_in_chromium_after_add_and_test_posts_nothing_again(
    make_app: MakeApp, crm: Receiver, browser: Any
) -> None:
    app = make_app(**FAST)
    context, page, _ = open_page(browser, {"width": 390, "height": 844})
    sign_in(page, app.url)
    page.goto(f"{app.url}{PAGE}")
    page.fill("#add input[name=url]", crm.url())
    page.fill("#add input[name=name]", "CRM")
    page.click("#add button[type=submit]")
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("whsec_") and page.url.endswith(PAGE)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "forwarding-new-secret-390.png"))  # the first screen
    page.reload()
    assert page.locator("code.secret").count() == 0
    assert app.scalar("SELECT count(*) FROM forward_destination") == 1

    crm.secret = secret
    page.click("#destinations form[action$='/test'] button")
    assert "HTTP 200" in page.locator("#test-results").inner_text()
    page.reload()
    assert page.locator("#test-results").count() == 0
    assert len(crm.attempts) == 1 and crm.unverified == []
    context.close()
