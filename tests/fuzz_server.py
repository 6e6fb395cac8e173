"""The server tests/test_fuzz_webhook.py fuzzes, and the ledger that judges every answer it
gives: what was sent, what was verified, which leads must (and may) be stored.

A helper module, not a test module; the cases and strategies are in webhook_fuzzing.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SIGNING_KEY, AppProcess
from hypothesis import HealthCheck, settings
from webhook_fuzzing import BAD_FORMS, GOOD_FORMS, Case, Headers, LeadKey, lead_key

from app.signature import MAX_HEADERS

SUCCESS = b'{"status":"success"}'
LIMIT = 3 * 1024 * 1024  # MAX_BODY_MB=3: above the 2 MB inline limit, so both paths run
INLINE = 2 * 1024 * 1024  # app.ingest.documents.INLINE_MAX_BYTES


def fuzz(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same cases on every run: a CI failure reproduces locally
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def forms_for(body: bytes, good: int, bad: int) -> list[str]:
    """Signature forms for one body: a rotating pick of valid and invalid ones, plus none.
    Chosen from the body, not drawn: hypothesis spends its time on the bodies."""
    turn = int.from_bytes(hashlib.sha256(body).digest()[:4], "big")
    goods = [GOOD_FORMS[(turn + n) % len(GOOD_FORMS)] for n in range(good)]
    bads = [BAD_FORMS[1 + (turn + n) % (len(BAD_FORMS) - 1)] for n in range(bad)]
    return [*goods, *bads, "none"]


@dataclass
class Ledger:
    sent: int = 0
    by_test: Counter[str] = field(default_factory=Counter)
    verified_bodies: set[str] = field(default_factory=set)  # sha256 of validly signed bodies
    required: set[LeadKey] = field(default_factory=set)  # verified, answered success: stored
    allowed: set[LeadKey] = field(default_factory=set)  # a valid signature was among its headers


@dataclass(repr=False)
class Fuzzer:
    app: AppProcess
    client: httpx.Client  # one keep-alive pool, shared by the threads below
    pool: ThreadPoolExecutor
    ledger: Ledger = field(default_factory=Ledger)

    def __repr__(self) -> str:  # hypothesis prints it with every failing case
        return f"Fuzzer({self.app.url}, {self.ledger.sent} sent)"

    def post(
        self, test: str, cases: list[Case], *, chunked: bool = False, certain: bool = True
    ) -> None:
        """Send one example's cases at once (a busy vendor and an attacker do not take turns
        either), then judge each answer. ``certain=False``: a lead in these bodies may or may
        not be storable (nesting near the recursion limit, which depends on the stack)."""
        __tracebackhide__ = True
        answers = list(self.pool.map(lambda case: self._send(case[0], case[1], chunked), cases))
        for (body, headers, valid), answer in zip(cases, answers, strict=True):
            self._judge(test, body, headers, valid, answer, certain)

    def _send(self, body: bytes, headers: Headers, chunked: bool) -> httpx.Response:
        content: bytes | Iterator[bytes] = body
        if chunked:  # no Content-Length: the limit must hold while streaming too
            content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""])
        return self.client.post("/webhook", content=content, headers=headers)

    def _judge(
        self,
        test: str,
        body: bytes,
        headers: Headers,
        valid: int,
        answer: httpx.Response,
        certain: bool,
    ) -> None:
        __tracebackhide__ = True
        self.ledger.sent += 1
        self.ledger.by_test[test] += 1
        check_answer(answer, body)
        signatures = [v for k, v in headers if k.lower() == b"x-webhook-signature"]
        # A Content-Encoding other than identity: the body is not what it says (400) or the
        # encoding is unknown (415), before any signature is looked at.
        encodings = [v for k, v in headers if k.lower() == b"content-encoding"]
        plain = not encodings or encodings[0].strip(b" \t").lower() in (b"", b"identity")
        if len(body) > LIMIT:
            assert answer.status_code == 413, answer.text
        elif not plain:
            assert answer.status_code in (400, 415), answer.text
        elif valid == 0:
            assert answer.status_code != 200, f"unverified body answered success: {signatures}"
        elif len(signatures) <= MAX_HEADERS:  # each header is tried: one good one is enough
            assert answer.status_code == 200, (answer.text, signatures, body[:300])
        if valid and len(body) <= LIMIT and plain:
            self.record_verified(body, required=certain and answer.status_code == 200)

    def record_verified(self, body: bytes, *, required: bool) -> None:
        """A validly signed body: its lead may be stored, and must be if it was answered 200."""
        self.ledger.verified_bodies.add(hashlib.sha256(body).hexdigest())
        key = lead_key(body)
        if key is not None:
            self.ledger.allowed.add(key)
            if required:
                self.ledger.required.add(key)

    def post_compressed(
        self, body: bytes, sent: bytes, headers: Headers, valid: bool, expected: int
    ) -> None:
        """``sent`` inflates to ``body`` (or is damaged): judged against what it inflates to."""
        __tracebackhide__ = True
        answer = self.client.post("/webhook", content=sent, headers=headers)
        self.ledger.sent += 1
        self.ledger.by_test["compressed"] += 1
        check_answer(answer, sent)
        assert answer.status_code == (expected if valid or expected != 200 else 401), answer.text
        if valid and expected == 200:
            self.record_verified(body, required=True)

    def peak_mb(self) -> float:
        """The server's peak resident memory so far (VmHWM)."""
        assert self.app.proc is not None
        status = Path(f"/proc/{self.app.proc.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024


def check_answer(answer: httpx.Response, sent: bytes = b"") -> None:
    """What every answer of the app must look like, 429 included."""
    assert answer.status_code < 500, f"{answer.text} for {sent[:300]!r}…"
    if answer.status_code >= 400:
        assert answer.headers.get("content-type", "").startswith("application/json"), answer
        reason = answer.json()
        assert reason["status"] == "error", reason
        assert isinstance(reason["error"], str) and reason["error"].strip(), reason
        assert SIGNING_KEY not in answer.text
    else:
        assert (answer.status_code, answer.content) == (200, SUCCESS), answer.text


@contextlib.contextmanager
def _fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tmpfs when there is room: this fuzzes input handling, not durability (the crash and disk
    tests do that), and an fsync per case on a shared disk would more than double the run."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 1024**3):
        yield tmp_path_factory.mktemp("fuzz")
        return
    root = Path(tempfile.mkdtemp(prefix="fuzz-webhook-", dir=shm))
    try:
        yield root
    finally:
        for log in root.glob("*.log"):  # kept with pytest's other temporary files
            shutil.copy2(log, tmp_path_factory.getbasetemp() / log.name)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    """A server to fuzz (for a module-scoped fixture), stopped afterwards."""
    env = {
        "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "MAX_BODY_MB": str(LIMIT // 1024**2),
        # Every refusal is quarantined (at the default 60 a minute most would soon be only
        # logged, skipping the code under test) and the quarantine holds the largest body.
        "QUARANTINE_RATE_PER_MINUTE": "1000000",
        "QUARANTINE_MAX_MB": "16",
        "QUARANTINE_MAX_ITEMS": "50",  # each refusal re-reads the quarantine to bound it
        "LOG_LEVEL": "warning",  # no access-log line per case; warnings and errors still show
    }
    with _fuzz_root(tmp_path_factory) as root:
        app = AppProcess(root / "data", env).start()
        client = httpx.Client(base_url=app.url, timeout=120)
        pool = ThreadPoolExecutor(4)
        try:
            yield Fuzzer(app, client, pool)
        finally:
            pool.shutdown()
            client.close()
            app.stop()
