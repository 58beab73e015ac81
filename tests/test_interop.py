"""Other builders' JSON → segql (segql.interop): react-querybuilder and jQuery QueryBuilder
documents converted and compared as canonical segql text, their errors with exact JSON
Pointers, RQB's `fields` prop, and a round trip. No Elasticsearch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segql.compiler.builder_catalog import describe
from segql.compiler.catalog import Catalog, FieldType
from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.operators import resolve
from segql.errors import SegmentError
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.grammar.parser import parse
from segql.interop import jquery_querybuilder as jq
from segql.interop import react_querybuilder as rqb
from segql.interop.conditions import MEANINGS, at, meaning

CATALOG = Catalog(fields={"age": "number", "vip": "boolean", "birthday": "date",
                          "nickname": "text"})
CTX = Context(account="acme", catalog=CATALOG)
_ABSENT = object()


def rule(field: str, operator: str, value: Any = _ABSENT, **extra: Any) -> dict[str, Any]:
    found = {"field": field, "operator": operator, **extra}
    return found if value is _ABSENT else {**found, "value": value}


def group(*rules: Any, combinator: Any = "and", **extra: Any) -> dict[str, Any]:
    return {"combinator": combinator, "rules": list(rules), **extra}


def jgroup(*rules: Any, condition: Any = "AND", **extra: Any) -> dict[str, Any]:
    return {"condition": condition, "rules": list(rules), **extra}


def from_rqb(doc: Any) -> str:
    expr = rqb.from_rqb(doc, CATALOG)
    check(expr, CTX)  # what is imported also checks
    return fmt(expr)


def from_jquery(doc: Any) -> str:
    expr = jq.from_jquery(doc, CATALOG)
    check(expr, CTX)
    return fmt(expr)


def import_error(convert: Any, doc: Any) -> tuple[str | None, str]:
    with pytest.raises(SegmentError) as raised:
        convert(doc, CATALOG)
    [problem] = raised.value.diagnostics
    assert problem.code == "E_IMPORT"
    return problem.pointer, problem.message


# --- react-querybuilder: operators and values -------------------------------------------

RQB_RULES: list[tuple[str, str, Any, str]] = [
    # text
    ("nickname", "=", "Ann", 'nickname equals "Ann"'),
    ("nickname", "!=", "Ann", 'nickname not_equals "Ann"'),
    ("nickname", "contains", "nn", 'nickname contains "nn"'),
    ("nickname", "beginsWith", "A", 'nickname starts_with "A"'),
    ("nickname", "endsWith", "n", 'nickname ends_with "n"'),
    ("nickname", "doesNotContain", "nn", 'nickname not_contains "nn"'),
    ("nickname", "doesNotBeginWith", "A", 'not nickname starts_with "A"'),
    ("nickname", "doesNotEndWith", "n", 'not nickname ends_with "n"'),
    ("nickname", "null", "", "nickname has_no_value"),
    ("nickname", "notNull", None, "nickname has_value"),
    ("nickname", "in", ["a", " b "], 'nickname in ["a", "b"]'),
    ("nickname", "notIn", "a, b,, ", 'nickname not_in ["a", "b"]'),
    ("nickname", "in", "a\\,b,c", 'nickname in ["a,b", "c"]'),
    ("nickname", "in", "solo", 'nickname in ["solo"]'),
    ("tags", "in", ["b2b"], 'tags in ["b2b"]'),
    ("nickname", "BEGINSWITH", "A", 'nickname starts_with "A"'),
    ("nickname", "starts_with", "A", 'nickname starts_with "A"'),
    ("nickname", "NOT_EQUALS", "A", 'nickname not_equals "A"'),
    # number
    ("age", "=", "42", "age equals 42"),
    ("age", "=", 42, "age equals 42"),
    ("age", "!=", "-3.5", "age not_equals -3.5"),
    ("age", "<", "18", "age < 18"),
    ("age", ">", 18, "age > 18"),
    ("age", "<=", "1e3", "age <= 1000.0"),
    ("age", ">=", 18.5, "age >= 18.5"),
    ("age", "between", [18, 30], "age between 18 and 30"),
    ("age", "between", "18, 30", "age between 18 and 30"),
    ("age", "notBetween", [18, " 30 "], "not age between 18 and 30"),
    ("age", "in", "1, 2", "age in [1, 2]"),
    ("age", "notIn", [1], "age not_in [1]"),
    ("age", "null", None, "age has_no_value"),
    ("age", "notNull", None, "age has_value"),
    # date
    ("birthday", "=", "1990-05-01", 'birthday on "1990-05-01"'),
    ("birthday", "!=", "1990-05-01", 'birthday not_on "1990-05-01"'),
    ("birthday", "<", "2000-01-01", 'birthday before "2000-01-01"'),
    ("birthday", ">", "today-18y", "birthday after today-18y"),
    ("birthday", "<", "2025-01-31T10:00", 'birthday before "2025-01-31T10:00"'),
    ("birthday", ">", "NOW-1h+2min", "birthday after now-1h+2min"),
    ("birthday", "<=", "2000-01-01",
     'any(birthday before "2000-01-01", birthday on "2000-01-01")'),
    ("birthday", ">=", "2000-01-01",
     'any(birthday after "2000-01-01", birthday on "2000-01-01")'),
    ("birthday", "between", ["1990-01-01", "now"], 'birthday between "1990-01-01" and now'),
    ("birthday", "notBetween", "1990-01-01,1999-12-31",
     'not birthday between "1990-01-01" and "1999-12-31"'),
    ("birthday", "within", "30d", "birthday within 30d"),
    ("birthday", "on", "today", "birthday on today"),
    ("birthday", "not_on", "2025-01-31T10:00:00Z", 'birthday not_on "2025-01-31T10:00:00Z"'),
    ("birthday", "before", "2025-01-31T10:00:00+02:00",
     'birthday before "2025-01-31T10:00:00+02:00"'),
    ("birthday", "null", None, "birthday has_no_value"),
    ("created_at", "notNull", None, "created_at has_value"),
    # boolean
    ("vip", "=", True, "vip is_true"),
    ("vip", "=", False, "vip is_false"),
    ("vip", "=", "true", "vip is_true"),
    ("vip", "!=", True, "not vip is_true"),
    ("vip", "!=", "FALSE", "not vip is_false"),
    ("vip", "is_true", None, "vip is_true"),
    ("vip", "IS_FALSE", None, "vip is_false"),
    ("vip", "null", None, "vip has_no_value"),
    ("vip", "notNull", False, "vip has_value"),
    # an unknown field is the checker's: read as the first type that fits
    ("agee", "=", "x", 'agee equals "x"'),
]


@pytest.mark.parametrize(("field", "operator", "value", "expected"), RQB_RULES)
def test_rqb_rule(field: str, operator: str, value: Any, expected: str) -> None:
    expr = rqb.from_rqb(group(rule(field, operator, value)), CATALOG)
    assert fmt(expr) == f"all({expected})"
    if field != "agee":
        check(expr, CTX)


def test_rqb_unknown_field_is_left_to_the_checker() -> None:
    expr = rqb.from_rqb(group(rule("agee", "=", "x")), CATALOG)
    with pytest.raises(SegmentError) as raised:
        check(expr, CTX)
    assert [d.code for d in raised.value.diagnostics] == ["E_UNKNOWN_FIELD"]


# --- react-querybuilder: groups ---------------------------------------------------------

A = rule("age", ">", 18)
B = rule("vip", "=", True)
C = rule("nickname", "=", "x")
MUTED = rule("age", "<", 1, muted=True)


@pytest.mark.parametrize(("doc", "expected"), [
    (group(A, B), "all(age > 18, vip is_true)"),
    (group(A, B, combinator="OR"), "any(age > 18, vip is_true)"),
    (group(A, group(B, C, combinator="or", **{"not": True})),
     'all(age > 18, not any(vip is_true, nickname equals "x"))'),
    (group(A, B, **{"not": True}), "not all(age > 18, vip is_true)"),
    (group(A, MUTED, B, group(A, muted=True)), "all(age > 18, vip is_true)"),
    (group({**A, "disabled": True, "id": "r1", "path": [0]}), "all(age > 18)"),
    ({"rules": [A, "and", B, "or", C]}, 'age > 18 and vip is_true or nickname equals "x"'),
    ({"rules": [A, "or", B, "and", C]}, 'age > 18 or vip is_true and nickname equals "x"'),
    ({"rules": [A, "AND", B, "and", C]}, 'age > 18 and vip is_true and nickname equals "x"'),
    ({"rules": [A]}, "all(age > 18)"),
    ({"rules": [A, "or", B], "not": True}, "not (age > 18 or vip is_true)"),
    ({"rules": [A, "and", {"rules": [B, "or", C]}]},
     'age > 18 and (vip is_true or nickname equals "x")'),
    ({"rules": [A, "and", MUTED, "or", C]}, 'age > 18 or nickname equals "x"'),
    ({"rules": [MUTED, "and", A, "or", C]}, 'age > 18 or nickname equals "x"'),
    ({"rules": [A, "and", group(B, C)]}, 'age > 18 and all(vip is_true, nickname equals "x")'),
])
def test_rqb_groups(doc: dict[str, Any], expected: str) -> None:
    assert from_rqb(doc) == expected


# --- react-querybuilder: errors ---------------------------------------------------------

_DEEP: dict[str, Any] = group(A)
for _ in range(40):
    _DEEP = group(_DEEP)


@pytest.mark.parametrize(("doc", "pointer", "fragment"), [
    ([], "", "expected a JSON object"),
    ({"combinator": "and"}, "/rules", "`rules` must be a list"),
    (group(), "/rules", "a group with no rules"),
    (group(A, combinator="xor"), "/combinator", '"xor" has no segql form'),
    (group(A, combinator=1), "/combinator", "has no segql form"),
    (group(A, **{"not": "yes"}), "/not", "must be true or false"),
    (group(A, muted=True), "/muted", "the whole query is muted"),
    (group(MUTED), "/rules", "every rule of the group is muted"),
    (group(A, "and", B), "/rules/1", "among the rules"),
    (group(A, 7), "/rules/1", "expected a JSON object"),
    (group({"field": "age", "value": 1}), "/rules/0/operator", "missing `operator`"),
    (group({"operator": "=", "value": 1}), "/rules/0/field", "missing `field`"),
    (group(rule(None, "=", 1)), "/rules/0/field", "must be a string"),  # type: ignore[arg-type]
    (group(rule("~", "=", 1)), "/rules/0/field", "no field chosen"),
    (group(rule("age", "~", 1)), "/rules/0/operator", "no operator chosen"),
    (group(rule("nickname", "<", "x")), "/rules/0/operator", "no segql meaning for the text"),
    (group(rule("nickname", "matches", "x")), "/rules/0/operator", "no segql meaning"),
    (group(rule("birthday", "in", ["2025-01-01"])), "/rules/0/operator", "no segql meaning"),
    (group(rule("vip", "<", True)), "/rules/0/operator", "no segql meaning"),
    (group(rule("age", "=", "4x")), "/rules/0/value", 'expected a number, found "4x"'),
    (group(rule("age", "=", " 42")), "/rules/0/value", "expected a number"),
    (group(rule("age", "=", True)), "/rules/0/value", "expected a number, found true"),
    (group(rule("age", "=", float("inf"))), "/rules/0/value", "number out of range"),
    (group(rule("age", "=")), "/rules/0/value", "expected a number, found nothing"),
    (group(rule("age", "between", [1, 2, 3])), "/rules/0/value", "two values, found 3"),
    (group(rule("age", "between", "1")), "/rules/0/value", "two values, found 1"),
    (group(rule("age", "between")), "/rules/0/value", "missing `value`"),
    (group(rule("age", "between", [1, "x"])), "/rules/0/value/1", "expected a number"),
    (group(rule("nickname", "in", ["a", 3])), "/rules/0/value/1", "expected a string"),
    (group(rule("nickname", "in", [])), "/rules/0/value", "the list is empty"),
    (group(rule("nickname", "in", " , ")), "/rules/0/value", "the list is empty"),
    (group(rule("nickname", "=", "")), "/rules/0/value", "an empty string"),
    (group(rule("nickname", "=", 5)), "/rules/0/value", "expected a string, found 5"),
    (group(rule("birthday", "=", "2025-01-31T10:00:00Z")), "/rules/0/value",
     'expected a date such as "2025-01-31"'),
    (group(rule("birthday", "<=", "today")), "/rules/0/value", "expected a date such as"),
    (group(rule("birthday", "<", "yesterday")), "/rules/0/value", "expected a date"),
    (group(rule("birthday", "<", "2025-02-30")), "/rules/0/value", "expected a date"),
    (group(rule("birthday", "within", "30")), "/rules/0/value", "expected a duration"),
    (group(rule("birthday", "within", 30)), "/rules/0/value", "expected a duration"),
    (group(rule("vip", "=", 1)), "/rules/0/value", "expected true or false"),
    (group(rule("age", "=", 1, valueSource="field")), "/rules/0/valueSource", "no segql form"),
    (group(rule("age", "=", 1, match={"mode": "all"})), "/rules/0/match", "no segql form"),
    (group(A, group(A, rule("age", "=", "x"), combinator="or")), "/rules/1/rules/1/value",
     "expected a number"),
    (group(rule("agee", "within", "zz")), "/rules/0/field", "unknown field `agee`"),
    ({"rules": [A, B]}, "/rules/1", "expected a combinator"),
    ({"rules": [A, "and"]}, "/rules/1", "the rules end with a combinator"),
    ({"rules": ["and", A, "or"]}, "/rules/0", "found the combinator"),
    ({"rules": [A, "xor", B]}, "/rules/1", '"xor" has no segql form'),
    ({"rules": [MUTED, "and", MUTED]}, "/rules", "every rule of the group is muted"),
    (_DEEP, "/rules/0" * 32, "nested deeper than 32"),
])
def test_rqb_errors(doc: Any, pointer: str, fragment: str) -> None:
    found_pointer, message = import_error(rqb.from_rqb, doc)
    assert (found_pointer, fragment in message) == (pointer, True), message


def test_rqb_error_hint_lists_the_operators_of_the_type() -> None:
    with pytest.raises(SegmentError) as raised:
        rqb.from_rqb(group(rule("nickname", "<", "x")), CATALOG)
    hint = raised.value.diagnostics[0].hint or ""
    assert hint.startswith("operators for text: =, !=, contains, beginsWith")
    assert "starts_with" in hint


def test_pointer_escaping() -> None:
    assert at("", "a/b", "c~d", 3) == "/a~1b/c~0d/3"


def test_split_by_is_rqbs() -> None:
    # the example of RQB's own splitBy documentation
    assert rqb.split_by("this\\,\\,that,,the other,,,\\,") == [
        "this,,that", "", "the other", "", "", ","]


# --- react-querybuilder: the fields prop -------------------------------------------------


def test_fields_config_fields() -> None:
    fields = rqb.fields_config(CATALOG)
    assert json.loads(json.dumps(fields)) == fields
    assert [f["name"] for f in fields] == [f["name"] for f in describe(CATALOG)["fields"]]
    by_name = {f["name"]: f for f in fields}
    assert {n: (by_name[n]["inputType"], by_name[n]["valueEditorType"])
            for n in ("nickname", "age", "birthday", "vip")} == {
        "nickname": ("text", "text"), "age": ("number", "text"),
        "birthday": ("date", "text"), "vip": ("checkbox", "checkbox")}


@pytest.mark.parametrize(("type_", "expected"), [
    ("text", [("=", "equals"), ("!=", "not equals"), ("beginsWith", "starts with"),
              ("endsWith", "ends with"), ("contains", "contains"),
              ("doesNotContain", "not contains"), ("in", "in"), ("notIn", "not in"),
              ("notNull", "has value"), ("null", "has no value"),
              ("doesNotBeginWith", "not starts with"), ("doesNotEndWith", "not ends with")]),
    ("number", [("=", "equals"), ("!=", "not equals"), (">", ">"), (">=", ">="), ("<", "<"),
                ("<=", "<="), ("between", "between"), ("in", "in"), ("notIn", "not in"),
                ("notNull", "has value"), ("null", "has no value"),
                ("notBetween", "not between")]),
    ("date", [("on", "on"), ("not_on", "not on"), ("<", "before"), (">", "after"),
              ("between", "between"), ("within", "within"),
              ("anniversary_today", "anniversary today"), ("anniversary_in", "anniversary in"),
              ("notNull", "has value"),
              ("null", "has no value"), ("notBetween", "not between")]),
    ("boolean", [("is_true", "is true"), ("is_false", "is false"), ("notNull", "has value"),
                 ("null", "has no value")]),
])
def test_fields_config_operators(type_: FieldType, expected: list[tuple[str, str]]) -> None:
    operators = rqb.operators_config(type_)
    assert [(o["name"], o["label"]) for o in operators] == expected
    unary = [o["name"] for o in operators if o.get("arity") == "unary"]
    assert unary == [n for n, _ in expected
                     if n in ("null", "notNull", "is_true", "is_false", "anniversary_today")]


_SAMPLE: dict[str | None, Any] = {
    "text": "x", "texts": ["x", "y"], "number": "1", "numbers": [1, 2],
    "number_pair": [1, 2], "date": "2025-01-01", "date_pair": ["2025-01-01", "now"],
    "duration": "7d", "days": "7d", None: None,
}


@pytest.mark.parametrize("field", ["nickname", "age", "birthday", "vip"])
def test_every_offered_operator_imports_and_checks(field: str) -> None:
    type_ = CATALOG.field_type(field)
    assert type_ is not None
    for operator in rqb.operators_config(type_):
        found = meaning(rqb.VOCABULARY, operator["name"], type_)
        assert found is not None, operator
        resolved = resolve(found.op, type_)
        assert resolved is not None
        value = True if found.by_value else _SAMPLE[resolved[0].operand]
        from_rqb(group(rule(field, operator["name"], value)))


# --- jQuery QueryBuilder ----------------------------------------------------------------

JQ_RULES: list[tuple[str, str, Any, str]] = [
    ("nickname", "equal", "Ann", 'nickname equals "Ann"'),
    ("nickname", "not_equal", "Ann", 'nickname not_equals "Ann"'),
    ("nickname", "in", ["a", "b"], 'nickname in ["a", "b"]'),
    ("nickname", "in", "a,b", 'nickname in ["a,b"]'),
    ("nickname", "not_in", ["a"], 'nickname not_in ["a"]'),
    ("nickname", "begins_with", "A", 'nickname starts_with "A"'),
    ("nickname", "not_begins_with", "A", 'not nickname starts_with "A"'),
    ("nickname", "contains", "n", 'nickname contains "n"'),
    ("nickname", "not_contains", "n", 'nickname not_contains "n"'),
    ("nickname", "ends_with", "n", 'nickname ends_with "n"'),
    ("nickname", "not_ends_with", "n", 'not nickname ends_with "n"'),
    ("nickname", "is_empty", None, "nickname has_no_value"),
    ("nickname", "is_not_empty", None, "nickname has_value"),
    ("nickname", "is_null", None, "nickname has_no_value"),
    ("nickname", "is_not_null", None, "nickname has_value"),
    ("age", "equal", 42, "age equals 42"),
    ("age", "not_equal", 4.5, "age not_equals 4.5"),
    ("age", "less", 18, "age < 18"),
    ("age", "less_or_equal", "18", "age <= 18"),
    ("age", "greater", 18, "age > 18"),
    ("age", "greater_or_equal", 18, "age >= 18"),
    ("age", "between", [18, 30], "age between 18 and 30"),
    ("age", "not_between", [18, 30], "not age between 18 and 30"),
    ("age", "in", [1, 2], "age in [1, 2]"),
    ("age", "not_in", 3, "age not_in [3]"),
    ("age", "is_null", None, "age has_no_value"),
    ("birthday", "equal", "1990-05-01", 'birthday on "1990-05-01"'),
    ("birthday", "not_equal", "1990-05-01", 'birthday not_on "1990-05-01"'),
    ("birthday", "less", "2000-01-01", 'birthday before "2000-01-01"'),
    ("birthday", "greater", "2000-01-01T00:00:00Z", 'birthday after "2000-01-01T00:00:00Z"'),
    ("birthday", "less_or_equal", "2000-01-01",
     'any(birthday before "2000-01-01", birthday on "2000-01-01")'),
    ("birthday", "greater_or_equal", "2000-01-01",
     'any(birthday after "2000-01-01", birthday on "2000-01-01")'),
    ("birthday", "between", ["1990-01-01", "1999-12-31"],
     'birthday between "1990-01-01" and "1999-12-31"'),
    ("birthday", "not_between", ["1990-01-01", "today"],
     'not birthday between "1990-01-01" and today'),
    ("birthday", "is_not_null", None, "birthday has_value"),
    ("birthday", "within", "7d", "birthday within 7d"),
    ("vip", "equal", True, "vip is_true"),
    ("vip", "equal", False, "vip is_false"),
    ("vip", "not_equal", True, "not vip is_true"),
    ("vip", "is_null", None, "vip has_no_value"),
    ("vip", "is_not_null", None, "vip has_value"),
]


@pytest.mark.parametrize(("field", "operator", "value", "expected"), JQ_RULES)
def test_jquery_rule(field: str, operator: str, value: Any, expected: str) -> None:
    doc = jgroup({"id": field, "field": field, "type": "string", "input": "text",
                  "operator": operator, "value": value}, valid=True)
    assert from_jquery(doc) == f"all({expected})"


J_A = rule("age", "greater", 18)
J_B = rule("vip", "equal", True)


@pytest.mark.parametrize(("doc", "expected"), [
    (jgroup(J_A, J_B), "all(age > 18, vip is_true)"),
    (jgroup(J_A, J_B, condition="or"), "any(age > 18, vip is_true)"),
    (jgroup(J_A, jgroup(J_B, J_A, condition="OR", **{"not": True}), flags={}, data={}),
     "all(age > 18, not any(vip is_true, age > 18))"),
    (jgroup(J_A, **{"not": True}), "not all(age > 18)"),
])
def test_jquery_groups(doc: dict[str, Any], expected: str) -> None:
    assert from_jquery(doc) == expected


@pytest.mark.parametrize(("doc", "pointer", "fragment"), [
    ("rules", "", "expected a JSON object"),
    (jgroup(J_A, valid=False), "/valid", "marked these rules invalid"),
    ({"rules": [J_A]}, "/condition", "missing `condition`"),
    (jgroup(J_A, condition="XOR"), "/condition", '"XOR" has no segql form'),
    (jgroup(), "/rules", "a group with no rules"),
    (jgroup("x"), "/rules/0", "expected a JSON object"),
    (jgroup(rule("age", "is_empty", None)), "/rules/0/operator", "no segql meaning"),
    (jgroup(rule("birthday", "in", ["2025-01-01"])), "/rules/0/operator", "no segql meaning"),
    (jgroup(rule("nickname", "less", "a")), "/rules/0/operator", "no segql meaning"),
    (jgroup(rule("vip", "is_empty", None)), "/rules/0/operator", "no segql meaning"),
    (jgroup(rule("age", "between", 5)), "/rules/0/value", "two values, found 1"),
    (jgroup(rule("age", "between", [1, "x"])), "/rules/0/value/1", "expected a number"),
    (jgroup(rule(None, "equal", 1)), "/rules/0/field", "must be a string"),  # type: ignore[arg-type]
    (jgroup(rule("age", None, 1)), "/rules/0/operator", "must be a string"),  # type: ignore[arg-type]
    (jgroup(rule("vip", "equal", "yes")), "/rules/0/value", "expected true or false"),
    (jgroup(rule("birthday", "equal", "2025-01-01T10:00:00Z")), "/rules/0/value",
     "expected a date such as"),
    (jgroup(J_A, jgroup(rule("age", "less", "old"))), "/rules/1/rules/0/value",
     "expected a number"),
])
def test_jquery_errors(doc: Any, pointer: str, fragment: str) -> None:
    found_pointer, message = import_error(jq.from_jquery, doc)
    assert (found_pointer, fragment in message) == (pointer, True), message


def test_both_importers_share_one_meaning_per_comparison() -> None:
    """The two vocabularies name comparisons of the one shared table."""
    comparisons = {comparison for _, comparison in MEANINGS}
    assert set(rqb.VOCABULARY.values()) <= comparisons
    assert set(jq.VOCABULARY.values()) <= comparisons


# --- a round trip: RQB → segql → text → segql --------------------------------------------

_VALID_RULES = st.sampled_from([rule(f, o, v) for f, o, v, _ in RQB_RULES if f != "agee"])


def _groups(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    standard = st.builds(
        lambda rules, combinator, negate: group(*rules, combinator=combinator,
                                                **{"not": negate}),
        st.lists(children, min_size=1, max_size=4), st.sampled_from(["and", "or"]),
        st.booleans())
    independent = st.builds(
        lambda rules, combinators, negate: {
            "rules": [x for i, r in enumerate(rules)
                      for x in ([combinators[i % len(combinators)], r] if i else [r])],
            "not": negate},
        st.lists(children, min_size=1, max_size=4),
        st.lists(st.sampled_from(["and", "or"]), min_size=1, max_size=3), st.booleans())
    return standard | independent


_QUERIES = st.recursive(_VALID_RULES, _groups, max_leaves=12).map(
    lambda q: q if "rules" in q else group(q))


@settings(max_examples=200, deadline=None)
@given(_QUERIES)
def test_round_trip(query: dict[str, Any]) -> None:
    expr = rqb.from_rqb(query, CATALOG)
    text = fmt(expr)
    again = parse(text)
    assert again.same(expr)
    assert fmt(again) == text
    check(again, CTX)
    assert isinstance(expr, ast.Group | ast.Not)
