"""The daily chat-log push the benchmarks send: generated, and signed as the vendor signs it.

A helper of bench/push.py (and its pretty-printed variant): see there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket

KEY = "bench-sign-key"
FINAL_MARKER = "zqxfinalmarker"  # one token only the push's very last message holds

SYLLABLES = "ka lo mi ne ru sa te vi do pa bel mor tan gri fen hal jus kor lin".split()  # noqa: SIM905
WORDS_EXTRA = [
    "Grüße",
    "Straße",
    "Öffnungszeiten",
    "café",
    "réservation",
    "naïve",
    "señor",
    "日本",
    "✓",
    "🙂",
    "price",
    "delivery",
    "appointment",
    "tomorrow",
    "please",
    "thanks",
    "invoice",
    "kitchen",
    "roof",
    "boiler",
    "leak",
    "booking",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the push ---------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size] + WORDS_EXTRA


def sentence_pool(rng: random.Random, mean_length: int, count: int = 20_000) -> list[str]:
    """Message texts, already JSON-encoded: picking from a pool keeps generation to seconds."""
    words = vocabulary(rng)
    pool = []
    for _ in range(count):
        target = rng.randint(max(1, mean_length // 3), max(2, mean_length * 5 // 3))
        text: list[str] = []
        length = 0
        while length < target:
            word = rng.choice(words)
            text.append(word)
            length += len(word.encode()) + 1
        pool.append(json.dumps(" ".join(text), ensure_ascii=False))
    return pool


def window_sizes(rng: random.Random, chatbots: int, messages: int) -> list[int]:
    """Messages per chatbot: a few busy bots, many quiet ones (Pareto weights)."""
    weights = [rng.paretovariate(1.2) for _ in range(chatbots)]
    total = sum(weights)
    sizes = [max(1, int(messages * w / total)) for w in weights]
    sizes[sizes.index(max(sizes))] += messages - sum(sizes)
    return sizes


def build_push(messages: int, megabytes: float, chatbots: int, seed: int = 7) -> bytes:
    """Compact JSON, exactly what ``JSON.stringify`` prints for it (strings and integers only)."""
    rng = random.Random(seed)
    per_message_overhead = 40  # {"Type":"User","Content":""}, plus the conversation's share
    mean = max(8, int(megabytes * 1_000_000 / messages) - per_message_overhead)
    pool = sentence_pool(rng, mean)
    parts: list[str] = ['{"Collection":[']
    session = 1_000_000
    for w, size in enumerate(window_sizes(rng, chatbots, messages)):
        serial = hashlib.md5(f"bot{w}".encode()).hexdigest()
        parts.append(
            f'{"," if w else ""}{{"SerialNumber":"{serial}","Name":"Chatbot {w}",'
            f'"StartTime":"2026-11-24T00:00:00Z","EndTime":"2026-11-25T00:00:00Z",'
            '"Conversations":['
        )
        left, first = size, True
        while left:
            turns = min(left, rng.randint(2, 14))
            left -= turns
            session += 1
            texts = rng.choices(pool, k=turns)
            if w == chatbots - 1 and not left:
                texts[-1] = texts[-1][:-1] + f' {FINAL_MARKER}"'
            body = ",".join(
                f'{{"Type":"{"AI" if m % 2 == 0 else "User"}","Content":{t}}}'
                for m, t in enumerate(texts)
            )
            parts.append(
                f'{"" if first else ","}{{"SessionID":{session},'
                f'"CreateTime":"2026-11-24T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:'
                f'{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}Z",'
                f'"URI":"https://shop{w}.example.com/","Messages":[{body}]}}'
            )
            first = False
        parts.append("]}")
    parts.append("]}")
    return "".join(parts).encode()


def signature(body: bytes, timestamp: str) -> str:
    """Hello Client's HMAC over ``t + "." + JSON.stringify(body)``; compact JSON is its own
    stringification, so the raw bytes are what the vendor signs."""
    mac = hmac.new(KEY.encode(), timestamp.encode() + b".", hashlib.sha256)
    mac.update(body)
    return f"t={timestamp},v1={mac.hexdigest()}"


def pretty_printed(body: bytes) -> bytes:
    """The same push, indented: not the bytes the vendor signs (those stay ``body``, which is
    JSON.stringify's text), so it verifies only in its JavaScript form."""
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
