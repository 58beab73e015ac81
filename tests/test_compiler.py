"""Expression → compiled body and expression → check error, as tables, for every operator
of every type, every activity form and segment references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from segql import api
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.errors import SegmentError
from segql.values import epoch_millis

CATALOG = Catalog(
    fields={"age": "number", "vip": "boolean", "signup": "date", "title": "text",
            "Data urodzenia": "text", "a": "text", "b": "text"},
    events={"Purchase": {"value": "number", "currency": "text", "at": "date", "gift": "boolean"}},
    visit_properties={"campaign": "text"},
)
NOW = datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # 03:30 in Warsaw, just after the DST change
CTX = Context(account="acme", now=NOW, timezone=ZoneInfo("Europe/Warsaw"), catalog=CATALOG,
              segments={"Buyers": "event Purchase occurred", "VIP buyers": 'all(vip is_true, '
                        'in_segment "buyers")'})


def ms(text: str) -> int:
    return epoch_millis(datetime.fromisoformat(text))


def query_of(text: str) -> Any:
    """The compiled query without its account filter (which is merged into the top bool)."""
    top = dict(api.compile_text(text, CTX)["query"]["bool"])
    account, *filters = top.pop("filter")
    assert account == {"term": {"account": "acme"}}
    if filters:
        top["filter"] = filters
    if set(top) == {"filter"} and len(filters) == 1:
        return filters[0]
    return {"bool": top}


def not_(query: Any) -> Any:
    return {"bool": {"must_not": [query]}}


def date_range(path: str, **bounds: Any) -> Any:
    return {"range": {path: {**bounds, "format": "epoch_millis"}}}


def either(*clauses: Any) -> Any:
    return {"bool": {"should": list(clauses), "minimum_should_match": 1}}


def days(lo: int | None = None, hi: int | None = None) -> Any:
    """A range over the calendar dates of `signup` (day numbers yyyymmdd)."""
    bounds = {"gte": lo, "lte": hi}
    return {"range": {"fields.signup.c": {k: v for k, v in bounds.items() if v is not None}}}


def dated(calendar_dates: Any, **bounds: Any) -> Any:
    """A date condition on `signup`: its instants in `bounds`, or its calendar dates in
    the days whose start is (LANGUAGE.md §3.6)."""
    return either(date_range("fields.signup.d", **bounds), calendar_dates)


SIGNUP_EXISTS = either({"exists": {"field": "fields.signup.d"}},
                       {"exists": {"field": "fields.signup.c"}})


def all_of(*clauses: Any) -> Any:
    return clauses[0] if len(clauses) == 1 else {"bool": {"filter": list(clauses)}}


def nested(path: str, *clauses: Any) -> Any:
    return {"nested": {"path": path, "query": all_of(*clauses)}}


def at_least(k: int, path: str, *clauses: Any) -> Any:
    return {"function_score": {
        "query": {"nested": {"path": path, "score_mode": "sum", "query": {
            "constant_score": {"filter": all_of(*clauses), "boost": 1}}}},
        "min_score": k, "boost_mode": "replace"}}


PURCHASE = {"term": {"events.name": "Purchase"}}
TODAY = ms("2025-03-30T00:00:00+01:00")
TOMORROW = ms("2025-03-31T00:00:00+02:00")
NOW_MS = epoch_millis(NOW)
LONG = "x" * 30
COMPILES = [
    # text
    ('city equals "ŁÓDŹ"', {"term": {"fields.city.f": "łódź"}}),
    ('city = "STRASSE"', {"term": {"fields.city.f": "strasse"}}),
    ('city = "Straße"', {"term": {"fields.city.f": "strasse"}}),
    ('city not_equals "Łódź"', not_({"term": {"fields.city.f": "łódź"}})),
    ('city != "Łódź"', not_({"term": {"fields.city.f": "łódź"}})),
    ('city starts_with "War"', {"prefix": {"fields.city.f": "war"}}),
    ('email ends_with "@Gmail.com"', {"prefix": {"fields.email.r": "moc.liamg@"}}),
    ('tags contains "VI"', {"wildcard": {"fields.tags.f": {"value": "*vi*"}}}),
    ('tags not_contains "vi"', not_({"wildcard": {"fields.tags.f": {"value": "*vi*"}}})),
    ('tags contains "*?\\\\"', {"wildcard": {"fields.tags.f": {"value": "*\\*\\?\\\\*"}}}),
    ('tags ends_with "*?"', {"prefix": {"fields.tags.r": "?*"}}),
    (f'title contains "{LONG}*?.ł"',
     {"regexp": {"fields.title.f": {"value": ".*" + LONG + "\\*\\?\\.\\ł.*", "flags": "NONE",
                                    "max_determinized_states": 10_000_000}}}),
    ('tags in ["VIP", "b2b"]', {"terms": {"fields.tags.f": ["b2b", "vip"]}}),
    ('tags not_in ["vip"]', not_({"terms": {"fields.tags.f": ["vip"]}})),
    ("phone has_value", {"exists": {"field": "fields.phone.f"}}),
    ("phone has_no_value", not_({"exists": {"field": "fields.phone.f"}})),
    ('`Data urodzenia` = "x"', {"term": {"fields.~446174612075726f647a656e6961.f": "x"}}),
    ('city = "*?\\\\\\"(){}[]:^~"', {"term": {"fields.city.f": '*?\\"(){}[]:^~'}}),
    # number
    ("age = 31", {"term": {"fields.age.n": 31.0}}),
    ("age != 31", not_({"term": {"fields.age.n": 31.0}})),
    ("age > 30", {"range": {"fields.age.n": {"gt": 30.0}}}),
    ("age >= 30", {"range": {"fields.age.n": {"gte": 30.0}}}),
    ("age < -3.5", {"range": {"fields.age.n": {"lt": -3.5}}}),
    ("age <= 1e3", {"range": {"fields.age.n": {"lte": 1000.0}}}),
    ("age between 25 and 40", {"range": {"fields.age.n": {"gte": 25.0, "lte": 40.0}}}),
    ("age in [3, 1]", {"terms": {"fields.age.n": [1.0, 3.0]}}),
    ("age not_in [1]", not_({"terms": {"fields.age.n": [1.0]}})),
    ("age has_value", {"exists": {"field": "fields.age.n"}}),
    ("age has_no_value", not_({"exists": {"field": "fields.age.n"}})),
    # date (Europe/Warsaw; the day of 2025-03-30 has 23 hours)
    ('signup on "2025-03-30"', dated(days(20250330, 20250330), gte=TODAY, lt=TOMORROW)),
    ('signup equals "2025-03-30"', dated(days(20250330, 20250330), gte=TODAY, lt=TOMORROW)),
    ('signup not_on "2025-03-30"',
     not_(dated(days(20250330, 20250330), gte=TODAY, lt=TOMORROW))),
    ("signup on today", dated(days(20250330, 20250330), gte=TODAY, lt=TOMORROW)),
    ('signup before "2025-03-30"', dated(days(hi=20250329), lt=TODAY)),
    ('signup after "2025-03-30"', dated(days(lo=20250331), gte=TOMORROW)),
    # a calendar date is in when its day's start is: Mar 30 begins before 12:00Z
    ('signup before "2025-03-30T12:00:00Z"',
     dated(days(hi=20250330), lt=ms("2025-03-30T12:00:00+00:00"))),
    ('signup after "2025-03-30T12:00:00+02:00"',
     dated(days(lo=20250331), gt=ms("2025-03-30T10:00:00+00:00"))),
    ('signup between "2025-03-29" and "2025-03-30"',
     dated(days(20250329, 20250330), gte=ms("2025-03-29T00:00:00+01:00"), lt=TOMORROW)),
    ("signup between today-1d and now",
     dated(days(20250329, 20250330), gte=ms("2025-03-29T00:00:00+01:00"), lte=NOW_MS)),
    ("signup within 1d",
     dated(days(20250330, 20250330), gte=ms("2025-03-29T03:30:00+01:00"), lte=NOW_MS)),
    # no day begins in the last two hours (today began at 00:00, 2.5 hours ago): none
    ("signup within 2h", dated(days(1, 0), gte=NOW_MS - 7_200_000, lte=NOW_MS)),
    ("signup has_value", SIGNUP_EXISTS),
    ("signup has_no_value", not_(SIGNUP_EXISTS)),
    # boolean
    ("vip is_true", {"term": {"fields.vip.b": True}}),
    ("vip is_false", {"term": {"fields.vip.b": False}}),
    ("vip has_value", {"exists": {"field": "fields.vip.b"}}),
    ("vip has_no_value", not_({"exists": {"field": "fields.vip.b"}})),
    # activities
    ("event MailOpen occurred", nested("events", {"term": {"events.name": "MailOpen"}})),
    ("event MailOpen not_occurred",
     not_(nested("events", {"term": {"events.name": "MailOpen"}}))),
    ("event Purchase occurred at_least 2", at_least(2, "events", PURCHASE)),
    ("event Purchase occurred at_least 1 times", nested("events", PURCHASE)),
    ("event Purchase occurred at_least 0", {"match_all": {}}),
    ("event Purchase occurred at_most 1", not_(at_least(2, "events", PURCHASE))),
    ("event Purchase occurred exactly 2",
     {"bool": {"filter": [at_least(2, "events", PURCHASE)],
               "must_not": [at_least(3, "events", PURCHASE)]}}),
    ("event Purchase occurred exactly 0", not_(nested("events", PURCHASE))),
    ("event Purchase occurred within 1d",
     nested("events", PURCHASE, date_range("events.ts", gte=ms("2025-03-29T03:30:00+01:00"),
                                            lte=NOW_MS))),
    ('event Purchase not_occurred since "2025-03-30"',
     not_(nested("events", PURCHASE, date_range("events.ts", gte=TODAY)))),
    ('event Purchase occurred before "2025-03-30"',
     nested("events", PURCHASE, date_range("events.ts", lt=TODAY))),
    ('event Purchase occurred between "2025-03-29" and today',
     nested("events", PURCHASE, date_range("events.ts", gte=ms("2025-03-29T00:00:00+01:00"),
                                            lte=TODAY))),
    ('event Purchase where (currency = "PLN" and not gift is_true) occurred',
     {"nested": {"path": "events", "query": {"bool": {
         "filter": [PURCHASE, {"term": {"events.pf": "currency\x00pln"}}],
         "must_not": [{"term": {"events.pb": "gift\x00true"}}]}}}}),
    ("event Purchase where (value > 100) occurred",
     nested("events", PURCHASE, {"range": {"events.pn": {
         "gt": "value\x00c059000000000000", "lt": "value\x00g"}}})),
    ("event Purchase where (value has_value) occurred",
     nested("events", PURCHASE, {"prefix": {"events.pn": "value\x00"}})),
    ('event "Purchase" where (at before "1970-01-02") occurred',
     {"nested": {"path": "events", "query": {"bool": {
         "filter": [PURCHASE], "minimum_should_match": 1, "should": [
             {"range": {"events.pd": {"gte": "at\x00", "lt": "at\x00" + (
                 f"{ms('1970-01-02T00:00:00+01:00') + (1 << 63):016x}")}}},
             {"range": {"events.pc": {"gte": "at\x00", "lte": "at\x0019700101"}}}]}}}}),
    ('visit where (url contains "/p/" and campaign ends_with "X") occurred',
     nested("visits", {"bool": {"filter": [
         {"wildcard": {"visits.pf": {"value": "url\x00*/p/*"}}},
         {"wildcard": {"visits.pf": {"value": "campaign\x00*x"}}}]}})),
    (f'visit where (title ends_with "{LONG}?") occurred',
     nested("visits", {"regexp": {"visits.pf": {"value": "title\\\x00.*" + LONG + "\\?",
                                                "flags": "NONE",
                                                "max_determinized_states": 10_000_000}}})),
    ("visit occurred", {"nested": {"path": "visits", "query": {"match_all": {}}}}),
    # groups and references
    ("all(a has_value, b has_value)",
     {"bool": {"filter": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}}]}}),
    ("a has_value or b has_value",
     {"bool": {"should": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}}], "minimum_should_match": 1}}),
    ("not a has_value", not_({"exists": {"field": "fields.a.f"}})),
    ('in_segment "BUYERS"', nested("events", PURCHASE)),
    ('not in_segment "vip buyers"',
     not_({"bool": {"filter": [{"term": {"fields.vip.b": True}}, nested("events", PURCHASE)]}})),
]


@pytest.mark.parametrize(("text", "expected"), COMPILES, ids=[t for t, _ in COMPILES])
def test_compiles(text: str, expected: Any) -> None:
    assert query_of(text) == expected


CHECK_ERRORS = [
    ('city starts_with ""', "E_EMPTY_OPERAND", 1, 18),
    ('city ends_with ""', "E_EMPTY_OPERAND", 1, 16),
    ('city contains ""', "E_EMPTY_OPERAND", 1, 15),
    ('city = ""', "E_EMPTY_OPERAND", 1, 8),
    ("city equals", "E_MISSING_VALUE", 1, 1),
    ('city has_value "x"', "E_UNEXPECTED_VALUE", 1, 16),
    ('age starts_with "3"', "E_TYPE", 1, 1),
    ("city > 5", "E_TYPE", 1, 1),
    ('vip equals "x"', "E_TYPE", 1, 1),
    ('age = "x"', "E_OPERAND_TYPE", 1, 7),
    ("city = 5", "E_OPERAND_TYPE", 1, 8),
    ('signup before "yesterday"', "E_DATE", 1, 15),
    ('signup on "2025-02-30"', "E_DATE", 1, 11),
    ("signup within now", "E_OPERAND_TYPE", 1, 15),
    ("signup before 30d", "E_OPERAND_TYPE", 1, 15),
    ("age between 40 and 25", "E_BETWEEN_ORDER", 1, 1),
    ('signup between "2025-02-02" and "2025-02-01"', "E_BETWEEN_ORDER", 1, 1),
    ("tags in []", "E_EMPTY_LIST", 1, 9),
    ("tags in [1]", "E_OPERAND_TYPE", 1, 10),
    ("age in 3", "E_OPERAND_TYPE", 1, 8),
    ("age > 1e400", "E_NUMBER", 1, 7),
    ("signup within 10000y", "E_DATE", 1, 1),
    ("signup after now+9000y", "E_DATE", 1, 1),
    ("event Purchase occurred within 99999y", "E_DATE", 1, 25),
    ("age in [1, " + "9" * 400 + "]", "E_NUMBER", 1, 12),
    ("agee > 3", "E_UNKNOWN_FIELD", 1, 1),
    ("event Purchse occurred", "E_UNKNOWN_EVENT", 1, 1),
    ("event Purchase where (valu > 3) occurred", "E_UNKNOWN_PROPERTY", 1, 23),
    ("event Purchase where (city has_value) occurred", "E_UNKNOWN_PROPERTY", 1, 23),
    ("event Purchase where (event MailOpen occurred) occurred", "E_NESTED_ACTIVITY", 1, 23),
    ('event Purchase where (in_segment "Buyers") occurred', "E_NESTED_ACTIVITY", 1, 23),
    ("event Purchase occurred between now and now-1d", "E_BETWEEN_ORDER", 1, 25),
    ("event Purchase occurred within today", "E_UNEXPECTED_TOKEN", 1, 32),
    ('in_segment "Nope"', "E_UNKNOWN_SEGMENT", 1, 1),
    # anniversaries (LANGUAGE.md §3.9): date fields, whole days, contact fields only
    ("signup anniversary in 1mo", "E_DURATION_UNIT", 1, 23),
    ("signup anniversary in 36h", "E_DURATION_UNIT", 1, 23),
    ("title anniversary today", "E_TYPE", 1, 1),
    ("age anniversary in 7d", "E_TYPE", 1, 1),
    ("signup anniversary now", "E_UNKNOWN_OPERATOR", 1, 1),
    ("signup anniversary today 3", "E_UNEXPECTED_VALUE", 1, 26),
    ("signup anniversary in", "E_MISSING_VALUE", 1, 1),
    ('signup anniversary in "7d"', "E_OPERAND_TYPE", 1, 23),
    ("event Purchase where (at anniversary today) occurred", "E_TYPE", 1, 23),
]


@pytest.mark.parametrize(("text", "code", "line", "column"), CHECK_ERRORS,
                         ids=[t[0] for t in CHECK_ERRORS])
def test_check_errors(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(SegmentError) as caught:
        api.compile_text(text, CTX)
    first = caught.value.diagnostics[0]
    assert (first.code, first.line, first.column) == (code, line, column)


def test_hints() -> None:
    def hint(text: str) -> str | None:
        with pytest.raises(SegmentError) as caught:
            api.compile_text(text, CTX)
        return caught.value.diagnostics[0].hint

    assert hint('citty = "x"') == "did you mean `city`?"
    assert hint("signup anniversary in 1mo") == "use days or weeks, e.g. `signup anniversary in 7d`"
    assert hint('signup anniversary in "7d"') == ("a number of days or weeks goes without "
                                                  "quotes, e.g. `signup anniversary in 7d`")
    assert hint("signup anniversary now") == ("write `signup anniversary today` or "
                                              "`signup anniversary in 7d`")
    assert hint("event MailOpn occurred") == "did you mean `MailOpen`?"
    assert hint('city > "x"') is not None and "starts_with" in hint('city > "x"')  # type: ignore[operator]


def test_segment_cycles() -> None:
    ctx = Context(account="acme", catalog=CATALOG,
                  segments={"A": 'in_segment "b"', "B": 'all(vip is_true, in_segment "a")',
                            "Self": 'in_segment "self"', "Broken": "city >"})
    for name, code in (("A", "E_SEGMENT_CYCLE"), ("self", "E_SEGMENT_CYCLE"),
                       ("broken", "E_SEGMENT_INVALID")):
        with pytest.raises(SegmentError) as caught:
            api.compile_text(f'in_segment "{name}"', ctx)
        assert caught.value.diagnostics[0].code == code


def test_all_errors_at_once() -> None:
    with pytest.raises(SegmentError) as caught:
        api.compile_text('all(a starts_with "", b equals, c has_value)', CTX)
    codes = [d.code for d in caught.value.diagnostics]
    assert codes == ["E_EMPTY_OPERAND", "E_MISSING_VALUE", "E_UNKNOWN_FIELD"]
    assert [d.column for d in caught.value.diagnostics] == [19, 23, 33]


JSON_ONLY_ERRORS = [
    ({"type": "all", "items": []}, "E_EMPTY_GROUP"),
    ({"type": "field", "field": "city", "op": "resembles",
      "value": {"type": "string", "value": "x"}}, "E_UNKNOWN_OPERATOR"),
    ({"type": "event", "name": "Purchase", "occurred": True,
      "count": {"type": "count", "op": "at_least", "n": -1}}, "E_COUNT"),
    ({"type": "event", "name": "Purchase", "occurred": False,
      "count": {"type": "count", "op": "at_least", "n": 2}}, "E_COUNT"),
    ({"type": "event", "name": "Purchase", "occurred": True,
      "count": {"type": "count", "op": "at_most", "n": 10**20}}, "E_COUNT"),
    ({"type": "event", "name": "Purchase", "occurred": True,
      "window": {"type": "window", "kind": "between",
                 "value": {"type": "string", "value": "2025-01-01"}}}, "E_MISSING_VALUE"),
    ({"type": "field", "field": "city", "op": "equals",
      "value": {"type": "string", "value": "x" * 4097}}, "E_STRING_TOO_LONG"),
]


@pytest.mark.parametrize(("form", "code"), JSON_ONLY_ERRORS, ids=[c for _, c in JSON_ONLY_ERRORS])
def test_errors_only_the_json_form_can_make(form: Any, code: str) -> None:
    from pydantic import TypeAdapter

    from segql.compiler.check import check
    from segql.grammar import ast

    expr = TypeAdapter(ast.Expr).validate_python(form)
    with pytest.raises(SegmentError) as caught:
        check(expr, CTX)
    assert caught.value.diagnostics[0].code == code


def test_limits_hold_for_the_json_form() -> None:
    from segql.compiler.check import check
    from segql.grammar import ast

    leaf = ast.FieldCondition(field="vip", op="is_true")
    deep: ast.Expr = leaf
    for _ in range(40):
        deep = ast.Not(expr=deep)
    wide = ast.Group(type="any", items=[leaf] * 1001)
    for expr, code in ((deep, "E_TOO_DEEP"), (wide, "E_TOO_MANY_CONDITIONS")):
        with pytest.raises(SegmentError) as caught:
            check(expr, CTX)
        assert caught.value.diagnostics[0].code == code


FLATTENED = [
    ("not not vip is_true", {"term": {"fields.vip.b": True}}),
    ("all(a has_value, any(b has_value, vip is_true), not age has_value)",
     {"bool": {"filter": [{"exists": {"field": "fields.a.f"}}],
               "must_not": [{"exists": {"field": "fields.age.n"}}],
               "should": [{"exists": {"field": "fields.b.f"}}, {"term": {"fields.vip.b": True}}],
               "minimum_should_match": 1}}),
    ("any(any(a has_value, b has_value), vip is_true)",
     {"bool": {"should": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}},
                          {"term": {"fields.vip.b": True}}], "minimum_should_match": 1}}),
    ("all(all(a has_value), all(b has_value))",
     {"bool": {"filter": [{"exists": {"field": "fields.a.f"}},
                          {"exists": {"field": "fields.b.f"}}]}}),
]


@pytest.mark.parametrize(("text", "expected"), FLATTENED, ids=[t for t, _ in FLATTENED])
def test_queries_nest_as_little_as_possible(text: str, expected: Any) -> None:
    assert query_of(text) == expected


def test_the_deepest_accepted_expressions_fit_elasticsearch() -> None:
    from segql.compiler.boolean import MAX_QUERY_DEPTH, depth

    alternating = "vip is_true"
    for level in range(31):
        alternating = f"{('all', 'any')[level % 2]}(a has_value, {alternating})"
    nots = "not " * 31 + "vip is_true"
    for text in (alternating, nots):
        assert depth(api.compile_text(text, CTX)["query"]) <= MAX_QUERY_DEPTH


def test_too_deep_after_inlining_is_a_check_error() -> None:
    chain = {f"s{i}": "all(" * 4 + ", ".join(
        ['a has_value', f'any(b has_value, in_segment "s{i - 1}")' if i else "vip is_true"])
        + ")" * 4 for i in range(40)}
    ctx = Context(account="acme", catalog=CATALOG, segments=chain)
    with pytest.raises(SegmentError) as caught:
        api.compile_text('in_segment "s39"', ctx)
    assert caught.value.diagnostics[0].code == "E_TOO_DEEP"
