"""Settings → Notifications in the browser: targets (env read-only, the UI's own editable), real
test sends, a failing target and "retry now", CSRF and the login wall, templates with preview.

A real server, a real local json:// endpoint, a signed-in client posting the page's own forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from conftest import INBOX_PASSWORD, AppProcess, JsonSink, inbox_client
from notify_pages import PAGE, follow, hidden_fields, results, section, submit, target_row
from vendor import HelloClientFake
from worker_passes import PASS_LOG, wait_for_quiet_pass

from app import shapes

SECRET = "s3cretEnvT0ken"
DB_SECRET = "dbPassw0rdXyz"


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
    answer = submit(browser, f"{PAGE}/test", {"kind": "lead", "key": [key, bad_key]})
    tested = follow(browser, answer)  # post/redirect/get: a reload does not send again
    shown = results(tested)
    assert len(shown) == 2
    assert "pill ok" in shown[0] and "Phone" in shown[0]
    assert "failed" in shown[1] and 'class="error-text small"' in shown[1]
    assert re.search(r"error-text small\">[^<]*\S", shown[1])  # the reason itself, not blank
    assert json_sink.wait(1, "/db")[0]["title"] == "[Test] New lead — David Garcia"
    assert DB_SECRET not in tested and SECRET not in tested

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
    page = submit(browser, f"{PAGE}/add", {"url": "nosuchservice://x", "kinds": ["lead"]})
    assert page.status_code == 400
    assert "Apprise knows no service &#39;nosuchservice&#39;" in page.text

    no_token = browser.client.post(f"{PAGE}/add", data={"url": json_sink.url("/x")})
    assert no_token.status_code == 403 and "Form expired" in no_token.text
    assert app.scalar("SELECT count(*) FROM notify_target WHERE source = 'db'") == 0

    anonymous = httpx.Client(base_url=app.url)
    answer = anonymous.get(PAGE)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    refused = anonymous.post(f"{PAGE}/test", data={"kind": "lead"})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert json_sink.attempts == []
    assert 'href="/settings"' in browser.get("/").text  # the menu's Settings leads here
    page = browser.get(PAGE).text  # the CSP forbids inline code: the page carries none
    assert ' style="' not in page and not re.search(r"\son[a-z]+\s*=", page)
    assert all('src="/static/' in tag for tag in re.findall(r"<script\b[^>]*>", page))


def test_template_preview_save_error_and_reset(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = start(make_app, json_sink)
    browser = inbox_client(app)
    title, body = "☎ {{ name }} ({{ type }})", "Mail {{ email }}"

    preview = follow(
        browser,
        submit(
            browser,
            f"{PAGE}/template",
            {"kind": "lead", "action": "preview", "title": title, "body": body},
        ),
    )
    assert "<strong>☎ David Garcia (Lead)</strong>" in preview
    assert "Mail test@example.com" in preview
    assert "title: default, body: default" in preview  # a preview saves nothing

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
    tested = follow(browser, submit(browser, f"{PAGE}/test", {"kind": "lead"}))
    assert "pill ok" in tested
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


NTFY_TOKEN = "tk_n0tifyS3cretTokenAbc"
BOT_SECRET = "AAHb0tS3cretTokenXyz"
BOT_TOKEN = f"123456789:{BOT_SECRET}"


def test_chooser_target_shown_as_written_tested_with_prg_and_no_secret_logged(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, **PASS_LOG)  # LOG_LEVEL=debug
    browser = inbox_client(app)
    page = browser.get(PAGE).text
    for label in ("ntfy", "Telegram", "Pushover", "Gotify", "E-mail", "Discord", "Matrix"):
        assert f"<summary><strong>{label}</strong></summary>" in page
    assert 'name="bot_token"' in page and 'type="password" name="bot_token"' in page

    # ntfy through its plain fields, at a self-hosted server (the local sink), with a token.
    fields = {"service": "ntfy", "host": f"http://127.0.0.1:{json_sink.port}", "topic": "leads"}
    added = submit(
        browser, f"{PAGE}/add", {**fields, "token": NTFY_TOKEN, "name": "Phone", "kinds": "lead"}
    )
    page = follow(browser, added)
    [key] = re.findall(r'id="target-(db:[^"]+)"', page)
    entry = section(page, key)
    assert f"ntfy://****@127.0.0.1:{json_sink.port}/leads</p>" in entry  # no ?overflow=…
    assert "Last success: never" in entry and NTFY_TOKEN not in page

    # The test: post, redirect, get; the result and "last success" on the page it lands on.
    answer = submit(browser, f"{PAGE}/test", {"kind": "lead", "key": key})
    assert answer.status_code == 303
    tested = follow(browser, answer)
    assert json_sink.wait(1)[0]["topic"] == "leads"
    [result] = results(tested)
    assert "pill ok" in result and f"ntfy://****@127.0.0.1:{json_sink.port}/leads" in result
    assert "Last success: never" not in section(tested, key)
    assert target_row(app, key)["last_success_at"] is not None
    # A reload is a GET, which sends nothing; a GET of the form's address is the page again.
    assert browser.get(answer.headers["location"]).status_code == 200
    again = browser.get(f"{PAGE}/test")
    assert again.status_code == 303 and again.headers["location"] == PAGE
    assert len(json_sink.attempts) == 1

    # A failed test: the failure, with the target's URL as written and masked.
    closed = f"json://user:{DB_SECRET}@127.0.0.1:9/x"
    page = follow(browser, submit(browser, f"{PAGE}/add", {"url": closed, "kinds": "lead"}))
    [bad] = [k for k in re.findall(r'id="target-(db:[^"]+)"', page) if k != key]
    failed = follow(browser, submit(browser, f"{PAGE}/test", {"kind": "lead", "key": bad}))
    [result] = results(failed)
    assert "failed" in result and "json://user:****@127.0.0.1:9/x" in result
    assert "Last error" in section(failed, bad) and "Test notification: " in failed

    log = app.log()
    assert "ntfy Headers" in log  # Apprise at debug logged the request it made (with the token)
    assert NTFY_TOKEN not in log and DB_SECRET not in log


def test_a_mistyped_url_gets_a_400_with_a_suggestion_and_stays_out_of_the_log(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD, **PASS_LOG)
    browser = inbox_client(app)

    answer = submit(browser, f"{PAGE}/add", {"url": "ntfy.sh/mytopic", "kinds": "lead"})
    assert answer.status_code == 400
    assert "did you mean ntfys://ntfy.sh/mytopic" in answer.text
    for typed, meant in (
        ("https://push.example.com/alerts", "ntfys://push.example.com/alerts"),
        ("mailto:me@example.com", "mailto://me@example.com"),
    ):
        answer = submit(browser, f"{PAGE}/add", {"url": typed, "kinds": "lead"})
        assert answer.status_code == 400 and f"did you mean {meant}" in answer.text

    answer = submit(
        browser, f"{PAGE}/add", {"url": f"tgram:/{BOT_TOKEN}/555", "name": "Bot", "kinds": "lead"}
    )
    assert answer.status_code == 400 and "Unsupported URL" not in answer.text
    assert "did you mean tgram://****/555" in answer.text  # the suggestion, masked
    # Its button adds what was meant, with the name and kinds typed before.
    [form] = re.findall(r'<form [^>]*class="suggestion">(.*?)</form>', answer.text, re.S)
    posted = hidden_fields(form)
    assert posted["url"] == [f"tgram://{BOT_TOKEN}/555"] and posted["name"] == ["Bot"]
    page = follow(browser, browser.client.post(f"{PAGE}/add", data=posted))
    assert "Added Bot (tgram://****/555)" in page and BOT_SECRET not in page

    # Fields left out of a service's form: 400, the form open again with what was typed.
    answer = submit(browser, f"{PAGE}/add", {"service": "telegram", "targets": "4242"})
    assert answer.status_code == 400 and "Telegram: enter the Bot token" in answer.text
    assert '<details class="service" id="add-telegram" open>' in answer.text
    assert 'value="4242"' in answer.text

    # The edit form: 400, and the field holds what was probably meant.
    [key] = re.findall(r'id="target-(db:[^"]+)"', page)
    fields = {"key": key, "url": "tgram//123:ABCDEFGHIJKL/99", "name": "Bot", "kinds": "lead"}
    answer = submit(browser, f"{PAGE}/update", fields)
    assert answer.status_code == 400
    assert 'value="tgram://123:ABCDEFGHIJKL/99"' in answer.text
    assert target_row(app, key)["url"] == f"tgram://{BOT_TOKEN}/555"  # unchanged

    log = app.log()
    assert "Unsupported URL: ****" in log  # Apprise did log the refusal, without the URL
    assert BOT_SECRET not in log and "ABCDEFGHIJKL" not in log


def test_forms_return_to_next_and_only_to_a_local_path(
    make_app: Callable[..., AppProcess], json_sink: JsonSink
) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    browser = inbox_client(app)
    page = browser.get(PAGE, params={"next": "/welcome/notifications"}).text
    assert '<a href="/welcome/notifications">← Back</a>' in page
    assert page.count('name="next" value="/welcome/notifications"') >= 12  # every add form
    fields = {"url": json_sink.url("/w"), "kinds": "lead", "enabled": "1"}
    fields["next"] = "/welcome/notifications"
    added = submit(browser, f"{PAGE}/add", fields)
    assert added.status_code == 303 and added.headers["location"] == "/welcome/notifications"
    tested = submit(browser, f"{PAGE}/test", {"kind": "lead", "next": "/welcome/notifications"})
    assert tested.headers["location"] == "/welcome/notifications"
    assert json_sink.wait(1, "/w")
    fields = {"url": json_sink.url("/x"), "kinds": "lead", "next": "//evil.example/"}
    added = submit(browser, f"{PAGE}/add", fields)
    assert added.headers["location"].startswith(f"{PAGE}#target-")
    assert "evil" not in browser.get(PAGE, params={"next": "https://evil.example/"}).text
