"""When an appointment is for: a date and a time found in its free-text content, if any.

The chatbot asks "Please select the date and time..." and the content holds what came back, in
whatever words. ``dateparser`` finds dates in text ("tomorrow at 10:00", "Nov 30 at 9:30am",
"2023-11-28 14:30"), read relative to when the appointment was made, as wall-clock time in TZ.
Only a date *and* a time make a timed event; anything less is left to an all-day event.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import lru_cache

log = logging.getLogger(__name__)

MAX_CHARS = 600  # dateparser's cost grows with the text; a booking states its time early
_TIME = re.compile(r"\d{1,2}:\d{2}|\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b", re.IGNORECASE)
# What makes a matched piece of text name a day (checked once its time of day is removed).
_DATE = re.compile(
    r"\d{1,4}[/.-]\d{1,2}|\b\d{4}\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d"
    r"|\d{1,2}\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:today|tomorrow|tonight)\b",
    re.IGNORECASE,
)


def _parts(matched: str) -> tuple[bool, bool]:
    """(holds a date, holds a time) for one matched piece of text."""
    has_time = bool(_TIME.search(matched))
    return bool(_DATE.search(_TIME.sub(" ", matched))), has_time


@lru_cache(maxsize=8192)
def appointment_time(content: str, made_at_local: datetime) -> datetime | None:
    """Naive local wall-clock time of the appointment, or None if the text gives no date+time.

    ``made_at_local`` is naive local time too: "tomorrow" means the day after it was made.
    """
    text = content[:MAX_CHARS]
    if not _TIME.search(text):
        return None  # no time of day at all: skip the costly search
    from dateparser.search import search_dates  # imported late: ~0.3 s, needed by ICS only

    try:
        found = search_dates(
            text,
            languages=["en"],
            settings={
                "RELATIVE_BASE": made_at_local,
                "PREFER_DATES_FROM": "future",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    except Exception:  # a parser bug must not take the calendar down
        log.exception("could not search an appointment's text for a date")
        return None
    date_only: datetime | None = None
    time_only: datetime | None = None
    for matched, found_at in found or []:
        has_date, has_time = _parts(matched)
        moment: datetime = found_at.replace(tzinfo=None)
        if has_date and has_time:
            return moment
        if has_date and date_only is None:
            date_only = moment
        elif has_time and time_only is None:
            time_only = moment
    if date_only is not None and time_only is not None:
        return datetime.combine(date_only.date(), time_only.time())
    return None
