"""Expression → compiled body, and expression → check error, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from segql import api
from segql.compiler.context import Context
from segql.errors import SegmentError

CTX = Context(account="acme")


def query_of(text: str) -> Any:
    body = api.compile_text(text, CTX)
    account, query = body["query"]["bool"]["filter"]
    assert account == {"term": {"account": "acme"}}
    return query


def not_(query: Any) -> Any:
    return {"bool": {"must_not": [query]}}


LONG = "x" * 30
COMPILES = [
    ('city equals "ŁÓDŹ"', {"term": {"fields.city.f": "łódź"}}),
    ('city = "STRASSE"', {"term": {"fields.city.f": "strasse"}}),
    ('city = "Straße"', {"term": {"fields.city.f": "strasse"}}),
    ('city not_equals "Łódź"', not_({"term": {"fields.city.f": "łódź"}})),
    ('city starts_with "War"', {"prefix": {"fields.city.f": "war"}}),
    ('email ends_with "@Gmail.com"', {"prefix": {"fields.email.r": "moc.liamg@"}}),
    ('tags contains "VI"', {"prefix": {"fields.tags.s": "vi"}}),
    ('tags not_contains "vi"', not_({"prefix": {"fields.tags.s": "vi"}})),
    (f'title contains "{LONG}*?"',
     {"wildcard": {"fields.title.f": {"value": "*" + LONG + "\\*\\?*"}}}),
    ("phone has_value", {"exists": {"field": "fields.phone.f"}}),
    ("phone has_no_value", not_({"exists": {"field": "fields.phone.f"}})),
    ('`Data urodzenia` = "x"', {"term": {"fields.~446174612075726f647a656e6961.f": "x"}}),
    ('city = "*?\\\\\\"(){}[]:^~"', {"term": {"fields.city.f": '*?\\"(){}[]:^~'}}),
    ("event MailOpen occurred",
     {"nested": {"path": "events", "query": {"term": {"events.name": "MailOpen"}}}}),
    ("event MailOpen not_occurred",
     not_({"nested": {"path": "events", "query": {"term": {"events.name": "MailOpen"}}}})),
    ("all(a has_value, b has_value)",
     {"bool": {"filter": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}}]}}),
    ("a has_value or b has_value",
     {"bool": {"should": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}}], "minimum_should_match": 1}}),
    ("not a has_value", not_({"exists": {"field": "fields.a.f"}})),
]


@pytest.mark.parametrize(("text", "expected"), COMPILES, ids=[t for t, _ in COMPILES])
def test_compiles(text: str, expected: Any) -> None:
    assert query_of(text) == expected


CHECK_ERRORS = [
    ("all()", "E_UNEXPECTED_TOKEN"),  # the grammar already refuses an empty group
    ('city starts_with ""', "E_EMPTY_OPERAND"),
    ('city ends_with ""', "E_EMPTY_OPERAND"),
    ('city contains ""', "E_EMPTY_OPERAND"),
    ("city equals", "E_MISSING_VALUE"),
    ('city has_value "x"', "E_UNEXPECTED_VALUE"),
    ('created_at starts_with "2024"', "E_TYPE"),
]


@pytest.mark.parametrize(("text", "code"), CHECK_ERRORS, ids=[t for t, _ in CHECK_ERRORS])
def test_check_errors(text: str, code: str) -> None:
    with pytest.raises(SegmentError) as caught:
        api.compile_text(text, CTX)
    assert caught.value.diagnostics[0].code == code


def test_all_errors_at_once() -> None:
    with pytest.raises(SegmentError) as caught:
        api.compile_text('all(a starts_with "", b equals, c has_value)', CTX)
    codes = [d.code for d in caught.value.diagnostics]
    assert codes == ["E_EMPTY_OPERAND", "E_MISSING_VALUE"]
    assert [d.column for d in caught.value.diagnostics] == [19, 23]
