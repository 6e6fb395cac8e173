"""The server's log, read from a real server's output: one start block that says where the inbox
is, what to paste into Hello Client, where the Sign Key comes from and (unclaimed) the setup code;
no Alembic chatter at info; static files and health checks out of the access log unless
ACCESS_LOG says otherwise. (serve.sh's quiet install is not run here: it needs the network.)
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable

import httpx
from conftest import INBOX_PASSWORD, SIGNING_KEY, AppProcess, inbox_client

from app import logs

ALEMBIC_CHATTER = ("Context impl", "Will assume", "Running upgrade")


def start_block(app: AppProcess) -> str:
    """The block's lines, from its first line to the last indented one."""
    found = re.search(r"Hello Client inbox \S+ is ready\.\n(?:  .*\n?)+", app.log())
    assert found, app.log()
    return found.group(0)


def logged_after(app: AppProcess, client: httpx.Client) -> str:
    """The log once every request made so far is in it: a marker request (an unsigned delivery,
    refused, so logged in every mode but off) is answered after the ones before it, and uvicorn
    logs each request as its answer starts."""
    marker = f"marker-{uuid.uuid4().hex}"
    assert client.post(f"/webhook?{marker}", content=b"{}").status_code >= 400
    log = app.log()
    assert marker in log, "the marker request was not logged"
    return log


def test_first_start_says_where_to_go_and_what_is_missing(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="")  # nothing set: a fresh box, unclaimed
    block = start_block(app)
    assert f"  Inbox:       {app.url}/\n" in block
    assert f"  Webhook URL: {app.url}/webhook (Hello Client cannot reach this address" in block
    assert "  Sign Key:    none (WEBHOOK_SIGNING_KEY is not set): add the Sign Key under" in block
    code = re.search(r"enter the setup code ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}) ", block)
    assert code and f"open {app.url}/setup" in block
    log = app.log()
    assert log.count("setup code") == 1  # in the block only, not said twice
    assert not [line for line in log.splitlines() if any(c in line for c in ALEMBIC_CHATTER)]
    assert "alembic" not in log.lower()


def test_configured_start_names_the_public_webhook_url_and_the_key_source(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(BASE_URL="https://inbox.example.com", INBOX_PASSWORD=INBOX_PASSWORD)
    block = start_block(app)
    assert "  Inbox:       https://inbox.example.com/\n" in block
    assert "  Webhook URL: https://inbox.example.com/webhook\n" in block
    assert "  Sign Key:    set by WEBHOOK_SIGNING_KEY" in block
    assert "setup code" not in block
    assert SIGNING_KEY not in app.log() and INBOX_PASSWORD not in app.log()


def test_keys_from_settings_are_counted_after_a_restart(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app(WEBHOOK_SIGNING_KEY="", INBOX_PASSWORD=INBOX_PASSWORD)
    browser = inbox_client(app)
    token = browser.csrf("/settings")
    fields = {"csrf_token": token, "label": "Workspace", "sign_key": "whsec_from_the_browser"}
    assert browser.client.post("/settings/keys", data=fields).status_code == 303
    app.restart()
    blocks = re.findall(r"Sign Key: +(.*)", app.log())
    assert blocks[-1] == "1 key from Settings"
    assert "whsec_from_the_browser" not in app.log()


def test_static_files_and_health_checks_stay_out_of_the_access_log_by_default(
    make_app: Callable[..., AppProcess],
) -> None:
    app = make_app()
    client = httpx.Client(base_url=app.url)
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.post("/webhook", content=b"{}").status_code >= 400  # unsigned: refused
    log = logged_after(app, client)
    assert '"POST /webhook HTTP/1.1"' in log
    assert "/static/app.css" not in log and '"GET /healthz' not in log


def test_access_log_all_errors_and_off(make_app: Callable[..., AppProcess]) -> None:
    everything = make_app(ACCESS_LOG="all")
    client = httpx.Client(base_url=everything.url)
    client.get("/static/app.css")
    log = logged_after(everything, client)
    assert '"GET /static/app.css HTTP/1.1" 200' in log and '"GET /healthz HTTP/1.1" 200' in log

    errors = make_app(ACCESS_LOG="errors")
    client = httpx.Client(base_url=errors.url)
    assert client.get("/login").status_code < 400
    log = logged_after(errors, client)
    assert '"GET /login HTTP/1.1"' not in log and '"POST /webhook?marker-' in log

    off = make_app(ACCESS_LOG="off", LOG_LEVEL="debug")
    client = httpx.Client(base_url=off.url)
    assert client.get("/login").status_code < 400
    assert client.post("/webhook", content=b"{}").status_code >= 400
    assert "uvicorn.access" not in off.log() and "Started server process" in off.log()


def test_a_hidden_secret_leaves_any_logger_s_lines_and_tracebacks() -> None:
    """The filter ``configure`` puts on the server's handler: a library's line (urllib3 at
    DEBUG logs request paths, where Telegram keeps the bot token) loses every hidden secret."""
    token = "123456789:AAHs3cretForTheScrubber"
    logs.hide([token])
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(logs.SCRUBBER)
    logger = logging.getLogger("test_logs.urllib3")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    try:
        logger.debug('"POST /bot%s/sendMessage HTTP/1.1" 200', token)
        try:
            raise ValueError(f"https://api.telegram.org/bot{token}/getUpdates refused")
        except ValueError:
            logger.exception("send failed")
    finally:
        logger.removeHandler(handler)
    text = written.getvalue()
    assert '"POST /bot****/sendMessage' in text and "bot****/getUpdates refused" in text
    assert "AAHs3cretForTheScrubber" not in text
