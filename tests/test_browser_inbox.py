"""Triage at phone speed in a real headless Chromium (Debian's package, driven by Playwright), at
1280 x 800 and 390 x 844: twenty leads archived in one action, the keyboard, a lead that arrives
while the inbox is open, and the way back from a lead to the same list at the same place.
Screenshots go to tests/artifacts/inbox-*.png.

Without Chromium these tests skip on a developer's machine and fail in CI (``CI`` or
``REQUIRE_BROWSER`` set), as tests/test_browser.py does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browsers import ARTIFACTS, VIEWPORTS, open_page, sign_in
from conftest import INBOX_PASSWORD, AppProcess
from inbox_triage import lead, new_bot, seed
from vendor import HelloClientFake


@pytest.fixture
def signed_in(
    browser: Any, make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], Any]
) -> Callable[[str], tuple[AppProcess, HelloClientFake, Any]]:
    contexts: list[Any] = []

    def open_inbox(size: str) -> tuple[AppProcess, HelloClientFake, Any]:
        app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, TZ="Europe/Berlin")
        context, page, errors = open_page(browser, VIEWPORTS[size])
        page.errors = errors
        contexts.append(context)
        sign_in(page, app.url)
        return app, vendor_for(app), page

    yield open_inbox
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"inbox-{name}.png")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_twenty_leads_archived_in_one_action(signed_in: Any, size: str) -> None:
    app, vendor, page = signed_in(size)
    bot = new_bot()
    seed(vendor, bot, 24)
    page.goto(f"{app.url}/?chatbot={bot}")
    rows = page.locator("#leads .item")
    assert rows.count() == 24
    for n in range(20):
        rows.nth(n).locator("label.pick").click()
    assert page.locator("[data-picked]").inner_text() == "20 selected"  # at either size
    shot(page, f"{size}-bulk-selected")
    page.click("button[name=action][value=archived]")
    page.wait_for_selector("text=20 leads archived.")
    assert page.url == f"{app.url}/?chatbot={bot}"
    assert page.locator("#leads .item").count() == 4
    assert app.scalar("SELECT count(*) FROM lead WHERE status = 'archived'") == 20
    shot(page, f"{size}-bulk-archived")
    assert page.errors == []


def test_the_keyboard_moves_selects_and_archives(signed_in: Any) -> None:
    app, vendor, page = signed_in("laptop")
    bot = new_bot()
    seed(vendor, bot, 6)
    page.goto(f"{app.url}/?chatbot={bot}")
    rows = page.locator("#leads .item")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert "is-focused" in (rows.nth(1).get_attribute("class") or "")
    assert page.locator("#leads .is-focused").count() == 1
    page.keyboard.press("x")
    assert rows.nth(1).locator("input[name=lead]").is_checked()
    second = int(rows.nth(1).get_attribute("data-lead-id"))
    page.keyboard.press("?")
    assert page.locator("dialog#keys").is_visible()
    shot(page, "laptop-keys")
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("x")  # typed into the search field, not a command
    assert page.input_value("form.search input[name=q]") == "x"
    page.locator("h1").click()
    page.keyboard.press("e")
    page.wait_for_selector("text=1 lead archived.")
    assert app.scalar(f"SELECT status FROM lead WHERE id = {second}") == "archived"
    assert page.locator("#leads .item").count() == 5
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url("**/leads/*")
    assert page.errors == []


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_a_lead_posted_while_the_inbox_is_open_appears_by_itself(signed_in: Any, size: str) -> None:
    app, vendor, page = signed_in(size)
    seed(vendor, new_bot(), 2)
    page.goto(f"{app.url}/")
    assert page.title().startswith("(2) Inbox")
    assert vendor.post(lead(FirstName="Livia", LastName="Arrives")).status_code == 200
    page.wait_for_selector("#leads .item:first-child:has-text('Livia Arrives')", timeout=5000)
    page.wait_for_function("() => document.title.startsWith('(3) Inbox')", timeout=5000)
    assert page.locator(".tabs .badge").inner_text() == "3"
    assert page.locator("#leads .item").count() == 3
    assert page.url == f"{app.url}/"  # no navigation
    shot(page, f"{size}-live")
    assert page.errors == []


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_back_from_a_lead_keeps_the_filter_and_the_scroll(signed_in: Any, size: str) -> None:
    app, vendor, page = signed_in(size)
    bot = new_bot()
    seed(vendor, bot, 40)
    seed(vendor, new_bot(), 3)
    listing = f"{app.url}/?chatbot={bot}&status=all"
    page.goto(listing)

    def the_list(url: str) -> bool:  # the same list, its parameters in any order
        return urlsplit(url).path == "/" and parse_qs(urlsplit(url).query) == {
            "chatbot": [bot],
            "status": ["all"],
        }

    row = page.locator("#leads .item").nth(30)
    row.scroll_into_view_if_needed()
    page.mouse.wheel(0, 120)
    page.wait_for_function("() => window.scrollY > 300")
    row.locator("a.item-link").click()
    page.wait_for_url("**/leads/*")
    # Where the list was when the lead was opened (a wheel scroll may still have been moving
    # when the test last looked, and the click scrolls the row into view first).
    before = page.evaluate("JSON.parse(sessionStorage.getItem('inbox-scroll')).y")
    assert before > 300
    assert page.locator("[rel=prev]").count() == 1 and page.locator("[rel=next]").count() == 1
    shot(page, f"{size}-lead-nav")
    page.click("text=← Leads")
    page.wait_for_url(the_list)
    page.wait_for_function(f"() => Math.abs(window.scrollY - {before}) < 4")
    assert page.locator("#leads .item").count() == 40  # the filter, not every lead
    page.go_back()  # and the browser's own back to the lead, then back again
    page.wait_for_url("**/leads/*")
    page.go_back()
    page.wait_for_url(the_list)
    page.wait_for_function(f"() => Math.abs(window.scrollY - {before}) < 4")
    assert page.errors == []
