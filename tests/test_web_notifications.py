"""Settings → Notifications in the browser: targets (env read-only, the UI's own editable), real
test sends, a failing target and "retry now", CSRF and the login wall, templates with preview.

A real server, a real local json:// endpoint, a signed-in client posting the page's own forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from conftest import INBOX_PASSWORD, AppProcess, InboxClient, JsonSink, inbox_client
from vendor import HelloClientFake
from worker_passes import PASS_LOG, wait_for_quiet_pass

from app import shapes

PAGE = "/settings/notifications"
SECRET = "s3cretEnvT0ken"
DB_SECRET = "dbPassw0rdXyz"
FieldValue = str | list[str]


def submit(browser: InboxClient, path: str, fields: dict[str, FieldValue]) -> httpx.Response:
    """Post a form with the CSRF token taken from the page, as a browser would."""
    token = browser.csrf(PAGE)
    return browser.client.post(path, data={"csrf_token": token, **fields})


def follow(browser: InboxClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    return browser.get(answer.headers["location"]).text


def target_row(app: AppProcess, key: str) -> dict[str, object]:
    rows = app.query("SELECT * FROM notify_target WHERE key = ?", (key,))
    return dict(rows[0]) if rows else {}


def section(page: str, key: str) -> str:
    """The HTML of one target's list entry."""
    found = re.search(
        rf'<li class="target[^"]*" id="target-{re.escape(key)}">(.*?)</li>', page, re.S
    )
    assert found, f"target {key} not on the page"
    return found.group(1)


def start(make_app: Callable[..., AppProcess], json_sink: JsonSink) -> AppProcess:
    # Backoff of an hour: only "retry now" can re-send within the test.
    return make_app(
        INBOX_PASSWORD=INBOX_PASSWORD,
        APPRISE_URLS=f"json://user:{SECRET}@127.0.0.1:{json_sink.port}/env",
        NOTIFY_RETRY_FIRST_SECONDS="3600",
        NOTIFY_RETRY_CAP_SECONDS="3600",
        NOTIFY_POLL_SECONDS="0.2",
        **PASS_LOG,
    )


def test_targets_add_edit_disable_test_retry_remove(
    make_app: Callable[..., AppProcess],
    json_sink: JsonSink,
    vendor_for: Callable[[AppProcess], HelloClientFake],
) -> None:
    app = start(make_app, json_sink)
    browser = inbox_client(app)
    page = browser.get(PAGE).text
    [env_key] = re.findall(r'id="target-(cfg:[^"]+)"', page)
    env = section(page, env_key)
    assert "APPRISE_URLS" in env and "read-only" in env and "****" in env
    assert "Edit" not in env and "Remove" not in env
    assert SECRET not in page

    # Add a UI target through the form; its password never comes back in a page.
    db_url = f"json://user:{DB_SECRET}@127.0.0.1:{json_sink.port}/db"
    added = submit(
        browser,
        f"{PAGE}/add",
        {"url": db_url, "name": "Phone", "kinds": ["lead"], "enabled": "1"},
    )
    page = follow(browser, added)
    assert "Added Phone" in page
    [key] = [k for k in re.findall(r'id="target-([^"]+)"', page) if k != env_key]
    assert target_row(app, key)["url"] == db_url
    assert DB_SECRET not in page and SECRET not in page
    edit = browser.get(f"{PAGE}/edit", params={"key": key}).text
    assert DB_SECRET not in edit and 'name="url" class="mono" value=""' in edit
    assert browser.get(f"{PAGE}/edit", params={"key": env_key}).status_code == 400

    # Edit the kinds; the empty URL field keeps the stored URL.
    saved = submit(
        browser,
        f"{PAGE}/update",
        {
            "key": key,
            "url": "",
            "name": "Phone",
            "kinds": ["appointment", "chatlog"],
            "enabled": "1",
        },
    )
    assert "Saved Phone" in follow(browser, saved)
    row = target_row(app, key)
    assert (row["notify_lead"], row["notify_appointment"], row["notify_chatlog"]) == (0, 1, 1)
    assert row["url"] == db_url
    assert "Kinds: appointment, chatlog" in section(browser.get(PAGE).text, key)

    # Disable and enable again.
    page = follow(browser, submit(browser, f"{PAGE}/enabled", {"key": key, "enabled": "0"}))
    assert "Phone disabled" in page and "disabled</span>" in section(page, key)
    assert target_row(app, key)["enabled"] == 0
    page = follow(browser, submit(browser, f"{PAGE}/enabled", {"key": key, "enabled": "1"}))
    assert "Phone enabled" in page and target_row(app, key)["enabled"] == 1

    # A real test: ok for the sink, Apprise's own error for a closed port.
    bad = follow(
        browser,
        submit(
            browser,
            f"{PAGE}/add",
            {"url": "json://127.0.0.1:9/", "kinds": ["lead"], "enabled": "1"},
        ),
    )
    [bad_key] = [k for k in re.findall(r'id="target-([^"]+)"', bad) if k not in (env_key, key)]
    tested = submit(browser, f"{PAGE}/test", {"kind": "lead", "key": [key, bad_key]})
    assert tested.status_code == 200
    results = re.findall(r'<li class="result">(.*?)</li>', tested.text, re.S)
    assert len(results) == 2
    assert "pill ok" in results[0] and "Phone" in results[0]
    assert "failed" in results[1] and 'class="error-text small"' in results[1]
    assert re.search(r"error-text small\">[^<]*\S", results[1])  # the reason itself, not blank
    assert json_sink.wait(1, "/db")[0]["title"] == "[Test] New lead — David Garcia"
    assert DB_SECRET not in tested.text and SECRET not in tested.text

    # A failing target shows its last error; "retry now" re-sends once the service is back.
    json_sink.fail("/db", 10**9)
    assert vendor_for(app).post(shapes.sample_lead("Appointment")).status_code == 200
    app.wait_for(f"SELECT failing_streak > 0 FROM notify_target WHERE key = '{key}'", 1)
    failing = section(browser.get(PAGE).text, key)
    assert "failing, 1 in a row" in failing and "Last error" in failing and "500" in failing
    assert "1 pending" in failing
    json_sink.fail("/db", 0)
    wait_for_quiet_pass(app)  # the worker looked again: the hour-long backoff holds the row
    assert len(json_sink.received("/db")) == 1
    page = follow(browser, submit(browser, f"{PAGE}/retry", {"key": key}))
    assert "Retrying now: 1 notification queued." in page
    assert json_sink.wait(2, "/db")[1]["title"] == "New appointment — David Garcia"
    app.wait_for(f"SELECT failing_streak FROM notify_target WHERE key = '{key}'", 0)
    assert "1 sent" in section(browser.get(PAGE).text, key)

    # Configured targets cannot be changed here.
    refused = follow(browser, submit(browser, f"{PAGE}/remove", {"key": env_key}))
    assert "read-only" in refused and f'id="target-{env_key}"' in refused

    # Remove the UI target: gone from the page and the database, with its rows.
    page = follow(browser, submit(browser, f"{PAGE}/remove", {"key": key}))
    assert "Target removed" in page and f'id="target-{key}"' not in page
    assert target_row(app, key) == {}
    assert app.scalar(f"SELECT count(*) FROM notify_outbox WHERE target_key = '{key}'") == 0
    assert SECRET not in app.log() and DB_SECRET not in app.log()


def test_bad_url_is_explained_and_csrf_and_login_are_required(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = start(make_app, json_sink)
    browser = inbox_client(app)
    page = follow(
        browser, submit(browser, f"{PAGE}/add", {"url": "nosuchservice://x", "kinds": ["lead"]})
    )
    assert "Not added: Apprise cannot use this URL" in page

    no_token = browser.client.post(f"{PAGE}/add", data={"url": json_sink.url("/x")})
    assert no_token.status_code == 403 and "Form expired" in no_token.text
    assert app.scalar("SELECT count(*) FROM notify_target WHERE source = 'db'") == 0

    anonymous = httpx.Client(base_url=app.url)
    answer = anonymous.get(PAGE)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    refused = anonymous.post(f"{PAGE}/test", data={"kind": "lead"})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert json_sink.attempts == []
    assert 'href="/settings/notifications"' in browser.get("/").text  # in the menu
    page = browser.get(PAGE).text  # the CSP forbids inline code: the page carries none
    assert ' style="' not in page and not re.search(r"\son[a-z]+\s*=", page)
    assert all('src="/static/' in tag for tag in re.findall(r"<script\b[^>]*>", page))


def test_template_preview_save_error_and_reset(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = start(make_app, json_sink)
    browser = inbox_client(app)
    title, body = "☎ {{ name }} ({{ type }})", "Mail {{ email }}"

    preview = submit(
        browser,
        f"{PAGE}/template",
        {"kind": "lead", "action": "preview", "title": title, "body": body},
    )
    assert preview.status_code == 200
    assert "<strong>☎ David Garcia (Lead)</strong>" in preview.text
    assert "Mail test@example.com" in preview.text
    assert "title: default, body: default" in preview.text  # a preview saves nothing

    wrong = submit(
        browser,
        f"{PAGE}/template",
        {"kind": "lead", "action": "save", "title": "{{ nmae }}", "body": body},
    )
    assert wrong.status_code == 400 and "undefined" in wrong.text
    assert 'value="{{ nmae }}"' in wrong.text  # the typed text is kept, to be fixed

    saved = follow(
        browser,
        submit(
            browser,
            f"{PAGE}/template",
            {"kind": "lead", "action": "save", "title": title, "body": body},
        ),
    )
    assert "The lead template is saved." in saved and "title: ui, body: ui" in saved
    tested = submit(browser, f"{PAGE}/test", {"kind": "lead"})
    assert "pill ok" in tested.text
    [note] = json_sink.wait(1, "/env")
    assert (note["title"], note["message"]) == (
        "[Test] ☎ David Garcia (Lead)",
        "Mail test@example.com",
    )

    reset = follow(
        browser,
        submit(
            browser,
            f"{PAGE}/template",
            {"kind": "lead", "action": "reset", "title": "", "body": ""},
        ),
    )
    assert "back to its file or built-in default" in reset
    assert "title: default, body: default" in reset
