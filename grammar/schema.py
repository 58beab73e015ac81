"""What a valid JSON-form document is (LANGUAGE.md §7), said once: the JSON Schema that
`segql json-schema` publishes and that `from_json` validates with (`validator.py`), so the
two accept and refuse the same documents. Outside it, because a JSON Schema cannot say
them, are only the limits of §6 (size, depth, conditions, string length) and the rule
that numbers are finite doubles.

The schema refuses what is shaped wrong whatever the catalog says: an operand of the
wrong shape for its operator (`has_value` with a value, `in` without a list, `between`
without `upper`), a window whose values don't fit its kind, an event without a name, an
empty group. What depends on the catalog (an unknown field, `starts_with` on a number)
and a missing operand (as in the text `age >`) are the checker's, as for the text.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from segql.grammar.format import OPERATORS
from segql.grammar.keywords import lark_parser

SCHEMA_ID = "urn:segql:segment:1"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: Field operators by the operand they take (together: every operator of the AST).
NO_OPERAND = ("has_value", "has_no_value", "is_true", "is_false", "anniversary_today")
LIST_OPERAND = ("in", "not_in")
PAIR_OPERAND = ("between",)
ONE_OPERAND = tuple(sorted(set(OPERATORS) - {*NO_OPERAND, *LIST_OPERAND}))
UNITS = ["min", "h", "d", "w", "mo", "y"]

_DESCRIPTION = (
    "A segment of the segql language in its JSON form (LANGUAGE.md §7): every node has a "
    "`type`; `span` is where a node stands in the text, if anywhere. A document valid here "
    "is accepted by `from_json` (`segql fmt --from-json`), and only such a document is, "
    "within what a JSON Schema cannot say: the limits of LANGUAGE.md §6 (canonical text "
    "up to 65,536 bytes, nesting up to 32 levels, up to 1,000 conditions, strings up to "
    "4,096 characters) and that every number is a finite double (no NaN, Infinity or "
    "1e999). Patterns are Unicode regular expressions (ECMA-262 with the `u` flag). A "
    "missing `value`, and whether an operator or value fits the field's type, are checked "
    "against the catalog, as for the text."
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _ascii(pattern: str) -> str:
    """A regular expression with every character outside printable ASCII as `\\uXXXX`,
    which Python's `re` and ECMA-262 read alike."""
    return "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in pattern)


def name_pattern() -> str:
    """`keywords.quotable` as a pattern: the text between the backquotes of the grammar's
    QUOTED_NAME, the whole string (the lookahead, unlike `$`, is the end in every
    dialect: Python's `$` also matches before a final newline)."""
    quoted = lark_parser().get_terminal("QUOTED_NAME").pattern.to_regexp()
    if not (quoted.startswith("`") and quoted.endswith("`")):
        raise AssertionError(f"QUOTED_NAME is no longer `...`: {quoted!r}")
    return "^(?:" + _ascii(quoted[1:-1]) + r")(?![\s\S])"


def _node(title: str, tag: str | list[str] | None, members: dict[str, Any],
          required: list[str], *, tag_required: bool = True,
          rules: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """An object node: `type` (its tag), `span`, its members, and nothing else."""
    properties: dict[str, Any] = {}
    if tag is not None:
        properties["type"] = {"const": tag} if isinstance(tag, str) else {"enum": tag}
        required = ["type", *required] if tag_required else required
    properties.update(members)
    if tag is not None:
        properties["span"] = _ref("Span")
    schema: dict[str, Any] = {"title": title, "type": "object", **extra,
                              "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if rules:
        schema["allOf"] = rules
    return schema


def _when(member: str, values: tuple[str, ...] | list[Any], then: dict[str, Any]) -> dict[str, Any]:
    """`then` applies when `member` is present and one of `values`."""
    test = {"const": values[0]} if len(values) == 1 else {"enum": list(values)}
    return {"if": {"required": [member], "properties": {member: test}}, "then": then}


def _words(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def _one_of(title: str, tags: dict[str, str]) -> dict[str, Any]:
    """One of several nodes, told apart by their `type`."""
    return {"title": title, "oneOf": [_ref(d) for d in dict.fromkeys(tags.values())],
            "discriminator": {"propertyName": "type",
                              "mapping": {t: f"#/$defs/{d}" for t, d in tags.items()}}}


_FIELD_RULES = [
    _when("op", NO_OPERAND, {
        "description": f"{_words(NO_OPERAND)} take no `value` and no `upper`",
        "properties": {"value": False, "upper": False}}),
    _when("op", LIST_OPERAND, {
        "description": "in and not_in take a list value: "
                       '{"type": "list", "items": [...]}, and no `upper`',
        "properties": {"value": _ref("ListValue"), "upper": False}}),
    _when("op", PAIR_OPERAND, {
        "description": "between takes a `value` and an `upper`, one value each (not lists)",
        "required": ["value", "upper"],
        "properties": {"value": _ref("Operand"), "upper": _ref("Operand")}}),
    _when("op", ONE_OPERAND, {
        "description": "this operator takes one value (not a list), and no `upper` (only "
                       "between does)",
        "properties": {"value": _ref("Operand"), "upper": False}}),
]

_WINDOW_RULES = [
    _when("kind", ("within",), {
        "description": 'within takes a duration: {"type": "duration", "amount": 30, '
                       '"unit": "d"}, and no `upper`',
        "properties": {"value": _ref("Duration"), "upper": False}}),
    _when("kind", ("since", "before"), {
        "description": "since and before take a date (a string value or a relative "
                       "date), and no `upper`",
        "properties": {"value": _ref("DateOperand"), "upper": False}}),
    _when("kind", ("between",), {
        "description": "between takes two dates: `value` and `upper`",
        "required": ["upper"],
        "properties": {"value": _ref("DateOperand"), "upper": _ref("DateOperand")}}),
]


_ACTIVITY = {
    "where": {**_ref("Condition"),
              "description": "a condition on the properties of one event or visit"},
    "occurred": {"type": "boolean", "description": "false is `not_occurred` (default: true)"},
    "count": _ref("Count"),
    "window": _ref("Window"),
}
_ACTIVITY_RULES = [
    _when("type", ("event",), {"title": "an event condition",
                               "description": "an event has a `name`", "required": ["name"]}),
    _when("type", ("visit",), {"title": "a visit condition",
                               "description": "a visit has no `name`",
                               "properties": {"name": False}}),
    _when("occurred", [False], {"description": "a count goes with `occurred: true` only",
                                "properties": {"count": False}}),
]
_CHAIN_RULE = _when("type", ("and", "or"), {
    "title": "an `and`/`or` chain",
    "properties": {"items": {"minItems": 2, "description": "an and/or chain joins two or "
                             "more conditions; for fewer, use an all/any group"}}})


def _defs() -> dict[str, Any]:
    integer: dict[str, Any] = {"type": "integer"}
    return {
        "Span": _node("a span", None, {k: integer for k in (
            "line", "column", "end_line", "end_column")},
            ["line", "column", "end_line", "end_column"],
            description="where a node stands in the text: 1-based lines and columns, "
                        "end exclusive"),
        "Name": {"title": "a name", "type": "string", "pattern": name_pattern(),
                 "description": "a name is not empty and holds no backquote (`), control "
                                "character or lone surrogate"},
        "Text": {"title": "text", "type": "string", "pattern": r"^[^\ud800-\udfff]*$",
                 "description": "text holds no lone surrogate (half of a pair such as "
                                "\\ud83d\\ude00)"},
        "FieldCondition": _node(
            "a field condition", "field",
            {"field": _ref("Name"),
             "op": {"title": "an operator", "type": "string",
                    "enum": sorted([*OPERATORS, *PAIR_OPERAND])},
             "value": {"description": "the operand, as its operator needs it"},
             "upper": {"description": "the upper bound of between"}},
            ["field", "op"], rules=_FIELD_RULES,
            description="FIELD OP [VALUE], or FIELD between VALUE and UPPER"),
        "Activity": _node("an event or visit condition", ["event", "visit"],
                          {"name": _ref("Text"), **_ACTIVITY}, [], rules=_ACTIVITY_RULES,
                          description="event NAME [where (..)] occurred|not_occurred "
                                      "[COUNT] [WINDOW], or the same for visit (no name)"),
        "SegmentRef": _node("a segment reference", "in_segment", {"name": _ref("Text")},
                            ["name"], description='in_segment "Name"'),
        "Not": _node("a `not`", "not", {"expr": _ref("Condition")}, ["expr"]),
        "Group": _node("a group (all, any, and, or)", ["all", "any", "and", "or"], {"items": {
            "type": "array", "minItems": 1, "items": _ref("Condition"),
            "description": "a group with no conditions means nothing: add one"}}, ["items"],
            rules=[_CHAIN_RULE], description="all(..) and any(..) groups; and/or chains"),
        "Count": _node("a count", "count", {
            "op": {"title": "a count operator", "type": "string",
                   "enum": ["at_least", "at_most", "exactly"]},
            "n": {"type": "integer", "minimum": 0}}, ["op", "n"], tag_required=False),
        "Window": _node("a window", "window", {
            "kind": {"title": "a window kind", "type": "string",
                     "enum": ["within", "since", "before", "between"]},
            "value": {}, "upper": {}}, ["kind", "value"], tag_required=False,
            rules=_WINDOW_RULES),
        "StringValue": _node("a string value", "string", {"value": _ref("Text")},
                             ["value"]),
        "NumberValue": _node("a number value", "number", {"value": {"type": "number"}},
                             ["value"]),
        "ListValue": _node("a list value", "list", {"items": {
            "type": "array", "items": _ref("ListItem")}}, ["items"]),
        "RelativeDate": _node("a relative date", "relative_date", {
            "base": {"title": "a date base", "type": "string", "enum": ["now", "today"]},
            "offsets": {"type": "array", "items": _ref("Offset")}}, ["base"]),
        "Offset": _node("an offset", None, {
            "amount": {"type": "integer", "description": "signed: now-30d is -30"},
            "unit": {"title": "a unit", "type": "string", "enum": UNITS}},
            ["amount", "unit"]),
        "Duration": _node("a duration", "duration", {
            "amount": {"type": "integer", "minimum": 0},
            "unit": {"title": "a unit", "type": "string", "enum": UNITS}},
            ["amount", "unit"]),
        "Operand": _one_of("one value (a string, number, relative date or duration)", {
            "string": "StringValue", "number": "NumberValue",
            "relative_date": "RelativeDate", "duration": "Duration"}),
        "ListItem": _one_of("a string or number value", {
            "string": "StringValue", "number": "NumberValue"}),
        "DateOperand": _one_of("a date (a string value or a relative date)", {
            "string": "StringValue", "relative_date": "RelativeDate"}),
    }


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the JSON form (cached: copy it before changing it)."""
    condition = _one_of("a condition", {
        "field": "FieldCondition", "event": "Activity", "visit": "Activity",
        "in_segment": "SegmentRef", "not": "Not", "all": "Group", "any": "Group",
        "and": "Group", "or": "Group"})
    return {"$schema": DIALECT, "$id": SCHEMA_ID, "title": "segql segment",
            "description": _DESCRIPTION, **_ref("Condition"),
            "$defs": {"Condition": condition, **_defs()}}


def integer_members() -> frozenset[str]:
    """The members that hold integers (where a JSON number like 2.0 is read as 2)."""
    names = {name for d in schema()["$defs"].values()
             for name, s in d.get("properties", {}).items() if s.get("type") == "integer"}
    others = {name for d in schema()["$defs"].values()
              for name, s in d.get("properties", {}).items() if s.get("type") != "integer"}
    if names & others:
        raise AssertionError(f"members both integer and not: {names & others}")
    return frozenset(names)

