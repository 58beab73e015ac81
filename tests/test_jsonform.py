"""The JSON form (LANGUAGE.md §7): the published JSON Schema and `from_json` accept the
same documents (tables for each past disagreement, and a property test holding the
`jsonschema` package's verdict and `from_json`'s to one over random valid and mutated
documents); every refusal is an E_JSON diagnostic in plain words at the JSON Pointer of
the offending node or member; the checker's problems for a JSON segment point too."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from segql.compiler.catalog import Catalog
from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.operators import POSITIVE, resolve
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.format import OPERATORS, fmt
from segql.grammar.jsonform import SCHEMA_ID, from_json, json_schema, to_json
from segql.grammar.keywords import KEYWORDS, quotable
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH
from segql.grammar.parser import parse
from segql.grammar.schema import LIST_OPERAND, NO_OPERAND, ONE_OPERAND, PAIR_OPERAND
from segql.grammar.validator import Validator

SCHEMA = Draft202012Validator(json_schema())
#: Words of pydantic's messages (and the old `$.path: ` prefix), never to reach a user.
JARGON = re.compile(r"Input should|dictionary|instance of|validation error|Extra inputs|"
                    r"union_tag|literal_error|\$\.|pydantic", re.IGNORECASE)


def number(n: float) -> dict[str, Any]:
    return {"type": "number", "value": n}


def string(s: str) -> dict[str, Any]:
    return {"type": "string", "value": s}


def field(op: Any, **operands: Any) -> dict[str, Any]:
    return {"type": "field", "field": "age", "op": op, **operands}


def event(**members: Any) -> dict[str, Any]:
    return {"type": "event", "name": "Purchase", **members}


def a_list(*items: Any) -> dict[str, Any]:
    return {"type": "list", "items": list(items)}


A, B = field("has_value"), {"type": "field", "field": "city", "op": "equals", "value": string("x")}
DAYS, TODAY = {"type": "duration", "amount": 30, "unit": "d"}, {"type": "relative_date",
                                                                "base": "today"}


def refusal(document: Any) -> list[Diagnostic]:
    """The diagnostics of from_json (none: accepted)."""
    try:
        from_json(document if isinstance(document, str) else json.dumps(document))
    except SegmentError as error:
        return error.diagnostics
    return []


# --- the findings: (a) the schema accepted what from_json refused, (b) from_json accepted
# what it should refuse; now both refuse, at the pointer given (None: both accept) --------

FINDINGS: list[tuple[str, Any, str | None]] = [
    ("and of one", {"type": "and", "items": [A]}, "/items"),
    ("or of one", {"type": "or", "items": [A]}, "/items"),
    ("and of two", {"type": "and", "items": [A, B]}, None),
    ("between without upper", field("between", value=number(1)), ""),
    ("between without value", field("between", upper=number(1)), ""),
    ("between", field("between", value=number(1), upper=number(2)), None),
    ("event without a name", {"type": "event"}, ""),
    ("visit with a name", {"type": "visit", "name": "x"}, "/name"),
    ("visit", {"type": "visit", "occurred": False}, None),
    ("count on not_occurred", event(occurred=False, count={"op": "exactly", "n": 1}), "/count"),
    ("count on occurred", event(occurred=True, count={"op": "exactly", "n": 1}), None),
    ("empty all", {"type": "all", "items": []}, "/items"),
    ("empty any", {"type": "any", "items": []}, "/items"),
    ("all of one", {"type": "all", "items": [A]}, None),
    ("has_value with a value", field("has_value", value=number(1)), "/value"),
    ("has_no_value with a value", field("has_no_value", value=string("")), "/value"),
    ("is_true with a value", field("is_true", value=string("x")), "/value"),
    ("is_false with a value", field("is_false", value=number(0)), "/value"),
    ("has_value with upper", field("has_value", upper=number(1)), "/upper"),
    ("in with a number", field("in", value=number(1)), "/value"),
    ("not_in with a string", field("not_in", value=string("a")), "/value"),
    ("in with a bare JSON list", field("in", value=[1, 2]), "/value"),
    ("in with a list", field("in", value=a_list(number(1))), None),
    ("equals with a list", field("equals", value=a_list()), "/value"),
    ("between with a list", field("between", value=number(1), upper=a_list()), "/upper"),
    ("gt with upper", field("gt", value=number(1), upper=number(2)), "/upper"),
    ("in with upper", field("in", value=a_list(), upper=number(2)), "/upper"),
    ("within with a date", event(window={"kind": "within", "value": TODAY}), "/window/value"),
    ("since with a duration", event(window={"kind": "since", "value": DAYS}), "/window/value"),
    ("before with a duration", event(window={"kind": "before", "value": DAYS}), "/window/value"),
    ("between with a duration", event(window={"kind": "between", "value": DAYS, "upper": TODAY}),
     "/window/value"),
    ("between window without upper", event(window={"kind": "between", "value": TODAY}),
     "/window"),
    ("within with upper", event(window={"kind": "within", "value": DAYS, "upper": TODAY}),
     "/window/upper"),
    ("since with upper", event(window={"kind": "since", "value": TODAY, "upper": TODAY}),
     "/window/upper"),
    ("windows that fit", {"type": "all", "items": [
        event(window={"kind": "within", "value": DAYS}),
        event(window={"kind": "since", "value": string("2025-01-31")}),
        event(window={"kind": "before", "value": TODAY}),
        event(window={"kind": "between", "value": TODAY, "upper": string("2025-01-31")})]}, None),
    # the checker's to refuse (a missing or empty operand), as for the text
    ("equals without a value", field("equals"), None),
    ("in without a value", field("in"), None),
    ("in with an empty list", field("in", value=a_list()), None),
]


@pytest.mark.parametrize(("document", "at"), [f[1:] for f in FINDINGS],
                         ids=[f[0] for f in FINDINGS])
def test_the_schema_and_from_json_agree_on_the_findings(document: Any, at: str | None) -> None:
    assert SCHEMA.is_valid(document) == (at is None)
    problems = refusal(document)
    assert [p.pointer for p in problems[:1]] == ([] if at is None else [at]), problems
    assert all(p.code == "E_JSON" and p.hint and not JARGON.search(p.message) for p in problems)


# --- pointers and words for common mistakes: (document, code, pointer, words) -----------

MISTAKES: list[tuple[str, Any, str, str, str]] = [
    ("op of the wrong type", field(3), "E_JSON", "/op", "`op` should be an operator, not a number"),
    ("unknown op", field("="), "E_JSON", "/op", '"=" is not an operator'),
    ("op in capitals", field("EQUALS", value=number(1)), "E_JSON", "/op", "not an operator"),
    ("missing field", {"type": "field", "op": "has_value"}, "E_JSON", "",
     "a field condition needs `field`"),
    ("missing type", {"field": "a", "op": "has_value"}, "E_JSON", "", "needs `type`"),
    ("unknown type", {"type": "nope"}, "E_JSON", "/type", '`type` "nope" is none of'),
    ("list for one value", field("gt", value=a_list(number(1))), "E_JSON", "/value",
     "should be one value"),
    ("number as a string", field("gt", value={"type": "number", "value": "3"}), "E_JSON",
     "/value/value", "`value` should be a number, not a string"),
    ("boolean as a number", field("gt", value={"type": "number", "value": True}), "E_JSON",
     "/value/value", "not true"),
    ("unknown member", {"type": "not", "expr": {**A, "x": 1}}, "E_JSON", "/expr/x",
     "has no member `x`"),
    ("field name as a number", {"type": "all", "items": [A, {**A, "field": 3}]}, "E_JSON",
     "/items/1/field", "`field` should be a name, not a number"),
    ("name with a backquote", {**A, "field": "a`b"}, "E_JSON", "/field", "is not a name"),
    ("empty name", {**A, "field": ""}, "E_JSON", "/field", "is not a name"),
    ("items not a list", {"type": "all", "items": A}, "E_JSON", "/items",
     "should be a list (JSON array), not a field condition"),
    ("item not a condition", {"type": "any", "items": [A, "b"]}, "E_JSON", "/items/1",
     "`items[1]` should be a condition, not a string"),
    ("document not an object", [A], "E_JSON", "", "should be a condition, not a list"),
    ("negative count", event(count={"op": "at_least", "n": -1}), "E_JSON", "/count/n",
     "0 or more"),
    ("count with a fraction", event(count={"op": "at_least", "n": 1.5}), "E_JSON", "/count/n",
     "whole number"),
    ("unknown unit", event(window={"kind": "within", "value": {**DAYS, "unit": "days"}}),
     "E_JSON", "/window/value/unit", '"days" is not a unit'),
    ("occurred as a string", event(occurred="yes"), "E_JSON", "/occurred", "true or false"),
    ("lone surrogate", field("equals", value=string("\udcff")), "E_JSON", "/value/value",
     "not text"),
    ("NaN", '{"type": "field", "field": "a", "op": "gt", "value": {"type": "number", '
     '"value": NaN}}', "E_JSON", "/value/value", "finite"),
    ("1e999", '{"type": "field", "field": "a", "op": "gt", "value": {"type": "number", '
     '"value": 1e999}}', "E_JSON", "/value/value", "finite"),
    ("string too long", field("equals", value=string("x" * 5000)), "E_STRING_TOO_LONG",
     "/value", "longer than 4,096"),
    ("event name too long", {"type": "any", "items": [A, {"type": "event", "name": "x y" * 2000}]},
     "E_STRING_TOO_LONG", "/items/1", "longer than 4,096"),
    ("too many conditions", {"type": "any", "items": [A] * (MAX_CONDITIONS + 1)},
     "E_TOO_MANY_CONDITIONS", f"/items/{MAX_CONDITIONS}", "more than 1,000"),
    ("nested past any depth", '{"type": "not", "expr": ' * 5000 + "{}" + "}" * 5000,
     "E_TOO_DEEP", "", "deeper than 32"),
]


@pytest.mark.parametrize(("document", "code", "at", "words"), [m[1:] for m in MISTAKES],
                         ids=[m[0] for m in MISTAKES])
def test_mistakes_are_pointed_at_in_plain_words(document: Any, code: str, at: str,
                                                words: str) -> None:
    first = (refusal(document) or ["accepted"])[0]
    assert isinstance(first, Diagnostic) and (first.code, first.pointer) == (code, at), first
    assert words in first.message and not JARGON.search(first.message + (first.hint or ""))
    assert (first.hint or code != "E_JSON") and first.to_json()["pointer"] == at


def test_json_that_does_not_parse_keeps_its_line_and_column() -> None:
    problems = refusal('{"type": "field",\n  "field": "a" "op": "has_value"}')
    assert [(p.code, p.pointer, p.line, p.column, p.message) for p in problems] == [
        ("E_JSON", None, 2, 16, "not valid JSON: expecting ',' delimiter")]
    assert "pointer" not in problems[0].to_json()
    problems = refusal('{"type": "count", "n": ' + "9" * 5000 + "}")
    assert [(p.code, p.pointer, p.message) for p in problems] == [
        ("E_JSON", None, "a number of more than 4,300 digits")]


def test_several_problems_at_once() -> None:
    problems = refusal({"type": "all", "items": [
        {"type": "field", "op": "has_value", "value": number(1)},
        {"type": "visit", "name": "x", "count": {"op": "most", "n": 1}}]})
    assert [(p.pointer, p.message, p.hint) for p in problems] == [
        ("/items/0", "a field condition needs `field`",
         "its members: `type`, `field`, `op`, `value`, `upper`, `span`"),
        ("/items/0/value", "`value` is not allowed here",
         "has_value, has_no_value, is_true, is_false and anniversary_today take no `value` and "
         "no `upper`"),
        ("/items/1/count/op", '"most" is not a count operator',
         "one of: at_least, at_most, exactly"),
        ("/items/1/name", "`name` is not allowed here", "a visit has no `name`"),
    ]


def nested(levels: int) -> ast.Expr:
    """An AST whose text nests `levels` deep (as in test_format.py)."""
    leaf = ast.FieldCondition(field="a", op="has_value")
    node: ast.Expr = leaf
    for level in range(levels):
        node = [lambda n: ast.Group(type="all", items=[n, leaf]),
                lambda n: ast.Activity(type="event", name="X", where=n),
                lambda n: ast.Group(type="and", items=[leaf, n]),
                lambda n: ast.Not(expr=n)][level % 4](node)
    return node


def test_the_limits_in_the_json_form() -> None:
    leaf = ast.FieldCondition(field="a", op="has_value")
    for node in (nested(MAX_DEPTH), ast.Group(type="any", items=[leaf] * MAX_CONDITIONS)):
        assert from_json(to_json(node)) == node
    problems = refusal(to_json(nested(MAX_DEPTH + 1)))  # at the innermost `where (`
    assert [(p.code, p.pointer) for p in problems] == [
        ("E_TOO_DEEP", "/items/0/expr/items/1" + "/where/items/0/expr/items/1" * 7 + "/where")]
    chain: ast.Expr = leaf
    for i in range(2 * (MAX_DEPTH + 1)):  # (… or …) in an `and` opens a level of parentheses
        chain = ast.Group(type="or" if i % 2 == 0 else "and", items=[chain, leaf])
    assert [(p.code, p.pointer) for p in refusal(to_json(chain))] == [
        ("E_TOO_DEEP", "/items/0" * (2 * MAX_DEPTH + 1))]


# --- the checker's problems point into the document -------------------------------------

CTX = Context(account="acme", now=datetime(2025, 3, 30, tzinfo=UTC),
              catalog=Catalog(fields={"age": "number", "city": "text"},
                              events={"Purchase": {"value": "number"}}))


def check_errors(expr: ast.Expr) -> list[Diagnostic]:
    with pytest.raises(SegmentError) as caught:
        check(expr, CTX)
    return caught.value.diagnostics


def test_check_errors_of_a_json_segment_carry_pointers() -> None:
    problems = check_errors(from_json(json.dumps({"type": "all", "items": [
        field("gt", value=string("x")),
        {"type": "field", "field": "cty", "op": "equals", "value": string("x")},
        {"type": "not", "expr": event(where={"type": "field", "field": "value", "op": "in",
                                            "value": a_list()})},
        event(count={"op": "at_least", "n": 10**7}),
        {"type": "event", "name": "Purchse"},
    ]})))
    assert [(d.code, d.pointer) for d in problems] == [
        ("E_OPERAND_TYPE", "/items/0/value"), ("E_UNKNOWN_FIELD", "/items/1"),
        ("E_EMPTY_LIST", "/items/2/expr/where/value"), ("E_COUNT", "/items/3/count"),
        ("E_UNKNOWN_EVENT", "/items/4")]
    assert (problems[1].message, problems[1].hint) == ("unknown field `cty`",
                                                       "did you mean `city`?")
    assert problems[1].to_json()["pointer"] == "/items/1"
    root = check_errors(from_json(json.dumps({"type": "field", "field": "x", "op": "has_value"})))
    assert [(d.code, d.pointer) for d in root] == [("E_UNKNOWN_FIELD", "")]


def test_check_errors_of_text_have_no_pointer() -> None:
    problems = check_errors(parse('all(age > "x", cty equals "x")'))
    assert [(d.code, d.pointer, d.line, d.column) for d in problems] == [
        ("E_OPERAND_TYPE", None, 1, 11), ("E_UNKNOWN_FIELD", None, 1, 16)]
    assert "pointer" not in problems[0].to_json()


def test_pointers_are_no_part_of_a_node() -> None:
    node = from_json(json.dumps({"type": "all", "items": [A]}))
    assert isinstance(node, ast.Group) and node.items[0].pointer == "/items/0"
    assert node == ast.Group(type="all", items=[ast.FieldCondition(field="age", op="has_value")])
    assert "pointer" not in to_json(node) and parse(fmt(node)).pointer is None


# --- the schema ---------------------------------------------------------------------------


def test_the_schema_is_a_2020_12_schema() -> None:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (schema["$id"], schema["title"], schema["$ref"]) == (
        SCHEMA_ID, "segql segment", "#/$defs/Condition")
    assert set(schema["$defs"]["Condition"]["discriminator"]["mapping"]) == {
        "field", "event", "visit", "in_segment", "not", "all", "any", "and", "or"}
    op = schema["$defs"]["FieldCondition"]["properties"]["op"]
    assert set(op["enum"]) == {*OPERATORS, "between"}
    assert "finite" in schema["description"] and "65,536 bytes" in schema["description"]
    assert json.loads(json.dumps(schema, ensure_ascii=False)) == schema
    with pytest.raises(ValueError, match="does not read"):
        Validator({"$defs": {}, "minLength": 1})


def test_operator_groups_fit_the_operators() -> None:
    """The schema's operand shape of each operator is what it takes for every type."""
    assert sorted([*NO_OPERAND, *LIST_OPERAND, *PAIR_OPERAND, *ONE_OPERAND]) == sorted(
        [*OPERATORS, "between"])
    shapes = {"texts": LIST_OPERAND, "numbers": LIST_OPERAND, "number_pair": PAIR_OPERAND,
              "date_pair": PAIR_OPERAND}
    for op in [*OPERATORS, "between"]:
        for found in filter(None, (resolve(op, t) for t in {t for t, _ in POSITIVE})):
            kind = found[0].operand
            assert op in (NO_OPERAND if kind is None else shapes.get(kind, ONE_OPERAND))


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(st.text(st.characters(codec="utf-8") | st.sampled_from("`\n\x00\x9f\udcff"), max_size=6))
def test_the_name_pattern_is_quotable(name: str) -> None:
    pattern = json_schema()["$defs"]["Name"]["pattern"]
    assert (re.search(pattern, name) is not None) == quotable(name)


# --- the property: one verdict over random documents ------------------------------------

UNITS = ["min", "h", "d", "w", "mo", "y"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\n`é😀'),
               max_size=6)
NAMES = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
                  st.sampled_from(sorted(KEYWORDS)), TEXT.filter(quotable))
NUMBERS = st.one_of(st.integers(-(10**20), 10**20),
                    st.floats(allow_nan=False, allow_infinity=False)).map(number)
STRINGS = TEXT.map(string)
RELATIVE = st.fixed_dictionaries(
    {"type": st.just("relative_date"), "base": st.sampled_from(["now", "today"])},
    optional={"offsets": st.lists(st.fixed_dictionaries({
        "amount": st.integers(-100, 100), "unit": st.sampled_from(UNITS)}), max_size=2)})
DURATIONS = st.fixed_dictionaries({"type": st.just("duration"), "amount": st.integers(0, 999),
                                   "unit": st.sampled_from(UNITS)})
ONE, DATES = st.one_of(STRINGS, NUMBERS, RELATIVE, DURATIONS), st.one_of(STRINGS, RELATIVE)
LISTS = st.lists(st.one_of(STRINGS, NUMBERS), max_size=3).map(lambda items: a_list(*items))


def _field(op: str, required: dict[str, Any] | None = None,
           optional: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"type": st.just("field"), "field": NAMES, "op": st.just(op), **(required or {})},
        optional={"span": st.just({"line": 1, "column": 1, "end_line": 1, "end_column": 2}),
                  **(optional or {})})


FIELDS = st.one_of(
    st.sampled_from(NO_OPERAND).flatmap(_field),
    st.sampled_from(LIST_OPERAND).flatmap(lambda op: _field(op, optional={"value": LISTS})),
    _field("between", {"value": ONE, "upper": ONE}),
    st.sampled_from(ONE_OPERAND).flatmap(lambda op: _field(op, optional={"value": ONE})))
WINDOWS = st.one_of(
    st.fixed_dictionaries({"kind": st.just("within"), "value": DURATIONS}),
    st.fixed_dictionaries({"kind": st.sampled_from(["since", "before"]), "value": DATES}),
    st.fixed_dictionaries({"kind": st.just("between"), "value": DATES, "upper": DATES}))
COUNTS = st.fixed_dictionaries({"op": st.sampled_from(["at_least", "at_most", "exactly"]),
                                "n": st.integers(0, 10**7)}, optional={"type": st.just("count")})


@st.composite
def activities(draw: st.DrawFn, where: st.SearchStrategy[Any] | None = None) -> dict[str, Any]:
    kind = draw(st.sampled_from(["event", "visit"]))
    node: dict[str, Any] = {"type": kind, **({"name": draw(TEXT)} if kind == "event" else {})}
    for key, strategy in (("where", where), ("window", WINDOWS)):
        if strategy is not None and draw(st.booleans()):
            node[key] = draw(strategy)
    occurred = draw(st.sampled_from([True, False, None]))
    if occurred is not None:
        node["occurred"] = occurred
    if occurred is not False and draw(st.booleans()):
        node["count"] = draw(COUNTS)
    return node


VALID = st.recursive(
    st.one_of(FIELDS, activities(), st.fixed_dictionaries({"type": st.just("in_segment"),
                                                           "name": TEXT})),
    lambda children: st.one_of(
        st.fixed_dictionaries({"type": st.just("not"), "expr": children}),
        st.fixed_dictionaries({"type": st.sampled_from(["all", "any"]),
                               "items": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"type": st.sampled_from(["and", "or"]),
                               "items": st.lists(children, min_size=2, max_size=3)}),
        activities(children)),
    max_leaves=8)
MEMBERS = ["type", "field", "op", "value", "upper", "name", "where", "occurred", "count",
           "window", "items", "expr", "kind", "n", "amount", "unit", "base", "offsets", "span",
           "x"]
ANY_JSON = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 2.0, 1.5, "", "x", "a`b", "\udcff", [], {}]),
    ONE, LISTS, FIELDS, COUNTS, WINDOWS, st.lists(ONE, max_size=2))
SWAPS = {
    "op": st.sampled_from([*OPERATORS, "between", "=", "EQUALS", "at_least", ""]),
    "type": st.sampled_from(["field", "event", "visit", "in_segment", "not", "all", "any", "and",
                             "or", "string", "number", "list", "relative_date", "duration",
                             "count", "window", "nope"]),
    "kind": st.sampled_from(["within", "since", "before", "between", "after"]),
    "field": st.sampled_from(["", "a`b", "a\n", "\x00", "\udcff", "ok", 3]),
    "name": st.sampled_from(["", "x", None, 3]),
    "items": st.sampled_from([[], [A], [A, B], [1], A]),
    "occurred": st.sampled_from([True, False, 0, "true"]),
    "n": st.sampled_from([0, -1, 2.0, 1.5, 10**30, "1"]),
    "amount": st.sampled_from([0, -3, 2.0, 1.5, "1"]),
    "unit": st.sampled_from([*UNITS, "days", "M"]),
}


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value in a document."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else []
    return [path, *(p for key, item in inner for p in _places(item, (*path, key)))]


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid document with one to three things done to it: at a node, a member dropped,
    added, given another operator, node type, kind, … or another operand; anywhere, a
    value replaced by one of another JSON type or node."""
    document = json.loads(json.dumps(draw(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        places = _places(document)
        action = draw(st.sampled_from(["drop", "add", "swap", "swap", "operand", "replace"]))
        path = draw(st.sampled_from(places if action == "replace" else [
            p for p in places if isinstance(_at(document, p), dict)]))
        target = _at(document, path)
        swappable = sorted(set(target) & set(SWAPS)) if isinstance(target, dict) else []
        if action == "drop" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif action == "add":
            target[draw(st.sampled_from(MEMBERS))] = copy.deepcopy(draw(ANY_JSON))
        elif action == "swap" and swappable:
            member = draw(st.sampled_from(swappable))
            target[member] = copy.deepcopy(draw(SWAPS[member]))
        elif action == "operand":
            target[draw(st.sampled_from(["value", "upper"]))] = draw(st.one_of(ONE, LISTS))
        elif path:
            _at(document, path[:-1])[path[-1]] = copy.deepcopy(draw(ANY_JSON))
    return document


def _resolves(document: Any, pointer: str) -> bool:
    """Whether a JSON Pointer names a value of the document."""
    for part in (p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]):
        if isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        elif isinstance(document, dict) and part in document:
            document = document[part]
        else:
            return False
    return True


def test_the_schema_and_from_json_give_one_verdict() -> None:
    """`jsonschema` says valid exactly when `from_json` accepts, over random documents;
    every refusal is E_JSON at a pointer that names a value of the document."""
    outcomes: Counter[tuple[str, str]] = Counter()

    @settings(max_examples=2_000, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.one_of(VALID.map(lambda d: ("valid", d)), mutated().map(lambda d: ("mutated", d))))
    def run(case: tuple[str, Any]) -> None:
        origin, document = case
        text = json.dumps(document)
        schema_says = SCHEMA.is_valid(json.loads(text))
        try:
            node = from_json(text)
        except SegmentError as error:
            assert not schema_says, (document, error.diagnostics)
            for d in error.diagnostics:
                assert d.code == "E_JSON" and d.pointer is not None, d
                assert _resolves(document, d.pointer), (document, d)
                assert d.hint and not JARGON.search(d.message + d.hint), d
            outcomes[origin, "refused"] += 1
            return
        assert schema_says, document
        assert from_json(to_json(node, spans=True)) == node, document
        assert parse(fmt(node)).same(node), document
        outcomes[origin, "accepted"] += 1

    run()
    total = sum(outcomes.values())
    print(f"{total:,} documents: " + ", ".join(
        f"{origin} {verdict} {n:,}" for (origin, verdict), n in sorted(outcomes.items())))
    assert total >= 2_000
    assert outcomes["valid", "accepted"] >= 300 and outcomes["valid", "refused"] == 0
    assert outcomes["mutated", "refused"] >= 300 and outcomes["mutated", "accepted"] >= 50
