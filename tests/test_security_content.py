"""Content typed by strangers into the chatbot, and secrets set by the owner: payloads inert in
every page, notification format and CSV cell; no secret in any page or the log. Extends
tests/test_web_xss.py and test_notify_render.py; docs/security.md maps each defence to its test.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import markdown
import pytest
from conftest import (
    API_TOKEN,
    INBOX_PASSWORD,
    SIGNING_KEY,
    AppProcess,
    InboxClient,
    dangerous,
    every_route,
    inbox_client,
)
from sinks import JsonSink
from vendor import HelloClientFake

from app.config import load_settings
from app.server import create_app
from app.web.pages.export import FORMULA_STARTS

SINK_PASSWORD = "sink-pass-9f3a7c"  # in APPRISE_URLS: must never reach a log or a page
MAIL_PASSWORD = "mail-pass-51d0e2"
SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
MD_LINK = "[click me](javascript:alert(document.cookie))"
PAYLOAD = f"{SCRIPT} {IMG} {MD_LINK}"
# Answers a script reads, never a page a browser renders.
NOT_RENDERED = ("application/json", "application/manifest+json", "text/javascript")


# ---- one server with every secret set, and a notification sink in three formats ---------


@pytest.fixture(scope="module")
def sink() -> Iterator[JsonSink]:
    """Apprise's json:// target: keeps each notification by path (/text, /markdown, /html)."""
    sink = JsonSink()
    server = sink.serve()
    yield sink
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def secure_app(tmp_path_factory: pytest.TempPathFactory, sink: JsonSink) -> Iterator[AppProcess]:
    port = sink.port
    urls = " ".join(
        [
            *(
                f"json://inbox:{SINK_PASSWORD}@127.0.0.1:{port}/{kind}?format={kind}"
                for kind in ("text", "markdown", "html")
            ),
            # Nothing listens on port 9: its failure is logged, and must be logged scrubbed.
            f"mailto://inbox:{MAIL_PASSWORD}@127.0.0.1:9?smtp=127.0.0.1&from=inbox@example.com"
            "&to=a@example.com",
        ]
    )
    env = {
        "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "INBOX_PASSWORD": INBOX_PASSWORD,
        "API_TOKEN": API_TOKEN,
        "APPRISE_URLS": urls,
        "LOG_LEVEL": "debug",  # the chattiest setting must still keep secrets out
        "NOTIFY_POLL_SECONDS": "0.2",
    }
    app = AppProcess(tmp_path_factory.mktemp("security") / "data", env).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def hostile(secure_app: AppProcess, node_json: object) -> dict[str, int]:
    """A lead and an appointment with a payload in every field, a chat log, a quarantined body."""
    vendor = HelloClientFake(f"{secure_app.url}/webhook", SIGNING_KEY, node_json)  # type: ignore[arg-type]
    ids: dict[str, int] = {}
    for n, kind in enumerate(("Lead", "Appointment")):
        fields = ("FirstName", "LastName", "Email", "PhoneNumber", "Content", "URI")
        body = {
            "SerialNumber": f"bot{SCRIPT}",
            "Type": kind,
            "CreateTime": f"2026-11-2{n}T10:00:00Z",
            "SessionID": 700 + n,
            **{name: PAYLOAD for name in fields},
            PAYLOAD: PAYLOAD,
        }
        assert vendor.post(body).status_code == 200
        ids[kind] = int(secure_app.scalar("SELECT id FROM lead WHERE session_id = ?", (700 + n,)))
    window = {
        "SerialNumber": f"bot{SCRIPT}",
        "Name": PAYLOAD,
        "StartTime": "2026-11-20T00:00:00Z",
        "EndTime": "2026-11-21T00:00:00Z",
        "Conversations": [
            {
                "SessionID": 700,
                "CreateTime": "2026-11-20T10:00:00Z",
                "URI": PAYLOAD,
                "Messages": [{"Type": PAYLOAD, "Content": PAYLOAD}],
            }
        ],
    }
    assert vendor.post({"Collection": [window]}).status_code == 200
    assert vendor.post({"x": PAYLOAD}, signed=False).status_code == 401
    return ids


def browser(app: AppProcess) -> InboxClient:
    return inbox_client(app)


# ---- hostile lead content in every page, notification format and the CSV ---------------


def filled(path: str, ids: dict[str, int], app: AppProcess) -> str:
    """A route's path with real ids of the hostile records."""
    values = {
        "lead_id": ids["Lead"],
        "window_id": app.scalar("SELECT max(id) FROM chat_window"),
        "conversation_id": app.scalar("SELECT max(id) FROM conversation"),
        "delivery_id": app.scalar("SELECT max(id) FROM delivery WHERE outcome = 'quarantined'"),
    }
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(values[m.group(1)]), path)


def test_every_page_and_reflected_parameter_keeps_payloads_inert(
    secure_app: AppProcess, hostile: dict[str, int], tmp_path: Path
) -> None:
    """test_web_xss renders a fixed list of pages; this walks every GET route of the router,
    with the payload also in every query parameter a page reads and in a missing page's path."""
    owner = browser(secure_app)
    settings = load_settings({"DATA_DIR": str(tmp_path), "INBOX_PASSWORD": "x" * 12})
    pages = [
        filled(route.path, hostile, secure_app)
        for route in create_app(settings).routes
        if "GET" in (getattr(route, "methods", None) or ())
        and not route.path.startswith(("/api/", "/webhook", "/healthz", "/calendar", "/export"))
    ]
    assert len(pages) >= 10
    params = {
        name: PAYLOAD
        for name in (
            "q",
            "status",
            "type",
            "chatbot",
            "view",
            "next",
            "cursor",
            "before",
            "key",
            "limit",
        )
    }
    for page in pages:
        for query in ({}, params):
            answer = owner.get(page, params=query)
            assert answer.status_code in (200, 303, 400, 404), (page, query, answer.status_code)
            if answer.is_redirect:  # e.g. ?next= on the login page: never off the site
                assert answer.headers["location"].startswith("/"), (page, answer.headers)
                assert not answer.headers["location"].startswith("//"), page
                continue
            kind = answer.headers.get("content-type", "")
            if not kind.startswith("text/html"):
                # JSON for the pages' scripts, the manifest, the service worker, or a download
                # (the raw body: never rendered, whatever it holds); none is sniffed as HTML.
                assert answer.headers["x-content-type-options"] == "nosniff", page
                if not kind.startswith(NOT_RENDERED):
                    disposition = answer.headers.get("content-disposition", "")
                    assert disposition.startswith("attachment"), (page, kind)
                continue
            assert dangerous(answer.text) == [], (page, query)
            assert 'href="javascript' not in answer.text.lower(), page
    missing = owner.get(f"/no-such-page/{SCRIPT}")
    assert missing.status_code == 404 and dangerous(missing.text) == []


def test_notifications_carry_payloads_as_text_in_every_format(
    secure_app: AppProcess, hostile: dict[str, int], sink: JsonSink
) -> None:
    """test_notify_render proves Apprise's escaping per plugin; here the real server delivers a
    hostile lead to text, Markdown and HTML targets, and each is read as its client would."""
    text = sink.wait(1, "/text")[0]
    assert SCRIPT in text["message"] and MD_LINK in text["message"]  # text is data, unchanged

    html = sink.wait(1, "/html")[0]
    assert dangerous(html["message"]) == [], html["message"]
    assert "<a " not in html["message"].lower() and "&lt;script&gt;" in html["message"]

    md = sink.wait(1, "/markdown")[0]
    rendered = markdown.markdown(md["message"])
    assert dangerous(rendered) == [], rendered
    assert "<a " not in rendered.lower() and "javascript:alert" in rendered  # visible, no link
    # A title is a plain-text field in json:// as in every service with one (a push title, an
    # e-mail Subject); services without one get it blended into the body, which Apprise then
    # converts like the body (apprise/plugins/base.py: "A title is only converted when ...").
    assert html["title"] == md["title"] == text["title"] and SCRIPT in text["title"]


def test_csv_cells_never_start_a_formula(secure_app: AppProcess, node_json: object) -> None:
    """test_web_export checks three columns; here every text column, every prefix."""
    vendor = HelloClientFake(f"{secure_app.url}/webhook", SIGNING_KEY, node_json)  # type: ignore[arg-type]
    texts = ("FirstName", "LastName", "Email", "PhoneNumber", "Content", "URI")
    for n, prefix in enumerate(FORMULA_STARTS):
        serial = f"{prefix}SUM(1+1)"
        chatlog = {"SerialNumber": serial, "Name": f"{prefix}HYPERLINK(\"http://x\")",
                   "StartTime": "a", "EndTime": "b", "Conversations": []}  # fmt: skip
        assert vendor.post({"Collection": [chatlog]}).status_code == 200
        lead = {name: f"{prefix}cmd|' /C calc'!A0" for name in texts}
        lead.update(
            SerialNumber=serial, Type=f"{prefix}1+1", CreateTime=f"{prefix}t", SessionID=800 + n
        )
        assert vendor.post(lead).status_code == 200
    owner = browser(secure_app)
    export = owner.get("/export.csv", params={"status": "all", "type": ""})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    formula_rows = [
        row for row in rows[1:] if any(cell.lstrip("'").startswith(FORMULA_STARTS) for cell in row)
    ]
    assert len(formula_rows) >= len(FORMULA_STARTS)
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)
    neutralised = [cell for row in formula_rows for cell in row if cell.startswith("'")]
    assert any(cell == "'=cmd|' /C calc'!A0" for cell in neutralised)
    assert any(cell.startswith("'=HYPERLINK") for cell in neutralised)  # the chatbot's name


# ---- secrets ---------------------------------------------------------------------------


def test_secrets_never_reach_the_log_or_any_page(
    secure_app: AppProcess, hostile: dict[str, int], sink: JsonSink, tmp_path: Path
) -> None:
    sink.wait(1, "/html")[0]  # notifications went out, and the mailto target has failed by now
    owner = browser(secure_app)
    assert owner.post("/status/calendar").status_code == 303
    made = owner.get("/status")
    calendar_token = re.search(r"calendar\.ics\?token=([\w-]+)", made.text)
    assert calendar_token, "the new link is shown once, right after it is made"
    feed = httpx.get(f"{secure_app.url}/calendar.ics", params={"token": calendar_token.group(1)})
    assert feed.status_code == 200
    api = httpx.get(f"{secure_app.url}/api/leads", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert api.status_code == 200
    inbox_client(secure_app, signed_in=False).sign_in(password=f"{INBOX_PASSWORD}!")  # a miss
    owner.post("/settings/notifications/test", {"kind": "lead"})

    secrets = [SIGNING_KEY, INBOX_PASSWORD, API_TOKEN, SINK_PASSWORD, MAIL_PASSWORD]
    pages = {
        path: owner.get(path).text
        for method, path in every_route(tmp_path)
        if method == "GET" and path not in ("/webhook", "/calendar.ics")
    }
    pages.update({"/settings/notifications": owner.get("/settings/notifications").text})
    pages.update({"api": api.text, "calendar": feed.text})
    for where, text in [*pages.items(), ("server log", secure_app.log())]:
        for secret in secrets:
            assert secret not in text, (secret, where)
    assert calendar_token.group(1) not in secure_app.log()  # redacted from the access log
    assert calendar_token.group(1) not in owner.get("/status").text  # shown once, then hashed
    assert "token=[redacted]" in secure_app.log()
    assert "mailto" in pages["/settings/notifications"]  # the failing target is listed, masked
    assert "notification to mailto://inbox:****@127.0.0.1" in secure_app.log()  # its error too
