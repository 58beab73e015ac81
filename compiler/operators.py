"""Each operator's meaning, defined once (LANGUAGE.md §3).

An operator has a *test* (does one stored value satisfy it? — the reference evaluator) and
a *query* (the Elasticsearch query of the same thing — the compiler). Both receive values
and the operand normalised for the type: text case-folded (`values.fold`), numbers as
floats, instants as epoch milliseconds, calendar dates as `date`s; range operators turn
their operand into `Bounds` first (date operators into a `DateRange`, which holds its zone:
a stored calendar date is the start of that day in it), so an interval is computed once and
read the same way by both. Anniversaries (`anniversaries.py`) likewise.

Multi-valued fields hold when any value satisfies the test (§3.4). Negative operators are
not written at all: each is the complement of a positive one (§3.3), so a contact with no
value matches every negative operator, in the evaluator and in Elasticsearch alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from segql.compiler import dates
from segql.compiler.anniversaries import Anniversary
from segql.compiler.boolean import Query
from segql.compiler.dates import Bounds, Clock, DateRange
from segql.compiler.targets import Target
from segql.contract.document import value_slots
from segql.grammar import ast
from segql.values import epoch_millis, fold, number_day, parse_instant

#: What an operator takes after it, as the checker demands and `normalise` builds.
OperandKind = Literal[
    "text", "texts", "number", "numbers", "number_pair", "date", "date_pair", "duration",
    "days",
]


@dataclass(frozen=True)
class Operator:
    """A positive operator of one type: `test` for the evaluator, `query` for Elasticsearch.

    `prepare` turns the normalised operand into what both read (e.g. a date into Bounds).
    """

    name: str
    type: str
    operand: OperandKind | None
    test: Callable[[Any, Any], bool]
    query: Callable[[Target, Any], Query]
    prepare: Callable[[Any], Any] = lambda operand: operand
    #: A string operand must not be empty (LANGUAGE.md §3.7; `equals`/`in` too: "" is no
    #: value, so `has_no_value` says what such a condition would mean).
    nonempty: bool = False
    #: `prepare` reads the evaluation clock even without an operand (`anniversary today`):
    #: it gets (None, clock).
    clocked: bool = False


def _interval(name: str, type_: str, operand: OperandKind,
              bounds: Callable[[Any], Bounds]) -> Operator:
    """An operator that is a range: one Bounds, read by both sides."""
    return Operator(
        name, type_, operand,
        test=lambda v, b: b.contains(v),
        query=lambda t, b: t.range(b),
        prepare=bounds,
    )


def _dates(name: str, operand: OperandKind, bounds: Callable[[Any], Bounds]) -> Operator:
    """A date operator: one DateRange (its zone beside the interval), read by both sides;
    `normalise` gives the operand with its Clock."""
    return Operator(
        name, "date", operand,
        test=lambda v, r: r.contains(v),
        query=lambda t, r: t.date_range(r),
        prepare=lambda dated: DateRange(bounds(dated[0]), dated[1].zone),
    )


def _anniversary(name: str, operand: OperandKind | None) -> Operator:
    return Operator(
        name, "date", operand,
        test=lambda v, a: a.holds(v),
        query=lambda t, a: t.anniversary(a),
        prepare=lambda dated: Anniversary.of(dated[1], dated[0]),
        clocked=True,
    )


def _has_value(type_: str) -> Operator:
    return Operator("has_value", type_, None, test=lambda v, x: True,
                    query=lambda t, x: t.exists())


_POSITIVE: list[Operator] = [
    # text
    Operator("equals", "text", "text", nonempty=True,
             test=lambda v, x: v == x, query=lambda t, x: t.term("f", x)),
    Operator("starts_with", "text", "text", nonempty=True,
             test=lambda v, x: v.startswith(x), query=lambda t, x: t.prefix("f", x)),
    Operator("ends_with", "text", "text", nonempty=True,
             test=lambda v, x: v.endswith(x), query=lambda t, x: t.ends_with(x)),
    Operator("contains", "text", "text", nonempty=True,
             test=lambda v, x: x in v, query=lambda t, x: t.contains(x)),
    Operator("in", "text", "texts", nonempty=True,
             test=lambda v, xs: v in xs, query=lambda t, xs: t.terms("f", sorted(xs)),
             prepare=frozenset),
    _has_value("text"),
    # number
    Operator("equals", "number", "number",
             test=lambda v, x: v == x, query=lambda t, x: t.term("n", x)),
    _interval("gt", "number", "number", lambda x: Bounds(lo=x, lo_inclusive=False)),
    _interval("gte", "number", "number", lambda x: Bounds(lo=x)),
    _interval("lt", "number", "number", lambda x: Bounds(hi=x, hi_inclusive=False)),
    _interval("lte", "number", "number", lambda x: Bounds(hi=x)),
    _interval("between", "number", "number_pair", lambda p: Bounds(lo=p[0], hi=p[1])),
    Operator("in", "number", "numbers",
             test=lambda v, xs: v in xs, query=lambda t, xs: t.terms("n", sorted(xs)),
             prepare=frozenset),
    _has_value("number"),
    # date
    _dates("on", "date", dates.on),
    _dates("before", "date", dates.before),
    _dates("after", "date", dates.after),
    _dates("between", "date_pair", lambda p: dates.between(*p)),
    _dates("within", "duration", lambda bounds: bounds),
    _anniversary("anniversary_today", None),
    _anniversary("anniversary_in", "days"),
    _has_value("date"),
    # boolean
    Operator("is_true", "boolean", None,
             test=lambda v, x: v is True, query=lambda t, x: t.term("b", True)),
    Operator("is_false", "boolean", None,
             test=lambda v, x: v is False, query=lambda t, x: t.term("b", False)),
    _has_value("boolean"),
]

POSITIVE: dict[tuple[str, str], Operator] = {(op.type, op.name): op for op in _POSITIVE}

#: Negative operator → the positive operator it is the complement of.
NEGATIONS: dict[str, str] = {
    "not_equals": "equals",
    "not_contains": "contains",
    "not_in": "in",
    "not_on": "on",
    "has_no_value": "has_value",
}
#: Operators written as two words (`anniversary today`), by their spelling.
_PHRASES = {words: op for op, words in ast.PHRASE_OPERATORS.items()}
#: Other spellings of the same operator, per type (dates: `equals` is `on`).
ALIASES: dict[tuple[str, str], str] = {("date", "equals"): "on"}


def resolve(name: str, type_: str) -> tuple[Operator, bool] | None:
    """The positive operator behind `name` for a field of `type_`, and whether `name`
    negates it; None when `name` does not apply to that type."""
    name = _PHRASES.get(name, name)
    negated = name in NEGATIONS
    positive = NEGATIONS.get(name, name)
    positive = ALIASES.get((type_, positive), positive)
    found = POSITIVE.get((type_, positive))
    return (found, negated) if found else None


def names_for(type_: str) -> list[str]:
    """Every operator word that applies to a type (for hints)."""
    words = {name for (t, name) in POSITIVE if t == type_}
    words |= {alias for (t, alias) in ALIASES if t == type_}
    words |= {neg for neg, pos in NEGATIONS.items() if pos in words}
    return sorted(ast.spelling(w) for w in words)


#: The slot (see contract/document.py) that holds a catalog type's values; dates have
#: two: instants (`d`) and calendar dates (`c`).
_VALUE_SLOTS = {"text": ("f",), "number": ("n",), "date": ("d", "c"), "boolean": ("b",)}


def stored_values(raw: Any, type_: str) -> list[Any]:
    """A stored field or property value as the operators of `type_` see it: the same slots
    the index holds, with instants as epoch milliseconds and calendar dates as dates."""
    slots = value_slots(raw)
    if type_ == "date":
        return ([epoch_millis(parse_instant(v)) for v in slots.get("d", [])]  # type: ignore[arg-type]
                + [number_day(n) for n in slots.get("c", [])])
    return [v for slot in _VALUE_SLOTS[type_] for v in slots.get(slot, [])]


def normalise(kind: OperandKind, value: Any, upper: Any, clock: Clock) -> Any:
    """The operand of a checked condition, normalised for its operator's kind."""
    if kind == "text":
        return fold(value.value)
    if kind == "texts":
        return [fold(item.value) for item in value.items]
    if kind == "number":
        return float(value.value) + 0.0  # -0.0 is 0.0, as stored
    if kind == "numbers":
        return [float(item.value) + 0.0 for item in value.items]
    if kind == "number_pair":
        return (float(value.value) + 0.0, float(upper.value) + 0.0)
    if kind == "date":
        return dates.resolve(value, clock.now_ms, clock.zone), clock
    if kind == "date_pair":
        return (dates.resolve(value, clock.now_ms, clock.zone),
                dates.resolve(upper, clock.now_ms, clock.zone)), clock
    if kind == "days":
        return value, clock
    return dates.within(value, clock.now_ms, clock.zone), clock
