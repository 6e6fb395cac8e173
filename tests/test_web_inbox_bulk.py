"""Bulk triage on the inbox, over HTTP against the real server: one POST changes a selection or
everything a filter matches, "Mark all seen" clears the badge, and every form is CSRF-checked
and answered with a redirect back to the same list."""

from __future__ import annotations

import re

import httpx
from conftest import InboxClient
from inbox_triage import lead, listed_ids, new_bot, post, seed
from vendor import HelloClientFake


def statuses(inbox: InboxClient, bot: str) -> dict[str, int]:
    rows = inbox.app.query(
        "SELECT status, count(*) FROM lead WHERE serial_number = ? GROUP BY status", (bot,)
    )
    return {row[0]: row[1] for row in rows}


def badge(html: str) -> int:
    found = re.search(r'<span class="badge" title="(\d+) new">', html)
    return int(found.group(1)) if found else 0


def test_twenty_leads_archived_in_one_post_back_to_the_same_list(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    seed(inbox_vendor, bot, 25)
    listed = listed_ids(inbox.get(f"/?chatbot={bot}").text)
    assert len(listed) == 25
    chosen = listed[:20]
    answer = inbox.post(
        "/leads/bulk",
        {"action": "archived", "list": f"chatbot={bot}", "lead": [str(i) for i in chosen]},  # type: ignore[dict-item]
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/?chatbot={bot}"
    assert statuses(inbox, bot) == {"archived": 20, "new": 5}
    archived = {row[0] for row in inbox.app.query("SELECT id FROM lead WHERE status='archived'")}
    assert set(chosen) <= archived
    page = inbox.get(answer.headers["location"]).text
    assert "20 leads archived." in page
    assert set(listed_ids(page)) == set(listed[20:])  # the active list, as it was left
    assert "20 leads archived." not in inbox.get(f"/?chatbot={bot}").text  # said once (PRG)


def test_all_matching_the_filter_reruns_it_on_the_server(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot, other = new_bot(), new_bot()
    seed(inbox_vendor, bot, 60, Content="a kitchen window")
    seed(inbox_vendor, bot, 3, Content="a roof tile")
    seed(inbox_vendor, other, 4, Content="a kitchen window")
    page = inbox.get(f"/?chatbot={bot}&q=kitchen").text
    assert len(listed_ids(page)) == 50  # one page shown of the 60
    assert "All 60 matching" in page
    answer = inbox.post(
        "/leads/bulk",
        {"action": "done", "scope": "matching", "list": f"chatbot={bot}&q=kitchen"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/?chatbot={bot}&q=kitchen"
    assert "60 leads marked done." in inbox.get(answer.headers["location"]).text
    assert statuses(inbox, bot) == {"done": 60, "new": 3}  # the roof tiles did not match
    assert statuses(inbox, other) == {"new": 4}  # another chatbot's kitchens neither
    contacted = inbox.app.scalar(
        "SELECT count(*) FROM lead WHERE serial_number = ? AND contacted_at IS NOT NULL", (bot,)
    )
    assert contacted == 60  # done counts as contacted for Insights, as on a lead's page
    back = inbox.post(
        "/leads/bulk", {"action": "new", "scope": "matching", "list": f"chatbot={bot}&status=done"}
    )
    assert "60 leads back to new." in inbox.get(back.headers["location"]).text
    assert statuses(inbox, bot) == {"new": 63}


def test_mark_all_seen_clears_the_badge_and_opening_a_lead_sees_it(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    seed(inbox_vendor, bot, 3)
    page = inbox.get("/").text
    assert badge(page) >= 3
    assert re.search(r"<title>\(\d+\) Inbox", page)
    answer = inbox.post("/leads/bulk", {"action": "seen", "scope": "unseen", "list": "type=lead"})
    assert answer.headers["location"] == "/?type=lead"
    page = inbox.get(answer.headers["location"]).text
    assert re.search(r"\d+ leads? marked seen\.", page)
    assert badge(page) == 0 and "<title>Inbox" in page and "Nothing new" in page
    assert statuses(inbox, bot) == {"new": 3}  # seen is not contacted: the status stays

    fresh = post(inbox_vendor, lead(SerialNumber=bot))
    page = inbox.get("/").text
    assert badge(page) == 1 and "<title>(1) Inbox" in page
    ident = inbox.app.scalar("SELECT id FROM lead WHERE session_id = ?", (fresh["SessionID"],))
    assert f'class="item is-new is-unseen" data-lead-id="{ident}"' in page
    inbox.get(f"/leads/{ident}")
    page = inbox.get("/").text
    assert badge(page) == 0
    assert f'class="item is-new" data-lead-id="{ident}"' in page


def test_a_bulk_post_without_the_csrf_token_changes_nothing(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    seed(inbox_vendor, bot, 2)
    ids = [str(i) for i in listed_ids(inbox.get(f"/?chatbot={bot}").text)]
    form = {"action": "archived", "list": "", "lead": ids}
    refused = inbox.client.post("/leads/bulk", data=form)
    assert refused.status_code == 403
    foreign = httpx.post(f"{inbox.app.url}/leads/bulk", data=form)  # not signed in either
    assert foreign.status_code in (303, 401, 403)
    assert statuses(inbox, bot) == {"new": 2}


def test_bad_bulk_input_is_refused_and_an_empty_selection_says_so(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = new_bot()
    seed(inbox_vendor, bot, 1)
    for form in (
        {"action": "delete", "list": "", "lead": "1"},
        {"action": "archived", "list": "", "lead": "one"},
        {"action": "archived", "list": "", "lead": "-4"},
        {"action": "archived", "list": "", "scope": "everything"},
        {"action": "archived", "list": "type=spam", "scope": "matching"},
    ):
        answer = inbox.post("/leads/bulk", form)
        assert answer.status_code == 400, form
        assert "<html" in answer.text
    too_many = {"action": "done", "list": "", "lead": [str(n) for n in range(1, 502)]}
    assert inbox.post("/leads/bulk", too_many).status_code == 400  # type: ignore[arg-type]
    empty = inbox.post("/leads/bulk", {"action": "archived", "list": f"chatbot={bot}"})
    assert empty.status_code == 303
    assert "Nothing was selected." in inbox.get(empty.headers["location"]).text
    assert statuses(inbox, bot) == {"new": 1}
