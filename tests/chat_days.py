"""A busy day of chat logs for the chat pages' tests: many chatbots, many sessions each, pushed
in the vendor's shape (built with tests/chatlogs.py) and out of time order, as the issue saw it.

A helper module, not a test module: tests/test_web_chats_*.py and tests/test_browser_chats.py
import it.
"""

from __future__ import annotations

import random
from typing import Any

from chatlogs import conversation, window
from vendor import HelloClientFake

DAY = 21  # 2023-11-21, the vendor's example day
VISITOR_LINES = (
    "Hi, do you have anything for Saturday morning?",
    "How much does a full service cost for a 2015 Golf?",
    "Can I bring the car in tomorrow before work?",
    "My windscreen wiper squeaks when it rains, can you fix that?",
    "Do you also do tyre storage over the winter?",
    "I would like an appointment for an oil change please",
)
BOT_LINES = (
    "Hi! What can I help you with today?",
    "Of course. Which day and time would suit you best?",
    "A full service starts at 189 EUR including parts and labour.",
    "Thanks! May I have your name and a phone number to confirm?",
    "Great, we have noted that. Someone will call you back shortly.",
)


def push_window(
    vendor: HelloClientFake, serial: str, day: int, conversations: list[Any], *, name: str
) -> None:
    """One chatbot's day, pushed as the vendor does; the inbox must take it."""
    document = window(serial, day, conversations, Name=name)
    assert vendor.post({"Collection": [document]}).status_code == 200


def serial(bot: int) -> str:
    return f"{bot:04d}" + "c0ffee" * 4 + "00" + f"{bot:02d}"


def transcript(rng: random.Random) -> list[dict[str, str]]:
    """AI first, then turns: a visitor line, the bot's answer (2 to 5 turns)."""
    messages = [{"Type": "AI", "Content": BOT_LINES[0]}]
    for _ in range(rng.randint(2, 5)):
        messages.append({"Type": "User", "Content": rng.choice(VISITOR_LINES)})
        messages.append({"Type": "AI", "Content": rng.choice(BOT_LINES[1:])})
    return messages


def busy_day(bots: int = 20, sessions: int = 50, *, seed: int = 13) -> dict[str, Any]:
    """``bots`` chatbots ("Bot 1" …), ``sessions`` conversations each, in no time order."""
    rng = random.Random(seed)
    windows = []
    for bot in range(1, bots + 1):
        conversations = []
        for n in range(sessions):
            seconds = rng.randrange(24 * 3600)
            created = f"2023-11-{DAY:02d}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
            conversations.append(
                conversation(
                    bot * 1000 + n,
                    CreateTime=f"{created}{seconds % 60:02d}.000001Z",
                    Messages=transcript(rng),
                )
            )
        windows.append(window(serial(bot), DAY, conversations, Name=f"Bot {bot}"))
    return {"Collection": windows}
