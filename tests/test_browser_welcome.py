"""The first-run path in a real headless Chromium (Debian's package, driven by Playwright), at
phone and laptop sizes: a server with nothing configured, claimed with the setup code from its
log; the guide's steps walked; the "waiting for the first delivery…" view turning into a refusal
and then into the delivery, without a reload, as leads are posted. Screenshots go to
tests/artifacts/welcome-*.png for a person to look at.

Without Chromium these tests skip on a developer's machine and fail in CI (``CI`` or
``REQUIRE_BROWSER`` set), so a CI run can never pass them by not running them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from browsers import ARTIFACTS, VIEWPORTS, open_page
from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess
from vendor import HelloClientFake

from app import shapes


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_a_new_owner_walks_the_set_up_guide(
    browser: Any,
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    size: str,
) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="")  # nothing configured: no password, no Sign Key
    vendor = vendor_for(app)
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, errors = open_page(browser, VIEWPORTS[size])

    def shot(name: str) -> None:
        page.screenshot(path=ARTIFACTS / f"welcome-{size}-{name}.png", full_page=True)

    # The claim, with the code the server printed.
    page.goto(f"{app.url}/")
    assert page.url.endswith("/setup")
    page.fill("input[name=code]", app.setup_code())
    page.fill("input[name=password]", INBOX_PASSWORD)
    page.fill("input[name=confirm]", INBOX_PASSWORD)
    page.click("button:has-text('Save and sign in')")
    page.wait_for_url(f"{app.url}/welcome")
    assert page.locator(".welcome-list .pill", has_text="to do").count() == 4
    shot("1-overview")

    # Step 1: the Sign Key, through Settings' own form and back to step 2.
    page.click("a.button:has-text('Start')")
    page.wait_for_url(f"{app.url}/welcome/key")
    assert page.input_value("#webhook-url") == f"{app.url}/webhook"
    assert page.locator(".address-warnings li").count() == 2  # loopback, http
    shot("2-key")
    page.fill("input[name=sign_key]", SIGNING_KEY)
    page.click("button:has-text('Save the Sign Key')")
    page.wait_for_url(f"{app.url}/welcome/url")
    assert page.locator(".welcome-steps li.done").count() == 1

    # Step 2: waiting, then a refusal explained, then the delivery, all without a reload.
    waiting = page.locator("#first-delivery .waiting")
    assert waiting.is_visible() and "Waiting for the first delivery" in waiting.inner_text()
    page.evaluate("window.notReloaded = true")
    shot("3-waiting")
    assert vendor.post(shapes.sample_lead(), key="a key from elsewhere").status_code == 401
    refused = page.locator(".delivery-arrived[data-outcome]")
    refused.wait_for(timeout=15_000)
    assert "does not know: check the Sign Key" in refused.inner_text()
    assert "Waiting for the next delivery" in waiting.inner_text()
    shot("4-refused")
    assert vendor.post(shapes.sample_lead()).status_code == 200
    arrived = page.locator(".delivery-arrived.arrived-ok")
    arrived.wait_for(timeout=15_000)
    assert "received" in arrived.inner_text() and "lead" in arrived.inner_text()
    assert arrived.locator("a", has_text="Open the lead").count() == 1
    assert waiting.is_hidden()
    assert page.evaluate("window.notReloaded") is True
    shot("5-received")

    # Steps 3 and 4: the notification settings are a link away; a test lead from the guide.
    page.click("a.button:has-text('Next')")
    page.wait_for_url(f"{app.url}/welcome/phone")
    assert page.locator("a.button", has_text="Add a notification target").count() == 1
    shot("6-phone")
    page.click("a.button:has-text('Skip')")
    page.wait_for_url(f"{app.url}/welcome/test")
    page.click("button:has-text('Send a test lead through the inbox')")
    page.wait_for_url(f"{app.url}/welcome/test#result")
    assert page.locator("#result .flash-ok", has_text="Accepted: HTTP 200").count() == 1
    shot("7-test")
    page.click("a:has-text('All steps')")
    page.wait_for_url(f"{app.url}/welcome")
    assert page.locator(".welcome-list .pill.ok").count() == 2  # Sign Key, first delivery
    shot("8-overview-after")
    assert errors == []
    context.close()
