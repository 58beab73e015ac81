"""`anniversary today` / `anniversary in DURATION` (LANGUAGE.md §3.9) in both forms: text →
AST → text and AST → JSON → AST are lossless (hypothesis), keywords in any case and with
any whitespace, inside groups and under `not`; both parse paths build the same AST."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from segql.grammar import ast
from segql.grammar.fastpath import fast_parse
from segql.grammar.format import fmt
from segql.grammar.jsonform import from_json, to_json
from segql.grammar.parser import parse

NAMES = st.sampled_from(["birthday", "signup", "Data urodzenia", "in", "anniversary", "x_1"])
SPACES = st.sampled_from([" ", "  ", "\t", "\n", " # note\n "])
UNITS = st.sampled_from(["d", "w", "h", "mo"])


def _case(word: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips + [False] * 20,
                                                               strict=False))


@st.composite
def anniversaries(draw: st.DrawFn) -> tuple[str, ast.FieldCondition]:
    name = draw(NAMES)
    shown = name if name.isidentifier() and name not in ("in", "anniversary") else f"`{name}`"
    word = _case("anniversary", draw(st.lists(st.booleans(), max_size=11)))
    gap = draw(SPACES)
    if draw(st.booleans()):
        today = _case("today", draw(st.lists(st.booleans(), max_size=5)))
        return (f"{shown}{gap}{word}{draw(SPACES)}{today}",
                ast.FieldCondition(field=name, op="anniversary_today"))
    amount, unit = draw(st.integers(0, 10_000)), draw(UNITS)
    in_word = _case("in", draw(st.lists(st.booleans(), max_size=2)))
    spaces = draw(st.sampled_from([" ", "  ", "\t", "\n"]))  # no comment inside the token
    return (f"{shown}{gap}{word}{spaces}{in_word} {amount}{unit}",
            ast.FieldCondition(field=name, op="anniversary_in",
                               value=ast.Duration(amount=amount, unit=unit)))


@st.composite
def segments(draw: st.DrawFn) -> tuple[str, ast.Expr]:
    text, node = draw(anniversaries())
    shape = draw(st.sampled_from(["alone", "not", "all", "or"]))
    if shape == "not":
        return f"not {text}", ast.Not(expr=node)
    if shape == "all":
        other, second = draw(anniversaries())
        return f"all({text}, {other})", ast.Group(type="all", items=[node, second])
    if shape == "or":
        other, second = draw(anniversaries())
        return f"{text} or {other}", ast.Group(type="or", items=[node, second])
    return text, node


@settings(max_examples=300, deadline=None)
@given(segments())
def test_text_and_json_round_trip(case: tuple[str, ast.Expr]) -> None:
    text, expected = case
    parsed = parse(text)
    assert parsed.same(expected)
    canonical = fmt(parsed)
    assert fmt(parse(canonical)) == canonical
    assert parse(canonical).same(expected)
    assert from_json(to_json(parsed)).same(parsed)
    assert from_json(json.dumps(json.loads(to_json(parsed)))).same(expected)
    fast = fast_parse(text)
    if fast is not None:  # the fast path builds the same AST (or leaves it to the other)
        assert fast.same(parsed)


def test_canonical_spelling() -> None:
    assert fmt(parse("birthday ANNIVERSARY   Today")) == "birthday anniversary today"
    assert fmt(parse("birthday Anniversary\n IN 2w")) == "birthday anniversary in 2w"
    assert fmt(parse("`anniversary` anniversary today")) == "`anniversary` anniversary today"
    node = parse("not signup anniversary in 7d")
    assert json.loads(to_json(node)) == {"type": "not", "expr": {
        "type": "field", "field": "signup", "op": "anniversary_in",
        "value": {"type": "duration", "amount": 7, "unit": "d"}}}
