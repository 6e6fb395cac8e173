"""After a contender's run: is every acknowledged lead stored once, searchable, notified?

wrk stops counting at its deadline while up to one request per connection is still being
answered, so a receiver may hold up to ``connections`` more leads than were acknowledged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import httpx

Query = Callable[[str], Sequence[Any]]


def sqlite_query(path: str) -> Query:
    def query(sql: str) -> Sequence[Any]:
        with sqlite3.connect(path) as connection:
            return connection.execute(sql).fetchone()  # type: ignore[no-any-return]

    return query


def postgres_query(url: str) -> Query:
    import psycopg

    def query(sql: str) -> Sequence[Any]:
        with psycopg.connect(url) as connection:
            row = connection.execute(sql).fetchone()
            assert row is not None
            return row

    return query


def stored_once(query: Query, acknowledged: int, connections: int) -> list[str]:
    """Problems with the ``lead`` table (both the app's and the baselines' have one)."""
    rows, sessions = query("SELECT count(*), count(DISTINCT session_id) FROM lead")
    problems = []
    if rows != sessions:
        problems.append(f"{rows} lead rows for {sessions} distinct leads")
    if not acknowledged <= rows <= acknowledged + connections:
        problems.append(f"{acknowledged} acknowledged but {rows} stored")
    return problems


def app_complete(
    query: Query, base_url: str, token: str, samples: int = 25, *, notified: bool = True
) -> list[str]:
    """The app's own promises: one accepted delivery per lead, one notification row per lead
    (the bench configures one target), and each lead found by the inbox's search."""
    problems = []
    (leads,) = query("SELECT count(*) FROM lead")
    (accepted,) = query("SELECT count(*) FROM delivery WHERE outcome = 'accepted'")
    if accepted != leads:
        problems.append(f"{accepted} accepted deliveries for {leads} leads")
    queued, distinct = query("SELECT count(*), count(DISTINCT lead_id) FROM notify_outbox")
    if notified and not queued == distinct == leads:
        problems.append(f"{queued} notification rows ({distinct} leads) for {leads} leads")
    # wrk builds its first request without sending it, so lead 0 may be missing: sample the
    # stored leads' range.
    low, high = query("SELECT min(session_id), max(session_id) FROM lead")
    step = max(1, ((high or 0) - (low or 0)) // samples)
    for n in range(low or 0, (high or 0) + 1, step):
        found = httpx.get(
            f"{base_url}/api/leads",
            params={"q": f"Zq{n}x", "limit": 100},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        found.raise_for_status()
        if n not in {lead["session_id"] for lead in found.json()["leads"]}:
            problems.append(f"lead {n} not found by searching Zq{n}x")
    return problems
