"""Text → AST and text → error, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from segql.errors import SegmentError
from segql.grammar.parser import parse


def shape(text: str) -> Any:
    """The AST's JSON form without positions: what the tables compare."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "span"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(parse(text).model_dump(exclude_none=True))


def f(field: str, op: str, value: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "field", "field": field, "op": op}
    if value is not None:
        node["value"] = {"type": "string", "value": value}
    return node


def ev(name: str, occurred: bool = True) -> dict[str, Any]:
    return {"type": "event", "name": name, "occurred": occurred}


PARSES = [
    ('city equals "Warszawa"', f("city", "equals", "Warszawa")),
    ('city = "Warszawa"', f("city", "equals", "Warszawa")),
    ('city != "Warszawa"', f("city", "not_equals", "Warszawa")),
    ('city NOT_EQUALS "x"', f("city", "not_equals", "x")),
    ('city starts_with "War"', f("city", "starts_with", "War")),
    ('email ends_with "@gmail.com"', f("email", "ends_with", "@gmail.com")),
    ('tags contains "vi"', f("tags", "contains", "vi")),
    ('tags not_contains "vi"', f("tags", "not_contains", "vi")),
    ("phone has_value", f("phone", "has_value")),
    ("phone HAS_NO_VALUE", f("phone", "has_no_value")),
    ('`Data urodzenia` has_value', f("Data urodzenia", "has_value")),
    ('`order.total` = "x"', f("order.total", "equals", "x")),
    ('city = "a\\"b\\\\c\\n\\t\\u0141"', f("city", "equals", 'a"b\\c\n\tŁ')),
    ('city = "ŁÓDŹ ß 😀"', f("city", "equals", "ŁÓDŹ ß 😀")),
    ("event MailOpen occurred", ev("MailOpen")),
    ("EVENT MailOpen OCCURRED", ev("MailOpen")),
    ("event MailOpen not_occurred", ev("MailOpen", False)),
    ('event "Order Completed" occurred', ev("Order Completed")),
    ("event `Order Completed` occurred", ev("Order Completed")),
    (
        'all(city starts_with "War", event MailOpen occurred)',
        {"type": "all", "items": [f("city", "starts_with", "War"), ev("MailOpen")]},
    ),
    ('ALL(a has_value,)', {"type": "all", "items": [f("a", "has_value")]}),
    (
        "any(a has_value, b has_value)",
        {"type": "any", "items": [f("a", "has_value"), f("b", "has_value")]},
    ),
    # and binds tighter than or; not tighter than both
    (
        "a has_value or b has_value and not c has_value",
        {"type": "or", "items": [
            f("a", "has_value"),
            {"type": "and", "items": [f("b", "has_value"),
                                      {"type": "not", "expr": f("c", "has_value")}]},
        ]},
    ),
    (
        "(a has_value or b has_value) and c has_value",
        {"type": "and", "items": [
            {"type": "or", "items": [f("a", "has_value"), f("b", "has_value")]},
            f("c", "has_value"),
        ]},
    ),
    ("not not a has_value", {"type": "not", "expr": {"type": "not", "expr": f("a", "has_value")}}),
    (
        "# a comment\nall(\n  a has_value, # why\n  b has_value\n)",
        {"type": "all", "items": [f("a", "has_value"), f("b", "has_value")]},
    ),
    # a field may be called like a keyword where no keyword fits
    ("all has_value", f("all", "has_value")),
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_parses(text: str, expected: Any) -> None:
    assert shape(text) == expected


ERRORS = [
    ('city equals "War', "E_UNEXPECTED_CHAR", 1, 13),
    ('all(city starts_with "War"', "E_UNEXPECTED_END", 1, 27),
    ("city ~ 3", "E_UNEXPECTED_CHAR", 1, 6),
    ('all(\n  city equals "x"\n  b has_value)', "E_UNEXPECTED_TOKEN", 3, 3),
    ('city = "\\q"', "E_BAD_ESCAPE", 1, 8),
    ("", "E_UNEXPECTED_END", 1, 1),
    ("event occurred", "E_UNEXPECTED_END", 1, 15),
]


@pytest.mark.parametrize(("text", "code", "line", "column"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_are_positioned(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    diagnostic = caught.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (code, line, column)
    assert "^" in caught.value.render()


def test_positions_are_kept() -> None:
    node = parse('all(\n  city starts_with "War"\n)')
    condition = node.items[0]  # type: ignore[union-attr]
    assert condition.span is not None
    assert (condition.span.line, condition.span.column) == (2, 3)
    assert (condition.span.end_line, condition.span.end_column) == (2, 25)


def test_json_round_trip() -> None:
    node = parse('all(city starts_with "War", not event MailOpen occurred)')
    assert type(node).model_validate_json(node.model_dump_json()) == node
