"""Keeping one's place in the inbox, over HTTP against the real server: searches newest first
and counted, paging both ways with a total, chatbots in natural order, previous/next within the
list a lead was opened from, and the way back to that list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import quote

from conftest import InboxClient
from inbox_triage import lead, link, listed_ids, new_bot, post, seed
from vendor import HelloClientFake

DASH = "\N{EN DASH}"  # in the pager's "1-50 of 120"


def ident(inbox: InboxClient, payload: dict[str, object]) -> int:
    return int(
        inbox.app.scalar("SELECT id FROM lead WHERE session_id = ?", (payload["SessionID"],))
    )


def test_a_search_lists_newest_first_with_its_count(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    now = datetime.now(UTC)
    # Arriving in another order than they were made, as an import or a retry would.
    middle = post(inbox_vendor, lead(Content="quokka fence", when=now - timedelta(days=3)))
    oldest = post(inbox_vendor, lead(Content="quokka gate", when=now - timedelta(days=40)))
    newest = post(inbox_vendor, lead(Content="quokka roof", when=now - timedelta(hours=1)))
    post(inbox_vendor, lead(Content="wombat roof"))
    page = inbox.get("/?q=quokka").text
    assert listed_ids(page) == [ident(inbox, p) for p in (newest, middle, oldest)]
    assert "<strong>3</strong> results for “quokka”" in page
    assert "</strong> new" not in page  # the header counts the search, not the new leads
    assert f"1{DASH}3 of 3" in page
    one = inbox.get("/?q=wombat").text
    assert "<strong>1</strong> result for “wombat”" in one


def test_paging_newer_and_older_with_a_total(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    seed(inbox_vendor, bot, 120)
    first = inbox.get(f"/?chatbot={bot}").text
    assert f"1{DASH}50 of 120" in first
    assert link(first, "prev") is None and 'rel="prev"' not in first
    assert "data-live" in first  # the newest page is the live one
    second_url = link(first, "next")
    assert second_url
    second = inbox.get(second_url).text
    assert f"51{DASH}100 of 120" in second and "data-live" not in second
    third_url = link(second, "next")
    assert third_url
    third = inbox.get(third_url).text
    assert f"101{DASH}120 of 120" in third and link(third, "next") is None
    seen = listed_ids(first) + listed_ids(second) + listed_ids(third)
    assert len(seen) == len(set(seen)) == 120
    back_to_second = link(third, "prev")
    assert back_to_second and "newer=" in back_to_second
    again = inbox.get(back_to_second).text
    assert listed_ids(again) == listed_ids(second) and f"51{DASH}100 of 120" in again
    back_to_first = link(again, "prev")
    assert back_to_first
    top = inbox.get(back_to_first).text
    assert listed_ids(top) == listed_ids(first)
    assert link(top, "prev") is None and "data-live" in top
    assert inbox.get("/?newer=garbage").status_code == 400


def test_chatbots_are_listed_in_natural_order(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    names = {f"Zoo bot {n}": new_bot() for n in (10, 2, 1, 11, 3)}
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    windows = [
        {
            "SerialNumber": serial,
            "Name": name,
            "StartTime": f"{day}T00:00:00Z",
            "EndTime": f"{day}T23:59:59Z",
            "Conversations": [],
        }
        for name, serial in names.items()
    ]
    post(inbox_vendor, {"Collection": windows})
    page = unescape(inbox.get("/").text)
    shown = re.findall(r">(Zoo bot \d+)</option>", page)
    assert shown == ["Zoo bot 1", "Zoo bot 2", "Zoo bot 3", "Zoo bot 10", "Zoo bot 11"]


def test_previous_and_next_keep_to_the_list_and_back_returns_to_it(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    made = seed(inbox_vendor, bot, 5, Content="gutter")
    seed(inbox_vendor, bot, 2, Content="chimney")  # newer, but not in the searched list
    ids = [ident(inbox, p) for p in reversed(made)]  # newest first, as listed
    query = f"chatbot={bot}&q=gutter"
    listing = inbox.get(f"/?{query}").text
    assert listed_ids(listing) == ids
    href = f"/leads/{ids[2]}?from={quote(query, safe='')}"
    assert f'href="{href}" class="item-link"' in listing
    middle = inbox.get(href).text
    assert link(middle, "prev") == f"/leads/{ids[1]}?from={quote(query, safe='')}"
    assert link(middle, "next") == f"/leads/{ids[3]}?from={quote(query, safe='')}"
    back = re.search(r'<a href="([^"]+)" data-back-to-list>', middle)
    assert back and unescape(back.group(1)) == f"/?{query}"
    newest = inbox.get(f"/leads/{ids[0]}?from={quote(query)}").text
    assert link(newest, "prev") is None  # the chimneys are newer but not in this list
    oldest = inbox.get(f"/leads/{ids[-1]}?from={quote(query)}").text
    assert link(oldest, "next") is None
    for bad in ("//evil.example/x", "type=spam", "cursor=nonsense"):
        page = inbox.get(f"/leads/{ids[2]}", params={"from": bad}).text
        back = re.search(r'<a href="([^"]+)" data-back-to-list>', page)
        assert back and back.group(1) == "/", bad


def test_the_push_is_named_once_in_the_time_zone_and_only_while_ahead(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    recent = post(inbox_vendor, lead())
    page = inbox.get(f"/leads/{ident(inbox, recent)}").text
    said = re.search(r"comes with the daily chat-log push, after ([^.<]+)\.", page)
    assert said and "UTC" not in said.group(1)
    assert said.group(1).split()[1] in ("CET", "CEST")  # Europe/Berlin
    old = post(inbox_vendor, lead(when=datetime.now(UTC) - timedelta(days=30)))
    page = inbox.get(f"/leads/{ident(inbox, old)}").text
    assert "comes with the daily chat-log push" not in page
    assert "No chat log has brought this conversation." in page
