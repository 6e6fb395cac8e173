"""app.phones: a stored number's key, and what a typed number matches, without a database."""

from __future__ import annotations

import pytest

from app import phones

STORED = ("+49 170 6950233", "0170 6950233")
TYPED = (
    "6950233",
    "+491706950233",
    "01706950233",
    "0049 170 6950233",
    "+49 (170) 695-0233",
    "+49 (0)170 6950233",
    "0170/695 02 33",
    "+49\u00a0170\u20116950233",
)


def typed_number(text: str) -> phones.TypedNumber:
    rest, numbers = phones.split_query(text)
    assert rest.strip() == ""
    assert [number.typed for number in numbers] == [text]
    return numbers[0]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+49 170 6950233", "^+491706950233$"),
        ("0049 (0)170 6950233", "^+491706950233$"),
        ("+49 (0) 170-695.02/33", "^+491706950233$"),
        ("  0170 6950233 ", "^01706950233$"),
        ("(0170) 6950233", "^01706950233$"),
        ("1706950233", "^1706950233$"),
        ("", ""),
        ("-", ""),
        ("call 0170", "^call0170$"),  # not a number: kept, so it can only match as text
    ],
)
def test_stored_key(raw: str, key: str) -> None:
    assert phones.stored_key(raw) == key


@pytest.mark.parametrize("stored", STORED)
@pytest.mark.parametrize("typed", TYPED)
def test_every_way_of_typing_finds_both_stored_forms(stored: str, typed: str) -> None:
    assert phones.matches(phones.stored_key(stored), typed_number(typed))


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("+49 170 6950233", "+491706950234"),  # another number
        ("+49 170 6950233", "+441706950233"),  # the same digits in another country
        ("0170 6950233", "+49170695023"),  # one digit short: a national number must be whole
        ("+49 170 6950233", "0180 6950233"),  # another area
        ("+49 170 6950233", "6950234"),
        ("", "6950233"),
    ],
)
def test_other_numbers_do_not_match(stored: str, typed: str) -> None:
    assert not phones.matches(phones.stored_key(stored), typed_number(typed))


def test_the_start_of_an_international_number_finds_it() -> None:
    assert phones.matches(phones.stored_key("+49 170 6950233"), typed_number("+49 170 69"))
    assert phones.matches(phones.stored_key("0170 6950233"), typed_number("0170 695"))


def test_words_and_short_numbers_stay_words() -> None:
    rest, numbers = phones.split_query("Garcia 2024 boiler")
    assert (rest, numbers) == ("Garcia 2024 boiler", [])
    assert phones.split_query("abc1234567") == ("abc1234567", [])
    assert phones.split_query("room 170") == ("room 170", [])


def test_a_number_among_words_is_taken_out() -> None:
    rest, numbers = phones.split_query("Anna 0170 6950233 roof")
    assert rest.split() == ["Anna", "roof"]
    assert [number.typed for number in numbers] == ["0170 6950233"]


def test_patterns_are_safe_fts5_phrases() -> None:
    query = phones.fts5_query(typed_number("+49 (170) 695-0233"))
    assert query.startswith('"^+491706950233" OR ')
    assert query.count('"') % 2 == 0
    assert all(
        pattern.strip('"').replace("^", "").replace("$", "").lstrip("+").isdigit()
        for pattern in query.split(" OR ")
    )
