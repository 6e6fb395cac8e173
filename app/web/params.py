"""Reading what a URL says: ids in the path, and whole numbers, days and moments in the query.

The one place where a request's text becomes a number or a time, so every route and every
parameter has the same bounds: what the database (a 64-bit integer) and ``datetime`` (years 1 to
9999, in any time zone) can hold. Past them, an id in the path is a 404 (there is no such
thing) and a query parameter a 400 naming it; never the driver's ``OverflowError`` (a 500).

Path ids use the ``id`` convertor registered here (``/leads/{lead_id:id}``): its pattern matches
only 0 to ``MAX_ID``, so a larger id matches no route at all. ``path_id`` reads one back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from app.web.errors import BadParameter, NotFound

MAX_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT
# A day filter becomes local midnight, and ``until`` the midnight after it: a day's margin
# either side keeps both a ``datetime`` in every time zone (offsets are under a day).
FIRST_DAY = date.min + timedelta(days=1)
LAST_DAY = date.max - timedelta(days=1)


def number(text: str, low: int = 0, high: int = MAX_ID) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, or None.

    ASCII digits only: ``str.isdigit`` is also true for "²" and "٣", which ``int`` either
    refuses (a ValueError) or reads. Length is checked before ``int``, which refuses more than
    4,300 digits.
    """
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def moment(text: str) -> datetime | None:
    """An ISO 8601 time with an offset, that is also a time in UTC (where the database keeps
    it: ``0001-01-01T00:00:00+14:00`` is not), or None."""
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return None
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed


def whole_number(
    params: Mapping[str, str], name: str, *, low: int = 0, high: int = MAX_ID
) -> int | None:
    """An optional whole-number query parameter (``before``, ``after``, ``limit``)."""
    value = params.get(name, "").strip()
    if not value:
        return None
    found = number(value, low, high)
    if found is None:
        raise BadParameter(f"{name}: expected a whole number from {low} to {high}")
    return found


def day(params: Mapping[str, str], name: str) -> date | None:
    """An optional day (``since``, ``until``) as YYYY-MM-DD, within ``FIRST_DAY``..``LAST_DAY``."""
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        found = date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}: expected a date as YYYY-MM-DD") from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise BadParameter(f"{name}: expected a date from {FIRST_DAY} to {LAST_DAY}")
    return found


def path_id(request: Request, name: str) -> int:
    """The id a route's ``{name:id}`` matched. Checked again, so that a route written with
    Starlette's unbounded ``:int`` still answers 404 rather than overflowing the database."""
    value = request.path_params[name]
    found = value if isinstance(value, int) else number(str(value))
    if found is None or not 0 <= found <= MAX_ID:
        raise NotFound("There is nothing with that number.")
    return found


def up_to(limit: int) -> str:
    """A regular expression matching exactly the decimal numbers 0..``limit`` (with up to as
    many digits as ``limit``): shorter numbers, then each digit of ``limit`` undercut in turn."""
    digits = str(limit)
    choices = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for place, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - place - 1
            choices.append(f"{digits[:place]}[0-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


class IdConvertor(Convertor[int]):
    """A row id in a path: ``[0-9]+`` within 64 bits. Anything larger matches no route (404)."""

    regex = up_to(MAX_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        assert 0 <= value <= MAX_ID, "ids are 0 to 2**63 - 1"
        return str(value)


# Routes compile their paths when the page modules build them, and each of those imports this.
register_url_convertor("id", IdConvertor())
