"""The first-run path in the browser, against a real server: the claim leads to /welcome; each
step renders and can be skipped; the Sign Key form goes through Settings and back to step 2;
the live "waiting for the first delivery" endpoint turns into the delivery when a signed lead
arrives and explains a refusal; the tests in step 4 reach a real notification target and follow
post/redirect/get; every form needs its CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from conftest import (
    INBOX_PASSWORD,
    SIGNING_KEY,
    AppProcess,
    InboxClient,
    JsonSink,
    claim,
    inbox_client,
)
from vendor import HelloClientFake

from app import shapes

STEPS = {
    "key": "Sign Key",
    "url": "Webhook URL",
    "phone": "Phone notifications",
    "test": "Test on your phone",
}
SINCE = re.compile(r'data-since="(\d+)"')
SKIP = re.compile(r'<a class="button(?: secondary)?" href="([^"]+)">(Skip|Next|Finish)</a>')


def first_delivery(browser: InboxClient, since: int) -> dict[str, object]:
    answer = browser.get(f"/welcome/first-delivery?since={since}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def fresh(make_app: Callable[..., AppProcess]) -> AppProcess:
    """Nothing configured: no password, no Sign Key."""
    return make_app(WEBHOOK_SIGNING_KEY="")


def test_the_claim_leads_to_the_set_up_guide(fresh: AppProcess) -> None:
    browser, answer = claim(fresh)
    assert answer.status_code == 303 and answer.headers["location"] == "/welcome"
    page = browser.get("/welcome").text
    assert "Password saved" in page
    for slug, title in STEPS.items():
        assert f'<a href="/welcome/{slug}">{title}</a>' in page
    assert page.count("to do") == 4
    assert '<a class="button" href="/welcome/key">Start</a>' in page


def test_each_step_renders_and_skip_walks_to_the_next(fresh: AppProcess) -> None:
    browser, _ = claim(fresh)
    url = "/welcome/key"
    walked = []
    while url != "/welcome":
        page = browser.get(url)
        assert page.status_code == 200, url
        slug = url.rsplit("/", 1)[1]
        assert f"<h1>{STEPS[slug]}</h1>" in page.text
        assert 'aria-current="step"' in page.text
        walked.append(slug)
        skip = SKIP.search(page.text)
        assert skip and skip.group(2) == "Skip", url
        url = skip.group(1)
    assert walked == list(STEPS)


def test_the_key_step_explains_where_the_key_is_and_posts_to_settings(fresh: AppProcess) -> None:
    browser, _ = claim(fresh)
    page = browser.get("/welcome/key").text
    assert "<strong>Workspace</strong>, then the <strong>Webhook</strong> tab" in page
    assert f'value="{fresh.url}/webhook"' in page
    form = re.search(r'<form method="post" action="/settings/keys".*?</form>', page, re.S)
    assert form, page
    assert 'name="csrf_token"' in form.group(0)
    assert '<input type="hidden" name="next" value="/welcome/url">' in form.group(0)
    assert 'Sign Key <input name="sign_key"' in form.group(0)


def test_a_key_added_in_step_1_marks_it_done_and_goes_to_step_2(fresh: AppProcess) -> None:
    browser, _ = claim(fresh)
    browser.csrf("/welcome/key")
    answer = browser.post(
        "/settings/keys",
        {"label": "Workspace", "sign_key": SIGNING_KEY, "next": "/welcome/url"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/welcome/url"
    page = browser.get("/welcome").text
    assert re.search(r'href="/welcome/key">Sign Key</a>\s*<span class="pill ok">done', page)


@pytest.fixture
def signed_in(make_app: Callable[..., AppProcess]) -> InboxClient:
    return inbox_client(make_app(INBOX_PASSWORD=INBOX_PASSWORD))


def test_first_delivery_waits_then_shows_the_verified_lead(
    signed_in: InboxClient, vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    page = signed_in.get("/welcome/url").text
    since = int(SINCE.search(page).group(1))
    assert "Waiting for the first delivery" in page
    assert first_delivery(signed_in, since) == {"status": "waiting", "since": since}

    lead = shapes.sample_lead()
    assert vendor_for(signed_in.app).post(lead).status_code == 200
    answer = first_delivery(signed_in, since)
    assert answer["status"] == "received"
    delivery = answer["delivery"]
    assert isinstance(delivery, dict)
    assert delivery["verified"] is True and delivery["kind"] == "lead"
    assert delivery["explanation"] == "Verified with your Sign Key and stored."
    lead_id = signed_in.app.scalar("SELECT id FROM lead WHERE session_id = ?", (lead["SessionID"],))
    assert delivery["lead_url"] == f"/leads/{lead_id}"
    assert delivery["details_url"] == f"/deliveries/{delivery['id']}"
    assert first_delivery(signed_in, int(delivery["id"]))["status"] == "waiting"
    assert re.search(
        r'href="/welcome/url">[^<]+</a>\s*<span class="pill ok">done',
        signed_in.get("/welcome").text,
    )


def test_a_wrongly_signed_delivery_is_explained(
    signed_in: InboxClient, vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    since = int(SINCE.search(signed_in.get("/welcome/url").text).group(1))
    refused = vendor_for(signed_in.app).post(shapes.sample_lead(), key="a key from elsewhere")
    assert refused.status_code == 401
    delivery = first_delivery(signed_in, since)["delivery"]
    assert isinstance(delivery, dict)
    assert delivery["verified"] is False and delivery["status_code"] == 401
    assert (
        delivery["explanation"]
        .lower()
        .startswith("signed with a key this inbox does not know: check the sign key")
    )
    assert "does not match" in str(delivery["reason"])
    # The step page, reloaded, shows it as the latest so far and waits for the next one.
    page = signed_in.get("/welcome/url").text
    assert "refused (HTTP 401)" in page and "Waiting for the next delivery" in page


def test_the_endpoint_refuses_a_bad_since_and_strangers(signed_in: InboxClient) -> None:
    bad = signed_in.get("/welcome/first-delivery?since=-1")
    assert bad.status_code == 400
    assert bad.json() == {
        "status": "error",
        "error": f"since: expected a whole number from 0 to {2**63 - 1}",
    }
    stranger = httpx.get(f"{signed_in.app.url}/welcome/first-delivery?since=0")
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login")


def test_step_4_sends_a_test_notification_with_post_redirect_get(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, APPRISE_URLS=json_sink.url("/phone"))
    browser = inbox_client(app)
    overview = browser.get("/welcome").text
    assert re.search(r'href="/welcome/phone">[^<]+</a>\s*<span class="pill ok">done', overview)
    browser.csrf("/welcome/test")
    answer = browser.post("/welcome/test/notification")
    assert answer.status_code == 303 and answer.headers["location"] == "/welcome/test#result"
    (sent,) = json_sink.received("/phone")
    assert str(sent["title"]).startswith("[Test] ")
    page = browser.get("/welcome/test").text
    assert '<span class="pill ok">sent</span>' in page
    reloaded = browser.get("/welcome/test").text
    assert '<span class="pill ok">sent</span>' not in reloaded
    assert len(json_sink.received("/phone")) == 1  # the send is synchronous: nothing pending
    again = browser.get("/welcome/test/notification")
    assert again.status_code == 303 and again.headers["location"] == "/welcome/test"
    # The target's "last success" is what marks the step done.
    overview = browser.get("/welcome").text
    assert re.search(r'href="/welcome/test">[^<]+</a>\s*<span class="pill ok">done', overview)


def test_step_4_sends_a_test_lead_through_the_inbox(signed_in: InboxClient) -> None:
    app = signed_in.app
    before = app.scalar("SELECT count(*) FROM delivery WHERE outcome = 'accepted'")
    signed_in.csrf("/welcome/test")
    answer = signed_in.post("/welcome/test/lead")
    assert answer.status_code == 303 and answer.headers["location"] == "/welcome/test#result"
    page = signed_in.get("/welcome/test").text
    found = re.search(r'href="/leads/(\d+)">Open the test lead', page)
    assert found and "Accepted: HTTP 200" in page
    assert app.scalar("SELECT first_name FROM lead WHERE id = ?", (int(found.group(1)),)) == "Test"
    assert "Accepted: HTTP 200" not in signed_in.get("/welcome/test").text
    after = app.scalar("SELECT count(*) FROM delivery WHERE outcome = 'accepted'")
    assert after == before + 1


def test_step_4_without_a_target_says_where_to_add_one(signed_in: InboxClient) -> None:
    signed_in.csrf("/welcome/test")
    answer = signed_in.post("/welcome/test/notification")
    assert answer.status_code == 303
    assert "No notification target yet" in signed_in.get("/welcome/test").text


@pytest.mark.parametrize("path", ["/welcome/test/notification", "/welcome/test/lead"])
def test_forms_need_the_csrf_token(signed_in: InboxClient, path: str) -> None:
    before = signed_in.app.scalar("SELECT count(*) FROM delivery")
    refused = signed_in.client.post(path, data={})
    assert refused.status_code == 403
    assert signed_in.app.scalar("SELECT count(*) FROM delivery") == before


def test_the_phone_step_links_the_notification_settings_with_a_way_back(
    signed_in: InboxClient,
) -> None:
    page = signed_in.get("/welcome/phone").text
    assert 'href="/settings/notifications?next=/welcome/phone"' in page
    assert "No notification target yet." in page
