"""Lead content is typed by strangers: every field, on every page, must come out inert."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import AppProcess, InboxClient, dangerous
from vendor import HelloClientFake

SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URI = "javascript:alert(document.cookie)"
PAYLOADS = (SCRIPT, IMG, JS_URI)
SERIAL = "<b>bot</b>" + "0" * 20


@pytest.fixture(scope="module")
def hostile(inbox_app: AppProcess, node_json: Any) -> dict[str, int]:
    """A lead, an appointment and a chat log with a payload in every field they have."""
    vendor = HelloClientFake(f"{inbox_app.url}/webhook", "whsec_test_sign_key", node_json)
    ids: dict[str, int] = {}
    for n, payload in enumerate(PAYLOADS):
        session = 900_000 + n
        body = {
            "SerialNumber": SERIAL,
            "Type": "Appointment" if n else "Lead",
            "FirstName": payload,
            "LastName": payload,
            "Email": payload,
            "PhoneNumber": payload,
            "CreateTime": f"2026-11-2{n}T10:00:00Z",
            "Content": f"{payload} xsstoken",
            "SessionID": session,
            "URI": payload,
            payload: payload,  # an unknown field, kept as extra
        }
        assert vendor.post(body).status_code == 200
        ids[payload] = int(inbox_app.scalar("SELECT id FROM lead WHERE session_id = ?", (session,)))
    chatlog = {
        "Collection": [
            {
                "SerialNumber": SERIAL,
                "Name": SCRIPT + IMG,
                "StartTime": "2026-11-20T00:00:00Z",
                "EndTime": "2026-11-21T00:00:00Z",
                "Conversations": [
                    {
                        "SessionID": 900_000 + n,
                        "CreateTime": "2026-11-20T10:00:00Z",
                        "URI": JS_URI,
                        "Messages": [
                            {"Type": IMG, "Content": f"{payload} xsstoken"} for payload in PAYLOADS
                        ],
                    }
                    for n in range(len(PAYLOADS))
                ],
            }
        ]
    }
    assert vendor.post(chatlog).status_code == 200
    unsigned = vendor.post({"x": SCRIPT}, signed=False)  # into the quarantine
    assert unsigned.status_code == 401
    return ids


def test_every_page_renders_payloads_inert(inbox: InboxClient, hostile: dict[str, int]) -> None:
    window = inbox.app.scalar("SELECT max(id) FROM chat_window")
    conversation = inbox.app.scalar("SELECT max(id) FROM conversation")
    delivery = inbox.app.scalar("SELECT max(id) FROM delivery")
    for payload, ident in hostile.items():
        inbox.post(f"/leads/{ident}/notes", {"body": payload})
    pages = [
        "/",
        "/?q=xsstoken",
        "/?q=alert",
        "/?status=all",
        "/conversations",
        "/conversations?q=xsstoken",
        "/conversations?q=alert+script",
        f"/conversations/{window}",
        f"/sessions/{conversation}",
        "/deliveries",
        "/deliveries?view=quarantine",
        f"/deliveries/{delivery}",
        "/status",
        *(f"/leads/{ident}" for ident in hostile.values()),
        *(f"/deliveries/{d}" for d in range(1, int(delivery) + 1)),
    ]
    for path in pages:
        answer = inbox.get(path)
        assert answer.status_code == 200, path
        assert dangerous(answer.text) == [], path
    item = inbox.get(f"/leads/{hostile[SCRIPT]}").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in item  # shown, as text
    js_item = inbox.get(f"/leads/{hostile[JS_URI]}").text
    assert JS_URI in js_item and 'href="javascript' not in js_item.lower()
    found = inbox.get("/?q=xsstoken").text
    assert "<mark>xsstoken</mark>" in found  # our highlight is markup; the payload is not


def test_the_api_and_csv_return_payloads_as_data(
    inbox: InboxClient, hostile: dict[str, int]
) -> None:
    from conftest import API_TOKEN

    answer = inbox.client.get(
        f"/api/leads/{hostile[SCRIPT]}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["first_name"] == SCRIPT
    csv_text = inbox.get("/export.csv?q=xsstoken").content.decode("utf-8-sig")
    assert SCRIPT in csv_text  # CSV is data for a spreadsheet, not a page
    assert inbox.get("/export.csv").headers["content-type"].startswith("text/csv")
