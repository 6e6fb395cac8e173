"""Helpers for the inbox triage tests (bulk actions, keeping one's place, the live list):
leads built from the vendor's example, posted signed, and the list read back from the HTML."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from spec_examples import SPEC_LEAD
from vendor import HelloClientFake

_sessions = itertools.count(700_000)
_bots = itertools.count(1)


def new_bot() -> str:
    """A chatbot serial of its own, so a test's filter shows only its own leads."""
    return f"{next(_bots):032x}"


def lead(**fields: Any) -> dict[str, Any]:
    """The vendor document's lead, created at ``when`` (default now); each call a new session."""
    moment = fields.pop("when", datetime.now(UTC))
    return {
        **SPEC_LEAD,
        "CreateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "SessionID": next(_sessions),
        **fields,
    }


def post(vendor: HelloClientFake, payload: dict[str, Any]) -> dict[str, Any]:
    answer = vendor.post(payload)
    assert answer.status_code == 200, answer.text
    return payload


def seed(vendor: HelloClientFake, bot: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    """``count`` leads from chatbot ``bot``, a minute apart, the last one the newest."""
    start = datetime.now(UTC) - timedelta(minutes=count + 5)
    return [
        post(vendor, lead(SerialNumber=bot, when=start + timedelta(minutes=n), **fields))
        for n in range(count)
    ]


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/leads/(\d+)[^"]*" class="item-link"', html)]


def link(html: str, rel: str) -> str | None:
    """The pager's link with ``rel`` (prev/next), unescaped; None when there is none."""
    found = re.search(rf'<a href="([^"]+)" class="button secondary[^"]*" rel="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None
