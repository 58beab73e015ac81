"""`compiler.builder_catalog.describe`: what a visual builder reads, held to the operator
table (compiler/operators.py), the grammar and LANGUAGE.md §2-4. No Elasticsearch."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from segql.compiler.builder_catalog import OPERANDS, UNITS, WINDOW_OPERANDS, describe
from segql.compiler.catalog import (
    FIELD_TYPES,
    STANDARD_FIELDS,
    STANDARD_VISIT_PROPERTIES,
    SYSTEM_EVENTS,
    Catalog,
)
from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.operators import NEGATIONS, POSITIVE, OperandKind, names_for, resolve
from segql.grammar import ast
from segql.grammar.keywords import SYMBOLS
from segql.grammar.parser import parse

CATALOG = Catalog(
    fields={"age": "number", "vip": "boolean", "birthday": "date", "nickname": "text",
            "city": "text"},  # a standard name keeps its standard type
    events={"Order": {"total": "number", "sku": "text"}, "MailOpen": {"campaign": "text"}},
    visit_properties={"lang": "text"},
)
DESCRIBED = describe(CATALOG)


def _operators(type_: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = DESCRIBED["types"][type_]["operators"]
    return found


def _entry(type_: str, name: str) -> dict[str, Any]:
    return next(e for e in _operators(type_) if e["name"] == name)


def test_json_serialisable() -> None:
    assert json.loads(json.dumps(DESCRIBED)) == DESCRIBED


def test_every_positive_operator_appears_for_its_type() -> None:
    for (type_, name) in POSITIVE:
        assert name in [e["op"] for e in _operators(type_) if e["negates"] is None], (type_, name)


def test_every_negation_appears_where_its_positive_applies() -> None:
    for negative, positive in NEGATIONS.items():
        for type_ in FIELD_TYPES:
            found = resolve(negative, type_)
            if found is None:
                continue
            entries = [e for e in _operators(type_)
                       if e["negates"] is not None
                       and resolve(e["op"], type_) == found]
            assert len(entries) == 1, (type_, negative)
            spelled = ast.spelling(negative)
            assert spelled == entries[0]["name"] or spelled in entries[0]["aliases"]
            assert entries[0]["negates"] == ast.spelling(found[0].name), positive


def test_every_word_of_a_type_is_a_name_or_an_alias_once() -> None:
    for type_ in FIELD_TYPES:
        words = [w for e in _operators(type_) for w in [e["name"], *e["aliases"]]]
        assert len(words) == len(set(words)), type_
        assert set(names_for(type_)) <= set(words), type_
        assert {"text": 10, "number": 11, "date": 10, "boolean": 4}[type_] == len(
            _operators(type_))


def test_no_operator_of_another_type_leaks_in() -> None:
    for type_ in FIELD_TYPES:
        for entry in _operators(type_):
            for word in [entry["name"], *entry["aliases"]]:
                op = SYMBOLS.get(word, word)
                assert resolve(op, type_) == resolve(entry["op"], type_), (type_, word)


def test_operand_kinds_follow_the_operator_table() -> None:
    assert set(OPERANDS) == {*get_args(OperandKind), None}
    for type_ in FIELD_TYPES:
        for entry in _operators(type_):
            found = resolve(entry["op"], type_)
            assert found is not None
            shape, value_type = OPERANDS[found[0].operand]
            assert (entry["operand"], entry["value_type"]) == (shape, value_type)
            assert entry["nonempty"] == found[0].nonempty


@pytest.mark.parametrize(("type_", "name", "expected"), [
    ("text", "equals", {"op": "equals", "aliases": ["="], "negates": None, "operand": "value",
                        "value_type": "string", "units": [], "nonempty": True}),
    ("text", "not_in", {"op": "not_in", "aliases": [], "negates": "in", "operand": "list",
                        "value_type": "string"}),
    ("text", "has_no_value", {"negates": "has_value", "operand": "none", "value_type": None}),
    ("number", ">=", {"op": "gte", "aliases": [], "negates": None, "operand": "value",
                      "value_type": "number", "units": [], "date_forms": []}),
    ("number", "between", {"operand": "range", "value_type": "number"}),
    ("number", "not_equals", {"aliases": ["!="], "negates": "equals"}),
    ("date", "on", {"aliases": ["=", "equals"], "operand": "date", "value_type": "date",
                    "units": UNITS, "date_forms": ["absolute", "relative"]}),
    ("date", "not_on", {"aliases": ["!=", "not_equals"], "negates": "on"}),
    ("date", "between", {"operand": "range", "value_type": "date",
                         "date_forms": ["absolute", "relative"]}),
    ("date", "within", {"operand": "duration", "value_type": None,
                        "units": ["min", "h", "d", "w", "mo", "y"], "date_forms": []}),
    ("boolean", "is_true", {"op": "is_true", "operand": "none", "negates": None}),
])
def test_entries(type_: str, name: str, expected: dict[str, Any]) -> None:
    entry = _entry(type_, name)
    assert {key: entry[key] for key in expected} == expected


_SAMPLES = {
    ("value", "string"): '"x"', ("list", "string"): '["x", "y"]',
    ("value", "number"): "3", ("list", "number"): "[1, 2]",
    ("date", "date"): "today-7d", ("duration", None): "30d", ("none", None): "",
}


@pytest.mark.parametrize("type_", FIELD_TYPES)
def test_every_spelling_parses_and_checks(type_: str) -> None:
    """Each name and alias, written as the text form with an operand of its kind, parses
    to that operator and passes the checker."""
    field = {"text": "nickname", "number": "age", "date": "birthday", "boolean": "vip"}[type_]
    ctx = Context(account="acme", catalog=CATALOG)
    for entry in _operators(type_):
        for word in [entry["name"], *entry["aliases"]]:
            if entry["operand"] == "range":
                low, high = ("1", "2") if entry["value_type"] == "number" else (
                    '"2025-01-01"', "now")
                text = f"{field} {word} {low} and {high}"
            else:
                text = f"{field} {word} {_SAMPLES[(entry['operand'], entry['value_type'])]}"
            node = parse(text)
            assert isinstance(node, ast.FieldCondition)
            assert resolve(node.op, type_) == resolve(entry["op"], type_), text
            check(node, ctx, text)


def test_fields_standard_first_then_custom_sorted() -> None:
    fields = DESCRIBED["fields"]
    states = ["subscribed", "unsubscribed", "bounced", "complained"]  # LANGUAGE.md §8
    assert fields[: len(STANDARD_FIELDS)] == [
        {"name": n, "type": t, "standard": True,
         **({"values": states} if n in ("email_status", "sms_status", "push_status") else {})}
        for n, t in STANDARD_FIELDS.items()]
    typed = {f["name"]: f["type"] for f in fields}
    assert (typed["bucket"], typed["email_status"], typed["sms_status"],
            typed["push_status"]) == ("number", "text", "text", "text")
    assert fields[len(STANDARD_FIELDS):] == [
        {"name": "age", "type": "number", "standard": False},
        {"name": "birthday", "type": "date", "standard": False},
        {"name": "nickname", "type": "text", "standard": False},
        {"name": "vip", "type": "boolean", "standard": False},
    ]


def test_events_and_visit_properties() -> None:
    events = {e["name"]: e for e in DESCRIBED["events"]}
    assert [e["name"] for e in DESCRIBED["events"]] == [*SYSTEM_EVENTS, "Order"]
    assert events["MailOpen"] == {"name": "MailOpen", "system": True,
                                  "properties": [{"name": "campaign", "type": "text"}]}
    assert events["Order"]["properties"] == [{"name": "sku", "type": "text"},
                                             {"name": "total", "type": "number"}]
    assert events["Order"]["system"] is False
    visits = DESCRIBED["visit_properties"]
    assert [v["name"] for v in visits] == [*STANDARD_VISIT_PROPERTIES, "lang"]
    assert visits[-1] == {"name": "lang", "type": "text", "standard": False}


def test_activity_counts_and_windows() -> None:
    activity = DESCRIBED["activity"]
    assert activity["kinds"] == ["event", "visit"]
    assert activity["occurrence"] == ["occurred", "not_occurred"]
    assert [c["name"] for c in activity["counts"]] == ["at_least", "at_most", "exactly"]
    assert all(c["min"] == 0 for c in activity["counts"])
    windows = {w["name"]: w for w in activity["windows"]}
    assert set(WINDOW_OPERANDS) == set(get_args(ast.Window.model_fields["kind"].annotation))
    assert list(windows) == ["within", "since", "before", "between"]
    assert (windows["within"]["operand"], windows["within"]["units"]) == ("duration", UNITS)
    assert windows["since"]["date_forms"] == ["absolute", "relative"]
    assert (windows["between"]["operand"], windows["between"]["value_type"]) == (
        "range", "date")


def test_activity_spellings_parse_and_check() -> None:
    """Every count form and window kind, written as described, is a valid condition."""
    samples = {"duration": "30d", "date": '"2025-01-01"', "range": '"2025-01-01" and today'}
    ctx = Context(account="acme", catalog=CATALOG)
    for count in DESCRIBED["activity"]["counts"]:
        for window in DESCRIBED["activity"]["windows"]:
            text = (f"event Order occurred {count['name']} 0 {window['name']} "
                    f"{samples[window['operand']]}")
            check(parse(text), ctx, text)


def test_dates_and_units() -> None:
    assert UNITS == ["min", "h", "d", "w", "mo", "y"]  # LANGUAGE.md §2
    assert DESCRIBED["dates"]["relative"]["bases"] == ["now", "today"]
    for example in DESCRIBED["dates"]["relative"]["examples"]:
        check(parse(f"birthday before {example}"), Context(account="a", catalog=CATALOG))
