"""The Chats list grouped by chatbot (its name once, in natural order, its days below it with
their counts of sessions, messages and leads), and the message search that marks its hits
without ever letting stored text or the search itself become markup.
"""

from __future__ import annotations

import re
from typing import Any

from chat_days import push_window
from chatlogs import conversation
from conftest import InboxClient, dangerous
from spec_examples import SPEC_LEAD
from vendor import HelloClientFake


def serial(n: int) -> str:
    return f"{n:04d}" + "ab" * 14


def push(vendor: HelloClientFake, bot: int, name: str, day: int, sessions: list[Any]) -> None:
    push_window(vendor, serial(bot), day, sessions, name=name)


def said(session: int, *lines: str) -> dict[str, Any]:
    return conversation(session, Messages=[{"Type": "User", "Content": line} for line in lines])


def groups(html: str) -> list[tuple[str, list[list[str]]]]:
    """Each chatbot's name and its day rows (day, sessions, messages, leads), as shown."""
    found = []
    for body in re.findall(r'<tbody class="chat-bot".*?</tbody>', html, re.DOTALL):
        name = re.search(r'class="chat-bot-name"[^>]*>([^<]*)</a>', body)
        assert name is not None
        rows = re.findall(
            r'<th scope="row"><a href="/conversations/\d+">([^<]*)</a>.*?</th>\s*'
            r"<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>",
            body,
            re.DOTALL,
        )
        found.append((name.group(1), [list(row) for row in rows]))
    return found


def test_chats_are_grouped_by_chatbot_in_natural_order_with_counts(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    push(inbox_vendor, 110, "Natural 10", 21, [said(11001, "a")])
    push(inbox_vendor, 102, "Natural 2", 21, [said(10201, "a", "b"), said(10202, "c")])
    push(inbox_vendor, 102, "Natural 2", 22, [said(10203, "d")])
    push(inbox_vendor, 101, "natural 1", 21, [said(10101, "a")])
    lead = {**SPEC_LEAD, "SerialNumber": serial(102), "SessionID": 10202}
    assert inbox_vendor.post(lead).status_code == 200

    shown = [g for g in groups(inbox.get("/conversations").text) if "atural" in g[0]]
    assert [name for name, _ in shown] == ["natural 1", "Natural 2", "Natural 10"]
    # Natural 2: newest day first, each day once, with its own counts.
    assert shown[1][1] == [["Wed 22 Nov 2023", "1", "1", "0"], ["Tue 21 Nov 2023", "2", "3", "1"]]
    assert shown[0][1] == [["Tue 21 Nov 2023", "1", "1", "0"]]

    select = inbox.get("/conversations").text
    options = re.findall(r'<option value="\d{4}(?:ab){14}"[^>]*>([^<]*)</option>', select)
    assert [o for o in options if "atural" in o] == ["natural 1", "Natural 2", "Natural 10"]


def test_a_chatbot_with_many_days_shows_its_latest_and_links_to_all(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    for day in range(1, 10):
        push(inbox_vendor, 120, "Busy bot", day, [said(12000 + day, "hello")])
    overview = dict(groups(inbox.get("/conversations").text))
    assert [row[0] for row in overview["Busy bot"]][:2] == ["Thu 9 Nov 2023", "Wed 8 Nov 2023"]
    assert len(overview["Busy bot"]) == 7
    html = inbox.get("/conversations").text
    assert f'href="/conversations?chatbot={serial(120)}">All 9 days →' in html
    own = groups(inbox.get(f"/conversations?chatbot={serial(120)}").text)
    assert [name for name, _ in own] == ["Busy bot"]
    assert len(own[0][1]) == 9


def test_search_marks_the_hit_in_escaped_text(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    push(
        inbox_vendor,
        130,
        "Escape bot",
        21,
        [
            said(13001, '<script>alert("gotcha")</script> my wiper squeaks'),
            said(13002, "x<lt>y & salt"),
        ],
    )
    html = inbox.get("/conversations?q=wiper").text
    assert (
        "&lt;script&gt;alert(&#34;gotcha&#34;)&lt;/script&gt; my <mark>wiper</mark> squeaks" in html
    )
    assert dangerous(html) == []

    # The search's own words are never markup, and never land inside an entity.
    html = inbox.get("/conversations", params={"q": "lt"}).text
    assert "x&lt;<mark>lt</mark>&gt;y &amp; salt" in html
    html = inbox.get("/conversations", params={"q": "<script>"}).text
    assert "&lt;<mark>script</mark>&gt;alert" in html
    assert 'value="&lt;script&gt;"' in html
    assert dangerous(html) == []


def test_a_long_message_is_cut_around_its_hit(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    text = "blah " * 200 + "the gearbox grinds in third gear " + "more " * 200
    push(inbox_vendor, 140, "Long bot", 21, [said(14001, text)])
    html = inbox.get("/conversations?q=gearbox").text
    preview = re.search(r'<p class="preview">.*?</p>', html, re.DOTALL)
    assert preview is not None
    assert "…" in preview.group(0) and "<mark>gearbox</mark> grinds" in preview.group(0)
    assert len(preview.group(0)) < 600


def test_the_found_message_is_marked_in_its_session(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    push(inbox_vendor, 150, "Jump bot", 21, [said(15001, "first", "the <i>clutch</i> slips")])
    html = inbox.get("/conversations?q=clutch").text
    link = re.search(r'href="(/sessions/\d+\?q=clutch#m(\d+))"', html)
    assert link is not None
    session = inbox.get(link.group(1)).text
    bubble = re.search(
        rf'<li id="m{link.group(2)}" class="bubble bubble-user">.*?</li>', session, re.DOTALL
    )
    assert bubble is not None
    assert "the &lt;i&gt;<mark>clutch</mark>&lt;/i&gt; slips" in bubble.group(0)
    assert dangerous(session) == []
