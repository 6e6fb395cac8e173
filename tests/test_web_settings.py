"""Settings in the browser, through a real server: Sign Keys (rotation, re-check on adding one),
the receiver's values in force without a restart, the environment winning, the quarantine's
re-check button, and what an item accepted from the quarantine shows as its outcome."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess, JsonSink, MakeApp, inbox_client
from nodejs import NodeJSON
from vendor import HelloClientFake

from app import shapes
from app.signature import key_fingerprint

PASSWORD = {"INBOX_PASSWORD": INBOX_PASSWORD}


def vendor(app: AppProcess, node: NodeJSON, key: str) -> HelloClientFake:
    return HelloClientFake(f"{app.url}/webhook", key, node)


def lead(session: int) -> dict[str, Any]:
    return {**shapes.sample_lead(), "SessionID": session, "FirstName": f"Visitor{session}"}


def flashes(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", text)
        for text in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    ]


def test_the_environment_wins_and_is_shown_read_only(make_app: MakeApp) -> None:
    app = make_app(TZ="Europe/Berlin", **PASSWORD)
    browser = inbox_client(app)
    home = browser.get("/").text
    assert 'href="/settings"' in home  # in the menu
    page = browser.get("/settings").text
    for link in ("/settings/notifications", "/settings/forwarding", "/welcome"):
        assert f'href="{link}"' in page
    assert "set by WEBHOOK_SIGNING_KEY" in page and "set by TZ" in page
    assert key_fingerprint(SIGNING_KEY) in page and SIGNING_KEY not in page
    assert 'action="/settings/keys"' not in page  # no form to add one
    assert re.search(r'name="TZ" value="Europe/Berlin"[^>]*disabled', page)
    assert not re.search(r'name="BASE_URL"[^>]*disabled', page)

    refused = browser.post("/settings/keys", {"sign_key": "another", "label": "x"})
    assert refused.status_code == 400
    assert "set by WEBHOOK_SIGNING_KEY in the environment" in refused.text
    refused = browser.post("/settings/receiver", {"TZ": "Asia/Tokyo"})
    assert refused.status_code == 400
    assert "TZ: set by TZ in the environment" in refused.text
    assert "times in Europe/Berlin" in browser.get("/status").text


def test_key_rotation_old_and_new_verify_until_the_old_is_removed(
    make_app: MakeApp, node_json: NodeJSON
) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="", **PASSWORD)
    browser = inbox_client(app)
    old, new = vendor(app, node_json, "key-old"), vendor(app, node_json, "key-new")
    added = browser.client.post(
        "/settings/keys",
        data={"csrf_token": browser.csrf("/settings"), "sign_key": "key-old", "label": "Old"},
        follow_redirects=True,
    )
    assert flashes(added.text) == [f"Sign Key “Old” added ({key_fingerprint('key-old')})."]
    assert old.post(lead(1)).status_code == 200

    # Hello Client rotates: its new key signs before the inbox knows it.
    early = new.post(lead(2))
    assert early.status_code == 401
    added = browser.client.post(
        "/settings/keys",
        data={"csrf_token": browser.token, "sign_key": "key-new", "label": "New"},
        follow_redirects=True,
    )
    assert flashes(added.text) == [
        f"Sign Key “New” added ({key_fingerprint('key-new')}). 1 quarantined delivery was "
        "verified with it and accepted."
    ]
    assert app.scalar("SELECT count(*) FROM lead") == 2  # the early one is in the inbox
    assert old.post(lead(3)).status_code == 200  # both verify meanwhile
    assert new.post(lead(4)).status_code == 200
    page = browser.get("/settings").text
    assert page.count("Last matched: <time") == 2

    old_id = app.scalar("SELECT id FROM signing_key WHERE label = 'Old'")
    assert browser.post(f"/settings/keys/{old_id}/remove").status_code == 303
    assert old.post(lead(5)).status_code == 401
    assert new.post(lead(6)).status_code == 200
    assert browser.post(f"/settings/keys/{old_id}/remove").status_code == 404
    assert key_fingerprint("key-old") not in browser.get("/settings").text


def test_a_sign_key_can_be_relabelled_and_next_leads_back(make_app: MakeApp) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="", **PASSWORD)
    browser = inbox_client(app)
    answer = browser.post("/settings/keys", {"sign_key": "k", "label": "", "next": "/welcome/url"})
    assert answer.headers["location"] == "/welcome/url"
    abroad = browser.post("/settings/keys", {"sign_key": "k2", "next": "//evil.example/"})
    assert abroad.headers["location"] == "/settings"  # never an open redirect
    key_id = app.scalar("SELECT id FROM signing_key WHERE label = 'Sign Key 1'")
    assert browser.post(f"/settings/keys/{key_id}/label", {"label": "Shop"}).status_code == 303
    assert app.scalar(f"SELECT label FROM signing_key WHERE id = {key_id}") == "Shop"
    empty = browser.post(f"/settings/keys/{key_id}/label", {"label": "  "})
    assert empty.status_code == 400 and "Label: give the key a name" in empty.text
    twice = browser.post("/settings/keys", {"sign_key": "k", "label": "<b>again</b>"})
    assert twice.status_code == 400 and "already stored, as “Shop”" in twice.text
    assert "&lt;b&gt;again&lt;/b&gt;" in twice.text and "<b>again" not in twice.text


def test_base_url_and_time_zone_apply_without_a_restart(
    make_app: MakeApp, json_sink: JsonSink, vendor_for: Any
) -> None:
    app = make_app(NOTIFY_POLL_SECONDS="0.2", **PASSWORD)
    pid = app.proc.pid if app.proc else None
    browser = inbox_client(app)
    target = {"url": json_sink.url(), "name": "Phone", "kinds": "lead", "enabled": "1"}
    assert browser.post("/settings/notifications/add", target).status_code == 303
    vendor_for(app).post(lead(1))
    first = json_sink.wait(1)[0]
    assert "https://inbox.example.com" not in json.dumps(first)

    saved = browser.post(
        "/settings/receiver",
        {
            "BASE_URL": "https://inbox.example.com",
            "TZ": "Asia/Tokyo",
            "UNSIGNED_EVENTS": "quarantine",
        },
    )
    assert saved.status_code == 303
    vendor_for(app).post(lead(2))
    second = json_sink.wait(2)[1]
    lead_id = app.scalar("SELECT id FROM lead WHERE session_id = 2")
    assert f"https://inbox.example.com/leads/{lead_id}" in json.dumps(second)
    assert "times in Asia/Tokyo" in browser.get("/status").text
    assert app.proc is not None and app.proc.pid == pid and app.proc.poll() is None


def test_a_bad_value_is_answered_with_the_page_and_the_reason(make_app: MakeApp) -> None:
    app = make_app(**PASSWORD)
    browser = inbox_client(app)
    answer = browser.post("/settings/receiver", {"BASE_URL": "ftp://inbox.example.com"})
    assert answer.status_code == 400
    assert "BASE_URL: expected an http(s) URL such as https://inbox.example.com" in answer.text
    assert 'value="ftp://inbox.example.com"' in answer.text  # what was typed is kept
    combined = browser.post("/settings/receiver", {"UNSIGNED_EVENTS": "accept-from-allowed-ips"})
    assert combined.status_code == 400
    assert "accept-from-allowed-ips needs WEBHOOK_ALLOWED_IPS" in combined.text
    assert app.scalar("SELECT count(*) FROM app_setting WHERE key LIKE 'live:%'") == 0
    forged = httpx.post(f"{app.url}/settings/receiver", data={"BASE_URL": "https://x.example"})
    assert forged.status_code in (303, 403) and "x.example" not in str(
        app.query("SELECT value FROM app_setting")
    )


def test_the_recheck_button_and_what_an_accepted_item_shows(
    make_app: MakeApp, node_json: NodeJSON
) -> None:
    app = make_app(**PASSWORD)
    browser = inbox_client(app)
    hello = vendor(app, node_json, SIGNING_KEY)
    assert hello.post(lead(1), t=int(time.time()) - 1000).status_code == 401  # clock too far off
    assert hello.post(lead(2), signed=False).status_code == 401
    quarantined = [row[0] for row in app.query("SELECT id FROM delivery ORDER BY id")]

    page = browser.get("/deliveries?view=quarantine").text
    assert 'action="/deliveries/recheck"' in page
    browser.csrf("/deliveries?view=quarantine")
    first = browser.client.post(
        "/deliveries/recheck", data={"csrf_token": browser.token}, follow_redirects=True
    )
    assert flashes(first.text) == [
        "Re-checked 1 signed deliveries: none verifies with the Sign Keys in force."
    ]
    assert (
        browser.post("/settings/receiver", {"WEBHOOK_TOLERANCE_SECONDS": "3600"}).status_code == 303
    )
    second = browser.client.post(
        "/deliveries/recheck", data={"csrf_token": browser.token}, follow_redirects=True
    )
    assert flashes(second.text)[-1] == (
        "Re-checked 1 signed deliveries: 1 delivery was verified with a Sign Key in force and "
        "accepted."
    )
    verified = browser.get(f"/deliveries/{quarantined[0]}").text
    assert "accepted from quarantine (Sign Key “WEBHOOK_SIGNING_KEY key 1”)" in verified
    assert "accepted (HTTP" not in verified

    assert browser.post(f"/deliveries/{quarantined[1]}/accept").status_code == 303
    vouched = browser.get(f"/deliveries/{quarantined[1]}").text
    assert "accepted from quarantine (manually)" in vouched
    assert "accepted (HTTP" not in vouched
    listing = browser.get("/deliveries?view=accepted").text
    assert "missing X-Webhook-Signature" not in listing  # no refusal reason under "Verified"


def test_settings_need_a_sign_in(make_app: MakeApp) -> None:
    app = make_app(**PASSWORD)
    answer = httpx.get(f"{app.url}/settings")
    assert answer.status_code in (302, 303, 401) and "Sign Keys" not in answer.text
