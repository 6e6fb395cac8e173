"""Issue 12's path in a real headless Chromium: set up from the browser, nothing stranded.

The server starts with nothing but DATA_DIR (and where to listen). A person claims it with the
setup code from the log, adds a phone notification (a local json:// endpoint) in the UI;
Hello Client, already sending, signs a lead with a Sign Key this inbox does not know yet
(refused and quarantined); the person enters that key under Settings, and the lead is in the
inbox and its notification at the phone: no restart, no manual accept.

Without Chromium this skips on a developer's machine and fails in CI (``CI`` or
``REQUIRE_BROWSER`` set), as tests/test_browser.py does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsers import ARTIFACTS, open_page
from conftest import AppProcess, JsonSink
from nodejs import NodeJSON
from vendor import HelloClientFake

from app import shapes

SIGN_KEY = "whsec_9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60"  # what Hello Client would show
PASSWORD = "a long admin password"


@pytest.fixture
def bare_app(tmp_path: Path) -> Iterator[AppProcess]:
    """Nothing but DATA_DIR (AppProcess adds HOST and PORT, and drops any app variable)."""
    app = AppProcess(tmp_path / "data", {}).start()
    yield app
    app.stop()


def test_a_lead_sent_before_the_key_was_entered_reaches_inbox_and_phone(
    browser: Any, bare_app: AppProcess, json_sink: JsonSink, node_json: NodeJSON
) -> None:
    app = bare_app
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, errors = open_page(browser, {"width": 1280, "height": 900})

    def shot(name: str) -> None:
        page.screenshot(path=ARTIFACTS / f"setup-keys-{name}.png", full_page=True)

    # Claim the appliance with the code from the log.
    page.goto(f"{app.url}/setup")
    page.get_by_label("Setup code").fill(app.setup_code())
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Save and sign in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url and "/setup" not in page.url

    # The phone: a notification target entered in the UI (no APPRISE_URLS).
    page.goto(f"{app.url}/settings/notifications")
    page.get_by_text("Any other service: Apprise URL").click()
    form = page.locator("#add-url form.stack")
    form.get_by_label("Apprise URL").fill(json_sink.url())
    form.locator("input[name=name]").fill("My phone")
    form.get_by_role("button", name="Add target").click()
    page.wait_for_load_state()
    assert "My phone" in page.content()

    # Hello Client is already sending, signed with a key this inbox does not know yet.
    hello = HelloClientFake(f"{app.url}/webhook", SIGN_KEY, node_json)
    lead = {**shapes.sample_lead(), "FirstName": "Rosa", "LastName": "Stranded", "SessionID": 7}
    refused = hello.post(lead)
    assert refused.status_code == 503
    assert "add the Sign Key" in refused.json()["error"]
    assert app.scalar("SELECT outcome FROM delivery") == "quarantined"
    assert app.scalar("SELECT count(*) FROM lead") == 0

    # Enter it under Settings, where the menu leads.
    page.goto(f"{app.url}/")
    page.locator("nav.tabs a", has_text="Settings").click()
    page.wait_for_url(f"{app.url}/settings")
    assert "1 signed delivery waits" in page.content()
    shot("1-before")
    page.get_by_label("Sign Key", exact=True).fill(SIGN_KEY)
    page.get_by_label("Label").fill("Hello Client")
    page.get_by_role("button", name="Add Sign Key").click()
    page.wait_for_url(f"{app.url}/settings")
    flash = page.locator(".flash").first.inner_text()
    assert "1 quarantined delivery was verified with it and accepted" in flash
    assert SIGN_KEY not in page.content()  # shown only by its fingerprint
    assert "Last matched" in page.content()
    shot("2-key-added")

    # The lead is in the inbox, and its notification reached the phone.
    page.goto(f"{app.url}/")
    assert page.locator("text=Rosa Stranded").count() >= 1
    shot("3-inbox")
    notified = json_sink.wait(1, timeout=30)
    assert "Rosa" in str(notified[0])
    page.goto(f"{app.url}/deliveries/1")
    assert "accepted from quarantine (Sign Key “Hello Client”)" in page.content()
    shot("4-delivery")

    # No restart happened, and no accept by hand: the very process, the key's own verdict.
    assert app.proc is not None and app.proc.poll() is None
    assert app.scalar("SELECT accepted_by FROM delivery WHERE id = 1") == "Sign Key “Hello Client”"
    started = time.monotonic()
    assert hello.post({**lead, "SessionID": 8}).status_code == 200  # and the next one verifies
    assert time.monotonic() - started < 10
    context.close()
    assert errors == []
