"""Pieces of shown text: names in natural order, and searched words found in stored text.

A hit is returned as plain ``(text, is_hit)`` parts for the template to escape piece by piece
and wrap in ``<mark>``: no markup is ever built here, so neither stored text nor the search
can inject any, and a searched word can never land inside an entity such as ``&lt;``.
"""

from __future__ import annotations

import re

Parts = list[tuple[str, bool]]

_DIGITS = re.compile(r"(\d+)")
EXCERPT_BEFORE = 80
EXCERPT_AFTER = 200


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that reads numbers as numbers: "Bot 2" before "Bot 10", case ignored."""
    return tuple(
        (1, int(piece), "") if piece.isdigit() else (0, 0, piece.casefold())
        for piece in _DIGITS.split(name)
        if piece
    )


def chatbot_order(name: str, serial: str) -> tuple[bool, tuple[tuple[int, int, str], ...], str]:
    """Named chatbots first, in the order a person counts them (Bot 2 before Bot 10)."""
    return (not name, natural_key(name), serial)


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    """Each word where a word starts (the search matches word prefixes), longest first."""
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)


def hit_parts(value: str, words: list[str]) -> Parts:
    """``value`` cut into plain parts and hits of ``words``."""
    pattern = _pattern(words)
    if pattern is None:
        return [(value, False)] if value else []
    parts: Parts = []
    start = 0
    for found in pattern.finditer(value):
        if found.start() > start:
            parts.append((value[start : found.start()], False))
        parts.append((found.group(0), True))
        start = found.end()
    if start < len(value):
        parts.append((value[start:], False))
    return parts


def excerpt(value: str, words: list[str]) -> Parts:
    """The part of a long text around its first hit, with "…" where it was cut."""
    pattern = _pattern(words)
    found = pattern.search(value) if pattern else None
    first = found.start() if found else 0
    start = max(0, first - EXCERPT_BEFORE)
    if start:
        space = value.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(value), first + EXCERPT_AFTER)
    shown = ("…" if start else "") + value[start:end].strip() + ("…" if end < len(value) else "")
    return hit_parts(shown, words)


def first_line(value: str, limit: int = 120) -> str:
    """A message as one line of at most ``limit`` characters."""
    line = " ".join(value.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
