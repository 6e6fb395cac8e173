"""Settings → Notifications as a browser uses it: its forms posted with the page's CSRF token,
redirects followed, one target's entry read out of the page, its row read from the database."""

from __future__ import annotations

import html
import re

import httpx
from servers import AppProcess, InboxClient

PAGE = "/settings/notifications"
FieldValue = str | list[str]


def submit(browser: InboxClient, path: str, fields: dict[str, FieldValue]) -> httpx.Response:
    """Post a form with the CSRF token taken from the page, as a browser would."""
    token = browser.csrf(PAGE)
    return browser.client.post(path, data={"csrf_token": token, **fields})


def follow(browser: InboxClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    return browser.get(answer.headers["location"]).text


def target_row(app: AppProcess, key: str) -> dict[str, object]:
    rows = app.query("SELECT * FROM notify_target WHERE key = ?", (key,))
    return dict(rows[0]) if rows else {}


def section(page: str, key: str) -> str:
    """The HTML of one target's list entry."""
    found = re.search(
        rf'<li class="target[^"]*" id="target-{re.escape(key)}">(.*?)</li>', page, re.S
    )
    assert found, f"target {key} not on the page"
    return found.group(1)


def results(page: str) -> list[str]:
    """The HTML of each test result shown on the page."""
    return re.findall(r'<li class="result">(.*?)</li>', page, re.S)


def hidden_fields(form_html: str) -> dict[str, list[str]]:
    """A form's hidden inputs, as the browser would post them."""
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form_html):
        found.setdefault(name, []).append(html.unescape(value))
    return found
