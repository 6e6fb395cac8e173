"""Out-of-range input from a signed-in person: ids past 64 bits on every ``{id}`` route (GET and
POST), days past what a ``datetime`` holds, cursors with huge ids or a time before year 1 in UTC,
Unicode digits ("²" is a digit to ``str.isdigit``): each answers 404 or 400 with a reason, never
a 500. The routes come from the application's router, so a new route is covered by itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import InboxClient
from hypothesis import given, settings
from hypothesis import strategies as st
from stored_bytes import fill, routes, send

from app.web.params import MAX_ID, up_to

PAST_64_BITS = [str(MAX_ID + 1), str(10**30), "9" * 5000]
# (parameter, value): each one a 500 before, each a 400 now wherever the parameter is read.
BAD_PARAMETERS = [
    ("until", "9999-12-31"),
    ("since", "0001-01-01"),
    ("since", "2026-13-01"),
    ("cursor", "0001-01-01T00:00:00+14:00~1"),
    ("cursor", "9999-12-31T23:59:59-14:00~1"),
    ("cursor", f"2026-01-01T00:00:00+00:00~{MAX_ID + 1}"),
    ("cursor", "2026-01-01T00:00:00+00:00~²"),
    ("cursor", "2026-01-01T00:00:00+00:00~" + "9" * 5000),
    ("limit", "²"),
    ("limit", "٣"),  # an Arabic-Indic three: int() reads it, the page must not
    ("limit", "9" * 5000),
    ("before", "²"),
    ("before", str(MAX_ID + 1)),
    ("before", "9" * 5000),
    ("before", "0001-01-01T00:00:00+14:00~1"),
    ("after", str(MAX_ID + 1)),
    ("after", "²"),
]
# Where each parameter is read (the rest ignore it, and must still not fail).
READ_BY = {
    "until": ["/", "/api/leads", "/export.csv"],
    "since": ["/", "/api/leads", "/export.csv"],
    "cursor": ["/", "/api/leads", "/export.csv"],
    "limit": ["/", "/api/leads", "/export.csv"],
    "before": ["/deliveries", "/conversations"],
    "after": ["/conversations/1"],
}


def test_ids_past_64_bits_answer_404_on_every_route(inbox: InboxClient, tmp_path: Path) -> None:
    with_ids = [(method, path) for method, path in routes(tmp_path) if "{" in path]
    assert len(with_ids) >= 11  # leads, deliveries, chat logs, the API: GET and POST
    assert {method for method, _ in with_ids} == {"GET", "POST"}
    wrong = []
    for method, template in with_ids:
        for ident in PAST_64_BITS:
            answer = send(inbox, method, fill(template, {}, ident))
            if answer.status_code != 404:
                wrong.append((method, template, ident[:24], answer.status_code))
            elif template.startswith("/api/"):
                assert answer.json()["status"] == "error" and answer.json()["error"]
            else:
                assert "There is no page at this address" in answer.text
        # The largest id the database holds is no such thing, or (reprocess) nothing to do.
        answer = send(inbox, method, fill(template, {}, MAX_ID))
        if answer.status_code >= 500:
            wrong.append((method, template, "MAX_ID", answer.status_code))
    assert not wrong


@pytest.mark.parametrize(("name", "value"), BAD_PARAMETERS)
def test_out_of_range_parameters_answer_400_naming_the_parameter(
    inbox: InboxClient, name: str, value: str
) -> None:
    for path in READ_BY[name]:
        params = {name: value}
        if path == "/conversations" and name == "before" and "~" not in value:
            params["q"] = "x"  # a message search pages by id; the days' list by cursor
        answer = send(inbox, "GET", path, params)
        assert answer.status_code == 400, (path, params, answer.status_code)
        if path.startswith("/api/"):
            assert answer.json() == {"status": "error", "error": answer.json()["error"]}
            assert answer.json()["error"].startswith(f"{name}:")
        else:
            assert f"{name}:" in answer.text


def test_every_page_survives_every_bad_parameter(inbox: InboxClient, tmp_path: Path) -> None:
    """Every GET route, read from the router, with each bad parameter: a new page that reads
    one of these parameters without the shared helpers fails here."""
    pages = [fill(path, {}) for method, path in routes(tmp_path) if method == "GET"]
    failed = []
    for path in pages:
        for name, value in BAD_PARAMETERS:
            for extra in ({}, {"q": "x"}):
                answer = send(inbox, "GET", path, {name: value, **extra})
                if answer.status_code >= 500:
                    failed.append((path, name, value[:30], answer.status_code))
    assert not failed


def test_good_bounds_still_work(inbox: InboxClient) -> None:
    """The bounds are the edges of what is valid, not tighter."""
    for params in (
        {"since": "0001-01-02", "until": "9999-12-30"},
        {"cursor": f"9999-12-30T00:00:00+00:00~{MAX_ID}"},
        {"cursor": "0001-01-01T00:00:00+00:00~0"},
        {"limit": "200"},
    ):
        assert send(inbox, "GET", "/api/leads", params).status_code == 200, params
        assert send(inbox, "GET", "/", params).status_code == 200, params
    assert send(inbox, "GET", "/deliveries", {"before": str(MAX_ID)}).status_code == 200
    assert send(
        inbox, "GET", "/conversations/1", {"after": f"9999-12-30T00:00:00+00:00~{MAX_ID}"}
    ).status_code in (200, 404)


@settings(max_examples=300, derandomize=True, database=None)
@given(st.integers(min_value=0, max_value=10**25), st.integers(min_value=1, max_value=10**20))
def test_the_id_pattern_matches_exactly_up_to_its_limit(number: int, limit: int) -> None:
    pattern = re.compile(up_to(limit))
    for candidate in (number, limit, limit + 1, limit - 1, number % (limit + 1)):
        assert bool(pattern.fullmatch(str(candidate))) == (0 <= candidate <= limit)
