"""The inbox's filter as the inbox page, the CSV export and the JSON API read it from a URL, so
the three always agree on what a filter means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from app.models import LEAD_STATUSES
from app.web.errors import BadParameter
from app.web.paging import Cursor
from app.web.params import day, whole_number

TYPES = ("lead", "appointment", "other")
STATUS_CHOICES = ("active", *LEAD_STATUSES, "all")  # "active": everything not archived
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class LeadFilter:
    type: str = ""
    status: str = "active"
    chatbot: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    cursor: Cursor | None = None  # a page of the rows older than this one ("Older →")
    newer: Cursor | None = None  # a page of the rows newer than this one ("← Newer")
    limit: int = PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str], *, max_limit: int = MAX_PAGE_SIZE) -> LeadFilter:
        kind = params.get("type", "").strip().lower()
        if kind and kind not in TYPES:
            raise BadParameter(f"type: must be one of {', '.join(TYPES)}")
        status = params.get("status", "").strip().lower() or "active"
        if status not in STATUS_CHOICES:
            raise BadParameter(f"status: must be one of {', '.join(STATUS_CHOICES)}")
        since, until = day(params, "since"), day(params, "until")
        cursor = Cursor.param(params, "cursor")
        return cls(
            type=kind,
            status=status,
            chatbot=params.get("chatbot", "").strip()[:200],
            since=since,
            until=until,
            q=params.get("q", "").strip()[:200],
            cursor=cursor,
            # One way at a time: with both, "newer" is not read at all.
            newer=Cursor.param(params, "newer") if cursor is None else None,
            limit=whole_number(params, "limit", low=1, high=max_limit) or min(PAGE_SIZE, max_limit),
        )

    def query_args(self, **changes: Any) -> dict[str, str]:
        """This filter as URL parameters (for links that keep it), without the defaults."""
        current = replace(self, **changes)
        args = {
            "type": current.type,
            "status": "" if current.status == "active" else current.status,
            "chatbot": current.chatbot,
            "since": current.since.isoformat() if current.since else "",
            "until": current.until.isoformat() if current.until else "",
            "q": current.q,
            "cursor": current.cursor.encode() if current.cursor else "",
            "newer": current.newer.encode() if current.newer else "",
        }
        return {key: value for key, value in args.items() if value}

    @property
    def everywhere(self) -> LeadFilter:
        """The same filter over the whole list, not one page of it (for "all matching")."""
        return replace(self, cursor=None, newer=None)

    @property
    def query(self) -> str:
        """This filter and page as a URL's query string (``""`` for the default list)."""
        return urlencode(self.query_args())

    @classmethod
    def from_query(cls, text: str) -> LeadFilter | None:
        """The list a lead was opened from (its ``?from=``); None if it is not one."""
        try:
            return cls.parse(dict(parse_qsl(text[:2000])))
        except BadParameter:
            return None

    @property
    def list_href(self) -> str:
        """This list's page in the inbox."""
        query = self.query
        return f"/?{query}" if query else "/"

    def lead_href(self, lead_id: int) -> str:
        """A lead's page that remembers this list: back, previous and next keep to it."""
        query = self.query
        return f"/leads/{lead_id}?{urlencode({'from': query})}" if query else f"/leads/{lead_id}"

    @property
    def narrowed(self) -> bool:
        return bool(self.type or self.status != "active" or self.chatbot or self.q) or bool(
            self.since or self.until
        )
