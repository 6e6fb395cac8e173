"""Every page in a real headless Chromium at 390 x 844 and 1280 x 800, on an inbox seeded as
the issue's tester had it (300 leads, a chat-log push of 20 chatbots x 50 conversations).

Each page is saved as tests/artifacts/<page>-<width>.png for a person to look at, and measured:
every input, select and textarea at 16 px or more (iOS zooms into smaller ones), no card
touching the one above it, buttons, nav links, chips and checkbox labels at least 44 px tall on
a phone, no sideways scrolling on a phone, and 8 or more leads in the first phone screen. The
web manifest is read as a browser reads it, and its icons must load as PNGs of the sizes it
states; offline, the installed app shows its offline page (the service worker's one job).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browsers import ARTIFACTS, open_page, sign_in
from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess, MakeApp, png_size
from nodejs import NodeJSON
from page_seed import seed
from vendor import HelloClientFake

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
MIN_FONT_PX = 16
MIN_TOUCH_PX = 44
MIN_ROWS_ON_PHONE = 8

# (artifact name, path); a path found on the page before (the newest lead, the target's edit
# page) is the first link matching a selector there.
PAGES = [
    ("inbox", "/"),
    ("inbox-filtered", "/?status=all&q=Garcia"),
    ("lead", "#leads a[href^='/leads/']"),
    ("chats", "/conversations"),
    ("chat-day", "/conversations/1"),
    ("session", "/sessions/1"),
    ("deliveries", "/deliveries"),
    ("delivery", "/deliveries/1"),
    ("status", "/status"),
    ("notifications", "/settings/notifications"),
    ("notification-edit", "a[href^='/settings/notifications/edit']"),
    ("forwarding", "/settings/forwarding"),
    ("insights", "/insights"),
    ("settings", "/settings"),  # built by another part of this change: shot when it exists
    ("welcome", "/welcome"),
]
OPTIONAL = {"settings", "welcome"}

# Measured in the page: what iOS would zoom into, what a thumb cannot hit, what spills sideways.
MEASURE = """([minFont, minTouch, phone]) => {
  const problems = [];
  const shown = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => el.outerHTML.slice(0, 90);
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < minFont) problems.push(`font ${size}px: ${name(el)}`);
  }
  const cards = [...document.querySelectorAll(".card")].filter(shown)
    .map((el) => el.getBoundingClientRect());
  for (const a of cards) for (const b of cards) {
    const sideBySide = a.right <= b.left || b.right <= a.left;
    const gap = b.top - a.bottom;
    if (!sideBySide && gap >= 0 && gap < 4) problems.push(`cards touch at y=${Math.round(b.top)}`);
  }
  if (phone) {
    const targets = "button, a.button, input[type=submit], .tabs a, .segments a, label.check, " +
      ".pager a, .crumbs a, summary";
    for (const el of document.querySelectorAll(targets)) {
      if (!shown(el)) continue;
      const height = el.getBoundingClientRect().height;
      if (height < minTouch - 0.5) problems.push(`target ${height.toFixed(1)}px: ${name(el)}`);
    }
    const width = document.scrollingElement.scrollWidth;
    if (width > innerWidth) problems.push(`page scrolls sideways: ${width}px`);
  }
  return problems;
}"""

ROWS_IN_FIRST_SCREEN = """() => {
  const rows = document.querySelectorAll("#leads [data-lead-id], #leads > .item");
  return [...rows].filter((row) => {
    const box = row.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= innerHeight && box.height > 0;
  }).length;
}"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, node_json: NodeJSON) -> Iterator[AppProcess]:
    env = {
        "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "INBOX_PASSWORD": INBOX_PASSWORD,
        "TZ": "Europe/Berlin",
    }
    app = AppProcess(tmp_path_factory.mktemp("pages") / "data", env).start()
    seed(app, HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json))
    yield app
    app.stop()


def add_notification_target(page: Any, url: str) -> None:
    """A target makes the notifications page show its buttons (and gives it an edit page)."""
    page.goto(f"{url}/settings/notifications")
    if page.locator(".target").count():
        return
    opener = page.locator("#add details:has(input[name=url]) > summary")  # if folded away
    if opener.count():
        opener.first.click()
    form = page.locator("#add form:has(input[name=url])").last
    form.locator("input[name=url]").fill("json://127.0.0.1:9/inbox")
    form.locator("input[name=name]").fill("My phone")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".target")


def shoot(page: Any, name: str, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)


def visit_every_page(browser: Any, app: AppProcess, viewport: dict[str, int]) -> list[str]:
    """Shoot and measure each page; what is wrong, as lines (one list for all pages)."""
    width, phone = viewport["width"], viewport["width"] < 640
    context, page, errors = open_page(browser, viewport)
    problems: list[str] = []

    def check(name: str) -> None:
        shoot(page, name, width)
        found = page.evaluate(MEASURE, [MIN_FONT_PX, MIN_TOUCH_PX, phone])
        problems.extend(f"{name}: {problem}" for problem in found)

    page.goto(f"{app.url}/login")
    check("login")
    sign_in(page, app.url)
    add_notification_target(page, app.url)
    for name, path in PAGES:
        if not path.startswith("/"):
            path = page.locator(path).first.get_attribute("href")
        seen = len(errors)
        answer = page.goto(f"{app.url}{path}")
        assert answer is not None
        if name in OPTIONAL and answer.status == 404:
            del errors[seen:]  # the browser logs the 404 itself
            continue
        assert answer.ok, (name, answer.status)
        check(name)
    context.close()
    return problems + [f"console: {error}" for error in errors]


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390", "1280"])
def test_every_page_is_shot_and_fits(
    browser: Any, seeded: AppProcess, viewport: dict[str, int]
) -> None:
    problems = visit_every_page(browser, seeded, viewport)
    assert not problems, "\n".join(problems)


def test_eight_leads_fill_the_first_phone_screen(browser: Any, seeded: AppProcess) -> None:
    context, page, _ = open_page(browser, PHONE)
    sign_in(page, seeded.url)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "inbox-first-screen-390.png")  # what the count saw
    rows = page.evaluate(ROWS_IN_FIRST_SCREEN)
    assert rows >= MIN_ROWS_ON_PHONE, f"{rows} leads fully visible in the first 844 px"
    # Numbers never wrap: each phone number sits on one line.
    heights = page.evaluate(
        """() => [...document.querySelectorAll('#leads .phone')].slice(0, 20).map((el) => {
             const style = getComputedStyle(el);
             return [el.getBoundingClientRect().height, parseFloat(style.lineHeight)];
           })"""
    )
    assert heights, "no phone numbers marked with class 'phone' in the list"
    assert all(height <= line + 1 for height, line in heights), heights
    context.close()


def test_dark_phone_inbox_and_lead_are_shot(browser: Any, seeded: AppProcess) -> None:
    context, page, _ = open_page(browser, PHONE, color_scheme="dark")
    sign_in(page, seeded.url)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 19, 24)"  # --bg in the dark scheme
    shoot(page, "inbox-dark", PHONE["width"])
    page.click("#leads a[href^='/leads/']")
    page.wait_for_url("**/leads/*")
    shoot(page, "lead-dark", PHONE["width"])
    context.close()


def test_setup_page_is_shot_and_fits(browser: Any, make_app: MakeApp) -> None:
    app = make_app()  # no password yet: the first-run page
    problems = []
    for viewport in (PHONE, LAPTOP):
        context, page, _ = open_page(browser, viewport)
        page.goto(f"{app.url}/")
        page.wait_for_url("**/setup*")
        shoot(page, "setup", viewport["width"])
        phone = viewport is PHONE
        problems += page.evaluate(MEASURE, [MIN_FONT_PX, MIN_TOUCH_PX, phone])
        context.close()
    assert not problems, "\n".join(problems)


def test_the_browser_finds_the_manifest_and_its_icons(browser: Any, seeded: AppProcess) -> None:
    context, page, _ = open_page(browser, PHONE)
    page.goto(f"{seeded.url}/login")  # signed out: the manifest must not need a session
    href = page.locator("link[rel=manifest]").get_attribute("href")
    manifest = page.evaluate("(href) => fetch(href).then((r) => r.json())", href)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    purposes: dict[str, set[str]] = {}
    for icon in manifest["icons"]:
        if icon["type"] != "image/png":
            continue
        answer = context.request.get(f"{seeded.url}{icon['src']}")
        assert answer.ok and answer.headers["content-type"] == "image/png", icon
        width, height = png_size(answer.body())
        assert icon["sizes"] == f"{width}x{height}", icon
        purposes.setdefault(icon["purpose"], set()).add(icon["sizes"])
    assert {"192x192", "512x512"} <= purposes["any"]
    assert purposes["maskable"]
    touch = page.locator("link[rel=apple-touch-icon]").get_attribute("href")
    assert png_size(context.request.get(f"{seeded.url}{touch}").body()) == (180, 180)
    colours = page.locator("meta[name=theme-color]")
    assert colours.count() == 2
    media = {colours.nth(i).get_attribute("media") for i in range(2)}
    assert media == {"(prefers-color-scheme: light)", "(prefers-color-scheme: dark)"}
    context.close()


def test_offline_the_installed_app_shows_the_offline_page(browser: Any, seeded: AppProcess) -> None:
    context, page, _ = open_page(browser, PHONE)
    sign_in(page, seeded.url)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    cached = page.evaluate(
        """() => caches.keys().then((names) => Promise.all(names.map((n) =>
             caches.open(n).then((c) => c.keys()).then((ks) => ks.map((k) => k.url))))).then(
             (lists) => lists.flat().map((u) => new URL(u).pathname).sort())"""
    )
    assert cached == ["/static/app.css", "/static/icon.svg", "/static/offline.html"]
    context.set_offline(True)
    page.goto(f"{seeded.url}/conversations")
    assert page.locator("#offline h1").inner_text() == "You are offline"
    shoot(page, "offline", PHONE["width"])
    context.set_offline(False)
    page.goto(f"{seeded.url}/conversations")
    assert page.locator("#offline").count() == 0
    context.close()
