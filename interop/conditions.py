"""What the importers of other query builders' JSON share: positioned errors, the meaning
of the comparisons those builders offer, and a rule's value converted by its field's type.

Every builder names the same handful of comparisons ("equal", "=", "less", "<", ...). Each
importer maps its own names to a *comparison* (`eq`, `lt`, `starts`, ...); `MEANINGS` says,
once for all importers, what each comparison is in segql for each field type — or that it
has no segql meaning for that type (it is absent). A name no builder table knows is read
as segql's own operator word (`on`, `within`, `is_true`, `not_on`, `>=`), so a builder
configured from `builder_catalog.describe` can offer everything segql has.

Values are converted by the field's type in the catalog, never by what the JSON happens
to hold, and nothing ambiguous is coerced: a text value is a JSON string; a number a JSON
number or a string in segql's number syntax (`"42"`, `"-3.5"`, `"1e3"`); a date a string
`"2025-01-31"`, an ISO instant, or `now`/`today` with offsets (`"today-7d"`); a duration a
string such as `"30d"`; a boolean `true`/`false` or the strings `"true"`/`"false"`. Every
problem is a SegmentError with one E_IMPORT diagnostic whose `pointer` (RFC 6901) names
the offending member of the imported document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from segql.compiler.catalog import FIELD_TYPES, Catalog, FieldType
from segql.compiler.operators import names_for, resolve
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.keywords import SYMBOLS, lark_parser
from segql.grammar.limits import MAX_DEPTH
from segql.grammar.literals import number, offset
from segql.values import DATE_ONLY, INSTANT, finite, parse_instant

CODE = "E_IMPORT"


def fail(pointer: str, message: str, hint: str | None = None) -> NoReturn:
    """Raise the import error at `pointer`."""
    raise SegmentError([Diagnostic(code=CODE, message=message, hint=hint, pointer=pointer)])


def at(pointer: str, *parts: str | int) -> str:
    """`pointer` extended by member names and indices, escaped as RFC 6901 says."""
    return pointer + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def shown(value: Any) -> str:
    """A JSON value as a message quotes it (cut short)."""
    if value is MISSING:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # circular, or nested too deep to print
        return type(value).__name__
    return text if len(text) <= 60 else text[:59] + "…"


#: A rule's `value` when the member is absent.
MISSING: Any = object()


# --- documents --------------------------------------------------------------------------


def obj(data: Any, pointer: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        fail(pointer, f"expected a JSON object, found {shown(data)}")
    return data


def member(data: dict[str, Any], key: str, pointer: str, what: str = "a string") -> str:
    """A required string member."""
    if key not in data:
        fail(at(pointer, key), f"missing `{key}`")
    value = data[key]
    if not isinstance(value, str):
        fail(at(pointer, key), f"`{key}` must be {what}, found {shown(value)}")
    return value


def flag(data: dict[str, Any], key: str, pointer: str) -> bool:
    """An optional boolean member (absent or null is false)."""
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    fail(at(pointer, key), f"`{key}` must be true or false, found {shown(value)}")


def rules_of(group: dict[str, Any], pointer: str, depth: int) -> list[Any]:
    """A group's `rules`: a non-empty list, at a nesting depth segql accepts."""
    if depth > MAX_DEPTH:
        fail(pointer, f"groups nested deeper than {MAX_DEPTH}", "segql's limit (LANGUAGE.md §6)")
    if "rules" not in group or not isinstance(group["rules"], list):
        fail(at(pointer, "rules"),
             f"`rules` must be a list, found {shown(group.get('rules', MISSING))}")
    if not group["rules"]:
        fail(at(pointer, "rules"), "a group with no rules",
             "an empty group would mean everyone: add a rule or remove the group")
    return group["rules"]


def grouped(conjunctive: bool, items: list[ast.Expr], negate: bool) -> ast.Expr:
    """`all(...)`/`any(...)`, inside `not` when the group is negated."""
    node: ast.Expr = ast.Group(type="all" if conjunctive else "any", items=items)
    return ast.Not(expr=node) if negate else node


# --- meanings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Meaning:
    """A builder's comparison in segql, for one field type."""

    #: segql's operator, as the JSON form writes it (`FieldCondition.op`).
    op: str
    #: Wrapped in `not`: the complement, as every segql negation is (LANGUAGE.md §3.3).
    negate: bool = False
    #: `any(F op D, F on D)`: "on or before/after" a day.
    or_on: bool = False
    #: Only a date-only value (`"2025-01-31"`) has this meaning (a whole day).
    whole_day: bool = False
    #: Boolean equality: the value picks `is_true` or `is_false`.
    by_value: bool = False

    @property
    def exact(self) -> bool:
        """One segql operator, whatever the value."""
        return self == Meaning(self.op)


_ANY_TYPE = {"null": Meaning("has_no_value"), "not_null": Meaning("has_value")}
_BY_TYPE: dict[FieldType, dict[str, Meaning]] = {
    "text": {
        "eq": Meaning("equals"), "ne": Meaning("not_equals"),
        "contains": Meaning("contains"), "not_contains": Meaning("not_contains"),
        "starts": Meaning("starts_with"), "not_starts": Meaning("starts_with", negate=True),
        "ends": Meaning("ends_with"), "not_ends": Meaning("ends_with", negate=True),
        "in": Meaning("in"), "not_in": Meaning("not_in"),
        # `""` is no value (LANGUAGE.md §3.2): "is empty" is the state "no value"
        "empty": Meaning("has_no_value"), "not_empty": Meaning("has_value"),
    },
    "number": {
        "eq": Meaning("equals"), "ne": Meaning("not_equals"),
        "lt": Meaning("lt"), "le": Meaning("lte"), "gt": Meaning("gt"), "ge": Meaning("gte"),
        "between": Meaning("between"), "not_between": Meaning("between", negate=True),
        "in": Meaning("in"), "not_in": Meaning("not_in"),
    },
    "date": {
        "eq": Meaning("on", whole_day=True), "ne": Meaning("not_on", whole_day=True),
        "lt": Meaning("before"), "gt": Meaning("after"),
        "le": Meaning("before", or_on=True, whole_day=True),
        "ge": Meaning("after", or_on=True, whole_day=True),
        "between": Meaning("between"), "not_between": Meaning("between", negate=True),
    },
    "boolean": {
        "eq": Meaning("is_true", by_value=True),
        "ne": Meaning("is_true", by_value=True, negate=True),
    },
}
#: (field type, comparison) → its segql meaning; absent where it has none.
MEANINGS: dict[tuple[FieldType, str], Meaning] = {
    (type_, comparison): meaning
    for type_ in FIELD_TYPES
    for comparison, meaning in {**_BY_TYPE[type_], **_ANY_TYPE}.items()
}


def meaning(vocabulary: Mapping[str, str], name: str, type_: FieldType) -> Meaning | None:
    """What a builder's operator `name` means for a field of `type_`: the builder's own
    name (`vocabulary`: name → comparison), else segql's own operator word."""
    if name in vocabulary:
        return MEANINGS.get((type_, vocabulary[name]))
    op = SYMBOLS.get(name, " ".join(name.lower().split()))
    return Meaning(op) if resolve(op, type_) is not None else None



def accepted(vocabulary: Mapping[str, str], type_: FieldType) -> list[str]:
    """The operator names that mean something for a type: the builder's, then segql's."""
    own = [name for name, comparison in vocabulary.items() if (type_, comparison) in MEANINGS]
    return own + [word for word in names_for(type_) if word not in own]


# --- conditions -------------------------------------------------------------------------

#: A list-valued rule value → its items, each with its pointer (how is up to the builder).
Items = Callable[[Any, str], list[tuple[Any, str]]]


def field_condition(field: str, operator: str, value: Any, pointer: str, catalog: Catalog,
                    vocabulary: Mapping[str, str], items: Items) -> ast.Expr:
    """One rule as a segql condition. An unknown field is left to the checker (which
    suggests a name): the condition is read as the first type its operator and value fit."""
    type_ = catalog.field_type(field)
    if type_ is not None:
        return _typed(field, type_, operator, value, pointer, vocabulary, items)
    for candidate in FIELD_TYPES:
        try:
            return _typed(field, candidate, operator, value, pointer, vocabulary, items)
        except SegmentError:
            continue
    suggestion = catalog.suggest_field(field)
    fail(at(pointer, "field"), f"unknown field `{field}`",
         f"did you mean `{suggestion}`?" if suggestion else "declare it with `segql catalog set`")


def _typed(field: str, type_: FieldType, operator: str, value: Any, pointer: str,
           vocabulary: Mapping[str, str], items: Items) -> ast.Expr:
    found = meaning(vocabulary, operator, type_)
    if found is None:
        fail(at(pointer, "operator"),
             f"`{operator}` has no segql meaning for the {type_} field `{field}`",
             f"operators for {type_}: {', '.join(accepted(vocabulary, type_))}")
    return condition(field, type_, found, value, at(pointer, "value"), items)


def condition(field: str, type_: FieldType, meaning: Meaning, value: Any, pointer: str,
              items: Items) -> ast.Expr:
    """`field` compared as `meaning` says, with `value` (at `pointer`) converted."""
    found = resolve(meaning.op, type_)
    assert found is not None, "MEANINGS name only operators of their type"
    operator = found[0]
    kind = operator.operand
    node = ast.FieldCondition(field=field, op=meaning.op)
    if meaning.by_value:
        node = ast.FieldCondition(field=field, op="is_true" if boolean(value, pointer)
                                  else "is_false")
    elif kind in ("texts", "numbers"):
        listed = _listed(value, pointer, items)
        node = node.model_copy(update={"value": ast.ListValue(items=[
            text(v, p, operator.nonempty) if kind == "texts" else num(v, p) for v, p in listed
        ])})
    elif kind in ("number_pair", "date_pair"):
        (low, low_at), (high, high_at) = _pair(value, pointer, items)
        convert = num if kind == "number_pair" else date
        node = node.model_copy(update={"value": convert(low, low_at),
                                       "upper": convert(high, high_at)})
    elif kind is not None:
        node = node.model_copy(update={"value": _scalar(kind, value, pointer, meaning,
                                                        operator.nonempty)})
    expr: ast.Expr = node
    if meaning.or_on:
        expr = ast.Group(type="any", items=[node, node.model_copy(update={"op": "on"})])
    return ast.Not(expr=expr) if meaning.negate else expr


def _scalar(kind: str, value: Any, pointer: str, meaning: Meaning, nonempty: bool
            ) -> ast.Value:
    if kind == "text":
        return text(value, pointer, nonempty)
    if kind == "number":
        return num(value, pointer)
    if kind in ("duration", "days"):
        return duration(value, pointer)
    return date(value, pointer, whole_day=meaning.whole_day)


def _listed(value: Any, pointer: str, items: Items) -> list[tuple[Any, str]]:
    if value is MISSING:
        fail(pointer, "missing `value`", "this operator needs a list of values")
    listed = items(value, pointer)
    if not listed:
        fail(pointer, "the list is empty", "a condition on no values would match no one")
    return listed


def _pair(value: Any, pointer: str, items: Items
          ) -> tuple[tuple[Any, str], tuple[Any, str]]:
    if value is MISSING:
        fail(pointer, "missing `value`", "`between` needs two values")
    listed = items(value, pointer)
    if len(listed) != 2:
        fail(pointer, f"`between` needs two values, found {len(listed)}",
             'e.g. [18, 30] (the first the lower)')
    return listed[0], listed[1]


# --- values -----------------------------------------------------------------------------


def _terminal(name: str) -> str:
    return lark_parser().get_terminal(name).pattern.to_regexp()


_NUMBER = re.compile(_terminal("NUMBER"))
_DURATION = re.compile(_terminal("DURATION"))
_OFFSET = re.compile(_terminal("OFFSET"))
_RELATIVE = re.compile(f"(?P<base>{_terminal('DATE_BASE')})(?P<offsets>(?:{_OFFSET.pattern})*)")
_DATE_HINT = ('a date "2025-01-31", an instant "2025-01-31T10:00:00Z", or now/today with '
              'offsets such as "today-7d"')


def _expected(value: Any, pointer: str, what: str, hint: str | None = None) -> NoReturn:
    fail(pointer, f"expected {what}, found {shown(value)}", hint)


def text(value: Any, pointer: str, nonempty: bool) -> ast.StringValue:
    if not isinstance(value, str):
        _expected(value, pointer, "a string", "a text field's values are JSON strings")
    if nonempty and value == "":
        fail(pointer, "an empty string", '"" is no value: ask for "no value" (null, '
             "is_empty, has_no_value) instead")
    return ast.StringValue(value=value)


def num(value: Any, pointer: str) -> ast.NumberValue:
    found: int | float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        found = number(value)
    if found is None:
        _expected(value, pointer, "a number", 'a JSON number, or a string such as "42", '
                  '"-3.5" or "1e3"')
    if not finite(found):
        fail(pointer, f"number out of range: {shown(value)}", "numbers are 64-bit doubles")
    return ast.NumberValue(value=found)


def date(value: Any, pointer: str, whole_day: bool = False
         ) -> ast.StringValue | ast.RelativeDate:
    if not isinstance(value, str):
        _expected(value, pointer, "a date", _DATE_HINT)
    if DATE_ONLY.match(value) and parse_instant(value) is not None:
        return ast.StringValue(value=value)
    if whole_day:
        fail(pointer, f"expected a date such as \"2025-01-31\", found {shown(value)}",
             "this comparison means a whole calendar day; for an instant or a relative date "
             "use before, after or between")
    if INSTANT.match(value) and parse_instant(value) is not None:
        return ast.StringValue(value=value)
    relative = _RELATIVE.fullmatch(value)
    if relative is None:
        _expected(value, pointer, "a date", _DATE_HINT)
    base: Literal["now", "today"] = "now" if relative["base"].lower() == "now" else "today"
    return ast.RelativeDate(base=base, offsets=[
        offset(found.group(0)) for found in _OFFSET.finditer(relative["offsets"])
    ])


def duration(value: Any, pointer: str) -> ast.Duration:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        _expected(value, pointer, "a duration", 'e.g. "30d" (units: min h d w mo y)')
    length = offset("+" + value)
    return ast.Duration(amount=length.amount, unit=length.unit)


def boolean(value: Any, pointer: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    _expected(value, pointer, "true or false")


def converted(rules: list[Any], pointer: str,
              convert: Callable[[Any, str], ast.Expr | None]) -> Iterator[ast.Expr]:
    """Each rule of a group converted (at `pointer/rules/i`); None leaves one out."""
    for i, rule in enumerate(rules):
        expr = convert(rule, at(pointer, "rules", i))
        if expr is not None:
            yield expr
