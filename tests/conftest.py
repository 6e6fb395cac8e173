"""Shared pytest fixtures."""

from __future__ import annotations

import email
import email.message
import email.policy
import http.server
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from nodejs import NodeJSON
from vendor import HelloClientFake

from app.config import VARIABLES, load_settings
from app.db import Database


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

SIGNING_KEY = "whsec_test_sign_key"
APP_VARIABLES = {v.name for v in VARIABLES} | {f"{v.name}_FILE" for v in VARIABLES}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppProcess:
    """The appliance as a user runs it: its own process, a real SQLite file under data_dir."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"server-{self.port}.log"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "inbox.db"

    def start(self, *, timeout: float = 30) -> AppProcess:
        env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
        env.update(HOST="127.0.0.1", PORT=str(self.port), DATA_DIR=str(self.data_dir), **self.env)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def restart(self) -> AppProcess:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Read the real database file, as another process would."""
        connection = sqlite3.connect(self.db_path, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def scalar(self, sql: str, params: tuple[object, ...] = ()) -> object:
        return self.query(sql, params)[0][0]

    def wait_for(self, sql: str, expected: object, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (value := self.scalar(sql)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{sql!r} gave {value!r}, expected {expected!r}")
            time.sleep(0.1)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
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
def app_server(make_app: Callable[..., AppProcess]) -> AppProcess:
    return make_app()


@pytest.fixture
def vendor(app_server: AppProcess, node_json: NodeJSON) -> HelloClientFake:
    return HelloClientFake(f"{app_server.url}/webhook", SIGNING_KEY, node_json)


# ---- notification endpoints: a real HTTP server (json://) and a real SMTP server ---------


@dataclass
class JsonSink:
    """A local HTTP server for Apprise's json:// target; answers 500 when told to."""

    accepted: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # every request's path, answered or not
    failures: dict[str, int] = field(default_factory=dict)  # path -> how many 500s to answer
    delay: float = 0.0
    port: int = 0
    condition: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str = "/notify") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def fail(self, path: str, times: int) -> None:
        with self.condition:
            self.failures[path] = times

    def received(self, path: str | None = None) -> list[dict[str, object]]:
        with self.condition:
            return [body for where, body in self.accepted if path is None or where == path]

    def wait(self, count: int, path: str | None = None, *, timeout: float = 30) -> list[dict]:
        """At least ``count`` accepted notifications (at ``path``), or AssertionError."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(found := self.received(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} notification(s) at {path}, not {count}")
                self.condition.wait(left)
        return found


@pytest.fixture
def json_sink() -> Iterator[JsonSink]:
    sink = JsonSink()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(sink.delay)
            with sink.condition:
                sink.attempts.append(self.path)
                failing = sink.failures.get(self.path, 0) > 0
                if failing:
                    sink.failures[self.path] -= 1
                else:
                    sink.accepted.append((self.path, json.loads(body)))
                sink.condition.notify_all()
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()


@dataclass
class SmtpSink:
    """A local aiosmtpd server for Apprise's mailto:// target."""

    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def url(self, extra: str = "") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            f"&from=inbox@example.com&to=owner@example.com{extra}"
        )

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        with self.condition:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.condition.notify_all()
        return "250 OK"

    def wait(self, count: int, *, timeout: float = 30) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} e-mail(s), not {count}")
                self.condition.wait(left)
            return list(self.messages)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def vendor_for(node_json: NodeJSON) -> Callable[[AppProcess], HelloClientFake]:
    """The Hello Client stand-in aimed at a given app (``vendor`` is tied to ``app_server``)."""
    return lambda app: HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)


# ---- the web inbox: a server with a password, and a signed-in client ----------------------

INBOX_PASSWORD = "correct horse battery"
API_TOKEN = "api-token-for-tests"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class InboxClient:
    """A person's browser, minus the rendering: cookies, the CSRF token, form posts."""

    app: AppProcess
    client: httpx.Client
    token: str = ""

    def get(self, path: str, **options: object) -> httpx.Response:
        return self.client.get(path, **options)  # type: ignore[arg-type]

    def csrf(self, path: str = "/login") -> str:
        found = CSRF_FIELD.search(self.client.get(path).text)
        assert found, f"no CSRF field on {path}"
        self.token = found.group(1)
        return self.token

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        form = {"csrf_token": self.token or self.csrf("/status"), **(data or {})}
        return self.client.post(path, data=form)

    def sign_in(self, username: str = "admin", password: str = INBOX_PASSWORD) -> httpx.Response:
        token = self.csrf("/login")
        answer = self.client.post(
            "/login", data={"csrf_token": token, "username": username, "password": password}
        )
        self.token = ""  # signing in starts a new session, with a new token
        return answer


def inbox_client(app: AppProcess, *, signed_in: bool = True) -> InboxClient:
    client = InboxClient(app, httpx.Client(base_url=app.url, timeout=60))
    if signed_in:
        assert client.sign_in().status_code == 303
    return client


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


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database under tmp_path, with its writer running."""
    database = Database(load_settings({"DATA_DIR": str(tmp_path / "db")}))
    database.open()
    try:
        yield database
    finally:
        database.close()
