"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from nodejs import NodeJSON
from vendor import HelloClientFake

from app.config import VARIABLES


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
