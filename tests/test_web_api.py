"""The read-only JSON API: bearer token, the inbox's filters, cursor pages, one lead in full."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from conftest import API_TOKEN, INBOX_PASSWORD, AppProcess, InboxClient
from vendor import HelloClientFake

BOT = "eeee0000eeee0000eeee0000eeee0005"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_the_token_is_required(inbox_app: AppProcess, make_app: Callable[..., AppProcess]) -> None:
    url = f"{inbox_app.url}/api/leads"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(url, headers={"Authorization": f"Basic {API_TOKEN}"}).status_code == 401
    assert httpx.get(url, headers=AUTH).status_code == 200
    session_only = InboxClient(inbox_app, httpx.Client(base_url=inbox_app.url))
    session_only.sign_in()
    assert session_only.get("/api/leads").status_code == 401  # a browser session is not a token
    off = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    answer = httpx.get(f"{off.url}/api/leads", headers=AUTH)
    assert answer.status_code == 401 and "set API_TOKEN" in answer.json()["error"]


def test_list_filters_and_pages(inbox_app: AppProcess, inbox_vendor: HelloClientFake) -> None:
    for n in range(7):
        kind = "Appointment" if n % 2 else "Lead"
        payload = {
            "SerialNumber": BOT,
            "Type": kind,
            "FirstName": f"Api{n}",
            "Email": f"api{n}@example.com",
            "CreateTime": f"2026-09-0{n + 1}T08:00:00Z",
            "SessionID": 81000 + n,
            "Content": "via api",
        }
        assert inbox_vendor.post(payload).status_code == 200
    client = httpx.Client(base_url=inbox_app.url, headers=AUTH)
    names: list[str] = []
    cursor = ""
    while True:
        answer = client.get("/api/leads", params={"chatbot": BOT, "limit": 3, "cursor": cursor})
        body = answer.json()
        assert len(body["leads"]) <= 3
        names += [lead["first_name"] for lead in body["leads"]]
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert names == [f"Api{n}" for n in reversed(range(7))]  # newest first
    assert isinstance(body["new_count"], int) and body["new_count"] >= 7
    appointments = client.get("/api/leads", params={"chatbot": BOT, "type": "appointment"}).json()
    assert [lead["first_name"] for lead in appointments["leads"]] == ["Api5", "Api3", "Api1"]
    found = client.get("/api/leads", params={"q": "api4"}).json()["leads"]
    assert [lead["email"] for lead in found] == ["api4@example.com"]
    first = found[0]
    assert first["created_at"] == "2026-09-05T08:00:00+00:00"
    assert first["chatbot"] == {"serial_number": BOT, "name": ""}
    assert client.get("/api/leads", params={"limit": 1000}).status_code == 400
    bad = client.get("/api/leads", params={"status": "bogus"})
    assert bad.status_code == 400 and bad.json()["status"] == "error"


def test_one_lead_with_notes_and_transcript(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    lead = {
        "SerialNumber": BOT,
        "Type": "Lead",
        "FirstName": "Transcribed",
        "CreateTime": "2026-09-10T08:00:00Z",
        "SessionID": 82001,
    }
    assert inbox_vendor.post(lead).status_code == 200
    ident = int(inbox.app.scalar("SELECT id FROM lead WHERE session_id = 82001"))
    inbox.post(f"/leads/{ident}/notes", {"body": "called"})
    inbox_vendor.post(
        {
            "Collection": [
                {
                    "SerialNumber": BOT,
                    "Name": "Api bot",
                    "StartTime": "2026-09-10T00:00:00Z",
                    "EndTime": "2026-09-11T00:00:00Z",
                    "Conversations": [
                        {
                            "SessionID": 82001,
                            "CreateTime": "2026-09-10T07:59:00Z",
                            "Messages": [{"Type": "User", "Content": "hello there"}],
                        }
                    ],
                }
            ]
        }
    )
    body = httpx.get(f"{inbox.app.url}/api/leads/{ident}", headers=AUTH).json()
    assert body["first_name"] == "Transcribed" and body["status"] == "new"
    assert [note["body"] for note in body["notes"]] == ["called"]
    assert body["transcript"][0]["messages"] == [{"type": "User", "content": "hello there"}]
    assert body["transcript"][0]["chat_log_day"] == "2026-09-10T00:00:00+00:00"
    missing = httpx.get(f"{inbox.app.url}/api/leads/99999999", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == {
        "status": "error",
        "error": "no such lead",
    }
