"""The inbox and a lead's page, driven over HTTP against the real server, fed by the vendor."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from conftest import AppProcess, InboxClient
from inbox_triage import lead, listed_ids, post
from spec_examples import SERIAL
from vendor import HelloClientFake


def lead_id(app: AppProcess, session_id: int) -> int:
    return int(app.scalar("SELECT id FROM lead WHERE session_id = ?", (session_id,)))


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_a_posted_lead_appears_newest_first_with_time_in_tz(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    before = inbox.get("/").text
    new_before = (
        int(re.search(r"<strong>(\d+)</strong> new", before).group(1))
        if ("</strong> new" in before)
        else 0
    )
    when = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)  # 12:30 in Berlin (summer time)
    bot = "00000000000000000000000000feed01"
    older = post(inbox_vendor, lead(FirstName="Olga", when=when, SerialNumber=bot))
    newer = post(inbox_vendor, lead(FirstName="Nina", Type="Appointment"))
    page = inbox.get("/")
    ids = listed_ids(page.text)
    first, second = lead_id(inbox.app, newer["SessionID"]), lead_id(inbox.app, older["SessionID"])
    assert ids.index(first) < ids.index(second)
    assert f"<strong>{new_before + 2}</strong> new" in page.text
    detail = inbox.get(f"/leads/{second}").text
    assert "Wed 1 Jul 2026, 12:30:00 CEST" in detail
    assert "Chatbot …feed01" in page.text  # a lead names no chatbot: its ID stands in


def test_filters_by_type_status_chatbot_date_and_search(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    other_bot = "ffff0000ffff0000ffff0000ffff0000"
    march = datetime(2025, 3, 15, 23, 30, tzinfo=UTC)  # 16 March, 00:30 in Berlin
    a = post(inbox_vendor, lead(FirstName="Quentin", Email="quentin@example.org", when=march))
    b = post(
        inbox_vendor,
        lead(
            FirstName="Rosa",
            Type="Appointment",
            SerialNumber=other_bot,
            Content="Tuesday 3pm for a haircut",
            PhoneNumber="+49 30 123456",
        ),
    )
    a_id, b_id = lead_id(inbox.app, a["SessionID"]), lead_id(inbox.app, b["SessionID"])

    def shown(query: str) -> set[int]:
        return set(listed_ids(inbox.get(f"/?{query}").text)) & {a_id, b_id}

    assert shown("") == {a_id, b_id}
    assert shown("type=appointment") == {b_id}
    assert shown("type=lead") == {a_id}
    assert shown(f"chatbot={other_bot}") == {b_id}
    assert shown("since=2025-03-16&until=2025-03-16") == {a_id}  # the day in TZ, not UTC
    assert shown("since=2025-03-15&until=2025-03-15") == set()
    assert shown("q=quentin") == {a_id}
    assert shown("q=quent") == {a_id}  # prefix, as one types
    assert shown("q=example.org") == {a_id}
    assert shown("q=haircut") == {b_id}
    assert shown("q=123456") == {b_id}
    assert shown("q=rosa+tuesday") == {b_id}
    assert shown('q="rosa" (haircut*') == {b_id}  # what people type is never query syntax
    assert inbox.get("/?q=NOT+OR+%22+(").status_code == 200
    inbox.post(f"/leads/{a_id}/status", {"status": "archived"})
    assert shown("") == {b_id}  # archived leave the default view
    assert shown("status=archived") == {a_id}
    assert shown("status=all") == {a_id, b_id}
    assert shown("status=new") == {b_id}
    assert inbox.get("/?type=spam").status_code == 400
    assert inbox.get("/?since=yesterday").status_code == 400


def test_keyset_pagination_walks_every_lead_once(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    bot = "abcdabcdabcdabcdabcdabcdabcdabcd"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    sessions = [
        post(inbox_vendor, lead(SerialNumber=bot, when=start + timedelta(minutes=n % 7)))[
            "SessionID"
        ]
        for n in range(57)  # equal times on purpose: the id breaks ties
    ]
    expected = {lead_id(inbox.app, s) for s in sessions}
    seen: list[int] = []
    url = f"/?chatbot={bot}"
    while url:
        page = inbox.get(url).text
        seen += listed_ids(page)
        found = re.search(r'href="(/\?[^"]*cursor=[^"]*)"[^>]*rel="next"', page)
        url = unescape(found.group(1)) if found else ""
    assert len(seen) == len(set(seen)) == 57
    assert set(seen) == expected
    assert inbox.get("/?cursor=garbage").status_code == 400


def test_item_shows_every_field_with_safe_links(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    payload = post(
        inbox_vendor,
        lead(
            FirstName="Ana",
            LastName="Souza",
            Email="ana@example.com",
            PhoneNumber="+1 (555) 010-0200",
            Content="Line one\nLine two",
            URI="https://shop.example.com/contact",
            Budget="€5000",
        ),
    )
    page = inbox.get(f"/leads/{lead_id(inbox.app, payload['SessionID'])}").text
    assert 'href="tel:+15550100200"' in page
    assert 'href="mailto:ana@example.com"' in page
    assert 'href="https://shop.example.com/contact"' in page
    for value in (
        "Ana",
        "Souza",
        "Line one\nLine two",
        str(payload["SessionID"]),
        SERIAL,
        payload["CreateTime"],
        "Budget",
        "€5000",
    ):
        assert value in unescape(page), value
    # Created now: the push after 02:00 UTC tomorrow brings the conversation, said once, in TZ.
    push = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0)
    local = push.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"comes with the daily chat-log push, after {local:%H:%M %Z} tomorrow." in page
    assert "UTC" not in text_of(page).split("Conversation")[1].split("Notes")[0]


def test_status_workflow_and_notes(inbox: InboxClient, inbox_vendor: HelloClientFake) -> None:
    payload = post(inbox_vendor, lead(FirstName="Walter"))
    ident = lead_id(inbox.app, payload["SessionID"])
    page = inbox.get(f"/leads/{ident}").text
    assert 'value="contacted">Mark contacted' in page
    for status, next_button in (
        ("contacted", "Mark done"),
        ("done", None),
        ("archived", None),
        ("new", "Mark contacted"),
    ):
        answer = inbox.post(f"/leads/{ident}/status", {"status": status})
        assert answer.status_code == 303
        assert inbox.app.scalar("SELECT status FROM lead WHERE id = ?", (ident,)) == status
        page = inbox.get(f"/leads/{ident}").text
        assert f"Marked {status}." in page
        if next_button:
            assert next_button in page
    assert inbox.post(f"/leads/{ident}/status", {"status": "deleted"}).status_code == 400
    assert inbox.post("/leads/99999999/status", {"status": "done"}).status_code == 404

    assert (
        inbox.post(f"/leads/{ident}/notes", {"body": "Called back,\nno answer"}).status_code == 303
    )
    assert inbox.post(f"/leads/{ident}/notes", {"body": "   "}).status_code == 303
    page = inbox.get(f"/leads/{ident}").text
    assert "Called back,\nno answer" in page
    assert inbox.app.scalar("SELECT count(*) FROM note WHERE lead_id = ?", (ident,)) == 1
    stamp = re.search(r'class="note-body">.*?<time datetime="([^"]+)"', page, re.S).group(1)
    assert stamp.endswith(("+01:00", "+02:00"))  # shown in Berlin time
    assert inbox.post(f"/leads/{ident}/notes", {"body": "x" * 10_001}).status_code == 400


def test_transcript_appears_after_the_chat_log_push(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    payload = post(inbox_vendor, lead(FirstName="Tina"))
    ident = lead_id(inbox.app, payload["SessionID"])
    assert "comes with the daily chat-log push" in inbox.get(f"/leads/{ident}").text
    post(
        inbox_vendor,
        {
            "Collection": [
                {
                    "SerialNumber": SERIAL,
                    "Name": "Front desk bot",
                    "StartTime": "2026-11-21T00:00:00Z",
                    "EndTime": "2026-11-22T00:00:00Z",
                    "Conversations": [
                        {
                            "SessionID": payload["SessionID"],
                            "CreateTime": "2026-11-21T16:22:42.264484Z",
                            "URI": "www.helloclient.com",
                            "Messages": [
                                {"Type": "AI", "Content": "Hi What can I help you with?"},
                                {"Type": "User", "Content": "I need a quote for 3 windows"},
                            ],
                        }
                    ],
                }
            ]
        },
    )
    page = inbox.get(f"/leads/{ident}").text
    assert "comes with the daily chat-log push" not in page
    assert re.search(
        r'class="bubble bubble-ai">\s*<span class="who">AI</span>\s*'
        r"<p>Hi What can I help you with\?</p>",
        page,
    )
    assert re.search(
        r'class="bubble bubble-user">\s*<span class="who">Visitor</span>\s*'
        r"<p>I need a quote for 3 windows</p>",
        page,
    )
    assert "Front desk bot" in page  # the chat log named the chatbot


def test_search_prefixes_find_every_continuation(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    """A word typed so far matches every indexed word it starts: through the expansion into
    exact words (up to 16 continuations), and through the plain prefix query beyond that."""
    posted = {
        n: post(inbox_vendor, lead(FirstName=f"Zedwort{n}", Email=f"zedwort{n}@example.net"))
        for n in range(1, 21)
    }
    ids = {n: lead_id(inbox.app, p["SessionID"]) for n, p in posted.items()}
    accented = post(inbox_vendor, lead(FirstName="Zoëlle", LastName="Quarry"))
    accented_id = lead_id(inbox.app, accented["SessionID"])

    def shown(query: str) -> set[int]:
        return set(listed_ids(inbox.get(f"/?q={query}&status=all").text))

    assert shown("zedwort") >= set(ids.values())  # 20 continuations: the prefix query
    ones = {ids[n] for n in ids if str(n).startswith("1")}  # zedwort1, zedwort10..19
    assert len(ones) == 11
    assert shown("zedwort1") & set(ids.values()) == ones  # 11: expanded into exact words
    assert shown("zedwort20") & set(ids.values()) == {ids[20]}
    assert accented_id in shown("zoël")  # not ASCII: the prefix query
    assert accented_id in shown("zoel")  # diacritics folded, as in the index
