"""The inbox in a real headless Chromium (Debian's package, driven by Playwright).

A person's path: sign in, a signed lead arrives through /webhook, open it, change its status,
add a note, see the transcript once the chat log is pushed, export CSV. Screenshots at phone and
laptop sizes, light and dark, go to tests/artifacts/ for a person to look at.

Without Chromium these tests skip on a developer's machine and fail in CI (``CI`` or
``REQUIRE_BROWSER`` set), so a CI run can never pass them by not running them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browsers import ARTIFACTS, VIEWPORTS
from conftest import INBOX_PASSWORD, AppProcess
from vendor import HelloClientFake

SERIAL = "59001dd73709417321c58b11693183a2"


def lead(session: int, **fields: Any) -> dict[str, Any]:
    return {
        "SerialNumber": SERIAL,
        "Type": "Lead",
        "FirstName": "David",
        "LastName": "Garcia",
        "Email": "david.garcia@example.com",
        "PhoneNumber": "+1 415 555 0100",
        "CreateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "Content": "Hi! I'd like a quote for replacing three windows in our kitchen. "
        "Best to call after 5pm.",
        "SessionID": session,
        "URI": "www.helloclient.com",
        **fields,
    }


def chat_log(session: int) -> dict[str, Any]:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return {
        "Collection": [
            {
                "SerialNumber": SERIAL,
                "Name": "Website assistant",
                "StartTime": f"{today}T00:00:00Z",
                "EndTime": f"{today}T23:59:59Z",
                "Conversations": [
                    {
                        "SessionID": session,
                        "CreateTime": f"{today}T09:12:40.264484Z",
                        "URI": "www.helloclient.com",
                        "Messages": [
                            {"Type": "AI", "Content": "Hi! What can I help you with?"},
                            {"Type": "User", "Content": "I need three kitchen windows replaced"},
                            {"Type": "AI", "Content": "Happy to help. May I have your name?"},
                            {"Type": "User", "Content": "David Garcia, +1 415 555 0100"},
                            {"Type": "AI", "Content": "Thanks David, we will call you soon."},
                        ],
                    }
                ],
            }
        ]
    }


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_a_person_works_a_lead_from_arrival_to_export(
    browser: Any,
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
    size: str,
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, TZ="Europe/Berlin")
    vendor = vendor_for(app)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[size], accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def shot(name: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")  # a reload keeps the scroll; the header is sticky
        page.screenshot(path=ARTIFACTS / f"{size}-{name}.png", full_page=True)

    page.goto(f"{app.url}/")
    assert page.url.endswith("/login")
    shot("1-login")
    page.fill("input[name=password]", INBOX_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{app.url}/")
    assert "No leads yet" in page.content()

    assert vendor.post(lead(4242)).status_code == 200
    assert vendor.post(
        lead(
            4243,
            Type="Appointment",
            FirstName="Maria",
            LastName="Lopez",
            Content="Appointment: Friday at 10:30 for a measurement visit",
            PhoneNumber="+1 415 555 0199",
            Email="maria@example.com",
        )
    )
    page.reload()
    rows = page.locator("#leads .item")
    assert rows.count() == 2
    assert "2" in page.locator(".tabs .badge").inner_text()
    shot("2-inbox")

    page.click("text=David Garcia")
    page.wait_for_url("**/leads/*")
    assert page.locator("a.button[href^='tel:+14155550100']").is_visible()
    assert "comes with the daily chat-log push" in page.content()
    page.click("button:has-text('Mark contacted')")
    page.wait_for_selector("text=Marked contacted.")
    assert page.locator(".status-steps .current").inner_text() == "Contacted"
    page.fill("textarea[name=body]", "Called back at 17:10, booked a visit for Friday.")
    page.click("button:has-text('Add note')")
    page.wait_for_selector("text=Note added.")
    assert "booked a visit for Friday" in page.locator(".notes").inner_text()

    assert vendor.post(chat_log(4242)).status_code == 200
    page.reload()
    bubbles = page.locator("#transcript .bubble")
    assert bubbles.count() == 5
    assert "bubble-user" in (bubbles.nth(1).get_attribute("class") or "")
    assert "bubble-ai" in (bubbles.nth(0).get_attribute("class") or "")
    shot("3-lead")

    for name, path in (
        ("4-chats", "/conversations"),
        ("5-deliveries", "/deliveries"),
        ("6-status", "/status"),
    ):
        page.goto(f"{app.url}{path}")
        shot(name)
    page.goto(f"{app.url}/conversations/1")
    shot("7-chat-day")

    page.goto(f"{app.url}/")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"David" in content and b"Maria" in content
    text = content.decode("utf-8-sig")
    # An ordinary number opens as typed in a spreadsheet: no escaping apostrophe in front.
    assert "+1 415 555 0100" in text and "'+1 415 555 0100" not in text

    dark = browser.new_context(viewport=VIEWPORTS[size], color_scheme="dark")
    dark.add_cookies(context.cookies())
    dark_page = dark.new_page()
    for name, path in (("8-dark-inbox", "/"), ("9-dark-lead", "/leads/1")):
        dark_page.goto(f"{app.url}{path}")
        dark_page.screenshot(path=ARTIFACTS / f"{size}-{name}.png", full_page=True)
    dark.close()
    context.close()
    assert errors == []  # no CSP violations or script errors in the console


def test_the_layout_fits_a_360px_screen(
    browser: Any,
    make_app: Callable[..., AppProcess],
    vendor_for: Callable[[AppProcess], HelloClientFake],
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    vendor_for(app).post(lead(5151, Content="x" * 400, Email="a-very-long-address@example.com"))
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{app.url}/login")
    page.fill("input[name=password]", INBOX_PASSWORD)
    page.click("button:has-text('Sign in')")
    for path in ("/", "/leads/1", "/conversations", "/deliveries", "/deliveries/1", "/status"):
        page.goto(f"{app.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} scrolls sideways ({width}px)"
    context.close()
