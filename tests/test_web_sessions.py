"""Sessions that end: a copied session cookie stops working after sign-out, after a new password,
and once nobody has used it for ``SESSION_IDLE_HOURS``; while it is used, it lives on.

"Copied" means the cookie's value taken out of the browser and replayed by someone else (a
shared computer, a synced profile, a stolen backup): the browser itself forgetting its cookie
proves nothing, so every check below replays the value as it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx
from conftest import INBOX_PASSWORD, AppProcess, InboxClient, claim, inbox_client

COOKIE = "inbox_session"
IDLE_HOURS = 0.001  # 3.6 seconds: long enough not to end between two requests, short to wait


def replay(app: AppProcess, cookie: str, path: str = "/status") -> int:
    """The status of ``path`` for someone holding a copy of ``cookie`` (never updated)."""
    return httpx.get(f"{app.url}{path}", cookies={COOKIE: cookie}, timeout=30).status_code


def copy_of(browser: InboxClient) -> str:
    assert browser.get("/status").status_code == 200  # the copy is of a live session
    return browser.client.cookies[COOKIE]


def test_sign_out_ends_every_copy_of_the_session(make_app: Callable[..., AppProcess]) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    browser = inbox_client(app)
    other_device = inbox_client(app)
    copied = copy_of(browser)
    assert replay(app, copied) == 200

    signed_out = browser.post("/logout")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert replay(app, copied) == 303
    assert "Signed out, on every device" in browser.get("/login").text
    assert other_device.get("/status").status_code == 303  # sign-out means every session
    assert browser.get("/status").status_code == 303

    # Signing in again works, and the old copy stays dead across a restart.
    again = inbox_client(app)
    assert again.get("/status").status_code == 200
    app.restart()
    assert replay(app, copied) == 303
    assert again.get("/status").status_code == 200


def test_a_new_password_ends_every_copy_but_keeps_the_browser_that_chose_it(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app()
    browser, answer = claim(app, password="first password")  # a password in the database
    assert answer.status_code == 303
    other_device = inbox_client(app, signed_in=False)
    assert other_device.sign_in(password="first password").status_code == 303
    copied, other_copy = copy_of(browser), copy_of(other_device)

    form = {"current": "first password", "password": "second password"}
    changed = browser.post("/account/password", {**form, "confirm": "second password"})
    assert changed.status_code == 303
    assert browser.get("/status").status_code == 200  # the one who changed it stays in
    assert replay(app, browser.client.cookies[COOKIE]) == 200
    assert replay(app, copied) == 303
    assert replay(app, other_copy) == 303
    assert other_device.get("/status").status_code == 303


def test_a_session_nobody_uses_ends_after_the_idle_time(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, SESSION_IDLE_HOURS=str(IDLE_HOURS))
    idle = IDLE_HOURS * 3600
    browser = inbox_client(app)

    # Used more often than the idle time, over longer than the idle time: it lives on.
    started = time.monotonic()
    while time.monotonic() - started < 1.5 * idle:
        assert browser.get("/status").status_code == 200
        time.sleep(idle / 6)

    # A copy nobody refreshes ends once it has been idle that long: not before (less the
    # second the signature's clock is truncated to), and not long after.
    copied = copy_of(browser)
    copied_at = time.monotonic()
    while replay(app, copied) == 200:
        assert time.monotonic() - copied_at < idle + 5, "the idle session never ended"
        time.sleep(0.1)
    assert time.monotonic() - copied_at > idle - 1
    assert browser.get("/status").status_code == 303  # the browser was idle just as long
    # Signing in again works; the browser is told to drop the cookie when it would end anyway.
    answer = inbox_client(app).get("/status")
    assert answer.status_code == 200
    assert f"max-age={math.ceil(idle)}" in answer.headers["set-cookie"].lower()
