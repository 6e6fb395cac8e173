"""Shared pytest fixtures, and the helpers several test modules use (import them from here)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import browsers
import containers
import httpx
import pytest
from nodejs import NodeJSON
from servers import (
    API_TOKEN,
    APP_VARIABLES,
    INBOX_PASSWORD,
    SIGNING_KEY,
    AppProcess,
    InboxClient,
    claim,
    free_port,
    inbox_client,
)
from sinks import JsonSink, SmtpSink
from vendor import HelloClientFake

from app import shapes
from app.config import load_settings
from app.db import Database
from app.signature import HEADER, sign

# What test modules import from here: the helper modules' parts, and the shared helpers below.
__all__ = [
    "API_TOKEN",
    "APP_VARIABLES",
    "BASE_URL",
    "FAST",
    "INBOX_PASSWORD",
    "PUBLIC",
    "SIGNING_KEY",
    "AppProcess",
    "InboxClient",
    "JsonSink",
    "MakeApp",
    "SmtpSink",
    "VendorFor",
    "claim",
    "dangerous",
    "eventually",
    "every_route",
    "free_port",
    "inbox_client",
    "outbox",
    "png_size",
    "post_lead",
    "session_ids",
]


@pytest.fixture(scope="session")
def node_json() -> Iterator[NodeJSON]:
    """One persistent node process for the whole session (JSON.stringify oracle)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    helper = NodeJSON()
    try:
        yield helper
    finally:
        helper.close()


# ---- a real `python -m app` process on loopback ----------------------------------------

MakeApp = Callable[..., AppProcess]
VendorFor = Callable[[AppProcess], HelloClientFake]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Start `python -m app` with the given environment; every one is stopped afterwards."""
    started: list[AppProcess] = []

    def make(**env: str) -> AppProcess:
        env.setdefault("WEBHOOK_SIGNING_KEY", SIGNING_KEY)
        app = AppProcess(tmp_path / f"data{len(started)}", env)
        started.append(app)
        return app.start()

    yield make
    for app in started:
        app.stop()


@pytest.fixture
def app_server(make_app: MakeApp) -> AppProcess:
    return make_app()


@pytest.fixture
def vendor(app_server: AppProcess, node_json: NodeJSON) -> HelloClientFake:
    return HelloClientFake(f"{app_server.url}/webhook", SIGNING_KEY, node_json)


# ---- notification endpoints: a real HTTP server (json://) and a real SMTP server ---------


@pytest.fixture
def json_sink() -> Iterator[JsonSink]:
    sink = JsonSink()
    server = sink.serve()
    yield sink
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def vendor_for(node_json: NodeJSON) -> VendorFor:
    """The Hello Client stand-in aimed at a given app (``vendor`` is tied to ``app_server``)."""
    return lambda app: HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)


# ---- the web inbox: a server with a password, and a signed-in client ----------------------


@pytest.fixture(scope="module")
def inbox_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """One server per test module: password, API token, a time zone other than UTC."""
    env = {
        "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "INBOX_PASSWORD": INBOX_PASSWORD,
        "API_TOKEN": API_TOKEN,
        "TZ": "Europe/Berlin",
    }
    app = AppProcess(tmp_path_factory.mktemp("inbox") / "data", env).start()
    yield app
    app.stop()


@pytest.fixture
def inbox(inbox_app: AppProcess) -> Iterator[InboxClient]:
    client = inbox_client(inbox_app)
    yield client
    client.client.close()


@pytest.fixture
def inbox_vendor(inbox_app: AppProcess, node_json: NodeJSON) -> HelloClientFake:
    return HelloClientFake(f"{inbox_app.url}/webhook", SIGNING_KEY, node_json)


# ---- a migrated database in this process -------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database under tmp_path, with its writer running."""
    database = Database(load_settings({"DATA_DIR": str(tmp_path / "db")}))
    database.open()
    try:
        yield database
    finally:
        database.close()


# ---- helpers shared by several test modules (no test module imports another) --------


def eventually(
    check: Callable[[], bool],
    *,
    what: str | Callable[[], str] = "condition not met in time",
    timeout: float = 20,
    every: float = 0.01,
) -> None:
    """Poll ``check`` until it holds; past ``timeout``, fail with ``what`` (or what it returns,
    for a message only worth building on failure)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what() if callable(what) else what)
        time.sleep(every)


def post_lead(client: httpx.Client, url: str) -> int | None:
    """One signed lead; its SessionID when the inbox answered success, else None."""
    lead = shapes.sample_lead()
    body = json.dumps(lead, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    try:
        response = client.post(
            f"{url}/webhook",
            content=body,
            headers={
                "Content-Type": "application/json",
                HEADER: f"t={timestamp},v1={sign(SIGNING_KEY, timestamp, body)}",
            },
        )
    except httpx.TransportError:
        return None
    return lead["SessionID"] if response.json() == {"status": "success"} else None


def session_ids(db: Path) -> set[int]:
    connection = sqlite3.connect(db, timeout=10)
    try:
        return {row[0] for row in connection.execute("SELECT session_id FROM lead")}
    finally:
        connection.close()


BASE_URL = "https://inbox.example.com"
# Short retry and poll times: documented settings, not mocks.
FAST = {
    "NOTIFY_RETRY_FIRST_SECONDS": "0.2",
    "NOTIFY_RETRY_CAP_SECONDS": "1",
    "NOTIFY_POLL_SECONDS": "0.2",
    "BASE_URL": BASE_URL,
    "TZ": "Europe/Berlin",
}


def outbox(app: AppProcess, *, settled: int | None = None) -> list[tuple[object, ...]]:
    """The outbox rows, after waiting (if asked) until ``settled`` rows are no longer pending:
    the endpoint hears of a notification just before its row is marked."""
    if settled is not None:
        app.wait_for("SELECT count(*) FROM notify_outbox WHERE status != 'pending'", settled)
    return [
        tuple(row)
        for row in app.query("SELECT kind, status, attempts FROM notify_outbox ORDER BY id")
    ]


PUBLIC = {"/webhook", "/healthz", "/login", "/setup", "/manifest.webmanifest", "/sw.js"}


def every_route(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(method, path) for each route the real application registers, params filled in."""
    # Imported here: every test loads conftest, few need the whole web app built in-process.
    from starlette.routing import Mount, Route

    from app.server import create_app

    settings = load_settings({"DATA_DIR": str(tmp_path), "INBOX_PASSWORD": "x" * 12})
    for route in create_app(settings).routes:
        if isinstance(route, Mount):
            yield "GET", f"{route.path}/app.css"
            continue
        assert isinstance(route, Route), f"unexpected route type {route!r}"
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, path


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG format puts first."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class _Tags(HTMLParser):
    """Every real start tag, with its real attributes: text inside a quoted attribute value
    (an escaped `" onerror=` in an aria-label) is a value, not an attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs, self.get_starttag_text() or ""))


def dangerous(html: str) -> list[str]:
    """Markup an attacker could have injected: any of it in our output is a hole."""
    parser = _Tags()
    parser.feed(html)
    found = []
    for tag, attrs, text in parser.tags:
        # Our own script files and the charts we draw (an SVG in <img> runs no script): what an
        # attacker could inject would be escaped text, never a tag at all.
        ours = text.startswith(('<script src="/static/', '<img src="data:image/svg+xml;base64,'))
        if tag in ("script", "img", "iframe", "b", "object", "embed") and not ours:
            found.append(text)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                found.append(text)
    return found


# ---- headless Chromium (tests/browsers.py): one per test module -----------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from browsers.launched_chromium()


# ---- the Docker appliance (tests/containers.py): one engine and one image per session ------


@pytest.fixture(scope="session")
def engine() -> None:
    containers.ensure_engine()


@pytest.fixture(scope="session")
def stack(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[containers.Stack]:
    """The real compose.yaml, built and up; each test calls ``stack.up()`` first."""
    stack = containers.Stack(tmp_path_factory.mktemp("compose"))
    stack.write_compose_file()
    # A folder made by root, as `mkdir data` with sudo or an earlier root container leaves it.
    stack.data.mkdir()
    (stack.data / "left-by-root.txt").write_text("the entrypoint hands this to PUID:PGID\n")
    dangling_before = containers.dangling_images()
    try:
        stack.compose("up", "-d", "--build")
        stack.wait_healthy()
        yield stack
    finally:
        stack.remove()
        # The builder stage is left behind untagged by the classic builder: ours to remove too.
        for image in containers.dangling_images() - dangling_before:
            subprocess.run(["docker", "rmi", "--force", image], capture_output=True, timeout=120)
