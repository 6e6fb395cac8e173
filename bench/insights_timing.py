"""The Insights page and /metrics at scale, for bench/inbox.py (kept apart: inbox.py is long).

The first Insights view after a bulk import counts every lead into ``insights_lead_hour`` (once);
the first view of each range draws its charts (then cached while the figures stay the same);
then each range is measured like every other page. The first /metrics scrape counts the
growing tables whole; later ones read only rows past the ids already counted. Target: Insights
≤ 100 ms server time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

TARGET_MS = 100.0
RANGES = (30, 90, 365)
Measure = Callable[[httpx.Client, str, int], tuple[float, float, float]]


def server_ms(answer: httpx.Response) -> float:
    return float(re.search(r"dur=([\d.]+)", answer.headers["server-timing"])[1])  # type: ignore[index]


def timed(client: httpx.Client, path: str, **options: object) -> tuple[float, float]:
    started = time.perf_counter()
    answer = client.get(path, **options)  # type: ignore[arg-type]
    answer.raise_for_status()
    return server_ms(answer), (time.perf_counter() - started) * 1000


def insights(client: httpx.Client, measure: Measure, runs: int, metrics_token: str) -> float:
    """Prints a table; returns the worst p95 of the Insights ranges."""
    print("\n| Insights / metrics | server median | server p95 | wall median |")
    print("| --- | --- | --- | --- |")
    server = wall = 0.0
    views = 0
    while True:  # each view counts for at most 3 s and says when it has not finished
        started = time.perf_counter()
        answer = client.get("/insights?days=30")
        wall += (time.perf_counter() - started) * 1000
        server += server_ms(answer)
        views += 1
        if "Still counting" not in answer.text:
            break
    print(f"| counting every lead once ({views} views) | {server:.0f} ms | | {wall:.0f} ms |")
    worst = 0.0
    for days in RANGES:
        server, wall = timed(client, f"/insights?days={days}")
        print(f"| {days} days, first draw | {server:.1f} ms | | {wall:.1f} ms |")
        median, p95, wall = measure(client, f"/insights?days={days}", runs)
        worst = max(worst, p95)
        print(f"| {days} days | {median:.1f} ms | {p95:.1f} ms | {wall:.1f} ms |", flush=True)
    headers = {"Authorization": f"Bearer {metrics_token}"}
    started = time.perf_counter()
    client.get("/metrics", headers=headers).raise_for_status()
    print(f"| /metrics, first scrape | | | {(time.perf_counter() - started) * 1000:.1f} ms |")
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get("/metrics", headers=headers).raise_for_status()
        walls.append((time.perf_counter() - started) * 1000)
    walls.sort()
    median, p95 = walls[len(walls) // 2], walls[-1 - len(walls) // 20]
    print(f"| /metrics | | | {median:.1f} ms (p95 {p95:.1f} ms) |")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"\nInsights worst p95 {worst:.1f} ms: {verdict} {TARGET_MS:.0f} ms", flush=True)
    return worst
