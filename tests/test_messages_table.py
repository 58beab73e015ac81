"""Parse and check messages speak the user's language, as a table: each bad input gives its
stable code at a position, a message naming the operator as the user wrote it (`>` not
its internal name, `EQUALS` as typed), and a hint naming the likely fix. No message or
hint names the implementation: the deny list holds the internal operator names, the
grammar's terminal names and Python's class names.

The three rows marked "finding" are issue 14's findings 7; the CLI scenarios at the end
run each through `segql check` (exit 2, the message and hint on stderr).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from segql import api
from segql.cli.main import cli
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.keywords import lark_parser

CATALOG = Catalog(
    fields={"age": "number", "vip": "boolean", "signup": "date", "Data urodzenia": "text"},
    events={"Purchase": {"value": "number", "currency": "text", "at": "date"}},
    visit_properties={"campaign": "text"},
)
CTX = Context(account="acme", now=datetime(2026, 3, 30, 12, tzinfo=UTC), catalog=CATALOG,
              segments={"Buyers": "event Purchase occurred", "Loop": 'in_segment "loop"',
                        "Broken": 'age > "x"'})
WINDOWS = "a window: within 30d"

#: (text, code, (line, column), a fragment of the message, a fragment of the hint).
TABLE: list[tuple[str, str, tuple[int, int], str, str | None]] = [
    # finding 7: the operator as written, and what to write
    ('age > "x"', "E_OPERAND_TYPE", (1, 7), "`>` needs a number, not a string",
     "compare number field `age` with a number (no quotes), e.g. `age > 30`"),
    # finding 7: units are lowercase
    ("event Purchase occurred within 30D", "E_UNEXPECTED_CHAR", (1, 32),
     "`30D` is not a duration: units are lowercase", "write 30d (units: min h d w mo y)"),
    # finding 7: a date filter after `occurred` is a window
    ('event Purchase occurred on "2026-03-29"', "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `on` after `occurred`",
     'for events on one day write `between "2026-03-29" and "2026-03-29"` (' + WINDOWS),
    # operators as written
    ('age > "30"', "E_OPERAND_TYPE", (1, 7), "`>` needs a number",
     "write the number without quotes: `age > 30`"),
    ("age >=", "E_MISSING_VALUE", (1, 1), "`>=` needs a number",
     "write one after it, e.g. `age >= 30`"),
    ("age < [1, 2]", "E_OPERAND_TYPE", (1, 7), "`<` needs a number, not a list",
     "for any of several values write `in`: `age in [1, 2]`"),
    ("age <= true", "E_UNEXPECTED_TOKEN", (1, 8), "unexpected name `true`",
     "test a boolean with `age is_true`"),
    ("city EQUALS 5", "E_OPERAND_TYPE", (1, 13), "`EQUALS` needs a string, not a number",
     'text goes in double quotes: `city EQUALS "5"`'),
    ("city != 7", "E_OPERAND_TYPE", (1, 9), "`!=` needs a string, not a number",
     '`city != "7"`'),
    ("city not_equals 7", "E_OPERAND_TYPE", (1, 17), "`not_equals` needs a string",
     '`city not_equals "7"`'),
    ("city = 5", "E_OPERAND_TYPE", (1, 8), "`=` needs a string, not a number",
     '`city = "5"`'),
    ("city > 5", "E_TYPE", (1, 1), "`>` does not apply to text field `city`",
     "operators for text: contains, ends_with, equals"),
    ('vip = "x"', "E_TYPE", (1, 1), "`=` does not apply to boolean field `vip`",
     "test a boolean with `vip is_true` or `vip is_false`"),
    ("vip != true", "E_UNEXPECTED_TOKEN", (1, 8), "unexpected name `true`",
     "test a boolean with `not vip is_true`"),
    ('city has_value "x"', "E_UNEXPECTED_VALUE", (1, 16), "`has_value` takes no value",
     "remove the value: `city has_value`"),
    ('city starts_with ""', "E_EMPTY_OPERAND", (1, 18),
     "`starts_with` needs a non-empty string", "`city has_no_value` asks for contacts"),
    ('`Data urodzenia` ends_with 3', "E_OPERAND_TYPE", (1, 28), "`ends_with` needs a string",
     'text goes in double quotes: `` `Data urodzenia` ends_with "3" ``'),
    ("age in 3", "E_OPERAND_TYPE", (1, 8), "`in` needs a list of numbers, not a number",
     "put the values in brackets: `age in [3]`"),
    ("tags not_in [1]", "E_OPERAND_TYPE", (1, 14),
     "`not_in` needs a list of strings: this item is a number",
     'text goes in double quotes: "1"'),
    ('age between "a" and 3', "E_OPERAND_TYPE", (1, 13),
     "`between` needs two numbers, not a string", "e.g. `age between 1 and 10`"),
    ('event Purchase where (value > "9") occurred', "E_OPERAND_TYPE", (1, 31),
     "`>` needs a number", "write the number without quotes: `value > 9`"),
    # dates and durations on fields
    ('signup before "yesterday"', "E_DATE", (1, 15), '"yesterday" is not a date',
     "write today-1d without quotes"),
    ('all(\n  vip is_true,\n  signup after "2026-02-30"\n)', "E_DATE", (3, 16),
     '"2026-02-30" is not a date', 'a date is "2025-01-31"'),
    ("signup within now", "E_OPERAND_TYPE", (1, 15),
     "`within` needs a duration, not the date now", "`within 30d` means in the last 30 days"),
    ("signup before 30d", "E_OPERAND_TYPE", (1, 15),
     "`before` needs a date, not the duration 30d", "a date that long ago is now-30d"),
    ("signup within 30", "E_OPERAND_TYPE", (1, 15), "`within` needs a duration, not a number",
     "a duration has a unit right after the number: 30d"),
    # duration units
    ("event Purchase occurred within 2W", "E_UNEXPECTED_CHAR", (1, 32),
     "`2W` is not a duration: units are lowercase", "write 2w"),
    ("event Purchase occurred within 1Y", "E_UNEXPECTED_CHAR", (1, 32),
     "`1Y` is not a duration: units are lowercase", "write 1y"),
    ("event Purchase occurred within 3MO", "E_UNEXPECTED_CHAR", (1, 32),
     "`3MO` is not a duration: units are lowercase", "write 3mo"),
    ("signup within 12H", "E_UNEXPECTED_CHAR", (1, 15),
     "`12H` is not a duration: units are lowercase", "write 12h"),
    ("signup after today-7D", "E_UNEXPECTED_CHAR", (1, 19),
     "`-7D` is not a duration: units are lowercase", "write -7d"),
    ("event Purchase occurred within 30days", "E_UNEXPECTED_CHAR", (1, 32),
     "`30days` is not a duration", "write 30d"),
    ("event Purchase occurred within 30 days", "E_UNEXPECTED_TOKEN", (1, 32),
     "unexpected number `30`", "write the number and its unit together: 30d"),
    ("event Purchase occurred within 5m", "E_UNEXPECTED_CHAR", (1, 32),
     "`5m` is not a duration", "write 5min for minutes or 5mo for months"),
    ("event Purchase occurred within 30", "E_UNEXPECTED_TOKEN", (1, 32),
     "unexpected number `30`", "a duration has a unit right after the number: 30d"),
    # after `occurred`: windows and counts
    ('event Purchase occurred after "2026-03-29"', "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `after` after `occurred`",
     'for events from a date on write `since "2026-03-29"`'),
    ("event Purchase occurred in 30d", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `in` after `occurred`", "write `within 30d`"),
    ("event Purchase occurred last 7d", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected name `last` after `occurred`", "for the last 7d write `within 7d`"),
    ('event Purchase not_occurred on "2026-03-29"', "E_UNEXPECTED_TOKEN", (1, 29),
     "unexpected operator `on` after `not_occurred`",
     'write `between "2026-03-29" and "2026-03-29"`'),
    ('event Purchase occurred at_least 2 on "2026-03-29"', "E_UNEXPECTED_TOKEN", (1, 36),
     "unexpected operator `on` after `occurred`", 'write `between "2026-03-29" and'),
    ("event Purchase occurred >= 3", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `>=` after `occurred`", "write the count as `at_least 3`"),
    ("event Purchase occurred > 3", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `>` after `occurred`", "write the count as `at_least 4`"),
    ("event Purchase occurred < 3", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `<` after `occurred`", "write the count as `at_most 2`"),
    ("event Purchase occurred = 2", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected operator `=` after `occurred`", "write the count as `exactly 2`"),
    ("event Purchase occurred 3 times", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected number `3` after `occurred`",
     "write the count with at_least, at_most or exactly: `at_least 3`"),
    ('event Purchase occurred "2026-03-29"', "E_UNEXPECTED_TOKEN", (1, 25),
     "after `occurred`", 'needs a window: `since "2026-03-29"`'),
    ("event Purchase occurred 30d", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected duration `30d` after `occurred`", "write `within 30d`"),
    ("event Purchase occurred lately", "E_UNEXPECTED_TOKEN", (1, 25),
     "unexpected name `lately` after `occurred`",
     "after `occurred` may come a count such as at_least 2, then " + WINDOWS),
    # numbers where a quoted string belongs, and the other way round
    ("event Purchase occurred since 2026-03-29", "E_UNEXPECTED_TOKEN", (1, 31),
     "unexpected number `2026`", 'dates go in double quotes: "2026-03-29"'),
    ("event Purchase occurred since 30d", "E_UNEXPECTED_TOKEN", (1, 31),
     "unexpected duration `30d`", "for a date that long ago write now-30d"),
    ('event Purchase occurred within "30d"', "E_UNEXPECTED_TOKEN", (1, 32),
     'unexpected string `"30d"`', "write the duration without quotes: 30d"),
    ('event Purchase occurred within "2026-03-01"', "E_UNEXPECTED_TOKEN", (1, 32),
     'unexpected string `"2026-03-01"`', 'write `since "2026-03-01"`'),
    ('event Purchase occurred at_least "3"', "E_UNEXPECTED_TOKEN", (1, 34),
     'unexpected string `"3"`', "write the count without quotes: 3"),
    ("in_segment 5", "E_UNEXPECTED_TOKEN", (1, 12), "unexpected number `5`",
     'a name goes in double quotes: "5"'),
    ("city = Warszawa", "E_UNEXPECTED_TOKEN", (1, 8), "unexpected name `Warszawa`",
     'text goes in double quotes: "Warszawa"'),
    ("age = 30abc", "E_UNEXPECTED_CHAR", (1, 7), "`30abc` is not a number",
     'text goes in double quotes: "30abc"'),
    ("event Purchase occurred since", "E_UNEXPECTED_END", (1, 30),
     "the segment ends too early", 'expected a date such as "2025-01-31" or today-7d'),
    # saved segments, in the language's own quotes
    ('in_segment "Buyer"', "E_UNKNOWN_SEGMENT", (1, 1), 'no saved segment called "Buyer"',
     'did you mean `in_segment "Buyers"`?'),
    ('in_segment "Nobody"', "E_UNKNOWN_SEGMENT", (1, 1), 'no saved segment called "Nobody"',
     "--segments FILE"),
    ('in_segment "Loop"', "E_SEGMENT_CYCLE", (1, 1),
     "segments refer to each other in a cycle: Loop → Loop", None),
    ('in_segment "Broken"', "E_SEGMENT_INVALID", (1, 1),
     'saved segment "Broken": `>` needs a number, not a string (line 1, column 7 of its '
     "definition)", "`age > 30`"),
    # a keyword where a name was meant, misspelt keywords
    ('all(event = "x")', "E_UNEXPECTED_TOKEN", (1, 11), "unexpected operator `=`",
     "`event` is a keyword: a field of that name is written in backquotes"),
    ("event Purchase occured", "E_UNEXPECTED_TOKEN", (1, 16), "unexpected name `occured`",
     "did you mean `occurred`?"),
]

#: Internal names no message or hint may contain (whole words, case as written).
INTERNAL_OPERATORS = re.compile(r"\b(gt|gte|lt|lte|eq|neq)\b")
PYTHON_NAMES = {
    *(name for name in vars(ast) if isinstance(vars(ast)[name], type)
      and issubclass(vars(ast)[name], ast.BaseModel)),
    "BaseModel", "Token", "Tree", "NoneType", "str", "int", "float", "dict", "bool",
    "Operator", "Diagnostic", "SegmentError", "ValueError", "KeyError", "Traceback",
}
TERMINALS = {t.name for t in lark_parser().terminals} | {
    "$END", "SIGNED_NUMBER", "ESCAPED_STRING", "CNAME", "WORD", "__ANON_0"}
JARGON = re.compile(r"\b(AST|node|token|terminal|lark|pydantic)\b", re.IGNORECASE)


def internal_names(text: str) -> list[str]:
    """The internal names in a message or hint."""
    found = INTERNAL_OPERATORS.findall(text) + JARGON.findall(text)
    words = set(re.findall(r"[$\w]+", text))
    return found + sorted(words & (PYTHON_NAMES | TERMINALS))


def problems(text: str) -> list[Diagnostic]:
    with pytest.raises(SegmentError) as caught:
        api.prepare(text, CTX)
    return caught.value.diagnostics


def test_the_deny_list_catches_what_it_should() -> None:
    assert internal_names("`gt` needs a number") == ["gt"]
    assert internal_names("expected SIGNED_NUMBER or $END") == ["$END", "SIGNED_NUMBER"]
    assert internal_names("not a StringValue node") == ["node", "StringValue"]
    assert internal_names("`>` needs a number, e.g. `age > 30`") == []
    assert {"FieldCondition", "Duration", "OPERATOR", "DURATION", "_NOT"} <= (
        PYTHON_NAMES | TERMINALS)


@pytest.mark.parametrize(("text", "code", "at", "message", "hint"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_messages(text: str, code: str, at: tuple[int, int], message: str,
                  hint: str | None) -> None:
    found = problems(text)
    first = found[0]
    assert (first.code, (first.line, first.column)) == (code, at), first
    assert message in first.message, first.message
    if hint is None:
        assert first.hint is None
    else:
        assert first.hint is not None and hint in first.hint, first.hint
    for problem in found:
        assert internal_names(problem.message + " " + (problem.hint or "")) == [], problem


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 30
    assert len({row[1] for row in TABLE}) >= 10, "most codes are covered"


#: Pieces of segments, glued at random: most of what comes out is wrong somewhere.
PIECES = ["age", "city", "vip", "signup", "tags", "`Data urodzenia`", "event Purchase",
          "visit", "where (", "occurred", "not_occurred", "at_least", "within", "since",
          "before", "between", "and", "or", "not", "all(", "any(", "(", ")", ",", "[", "]",
          ">", ">=", "<", "<=", "=", "!=", "equals", "EQUALS", "not_equals", "starts_with",
          "contains", "in", "not_in", "on", "after", "has_value", "is_true", "3", "-2.5",
          '"x"', '"30"', '"2026-03-29"', '""', "30d", "30D", "2W", "12H", "3MO", "now",
          "today-7d", "today-7D", "true", "in_segment", '"Buyers"', '"Loop"', '"Broken"',
          "~", "'x'", "&&", "30days", "5m"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=10))
def test_no_message_names_the_implementation(pieces: list[str]) -> None:
    text = " ".join(pieces)
    try:
        api.prepare(text, CTX)
    except SegmentError as error:
        for problem in error.diagnostics:
            assert internal_names(problem.message + " " + (problem.hint or "")) == [], (
                text, problem)


# --- the findings through the CLI: `segql check` exits 2 with the words above ---------


@pytest.fixture
def catalog_file(tmp_path: Path) -> str:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"fields": {"age": "number"}, "events": {"Purchase": {}}}))
    return str(path)


FINDINGS = [
    ('age > "x"', "error[E_OPERAND_TYPE] at line 1, column 7: `>` needs a number, not a "
     "string", "hint: compare number field `age` with a number (no quotes), e.g. "
     "`age > 30`"),
    ("event Purchase occurred within 30D", "error[E_UNEXPECTED_CHAR] at line 1, column 32: "
     "`30D` is not a duration: units are lowercase",
     "hint: write 30d (units: min h d w mo y)"),
    ('event Purchase occurred on "2026-03-29"', "error[E_UNEXPECTED_TOKEN] at line 1, "
     "column 25: unexpected operator `on` after `occurred`",
     'hint: for events on one day write `between "2026-03-29" and "2026-03-29"`'),
]


@pytest.mark.parametrize(("text", "message", "hint"), FINDINGS, ids=[f[0] for f in FINDINGS])
def test_findings_through_the_cli(catalog_file: str, text: str, message: str,
                                  hint: str) -> None:
    result = CliRunner().invoke(cli, ["check", text, "--account", "acme",
                                      "--catalog", catalog_file])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == message
    assert lines[1] == "  " + text  # the source line, then the caret under the text
    assert lines[2].strip().startswith("^")
    assert lines[3].startswith(hint)
    assert "gt" not in re.findall(r"\w+", result.stderr)
    assert result.stdout == ""


def test_findings_as_json(catalog_file: str) -> None:
    result = CliRunner().invoke(cli, ["check", 'age > "x"', "--account", "acme",
                                      "--catalog", catalog_file, "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["errors"][0]
    assert error == {"code": "E_OPERAND_TYPE", "message": "`>` needs a number, not a string",
                     "line": 1, "column": 7, "end_line": 1, "end_column": 10,
                     "hint": "compare number field `age` with a number (no quotes), e.g. "
                             "`age > 30`"}
