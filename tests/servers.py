"""The appliance as a user runs it, for tests: `python -m app` in its own process on a free
loopback port with a real SQLite file, and a person's browser (cookies, CSRF token) in front."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.config import VARIABLES

SIGNING_KEY = "whsec_test_sign_key"
APP_VARIABLES = {v.name for v in VARIABLES} | {f"{v.name}_FILE" for v in VARIABLES}
SETUP_CODE = re.compile(r"setup code ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


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

    def setup_code(self) -> str:
        """The one-time code an unclaimed server prints for the first-run setup."""
        found = SETUP_CODE.search(self.log())
        assert found, f"no setup code in the log:\n{self.log()}"
        return found.group(1)

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


def claim(app: AppProcess, password: str = INBOX_PASSWORD) -> tuple[InboxClient, httpx.Response]:
    """The first-run setup with the code from the server log, as a new owner does it: the
    client (signed in if it worked) and the server's answer."""
    browser = inbox_client(app, signed_in=False)
    token = browser.csrf("/setup")
    form = {"csrf_token": token, "code": app.setup_code(), "password": password}
    answer = browser.client.post("/setup", data={**form, "confirm": password})
    browser.token = ""  # setup signed in: a new session, with a new token
    return browser, answer
