"""The Insights page against a real server: with no data, one lead, and 10,000 leads over a
year (bulk-inserted into the server's own SQLite file before it starts: test data, not a mock),
its numbers checked against direct SQL counts, and screenshots at 390 px and 1280 px, light and
dark, in headless Chromium (tests/artifacts/insights-*.png, for a person to look at).
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browsers import ARTIFACTS
from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess, InboxClient, inbox_client
from vendor import HelloClientFake

from app import shapes

TZ = "America/New_York"
ENV = {"WEBHOOK_SIGNING_KEY": SIGNING_KEY, "INBOX_PASSWORD": INBOX_PASSWORD, "TZ": TZ}
BOTS = {f"{n:032x}": name for n, name in ((1, "Roofing"), (2, "Kitchens"), (3, ""))}
FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite
ROW = re.compile(r'<tr><th scope="row">([^<]*)</th>((?:<td[^>]*>[^<]*</td>)+)</tr>')
CELL = re.compile(r"<td[^>]*>([^<]*)</td>")


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section class="card chart" id="{section_id}".*?</section>', html, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


def table_rows(html: str) -> dict[str, list[str]]:
    return {label: CELL.findall(cells) for label, cells in ROW.findall(html)}


def strong(html: str, element_id: str) -> str:
    found = re.search(rf'<strong id="{element_id}">([^<]*)</strong>', html)
    assert found, element_id
    return found.group(1)


# ---- screenshots in Chromium ---------------------------------------------------------------


def screenshots(browser: Any, inbox: InboxClient, path: str, name: str) -> None:
    """390 px and 1280 px, light and dark; the charts must have loaded and fit the page."""
    ARTIFACTS.mkdir(exist_ok=True)
    cookies = [
        {"name": c.name, "value": c.value or "", "url": inbox.app.url}
        for c in inbox.client.cookies.jar
    ]
    for width, height in ((390, 844), (1280, 800)):
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport={"width": width, "height": height}, color_scheme=scheme
            )
            context.add_cookies(cookies)
            page = context.new_page()
            page.goto(inbox.app.url + path)
            assert page.title().startswith("Insights")
            images = page.eval_on_selector_all(
                ".chart img", "els => els.map(e => [e.complete, e.naturalWidth, e.clientWidth])"
            )
            assert images and all(done and natural > 0 for done, natural, _ in images)
            assert all(shown <= width for _, _, shown in images)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"the page scrolls sideways at {width} px"
            page.screenshot(
                path=ARTIFACTS / f"insights-{name}-{width}-{scheme}.png", full_page=True
            )
            context.close()


# ---- no data, one lead ------------------------------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[AppProcess]:
    app = AppProcess(tmp_path / "data", ENV).start()
    yield app
    app.stop()


def test_no_data(fresh: AppProcess, browser: Any) -> None:
    inbox = inbox_client(fresh)
    html = inbox.get("/insights").text
    assert 'href="/insights" class="active"' in html
    for element in ("total-leads", "total-appointments", "total-conversations"):
        assert strong(html, element) == "0"
    assert strong(html, "median-contact") == "—"
    assert "No chat logs in these days yet" in html
    assert inbox.get("/insights?days=7").status_code == 400
    assert inbox.get("/insights?days=abc").status_code == 400
    screenshots(browser, inbox, "/insights", "empty")


def test_one_lead_then_contacted(fresh: AppProcess, browser: Any, node_json: Any) -> None:
    vendor = HelloClientFake(f"{fresh.url}/webhook", SIGNING_KEY, node_json)
    made = datetime.now(UTC) - timedelta(hours=2)
    payload = shapes.sample_lead(now=made)
    assert vendor.post(payload).status_code == 200
    inbox = inbox_client(fresh)
    html = inbox.get("/insights").text
    assert strong(html, "total-leads") == "1"
    local = datetime.fromisoformat(str(fresh.scalar("SELECT created_at FROM lead"))).replace(
        tzinfo=UTC
    )
    local = local.astimezone(ZoneInfo(TZ))
    hours = table_rows(section(html, "hours"))
    assert hours[f"{local.hour:02d}:00"][local.weekday()] == "1"
    assert sum(int(v) for row in hours.values() for v in row) == 1
    day = f"{local:%a} {local.day} {local:%b %Y}"
    assert table_rows(section(html, "chart-1"))[day][-1] == "1"
    lead_id = fresh.scalar("SELECT id FROM lead")
    inbox.post(f"/leads/{lead_id}/status", {"status": "contacted"})
    assert fresh.scalar("SELECT contacted_at IS NOT NULL FROM lead")
    html = inbox.get("/insights").text
    assert strong(html, "median-contact") != "—"
    assert "(1 lead)" in html
    screenshots(browser, inbox, "/insights", "one")


# ---- 10,000 leads over a year ---------------------------------------------------------------


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    app = AppProcess(tmp_path_factory.mktemp("year") / "data", ENV).start()  # migrations
    app.stop()
    fill(app.db_path, 10_000)
    app.start()
    yield app
    app.stop()


def fill(db: Path, count: int) -> None:
    rng = random.Random(15)
    now = datetime.now(UTC)
    connection = sqlite3.connect(db)
    with connection:
        for serial, name in BOTS.items():
            connection.execute(
                "INSERT INTO chatbot (serial_number, name, first_seen_at, last_seen_at)"
                " VALUES (?, ?, ?, ?)",
                (serial, name, now.strftime(FORMAT), now.strftime(FORMAT)),
            )
        rows = []
        for n in range(count):
            made = now - timedelta(seconds=rng.randrange(365 * 86400))
            kind = rng.choice(("Lead", "Lead", "Lead", "Appointment"))
            stamp = made.strftime(FORMAT)
            serial = rng.choice(list(BOTS))
            raw = made.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows.append((serial, kind, raw, stamp, 10_000 + n, stamp))
        connection.executemany(
            "INSERT INTO lead (serial_number, type, first_name, last_name, email, phone_number,"
            " create_time_raw, created_at, content, session_id, uri, status, received_at)"
            " VALUES (?, ?, 'A', 'B', '', '', ?, ?, '', ?, '', 'new', ?)",
            rows,
        )
        windows = []
        for days_ago in range(366):
            start = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0)
            for serial in BOTS:
                windows.append((serial, start.isoformat(), days_ago, start.strftime(FORMAT)))
        connection.executemany(
            "INSERT INTO chat_window (serial_number, name, start_time_raw, end_time_raw,"
            " start_time, received_at, conversation_count, message_count, complete)"
            " VALUES (?, '', ?, ?, ?, ?, 20, 0, 1)",
            [(s, raw, str(d), t, t) for s, raw, d, t in windows],
        )
    connection.close()


@pytest.mark.parametrize("days", [30, 90, 365])
def test_year_of_leads_matches_sql(year: AppProcess, days: int) -> None:
    inbox = inbox_client(year)
    html = inbox.get(f"/insights?days={days}").text
    tz = ZoneInfo(TZ)
    today = datetime.now(UTC).astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    per_day: Counter[tuple[str, str]] = Counter()  # (kind, local day label)
    per_hour: Counter[tuple[int, int]] = Counter()
    for kind, created in year.query("SELECT lower(type), created_at FROM lead"):
        local = datetime.fromisoformat(created).replace(tzinfo=UTC).astimezone(tz)
        if local.date() >= first:
            per_day[kind, f"{local:%a} {local.day} {local:%b %Y}"] += 1
            per_hour[local.weekday(), local.hour] += 1
    for chart, kind in (("chart-1", "lead"), ("chart-2", "appointment")):
        rows = table_rows(section(html, chart))
        assert len(rows) == days
        assert {label: int(v[-1]) for label, v in rows.items() if int(v[-1])} == {
            label: n for (k, label), n in per_day.items() if k == kind
        }
        # The chatbot columns add up to each day's total.
        assert all(sum(int(x) for x in v[:-1]) == int(v[-1]) for v in rows.values())
    total = sum(n for (k, _), n in per_day.items() if k == "lead")
    assert strong(html, "total-leads") == str(total)
    hours = table_rows(section(html, "hours"))
    for (weekday, hour), n in per_hour.items():
        assert hours[f"{hour:02d}:00"][weekday] == str(n)
    assert sum(int(v) for row in hours.values() for v in row) == sum(per_hour.values())
    # Chat days are the vendor's UTC days, shown for the same dates as the local ones: between
    # midnight UTC and local midnight, UTC's today is tomorrow here and not yet on the page.
    conversations = year.scalar(
        "SELECT sum(conversation_count) FROM chat_window"
        " WHERE date(start_time) >= ? AND date(start_time) <= ?",
        (first.isoformat(), today.isoformat()),
    )
    assert strong(html, "total-conversations") == str(conversations)
    rates = table_rows(section(html, "rates"))
    assert sum(int(v[1]) for v in rates.values()) == total
    for label, (chats, leads, _, rate) in rates.items():
        assert rate == f"{100 * int(leads) / int(chats):.1f}", label


def test_year_screenshots(year: AppProcess, browser: Any) -> None:
    inbox = inbox_client(year)
    for days in (30, 365):
        screenshots(browser, inbox, f"/insights?days={days}", f"year-{days}")
