"""Text → AST and text → error, as tables."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from segql.errors import SegmentError
from segql.grammar.jsonform import to_json
from segql.grammar.keywords import WORDS
from segql.grammar.keywords import lark_parser as _lark
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH, MAX_ERRORS, MAX_STRING
from segql.grammar.messages import EXPECTED
from segql.grammar.parser import parse

Node = dict[str, Any]


def shape(text: str) -> Any:
    """The AST's JSON form without positions: what the tables compare."""
    return json.loads(to_json(parse(text)))


def v(value: Any) -> Node:
    """A value node from a Python value (dicts are nodes already)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"type": "list", "items": [v(item) for item in value]}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    return {"type": "number", "value": value}


def f(field: str, op: str, value: Any = None, upper: Any = None) -> Node:
    node: Node = {"type": "field", "field": field, "op": op}
    if value is not None:
        node["value"] = v(value)
    if upper is not None:
        node["upper"] = v(upper)
    return node


def rel(base: str, *offsets: tuple[int, str]) -> Node:
    return {"type": "relative_date", "base": base,
            "offsets": [{"amount": amount, "unit": unit} for amount, unit in offsets]}


def dur(amount: int, unit: str) -> Node:
    return {"type": "duration", "amount": amount, "unit": unit}


def act(kind: str, name: str | None = None, *, where: Node | None = None,
        occurred: bool = True, count: tuple[str, int] | None = None,
        window: Node | None = None) -> Node:
    node: Node = {"type": kind}
    if name is not None:
        node["name"] = name
    if where is not None:
        node["where"] = where
    node["occurred"] = occurred
    if count is not None:
        node["count"] = {"type": "count", "op": count[0], "n": count[1]}
    if window is not None:
        node["window"] = window
    return node


def win(kind: str, value: Any, upper: Any = None) -> Node:
    node: Node = {"type": "window", "kind": kind, "value": v(value)}
    if upper is not None:
        node["upper"] = v(upper)
    return node


def ev(name: str, occurred: bool = True) -> Node:
    return act("event", name, occurred=occurred)


def group(kind: str, *items: Node) -> Node:
    return {"type": kind, "items": list(items)}


HAS = f("a", "has_value")

TEXT_OPERATORS = [
    ('city equals "Warszawa"', f("city", "equals", "Warszawa")),
    ('city = "Warszawa"', f("city", "equals", "Warszawa")),
    ('city not_equals "x"', f("city", "not_equals", "x")),
    ('city != "Warszawa"', f("city", "not_equals", "Warszawa")),
    ('city starts_with "War"', f("city", "starts_with", "War")),
    ('email ends_with "@gmail.com"', f("email", "ends_with", "@gmail.com")),
    ('tags contains "vi"', f("tags", "contains", "vi")),
    ('tags not_contains "vi"', f("tags", "not_contains", "vi")),
    ('city in ["a", "b"]', f("city", "in", ["a", "b"])),
    ('city not_in ["a",]', f("city", "not_in", ["a"])),
    ("city in []", f("city", "in", [])),
    ("phone has_value", f("phone", "has_value")),
    ("phone has_no_value", f("phone", "has_no_value")),
]
NUMBER_OPERATORS = [
    ("age = 30", f("age", "equals", 30)),
    ("age != 30", f("age", "not_equals", 30)),
    ("age > -3.5", f("age", "gt", -3.5)),
    ("age >= 1e3", f("age", "gte", 1000.0)),
    ("age < 0", f("age", "lt", 0)),
    ("age <= 2.5E-3", f("age", "lte", 0.0025)),
    ("age between 25 and 40", f("age", "between", 25, 40)),
    ("age in [1, 2, 3]", f("age", "in", [1, 2, 3])),
    ("age not_in [1, -2.5]", f("age", "not_in", [1, -2.5])),
    ("age has_value", f("age", "has_value")),
    ("age has_no_value", f("age", "has_no_value")),
    ("age > 123456789012345678901234567890", f("age", "gt", 123456789012345678901234567890)),
]
DATE_OPERATORS = [
    ('signup on "2025-01-31"', f("signup", "on", "2025-01-31")),
    ("signup on today", f("signup", "on", rel("today"))),
    ('signup equals "2025-01-31"', f("signup", "equals", "2025-01-31")),
    ('signup not_on "2025-01-31T10:00:00Z"', f("signup", "not_on", "2025-01-31T10:00:00Z")),
    ("signup not_equals now-1d", f("signup", "not_equals", rel("now", (-1, "d")))),
    ('signup before "2025-01-31T10:00:00+02:00"',
     f("signup", "before", "2025-01-31T10:00:00+02:00")),
    ("signup after today-1y+7d", f("signup", "after", rel("today", (-1, "y"), (7, "d")))),
    ('signup between "2025-01-01" and today', f("signup", "between", "2025-01-01",
                                                 rel("today"))),
    ("signup between now-90min and now+1h",
     f("signup", "between", rel("now", (-90, "min")), rel("now", (1, "h")))),
    ("signup within 30d", f("signup", "within", dur(30, "d"))),
    ("signup within 2w", f("signup", "within", dur(2, "w"))),
    ("signup within 6mo", f("signup", "within", dur(6, "mo"))),
    ("signup has_value", f("signup", "has_value")),
    ("signup has_no_value", f("signup", "has_no_value")),
]
BOOLEAN_OPERATORS = [
    ("vip is_true", f("vip", "is_true")),
    ("vip is_false", f("vip", "is_false")),
    ("vip has_value", f("vip", "has_value")),
    ("vip has_no_value", f("vip", "has_no_value")),
]
ACTIVITIES = [
    ("event MailOpen occurred", ev("MailOpen")),
    ("event MailOpen not_occurred", ev("MailOpen", False)),
    ('event "Order Completed" occurred', ev("Order Completed")),
    ("event `Order Completed` occurred", ev("Order Completed")),
    ("event where occurred", ev("where")),
    ("visit occurred", act("visit")),
    ("visit not_occurred", act("visit", occurred=False)),
    ('visit where (url contains "/p/") occurred',
     act("visit", where=f("url", "contains", "/p/"))),
    ('event Purchase where (amount > 100 and currency = "PLN") occurred',
     act("event", "Purchase", where=group("and", f("amount", "gt", 100),
                                          f("currency", "equals", "PLN")))),
    ("event Purchase where (any(a has_value, not b has_value)) occurred",
     act("event", "Purchase", where=group("any", HAS, {"type": "not",
                                                       "expr": f("b", "has_value")}))),
    ("event Purchase occurred at_least 2", act("event", "Purchase", count=("at_least", 2))),
    ("event Purchase occurred at_least 2 times",
     act("event", "Purchase", count=("at_least", 2))),
    ("event Purchase occurred at_most 0", act("event", "Purchase", count=("at_most", 0))),
    ("event Purchase occurred at_most 3 times", act("event", "Purchase", count=("at_most", 3))),
    ("event Purchase occurred exactly 1", act("event", "Purchase", count=("exactly", 1))),
    ("event Purchase occurred exactly 1 times", act("event", "Purchase", count=("exactly", 1))),
    ("event MailClick occurred within 30d",
     act("event", "MailClick", window=win("within", dur(30, "d")))),
    ('event MailClick occurred since "2025-01-01"',
     act("event", "MailClick", window=win("since", "2025-01-01"))),
    ("event MailClick occurred since today-7d",
     act("event", "MailClick", window=win("since", rel("today", (-7, "d"))))),
    ('event MailClick occurred before "2025-01-01T00:00:00Z"',
     act("event", "MailClick", window=win("before", "2025-01-01T00:00:00Z"))),
    ("event MailClick occurred before now-1h",
     act("event", "MailClick", window=win("before", rel("now", (-1, "h"))))),
    ('event MailClick occurred between "2025-01-01" and "2025-01-31"',
     act("event", "MailClick", window=win("between", "2025-01-01", "2025-01-31"))),
    ("event MailClick occurred between now-1y and today",
     act("event", "MailClick", window=win("between", rel("now", (-1, "y")), rel("today")))),
    ("event MailClick not_occurred within 30d",
     act("event", "MailClick", occurred=False, window=win("within", dur(30, "d")))),
    ('visit where (path starts_with "/cart") occurred at_least 3 times within 7d',
     act("visit", where=f("path", "starts_with", "/cart"), count=("at_least", 3),
         window=win("within", dur(7, "d")))),
    ("visit not_occurred since today", act("visit", occurred=False,
                                           window=win("since", rel("today")))),
    # an activity then `and`: the window's `and` and the chain's are told apart
    ("event X occurred between now and today and a has_value",
     group("and", act("event", "X", window=win("between", rel("now"), rel("today"))), HAS)),
]
STRUCTURE = [
    ('in_segment "Unsubscribed buyers"', {"type": "in_segment", "name": "Unsubscribed buyers"}),
    ('not in_segment "x"', {"type": "not", "expr": {"type": "in_segment", "name": "x"}}),
    (
        'all(city starts_with "War", event MailOpen occurred)',
        group("all", f("city", "starts_with", "War"), ev("MailOpen")),
    ),
    ("ALL(a has_value,)", group("all", HAS)),
    ("all()", group("all")),
    ("any(a has_value, b has_value)", group("any", HAS, f("b", "has_value"))),
    # and binds tighter than or; not tighter than both
    (
        "a has_value or b has_value and not c has_value",
        group("or", HAS, group("and", f("b", "has_value"),
                               {"type": "not", "expr": f("c", "has_value")})),
    ),
    (
        "(a has_value or b has_value) and c has_value",
        group("and", group("or", HAS, f("b", "has_value")), f("c", "has_value")),
    ),
    ("a has_value and (b has_value and c has_value)",
     group("and", HAS, group("and", f("b", "has_value"), f("c", "has_value")))),
    ("((a has_value))", HAS),
    ("not not a has_value", {"type": "not", "expr": {"type": "not", "expr": HAS}}),
    ("not (a has_value and b has_value)",
     {"type": "not", "expr": group("and", HAS, f("b", "has_value"))}),
]
LEXICAL = [
    ('city NOT_EQUALS "x"', f("city", "not_equals", "x")),
    ("phone HAS_NO_VALUE", f("phone", "has_no_value")),
    ("EVENT MailOpen OCCURRED AT_LEAST 1 TIMES WITHIN 1d",
     act("event", "MailOpen", count=("at_least", 1), window=win("within", dur(1, "d")))),
    ("Not A Has_Value Or b Is_True",
     group("or", {"type": "not", "expr": f("A", "has_value")}, f("b", "is_true"))),
    ("d before NOW-1d", f("d", "before", rel("now", (-1, "d")))),
    ("`Data urodzenia` has_value", f("Data urodzenia", "has_value")),
    ('`order.total` = "x"', f("order.total", "equals", "x")),
    ("`all` has_value", f("all", "has_value")),
    ('city = "a\\"b\\\\c\\n\\t\\u0141\\uD83D\\uDE00"', f("city", "equals", 'a"b\\c\n\tŁ😀')),
    ('city = "ŁÓDŹ ß 😀"', f("city", "equals", "ŁÓDŹ ß 😀")),
    ('city = "tab\there"', f("city", "equals", "tab\there")),
    (
        "# a comment\nall(\n  a has_value, # why\n  b has_value\n)  # end",
        group("all", HAS, f("b", "has_value")),
    ),
    ("\r\n\t\fa\r\n  has_value\n", HAS),
    # a field may be called like a keyword where no keyword fits
    ("all has_value", f("all", "has_value")),
]
PARSES = (
    TEXT_OPERATORS + NUMBER_OPERATORS + DATE_OPERATORS + BOOLEAN_OPERATORS
    + ACTIVITIES + STRUCTURE + LEXICAL
)


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_parses(text: str, expected: Any) -> None:
    assert shape(text) == expected


def test_every_operator_word_is_in_the_tables() -> None:
    tables = TEXT_OPERATORS + NUMBER_OPERATORS + DATE_OPERATORS + BOOLEAN_OPERATORS
    written = {re.split(r"\s+", text)[1].lower() for text, _ in tables}
    assert set(WORDS["OPERATOR"]) | {"=", "!=", ">", ">=", "<", "<=", "between"} <= written


LONG = "x" * (MAX_STRING + 1)
ERRORS = [
    # code, line, column of the first error
    ("city ~ 3", "E_UNEXPECTED_CHAR", 1, 6),
    ('city equals "War', "E_UNEXPECTED_CHAR", 1, 13),
    ("`city has_value", "E_UNEXPECTED_CHAR", 1, 1),
    ("`` has_value", "E_UNEXPECTED_CHAR", 1, 1),
    ("`a\x01b` has_value", "E_UNEXPECTED_CHAR", 1, 1),
    ("a has_value\n\x00", "E_UNEXPECTED_CHAR", 2, 1),
    ("a has_value # note\x00", "E_UNEXPECTED_CHAR", 1, 19),
    ("a\u200b has_value", "E_UNEXPECTED_CHAR", 1, 2),
    ("city = 'x'", "E_UNEXPECTED_CHAR", 1, 8),
    ('city = "\ud800"', "E_UNEXPECTED_CHAR", 1, 9),
    ('all(\n  city equals "x"\n  b has_value)', "E_UNEXPECTED_TOKEN", 3, 3),
    ("event MailOpen occured", "E_UNEXPECTED_TOKEN", 1, 16),
    ("a has_value b has_value", "E_UNEXPECTED_TOKEN", 1, 13),
    ("a has_value)", "E_UNEXPECTED_TOKEN", 1, 12),
    ("a has_value, b has_value", "E_UNEXPECTED_TOKEN", 1, 12),
    ("event X occurred at_least -1", "E_UNEXPECTED_TOKEN", 1, 27),
    ("event X not_occurred at_least 1", "E_UNEXPECTED_TOKEN", 1, 22),
    ("", "E_UNEXPECTED_END", 1, 1),
    ("  # only a comment\n", "E_UNEXPECTED_END", 1, 1),
    ('all(city starts_with "War"', "E_UNEXPECTED_END", 1, 27),
    ("event occurred", "E_UNEXPECTED_END", 1, 15),
    ("a has_value and\n", "E_UNEXPECTED_END", 1, 16),
    ("age between 1", "E_UNEXPECTED_END", 1, 14),
    ('city = "\\q"', "E_BAD_ESCAPE", 1, 9),
    ('city = "ab\\u12"', "E_BAD_ESCAPE", 1, 11),
    ('city = "\\ud800"', "E_BAD_ESCAPE", 1, 9),
    ('event "\\x" occurred', "E_BAD_ESCAPE", 1, 8),
    ("a has_value or " * 4500 + "a has_value", "E_TOO_LONG", 1, 65_537),
    ("a in [" + "1," * 20_000 + "]", "E_TOO_LONG", 1, 1),  # canonical: one item a line
    ("(" * 10_000 + "a has_value" + ")" * 10_000, "E_TOO_DEEP", 1, 33),
    ("(" * 60_000, "E_TOO_DEEP", 1, 33),
    ("not " * 10_000 + "a has_value", "E_TOO_DEEP", 1, 4 * MAX_DEPTH + 1),
    ("all(" * MAX_DEPTH + "all(a has_value" + ")" * 33, "E_TOO_DEEP", 1, 4 * MAX_DEPTH + 1),
    ("not all(" * 16 + "not a has_value" + ")" * 16, "E_TOO_DEEP", 1, 8 * 16 + 1),
    ("event X where (" * 33 + "a has_value" + ") occurred" * 33, "E_TOO_DEEP", 1,
     15 * 32 + 9),
    (" or ".join(["a has_value"] * (MAX_CONDITIONS + 1)), "E_TOO_MANY_CONDITIONS", 1,
     15 * MAX_CONDITIONS + 3),
    (f'a = "{LONG}"', "E_STRING_TOO_LONG", 1, 5),
    (f'in_segment "{LONG}"', "E_STRING_TOO_LONG", 1, 12),
    ("age > 1e999", "E_NUMBER", 1, 7),
    ("age > " + "9" * 5000, "E_NUMBER", 1, 7),
    ("event X occurred at_least " + "9" * 400, "E_NUMBER", 1, 27),
    ("d within " + "9" * 400 + "d", "E_NUMBER", 1, 10),
]


@pytest.mark.parametrize(("text", "code", "line", "column"), ERRORS,
                         ids=[repr(e[0][:40]) for e in ERRORS])
def test_errors_are_positioned(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    diagnostic = caught.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (code, line, column)
    assert diagnostic.end_line == line and diagnostic.end_column > column
    assert caught.value.source == text
    assert "^" in caught.value.render()


def test_every_error_code_is_in_the_table() -> None:
    codes = {"E_UNEXPECTED_CHAR", "E_UNEXPECTED_TOKEN", "E_UNEXPECTED_END", "E_BAD_ESCAPE",
             "E_TOO_LONG", "E_TOO_DEEP", "E_TOO_MANY_CONDITIONS", "E_STRING_TOO_LONG",
             "E_NUMBER"}
    assert {code for _, code, _, _ in ERRORS} == codes


def test_limits_are_inclusive() -> None:
    parse("(" * MAX_DEPTH + "a has_value" + ")" * MAX_DEPTH)
    parse("not " * MAX_DEPTH + "a has_value")
    parse(" or ".join(["a has_value"] * MAX_CONDITIONS))
    parse(f'a = "{"x" * MAX_STRING}"')
    parse('a = "' + "\\n" * MAX_STRING + '"')  # counted after unescaping
    parse("a = " + "9" * 300)
    parse("a has_value " + "#" * (65_536 - 12))


def test_several_errors_are_reported_at_once() -> None:
    text = 'all(city ~ "x", b has_value, c "y", event X occured, d has_value))'
    with pytest.raises(SegmentError) as caught:
        parse(text)
    found = [(d.code, d.column) for d in caught.value.diagnostics]
    assert found == [("E_UNEXPECTED_CHAR", 10), ("E_UNEXPECTED_TOKEN", 32),
                     ("E_UNEXPECTED_TOKEN", 45), ("E_UNEXPECTED_TOKEN", 66)]


def test_errors_inside_strings_and_syntax_together() -> None:
    with pytest.raises(SegmentError) as caught:
        parse('all(a = "\\q", b = "\\z" c, d ~)')
    assert [d.code for d in caught.value.diagnostics] == [
        "E_BAD_ESCAPE", "E_BAD_ESCAPE", "E_UNEXPECTED_TOKEN", "E_UNEXPECTED_CHAR"]


def test_at_most_max_errors() -> None:
    with pytest.raises(SegmentError) as caught:
        parse("all(" + "a ~, " * 50 + ")")
    assert len(caught.value.diagnostics) == MAX_ERRORS


HINTS = [
    ("city ~ 3", "expected an operator such as equals, starts_with, > or `between`"),
    ("event MailOpen occured", "did you mean `occurred`?"),
    ('city start_with "War"', "did you mean `starts_with`?"),
    ('all(event = "x")', "`event` is a keyword"),
    ("all(a has_value", "expected `,` or `)`"),
    ("", "expected a condition"),
    ("event X occurred at_least", "expected a whole number"),
    ("event X occurred within", "expected a duration such as 30d"),
    ('city equals "War', "end it with \""),
    ("a has_value && b has_value", "write `and`"),
    ("city = 'x'", "double quotes"),
    ("a has_value\x00", "\\uXXXX"),
]


@pytest.mark.parametrize(("text", "hint"), HINTS, ids=[h[0] for h in HINTS])
def test_hints_speak_words(text: str, hint: str) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    found = caught.value.diagnostics[0].hint or ""
    assert hint in found
    assert not re.search(r"\b(_?[A-Z]{2,}(_[A-Z]+)*|\$END)\b", found), found


def test_every_terminal_has_words() -> None:
    terminals = {t.name for t in _lark().terminals} - set(_lark().ignore_tokens)
    assert terminals | {"$END"} == set(EXPECTED)


def test_keyword_words_match_the_grammar() -> None:
    for terminal in _lark().terminals:
        pattern = terminal.pattern.to_regexp()
        words = WORDS.get(terminal.name, ())
        for word in (*words, *(w.upper() for w in words)):
            found = re.match(pattern, word + " (")  # what follows a keyword: `all (`
            assert found and found.group() == word, (terminal.name, word)
        if terminal.pattern.type == "re" and terminal.name in WORDS:
            found = set(re.findall(r"[a-z_]{2,}", terminal.pattern.value))
            assert found == {part for word in words for part in word.split()}, terminal.name


def test_positions_are_kept() -> None:
    node = parse('all(\n  city starts_with "War"\n)')
    condition = node.items[0]  # type: ignore[union-attr]
    assert condition.span is not None
    assert (condition.span.line, condition.span.column) == (2, 3)
    assert (condition.span.end_line, condition.span.end_column) == (2, 25)


def test_json_round_trip() -> None:
    node = parse('all(city starts_with "War", not event MailOpen occurred)')
    assert type(node).model_validate_json(node.model_dump_json()) == node
