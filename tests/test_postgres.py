"""DATABASE_URL=postgresql://…: the same receiver and inbox on a real PostgreSQL server.

A throwaway cluster (Debian's postgresql package) is started in a temporary folder. Without the
server binaries the tests skip, visibly; REQUIRE_POSTGRES=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess, free_port
from nodejs import NodeJSON
from spec_examples import SPEC_APPOINTMENT, SPEC_CHATLOG, SPEC_LEAD
from vendor import HelloClientFake

API_TOKEN = "postgres-test-token"
SUCCESS = b'{"status":"success"}'


def as_postgres_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package creates the "postgres" user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        message = "PostgreSQL server binaries not installed (Debian package postgresql)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    bin_dir = Path(binaries[-1])
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # the postgres user, which must be able to reach its folder.
    root = Path(tempfile.mkdtemp(prefix="inbox-postgres-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "inbox"]),
        check=True,
        capture_output=True,
    )
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w"]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(as_postgres_user([*start, "-o", options, "start"]), check=True)
    try:
        subprocess.run(
            as_postgres_user(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "inbox",
                    "inbox",
                ]
            ),
            check=True,
        )
        yield f"postgresql+psycopg://inbox@127.0.0.1:{port}/inbox"
    finally:
        subprocess.run(as_postgres_user([*start, "-m", "fast", "stop"]), check=False)
        shutil.rmtree(root, ignore_errors=True)


def api(app: AppProcess, path: str) -> dict:  # type: ignore[type-arg]
    response = httpx.get(
        f"{app.url}{path}", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def test_receiver_and_inbox_on_postgresql(
    postgres_url: str, make_app: Callable[..., AppProcess], node_json: NodeJSON
) -> None:
    app = make_app(DATABASE_URL=postgres_url, API_TOKEN=API_TOKEN)
    vendor = HelloClientFake(f"{app.url}/webhook", SIGNING_KEY, node_json)
    for payload in (SPEC_LEAD, SPEC_APPOINTMENT, SPEC_CHATLOG, SPEC_LEAD):
        assert vendor.post(payload).content == SUCCESS
    assert vendor.post(SPEC_LEAD, key="wrong").status_code == 401

    leads = api(app, "/api/leads")["leads"]
    assert sorted((lead["type"], lead["session_id"]) for lead in leads) == [
        ("Appointment", 31306),
        ("Lead", 31305),
    ]
    found = api(app, "/api/leads?q=Garcia")["leads"]  # full-text search, PostgreSQL's branch
    assert len(found) == 2
    assert api(app, "/api/leads?q=nobodyhere")["leads"] == []

    app.restart()  # nothing lives in the data folder: the server holds it all
    assert not (app.data_dir / "inbox.db").exists()
    assert len(api(app, "/api/leads")["leads"]) == 2

    # A lead from the chat log's session links to its transcript (same chatbot and SessionID).
    assert vendor.post({**SPEC_LEAD, "SessionID": 31302}).content == SUCCESS
    (linked,) = [lead for lead in api(app, "/api/leads")["leads"] if lead["session_id"] == 31302]
    transcript = api(app, f"/api/leads/{linked['id']}")["transcript"]
    assert [m["content"] for m in transcript[0]["messages"]] == [
        "Hi What can I help you with?",
        "make an appointment",
        "Please select the date and time...",
    ]

    # A push over the inline limit is stored apart (delivery_body), answered, then processed
    # in the background from there.
    window = SPEC_CHATLOG["Collection"][0]
    big = [{"Type": "bot", "Content": f"{n} " + "x" * 1_000_000} for n in range(3)]
    conversation = {**window["Conversations"][0], "SessionID": 41000, "Messages": big}
    push = {"Collection": [{**window, "StartTime": "2026-01-01T00:00:00Z",
                            "Conversations": [conversation]}]}  # fmt: skip
    assert vendor.post(push).content == SUCCESS
    assert vendor.post({**SPEC_LEAD, "SessionID": 41000}).content == SUCCESS
    (pushed,) = [lead for lead in api(app, "/api/leads")["leads"] if lead["session_id"] == 41000]
    deadline = time.monotonic() + 60
    while not (transcript := api(app, f"/api/leads/{pushed['id']}")["transcript"]):
        assert time.monotonic() < deadline, "the large push was not processed"
        time.sleep(0.5)
    assert [len(m["content"]) for m in transcript[0]["messages"]] == [1_000_002] * 3
