"""How the checker words a problem with an operand, in the user's terms: the operator as
the user wrote it (`>`, `=`, `not_equals`), what was given (a string, a number, ...), and
the likely fix as the text to write (`age > 30`, `city = "5"`, `[3]`).

Nothing here names the implementation: no operator's internal name, no node or type.
"""

from __future__ import annotations

import re

from segql.grammar import ast
from segql.grammar.format import name_text, value_text
from segql.grammar.messages import code

#: What an operand kind is, shortly, for "`>` needs a number".
SHORT = {
    "text": "a string",
    "texts": "a list of strings",
    "number": "a number",
    "numbers": "a list of numbers",
    "number_pair": "two numbers: between A and B",
    "date": "a date",
    "date_pair": "two dates: between A and B",
    "duration": "a duration",
    "days": "a number of days or weeks, such as 7d",
}
#: An operand of each kind, for "e.g." in hints.
EXAMPLES = {
    "text": '"Warszawa"',
    "texts": '["a", "b"]',
    "number": "30",
    "numbers": "[1, 2]",
    "number_pair": "1 and 10",
    "date": '"2025-01-31"',
    "date_pair": '"2025-01-01" and "2025-01-31"',
    "duration": "30d",
    "days": "7d",
}
UNITS = "units: min h d w mo y"
DATES = ('a date is "2025-01-31", an instant "2025-01-31T10:00:00Z", or now/today with '
         "offsets such as today-7d")
#: Words people put in quotes for a relative date, and the date they mean.
_DATE_WORDS = {"now": "now", "today": "today", "yesterday": "today-1d",
               "tomorrow": "today+1d"}
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def given(value: ast.Value) -> str:
    """What an operand is, in words."""
    match value:
        case ast.StringValue():
            return "a string"
        case ast.NumberValue():
            return "a number"
        case ast.ListValue():
            return "a list"
        case ast.RelativeDate():
            return f"the date {value_text(value)}"
        case ast.Duration():
            return f"the duration {value_text(value)}"


def written(field: str, op: str, operand: str | None = None) -> str:
    """A condition as text to write, in backquotes: `age > 30`."""
    return code(f"{name_text(field)} {op}" + (f" {operand}" if operand is not None else ""))


def example(field: str, op: str, kind: str) -> str:
    """A whole condition with an operand of `kind`, to show the shape: `age > 30`."""
    if kind.endswith("_pair"):
        return written(field, "between", EXAMPLES[kind])
    return written(field, op, EXAMPLES[kind])


def mismatch(field: str, op: str, kind: str, value: ast.Value, subject: str) -> str:
    """The hint for an operand of the wrong kind: what to write instead. `subject` says
    what the field is (`number field `age``)."""
    scalar = kind.removesuffix("_pair").removesuffix("s")
    listed = kind in ("texts", "numbers")
    shown = op if not kind.endswith("_pair") else "between"
    if listed and not isinstance(value, ast.ListValue):
        return f"put the values in brackets: {written(field, shown, '[' + value_text(value) + ']')}"
    if isinstance(value, ast.ListValue):
        if scalar in ("text", "number"):
            listed_values = written(field, "in", value_text(value))
            return f"for any of several values write `in`: {listed_values}"
        return f"give one value, e.g. {example(field, op, kind)}"
    if scalar == "number" and isinstance(value, ast.StringValue):
        if _NUMBER.fullmatch(value.value.strip()):
            return f"write the number without quotes: {written(field, shown, value.value.strip())}"
        return (f"compare {subject} with a number (no quotes), e.g. "
                f"{example(field, op, kind)}")
    if scalar == "text" and isinstance(value, ast.NumberValue):
        quoted = '"' + value_text(value) + '"'
        return f"text goes in double quotes: {written(field, shown, quoted)}"
    if scalar == "duration":
        return duration_hint(value, field)
    if scalar == "day":
        return f"a number of days or weeks goes without quotes, e.g. {example(field, op, kind)}"
    if scalar == "date":
        return date_hint(value)
    return f"{subject} takes {SHORT[kind]}, e.g. {example(field, op, kind)}"


def item_hint(scalar: str, item: ast.Value, subject: str) -> str:
    """The hint for a list item of the wrong kind (`tags in [1]`)."""
    if scalar == "text":
        return f'text goes in double quotes: "{value_text(item)}"'
    if isinstance(item, ast.StringValue) and _NUMBER.fullmatch(item.value.strip()):
        return f"write the number without quotes: {item.value.strip()}"
    return f"{subject} holds numbers: list numbers without quotes, e.g. [1, 2]"


def duration_hint(value: ast.Value, field: str | None) -> str:
    """A date or number given to `within`, which wants a length of time."""
    if isinstance(value, ast.NumberValue):
        return f"a duration has a unit right after the number: {value_text(value)}d ({UNITS})"
    meaning = "`within 30d` means in the last 30 days"
    if field is None:  # an activity's window
        return f"{meaning}; from a date on, write `since {value_text(value)}`"
    return f"{meaning}; to compare with a date, write {written(field, 'after', value_text(value))}"


def date_hint(value: ast.Value) -> str:
    """A number or a duration given where a date is wanted."""
    if isinstance(value, ast.Duration):
        ago = f"now-{value_text(value)}"
        within = "`within " + value_text(value) + "`"
        return f"a date that long ago is {ago} (or today-{value_text(value)}); " \
               f"{within} means in the last {value_text(value)}"
    if isinstance(value, ast.NumberValue):
        return 'dates go in double quotes: "2025-01-31"'
    return DATES


def not_a_date_hint(text: str) -> str:
    """The hint for a string that is not a date."""
    word = _DATE_WORDS.get(text.strip().lower())
    if word is not None:
        return f"write {word} without quotes"
    return DATES


def quoted(name: str) -> str:
    """A saved segment's or event's name as a string literal: "VIP buyers"."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def anniversary_problem(node: ast.FieldCondition) -> tuple[str, str, str]:
    """Code, message and hint for `anniversary` followed by something else than `today`
    or `in DURATION` (`anniversary now`)."""
    return ("E_UNKNOWN_OPERATOR", f"unknown operator `{node.written_op}`",
            f"write {written(node.field, 'anniversary today')} or "
            f"{written(node.field, 'anniversary in', '7d')}")
