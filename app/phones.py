"""Phone numbers found however they were typed: one key per stored number, and what a search
for a typed number looks for in those keys. No database code (the search and the index build
on it), and no country metadata: a digits-and-suffix rule instead of the ``phonenumbers``
package, which would bring 50 MB of per-country tables to tell a country code's length.

The key of a stored number is its digits between two anchors, ``^`` and ``$``, with ``+``
after the first anchor when the country is clear (a leading ``+`` or ``00``):

    "+49 170 6950233"     -> "^+491706950233$"
    "0049 (0)170 6950233" -> "^+491706950233$"   (the "(0)" trunk digit is not dialled)
    "0170 6950233"        -> "^01706950233$"     (national: country unknown)

A typed number is turned into patterns, and a lead matches when its key *contains* one of
them (the anchors make "starts with" and "ends with" expressible as plain substrings, which
SQLite's trigram index and a LIKE on any database both answer):

- international (``+`` or ``00``), digits F: keys starting ``^+F``; and a national number
  that is exactly F without a 1-3 digit country code (``^0`` + rest + ``$``, or without the 0);
- national (one leading 0), digits 0N: keys starting ``^0N``, and any key ending ``N$`` (the
  national significant number of an international key);
- other digits D: any key containing D.

So "+491706950233", "0049 170 6950233", "01706950233", "6950233" and "+49 (170) 695-0233"
all find both "+49 170 6950233" and "0170 6950233". A national number can also match the
same national number in another country ("+44 170 6950233"): without metadata there is no
home country to rule that out, and the false hit is rarer than the miss would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Removed before anything else: "+49 (0)170" means "+49 170".
TRUNK_ZERO = "(0)"
# What people put between digits. Removed in this order, the same in the index (SQL replace).
SEPARATORS = (
    TRUNK_ZERO,
    " ",
    "\u00a0",  # no-break space, as pasted from web pages
    "\t",
    "-",
    "\u2010",  # hyphen
    "\u2011",  # non-breaking hyphen
    "\u2012",  # figure dash
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "(",
    ")",
    ".",
    "/",
)
START, END, PLUS = "^", "$", "+"
# Fewer digits than this in a search is a word, not a phone number ("2024", "170").
MIN_DIGITS = 6
# The shortest national significant number kept once a country code is taken off.
MIN_NATIONAL = 5
COUNTRY_CODE_LENGTHS = (1, 2, 3)  # E.164: a country code has one to three digits

# A run that may be a phone number in a search: digits with separators between them, an
# optional "+" (or "(+") in front. Not inside a word: "abc1234567" stays a word.
_RUN = re.compile(r"(?<!\w)\(?\+?\d(?:[\s().\-/\u00a0\u2010-\u2014\u2212]*\d)*\)?(?!\w)")
_DIGITS = re.compile(r"\d+")


def without_separators(raw: str) -> str:
    """``raw`` (spaces around it trimmed) with every separator removed; ``+`` is kept."""
    text = raw.strip(" ")
    for separator in SEPARATORS:
        text = text.replace(separator, "")
    return text


def stored_key(raw: str) -> str:
    """The key a stored number is indexed under (see the module docstring); "" for none."""
    kept = without_separators(raw)
    digits = kept.replace(PLUS, "")
    if not digits:
        return ""
    if kept.startswith(PLUS):
        return START + PLUS + digits + END
    if digits.startswith("00"):
        return START + PLUS + digits[2:] + END
    return START + digits + END


@dataclass(frozen=True)
class TypedNumber:
    """A phone number in a search: as typed, and the patterns its key must contain one of."""

    typed: str
    patterns: tuple[str, ...]


def patterns(typed: str) -> tuple[str, ...]:
    """What a key must contain (any one of) to match ``typed``; () if it is no phone number."""
    kept = without_separators(typed)
    digits = kept.replace(PLUS, "")
    if not _DIGITS.fullmatch(digits) or len(digits) < MIN_DIGITS:
        return ()
    if kept.startswith(PLUS) or digits.startswith("00"):
        return _international(digits[2:] if not kept.startswith(PLUS) else digits)
    if digits.startswith("0"):
        national = digits[1:]
        return (START + digits, national + END)
    return (digits,)


def _international(digits: str) -> tuple[str, ...]:
    found = [START + PLUS + digits, START + digits]
    for length in COUNTRY_CODE_LENGTHS:
        national = digits[length:]
        if len(national) >= MIN_NATIONAL:
            found += [START + "0" + national + END, START + national + END]
    return tuple(found)


def split_query(query: str) -> tuple[str, list[TypedNumber]]:
    """A search split into its phone numbers and the rest (its words, searched as before)."""
    numbers: list[TypedNumber] = []

    def take(match: re.Match[str]) -> str:
        found = patterns(match.group())
        if not found:
            return match.group()
        numbers.append(TypedNumber(match.group(), found))
        return " "

    rest = _RUN.sub(take, query)
    return rest, numbers


def matches(key: str, typed: TypedNumber) -> bool:
    """The rule the indexes carry out, in Python: what the tests hold the database to."""
    return bool(key) and any(pattern in key for pattern in typed.patterns)


def fts5_query(typed: TypedNumber) -> str:
    """The patterns as an FTS5 query for a trigram index (each a phrase: a substring)."""
    return " OR ".join(f'"{pattern}"' for pattern in typed.patterns)


# The end of a pattern that leads its lookup: the last digits tell numbers apart.
LEADING_TAIL = 6


def fts5_lookup(typed: TypedNumber) -> str:
    """``fts5_query`` as the index is best asked: the same leads, found without a walk
    through every key.

    FTS5 walks a phrase from its first trigram, and a number's first trigrams ("^+4", "+49")
    are in nearly every key: 12 ms for one number in 100,000. Each pattern is therefore
    ANDed after a phrase of its last digits, which FTS5 walks first and which few keys hold
    (0.7 ms); the result is the same, the tail being part of the pattern.
    """
    return " OR ".join(_lookup(pattern) for pattern in typed.patterns)


def _lookup(pattern: str) -> str:
    if len(pattern) <= LEADING_TAIL:
        return f'"{pattern}"'
    return f'("{pattern[-LEADING_TAIL:]}" AND "{pattern}")'
