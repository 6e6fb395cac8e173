"""Summarise a py-spy speedscope profile: per thread, where its samples are (self and total).

    .venv/bin/python bench/profile_summary.py PROFILE.json [--top 25] [--match TEXT]

py-spy's ``--idle`` keeps samples of threads that wait, so a thread's share of samples is its
share of wall time; "active" counts the samples whose innermost frame is not a known wait.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

WAITS = ("select", "poll", "wait", "acquire", "_recv_into", "get (queue", "sleep", "epoll")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", help="only threads whose name contains this")
    args = parser.parse_args()
    document = json.loads(args.profile.read_text())
    frames = document["shared"]["frames"]
    names = [f"{f['name']} ({Path(f.get('file') or '?').name}:{f.get('line', 0)})" for f in frames]
    for profile in document["profiles"]:
        if args.match and args.match not in profile["name"]:
            continue
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        active = 0
        samples = profile["samples"]
        for stack, weight in zip(samples, profile["weights"], strict=True):
            if not stack:
                continue
            leaf = names[stack[-1]]
            if not any(w in leaf for w in WAITS):
                active += weight
            own[leaf] += weight
            for name in set(names[i] for i in stack):
                total[name] += weight
        count = sum(profile["weights"]) or 1
        print(f"\n== {profile['name']}: {count} samples, active {100 * active / count:.0f} %")
        print("  self:")
        for name, weight in own.most_common(args.top):
            print(f"  {100 * weight / count:5.1f} %  {name}")
        print("  total:")
        for name, weight in total.most_common(args.top):
            print(f"  {100 * weight / count:5.1f} %  {name}")


if __name__ == "__main__":
    main()
