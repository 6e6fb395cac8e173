"""The deliveries log: attempts with their verdicts, raw bodies, reprocessing, the quarantine."""

from __future__ import annotations

import json
import time

from conftest import InboxClient
from vendor import HelloClientFake


def newest_delivery(inbox: InboxClient) -> int:
    return int(inbox.app.scalar("SELECT max(id) FROM delivery"))


def test_attempts_are_listed_with_their_verdicts(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    payload = {
        "SerialNumber": "d" * 32,
        "Type": "Lead",
        "FirstName": "Deli",
        "LastName": "Very",
        "CreateTime": "2026-11-01T10:00:00Z",
        "SessionID": 61001,
        "Content": "hi",
    }
    assert inbox_vendor.post(payload).status_code == 200
    accepted = newest_delivery(inbox)
    assert inbox_vendor.post(payload, key="wrong key").status_code == 401
    refused = newest_delivery(inbox)
    listing = inbox.get("/deliveries").text
    assert f"#{accepted} lead" in listing and "Verified" in listing
    assert "Quarantined" in listing and "127.0.0.1" in listing
    page = inbox.get(f"/deliveries/{refused}").text
    assert "signature does not match the configured signing key(s)" in page
    assert "Accept and process" in page  # it waits in the quarantine
    accepted_page = inbox.get(f"/deliveries/{accepted}").text
    pretty = json.dumps(payload, indent=2)
    assert pretty.replace('"', "&#34;") in accepted_page  # pretty-printed, escaped
    assert "Became:" in accepted_page and "Lead #" in accepted_page
    raw = inbox.get(f"/deliveries/{accepted}/raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert "attachment" in raw.headers["content-disposition"]
    assert json.loads(raw.content) == payload
    assert inbox.get("/deliveries?view=refused").text.count(f"#{refused} ") == 1
    assert f"#{accepted} " not in inbox.get("/deliveries?view=refused").text
    assert inbox.get("/deliveries?view=bogus").status_code == 400


def test_processing_errors_show_and_reprocess_runs_again(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    assert inbox_vendor.post({"Type": "Lead", "SessionID": "not a number"}).status_code == 200
    failed = newest_delivery(inbox)
    page = inbox.get(f"/deliveries/{failed}").text
    assert "SerialNumber: missing" in page
    assert f"#{failed} " in inbox.get("/deliveries?view=failed").text
    processed_at = inbox.app.scalar("SELECT processed_at FROM delivery WHERE id = ?", (failed,))
    time.sleep(0.01)
    assert inbox.post(f"/deliveries/{failed}/reprocess").status_code == 303
    inbox.app.wait_for(
        f"SELECT processed_at > '{processed_at}' FROM delivery WHERE id = {failed}", 1
    )
    assert "queued to be processed again" in inbox.get(f"/deliveries/{failed}").text


def test_quarantine_accept_and_discard(inbox: InboxClient, inbox_vendor: HelloClientFake) -> None:
    keep = {
        "SerialNumber": "q" * 32,
        "Type": "Lead",
        "FirstName": "Quarantina",
        "CreateTime": "2026-11-02T10:00:00Z",
        "SessionID": 62001,
    }
    drop = {**keep, "FirstName": "Dropped", "SessionID": 62002}
    assert inbox_vendor.post(keep, signed=False).status_code == 401
    kept = newest_delivery(inbox)
    assert inbox_vendor.post(drop, signed=False).status_code == 401
    dropped = newest_delivery(inbox)
    listing = inbox.get("/deliveries?view=quarantine").text
    assert f"#{kept} " in listing and f"#{dropped} " in listing
    assert "Quarantina" not in inbox.get("/").text

    assert inbox.post(f"/deliveries/{kept}/accept").status_code == 303
    assert inbox.app.scalar("SELECT count(*) FROM lead WHERE session_id = 62001") == 1
    assert "Quarantina" in inbox.get("/").text
    assert inbox.post(f"/deliveries/{dropped}/discard").status_code == 303
    assert inbox.app.scalar("SELECT count(*) FROM delivery WHERE id = ?", (dropped,)) == 0
    listing = inbox.get("/deliveries?view=quarantine").text
    assert f"#{kept} " not in listing and f"#{dropped} " not in listing
    assert inbox.post(f"/deliveries/{dropped}/accept").status_code == 404
