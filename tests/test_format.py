"""The canonical text form and the JSON form: tables, and properties over random ASTs
(text → AST → text is stable, AST → text → AST and AST → JSON → AST are lossless)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.cli.language_commands import COMMANDS
from segql.errors import SegmentError
from segql.grammar import ast
from segql.grammar.format import OPERATORS, WIDTH, fmt
from segql.grammar.jsonform import from_json, json_schema, to_json
from segql.grammar.keywords import KEYWORDS
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH
from segql.grammar.parser import parse

#: LANGUAGE.md §1's example, which must format to itself byte for byte.
EXAMPLE = """all(
  city starts_with "War",
  event MailOpen occurred,
  any(age between 25 and 40, vip is_true),
  not event MailClick occurred within 30d
)"""
CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "LANGUAGE.md"

CANONICAL = [
    (EXAMPLE, EXAMPLE),
    ("ALL( city   STARTS_WITH 'x' )".replace("'", '"'), 'all(city starts_with "x")'),
    ('city = "a"', 'city equals "a"'),
    ('city != "a"', 'city not_equals "a"'),
    ('signup EQUALS "2025-01-31"', 'signup equals "2025-01-31"'),
    ("age >= 1 AND age <= 2 OR age > 3 AND age < 4",
     "age >= 1 and age <= 2 or age > 3 and age < 4"),
    ("age between 25 and 40", "age between 25 and 40"),
    ("age in [1,2.5,-3,1e3,]", "age in [1, 2.5, -3, 1000.0]"),
    ("age = 1E-7", "age equals 1e-07"),
    ("signup on today", "signup on today"),
    ("signup after TODAY-1y+7d", "signup after today-1y+7d"),
    ("signup within 30d", "signup within 30d"),
    ("vip is_true", "vip is_true"),
    ("`first name` has_value", "`first name` has_value"),
    ("`plain` has_value", "plain has_value"),
    ("`event` has_value and `Not` has_value and `IN` has_value",
     "`event` has_value and `Not` has_value and `IN` has_value"),
    ("all has_value", "`all` has_value"),
    ("event `Order Completed` occurred", 'event "Order Completed" occurred'),
    ('event "Plain" occurred', "event Plain occurred"),
    ('event "within" occurred', 'event "within" occurred'),
    ("event X occurred at_least 2 TIMES within 30d", "event X occurred at_least 2 within 30d"),
    ("event X not_occurred since now-1h", "event X not_occurred since now-1h"),
    ('visit where (url contains "/p/") occurred between "2025-01-01" and today',
     'visit where (url contains "/p/") occurred between "2025-01-01" and today'),
    ('in_segment "Unsubscribed buyers"', 'in_segment "Unsubscribed buyers"'),
    ("NOT in_segment \"x\"", 'not in_segment "x"'),
    ("all()", "all()"),
    ("any(a has_value,)", "any(a has_value)"),
    ("((a has_value))", "a has_value"),
    ("(a has_value and b has_value) and c has_value",
     "(a has_value and b has_value) and c has_value"),
    ("a has_value or (b has_value or c has_value)", "a has_value or (b has_value or c has_value)"),
    ("a has_value or (b has_value and c has_value)", "a has_value or b has_value and c has_value"),
    ("(a has_value or b has_value) and c has_value",
     "(a has_value or b has_value) and c has_value"),
    ("not (a has_value and b has_value)", "not (a has_value and b has_value)"),
    ("not not all(a has_value)", "not not all(a has_value)"),
    ("# comment\na has_value # more", "a has_value"),
    ('x = "q\\"b\\\\n\\n\\t\\u0001\\u007f\\u2028é😀\\uD83D\\uDE00"',
     'x equals "q\\"b\\\\n\\n\\t\\u0001\\u007f\\u2028é😀😀"'),
    (
        " or ".join(f'field_{i} starts_with "value {i}"' for i in range(5)),
        "\n  or ".join(f'field_{i} starts_with "value {i}"' for i in range(5)),
    ),
    (
        'event Purchase where (all(amount > 100, currency equals "PLN", product_id in ["1", "2", '
        '"3", "4", "5", "6", "7", "8", "9", "10"])) occurred at_least 2',
        'event Purchase where (\n  all(\n    amount > 100,\n    currency equals "PLN",\n'
        '    product_id in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]\n  )\n'
        ") occurred at_least 2",
    ),
    (
        "not (" + " and ".join(f"a_rather_long_field_{i} has_value" for i in range(3)) + ")",
        "not (\n  a_rather_long_field_0 has_value\n    and a_rather_long_field_1 has_value\n"
        "    and a_rather_long_field_2 has_value\n)",
    ),
    (  # docs/language.md
        'city starts_with "War" and age > 30 or event Purchase where (amount >= 100 and '
        'currency equals "PLN" and product_id in ["42", "43", "44"]) occurred at_least 2 '
        "within 30d",
        'city starts_with "War" and age > 30\n  or event Purchase where (\n    amount >= 100 '
        'and currency equals "PLN" and product_id in ["42", "43", "44"]\n  ) occurred at_least 2 '
        "within 30d",
    ),
    (
        "tag in [" + ", ".join(f'"value number {i}"' for i in range(6)) + "]",
        "tag in [\n" + ",\n".join(f'  "value number {i}"' for i in range(6)) + "\n]",
    ),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL, ids=[c[0][:50] for c in CANONICAL])
def test_canonical_text(text: str, canonical: str) -> None:
    assert fmt(parse(text)) == canonical
    assert fmt(parse(canonical)) == canonical


def test_the_contract_example_formats_to_itself() -> None:
    if CONTRACT.exists():
        section = CONTRACT.read_text("utf-8").split("Example (the canonical form")[1]
        written = section.split("```\n")[1].rstrip("\n")
        assert written == EXAMPLE
    assert fmt(parse(EXAMPLE)) == EXAMPLE


def test_a_group_breaks_past_the_width() -> None:
    def group(width: int) -> str:
        # all(x > "…") is 11 characters besides the string's content
        return f'all(x > "{"a" * (width - 11)}")'

    assert fmt(parse(group(WIDTH))) == group(WIDTH)
    assert fmt(parse(group(WIDTH + 1))) == f'all(\n  x > "{"a" * (WIDTH - 10)}"\n)'


def test_every_operator_has_one_spelling() -> None:
    for op, spelling in OPERATORS.items():
        node = parse(f"a {spelling} 1")
        assert isinstance(node, ast.FieldCondition) and node.op == op


# --- random ASTs ------------------------------------------------------------------------

UNITS: list[ast.Unit] = ["min", "h", "d", "w", "mo", "y"]
#: Text that needs escaping or is unusual: quotes, backslashes, control characters,
#: line separators, non-BMP characters.
TRICKY = st.sampled_from(['"', "\\", "\n", "\t", "\r", "\x00", "\x1f", "\x7f", "\x85",
                          "\u2028", "é", "ß", "😀", "`", "#", " ", "u"])
TEXT = st.text(st.one_of(TRICKY, st.characters(blacklist_categories=("Cs",))), max_size=12)
NAMES = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.sampled_from(sorted(KEYWORDS)).flatmap(
        lambda word: st.sampled_from([word, word.upper(), word.title()])),
    st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="`"),
            min_size=1, max_size=10),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
).map(lambda n: ast.NumberValue(value=n))
STRINGS = TEXT.map(lambda s: ast.StringValue(value=s))
RELATIVE = st.builds(
    ast.RelativeDate,
    base=st.sampled_from(["now", "today"]),
    offsets=st.lists(st.builds(ast.Offset, amount=st.integers(-1000, 1000),
                               unit=st.sampled_from(UNITS)), max_size=3),
)
DURATIONS = st.builds(ast.Duration, amount=st.integers(0, 10**6), unit=st.sampled_from(UNITS))
DATES = st.one_of(STRINGS, RELATIVE)
VALUES = st.one_of(
    STRINGS, NUMBERS, RELATIVE, DURATIONS,
    st.lists(st.one_of(STRINGS, NUMBERS), max_size=4).map(lambda i: ast.ListValue(items=i)),
)
FIELDS = st.one_of(
    st.builds(ast.FieldCondition, field=NAMES, op=st.sampled_from(sorted(OPERATORS)),
              value=st.none() | VALUES),
    st.builds(ast.FieldCondition, field=NAMES, op=st.just("between"), value=VALUES,
              upper=VALUES),
)
WINDOWS = st.one_of(
    st.builds(ast.Window, kind=st.just("within"), value=DURATIONS),
    st.builds(ast.Window, kind=st.sampled_from(["since", "before"]), value=DATES),
    st.builds(ast.Window, kind=st.just("between"), value=DATES, upper=DATES),
)
COUNTS = st.builds(ast.Count, op=st.sampled_from(["at_least", "at_most", "exactly"]),
                   n=st.integers(0, 10**6))


@st.composite
def activities(draw: st.DrawFn, where: st.SearchStrategy[ast.Expr | None]) -> ast.Activity:
    kind = draw(st.sampled_from(["event", "visit"]))
    occurred = draw(st.booleans())
    return ast.Activity(
        type=kind,  # type: ignore[arg-type]
        name=draw(st.one_of(NAMES, TEXT)) if kind == "event" else None,
        where=draw(where),
        occurred=occurred,
        count=draw(st.none() | COUNTS) if occurred else None,
        window=draw(st.none() | WINDOWS),
    )


LEAVES: st.SearchStrategy[ast.Expr] = st.one_of(
    FIELDS, activities(st.none()), TEXT.map(lambda name: ast.SegmentRef(name=name)),
)


def _compound(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        children.map(lambda e: ast.Not(expr=e)),
        st.builds(ast.Group, type=st.sampled_from(["all", "any"]),
                  items=st.lists(children, max_size=4)),
        st.builds(ast.Group, type=st.sampled_from(["and", "or"]),
                  items=st.lists(children, min_size=2, max_size=4)),
        activities(st.none() | children),
    )


EXPRESSIONS = st.recursive(LEAVES, _compound, max_leaves=24)


def depth_bound(node: ast.Expr) -> int:
    """At least the nesting depth of the node's text: every group, `not`, `where` and
    chain counts (a chain is only sometimes parenthesised)."""
    inner: list[ast.Expr] = []
    if isinstance(node, ast.Group):
        inner = node.items
    elif isinstance(node, ast.Not):
        inner = [node.expr]
    elif isinstance(node, ast.Activity) and node.where is not None:
        inner = [node.where]
    else:
        return 0
    return 1 + max((depth_bound(i) for i in inner), default=0)


def check_round_trips(node: ast.Expr) -> None:
    text = fmt(node)
    again = parse(text)
    assert again.same(node), text
    assert fmt(again) == text
    try:
        back = from_json(to_json(node))
    except SegmentError as error:  # a shape with no JSON form: `has_value 3`, `in 1`, `all()`
        assert {d.code for d in error.diagnostics} == {"E_JSON"}, error.diagnostics
        return
    assert back == node
    assert from_json(to_json(again, spans=True)) == again


def test_random_asts_round_trip() -> None:
    seen: list[str] = []

    @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(EXPRESSIONS.filter(lambda e: depth_bound(e) <= MAX_DEPTH))
    def run(node: ast.Expr) -> None:
        check_round_trips(node)
        seen.append(node.type)

    run()
    print(f"{len(seen)} random ASTs round-tripped; root node types: {sorted(set(seen))}")
    assert len(seen) >= 1000


LOOSE_NAMES = st.one_of(NAMES, st.sampled_from(["", "a`b", "a\nb", "\x00", "\x9f"]))
LOOSE_LEAVES: st.SearchStrategy[ast.Expr] = st.one_of(
    st.builds(ast.FieldCondition, field=LOOSE_NAMES,
              op=st.sampled_from([*OPERATORS, "between", "=", "like", "EQUALS"]),
              value=st.none() | VALUES, upper=st.none() | VALUES),
    st.builds(ast.Activity, type=st.sampled_from(["event", "visit"]), name=st.none() | TEXT,
              occurred=st.booleans(),
              count=st.none() | st.builds(ast.Count, op=st.just("exactly"),
                                          n=st.integers(-2, 2)),
              window=st.none() | st.builds(ast.Window, kind=st.sampled_from(
                  ["within", "since", "before", "between"]), value=st.one_of(DATES, DURATIONS),
                  upper=st.none() | DATES)),
)
LOOSE = st.recursive(LOOSE_LEAVES, lambda children: st.one_of(
    children.map(lambda e: ast.Not(expr=e)),
    st.builds(ast.Group, type=st.sampled_from(["all", "any", "and", "or"]),
              items=st.lists(children, max_size=3)),
), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(LOOSE)
def test_the_json_form_accepts_only_what_text_can_say(node: ast.Expr) -> None:
    try:
        accepted = from_json(to_json(node))
    except SegmentError as error:
        assert {d.code for d in error.diagnostics} == {"E_JSON"}
        return
    assert accepted == node
    check_round_trips(accepted)


def nested(levels: int) -> ast.Expr:
    """An AST whose text nests `levels` deep: each `all`, `where` and `not` counts once,
    and the `and` chain inside `not` brings its parentheses."""
    leaf = ast.FieldCondition(field="a", op="has_value")
    node: ast.Expr = leaf
    for level in range(levels):
        if level % 4 == 0:
            node = ast.Group(type="all", items=[node, leaf])
        elif level % 4 == 1:
            node = ast.Activity(type="event", name="X", where=node)
        elif level % 4 == 2:
            node = ast.Group(type="and", items=[leaf, node])
        else:
            node = ast.Not(expr=node)
    return node


def test_the_limits_round_trip() -> None:
    check_round_trips(nested(MAX_DEPTH))
    many = ast.Group(type="any", items=[ast.FieldCondition(field=f"f{i}", op="has_value")
                                        for i in range(MAX_CONDITIONS)])
    check_round_trips(many)


# --- the JSON form ----------------------------------------------------------------------


def test_json_example() -> None:
    node = parse('all(city starts_with "War", not event MailOpen occurred within 30d)')
    assert json.loads(to_json(node)) == {"type": "all", "items": [
        {"type": "field", "field": "city", "op": "starts_with",
         "value": {"type": "string", "value": "War"}},
        {"type": "not", "expr": {"type": "event", "name": "MailOpen", "occurred": True,
                                 "window": {"type": "window", "kind": "within",
                                            "value": {"type": "duration", "amount": 30,
                                                      "unit": "d"}}}},
    ]}
    with_spans = json.loads(to_json(node, spans=True))
    assert with_spans["span"] == {"line": 1, "column": 1, "end_line": 1, "end_column": 68}


# The JSON form's errors, schema and pointers: tests/test_jsonform.py.


def test_json_beyond_the_limits_is_refused_like_text() -> None:
    deep = nested(MAX_DEPTH + 1)
    with pytest.raises(SegmentError) as caught:
        from_json(to_json(deep))
    assert caught.value.diagnostics[0].code == "E_TOO_DEEP"
    long = ast.FieldCondition(field="a", op="equals", value=ast.StringValue(value="x" * 5000))
    with pytest.raises(SegmentError) as caught:
        from_json(to_json(long))
    assert caught.value.diagnostics[0].code == "E_STRING_TOO_LONG"


# --- the commands -----------------------------------------------------------------------


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    group = click.Group("segql", commands=list(COMMANDS))
    result = CliRunner().invoke(group, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_fmt_command() -> None:
    assert run("fmt", "ALL(a has_value,b = 1)") == (0, "all(a has_value, b equals 1)\n")
    assert run("fmt", "-", stdin=EXAMPLE) == (0, EXAMPLE + "\n")
    assert run("fmt", "--check", EXAMPLE)[0] == 0
    assert run("fmt", "--check", "-", stdin=EXAMPLE + "\n")[0] == 0
    assert run("fmt", "--check", "a  has_value")[0] == 1
    assert run("fmt", "a ~")[0] == 2
    document = to_json(parse("a > 3"))
    assert run("fmt", "--from-json", document) == (0, "a > 3\n")


def test_parse_and_schema_commands() -> None:
    code, output = run("parse", "a > 3")
    assert code == 0 and json.loads(output) == json.loads(to_json(parse("a > 3")))
    code, output = run("parse", "--spans", "a > 3")
    assert json.loads(output)["span"] == {"line": 1, "column": 1, "end_line": 1,
                                          "end_column": 6}
    code, output = run("parse", "--json", "all(a")
    assert code == 2 and json.loads(output)["errors"][0]["code"] == "E_UNEXPECTED_END"
    code, output = run("json-schema")
    assert code == 0 and json.loads(output) == json_schema()


def test_check_command(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"fields": {"age": "number"}}')
    assert run("check", "--catalog", str(catalog), 'city starts_with "War"') == (0, "ok\n")
    assert run("check", "--catalog", str(catalog), "--json", "age has_value") == (
        0, '{"valid": true, "errors": []}\n')
    code, output = run("check", "--catalog", str(catalog), "--json", "agee has_value")
    assert code == 2 and json.loads(output)["errors"][0]["hint"] == "did you mean `age`?"
    code, output = run("check", "city ~")
    assert code == 2 and "^" in output
