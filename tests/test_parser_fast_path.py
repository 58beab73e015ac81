"""The parser's fast path (`_fast`) against its slow path (`_slow`, the token-by-token run
that reports errors): the same AST, positions included, for every valid text; nothing
for an invalid one, whose errors are then the slow path's; and the bound that lets the
fast path skip formatting a short text to measure its canonical size."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.errors import SegmentError
from segql.grammar.fastpath import fast_parse as _fast
from segql.grammar.format import fmt
from segql.grammar.keywords import KEYWORDS
from segql.grammar.keywords import lark_parser as _lark
from segql.grammar.limits import MAX_BYTES, MAX_CONDITIONS, MAX_DEPTH, MAX_STRING
from segql.grammar.limits import too_long as _too_long
from segql.grammar.parser import _slow, parse

D, C, S = MAX_DEPTH, MAX_CONDITIONS, MAX_STRING

VALID = [
    'all(city starts_with "War", event MailOpen occurred within 30d)',
    'any(age between 18 and 30, not (tags contains "vip"), event Purchase where '
    "(amount > 100) occurred at_least 3 times within 90d)",
    'city = "Warszawa" or `Data urodzenia` before today-18y and not tags in ["a", "b\\"c"]',
    'visit where (url contains "/p/") not_occurred between "2025-01-01" and now-1h',
    'not in_segment "Unsubscribed buyers" and (a has_value or b has_no_value)',
    "any(age < -3, age > 1e3, signup within 6mo, vip is_false, x not_on now+1w) # comment",
    'event "Order Completed" occurred exactly 0 since "2025-01-31T10:00:00Z"',
    "ALL(A IS_TRUE, ANY(B HAS_VALUE,),) # keywords in any case, trailing commas",
    "all()", "any( )", "a in []", "a in [1, -2.5, 1E15, \"x\",]", "a >= 0 and b <= -0",
    "((a has_value))", "not not (a has_value)", "(a has_value or b has_value) and c is_true",
    "a has_value or b has_value and c has_value or (d has_value)",
    "event event occurred", "event `all` where (`not` = 1) occurred", "visit occurred",
    "event X occurred at_most 2 within 1min", "a before now+1d-2h+3w", "a on today",
    "a\r\n  =\t1\f", "\n\n  a has_value\n  # the end\n", "a = 1 # no newline at the end",
    'a = "\\u00e9\\ud83d\\ude00\\n\\t\\\\\\"" and b = "żółw 😀"', "`ą b` = 1",
    "a = " + "9" * 308, "a = 1e308", 'a = "' + "x" * S + '"', 'a = "' + "\\u0041" * S + '"',
    "(" * D + "a has_value" + ")" * D, "not " * D + "a has_value",
    "all(" * D + "a has_value" + ")" * D, "event X where (" * D + "a has_value"
    + ") occurred" * D, "all(" * (D - 1) + "not a has_value" + ")" * (D - 1),
    " or ".join(["a has_value"] * C), " and ".join(["a between 1 and 2"] * C),
    "all(" + ", ".join(["event X occurred"] * C) + ")",
    "a in [" + ",".join(['"\x01\x02"'] * 3000) + "]",  # long canonical text, but fits
]

INVALID = [
    "", " ", "# only a comment", "a", "a = =", "all(", "all(a has_value", ")",
    "a has_value)", "a = 1 b = 2", "a == 1", "a = 'x'", "a && b", "a ~ 1", "a = \"x",
    "`a", "``", "`a\x01b` = 1", "a = \"\\q\"", 'a = "\\ud83d"', 'a = "\udcff"', "\udcff",
    "a has_value\x00", "evnt X occurred", "event X ocurred", "a between 1", "all(a, b)",
    "event X occurred at_least 3 times times", "a within 30 d", "a in [1 2]", "a in [[1]]",
    "a = 1e309", "a = -1e309", "a = " + "9" * 309, "a within " + "9" * 400 + "d",
    "a before now-" + "9" * 400 + "d", "event X occurred at_least " + "9" * 309,
    'a = "' + "x" * (S + 1) + '"', 'event "' + "y" * (S + 1) + '" occurred',
    "(" * (D + 1) + "a has_value" + ")" * (D + 1), "not " * (D + 1) + "a has_value",
    "all(" * (D + 1) + "a has_value" + ")" * (D + 1), "not (" * 17 + "a has_value" + ")" * 17,
    "event X where (" * (D + 1) + "a has_value" + ") occurred" * (D + 1),
    " or ".join(["a has_value"] * (C + 1)), " and ".join(["a between 1 and 2"] * (C + 1)),
    "all(" + ", ".join(["event X occurred"] * (C + 1)) + ")",
    "a in [" + ",".join(['"\x01\x02\x03\x04"'] * 2800) + "]",  # canonical text too long
    "a has_value or " * 4_700 + "a has_value", "(" * 10_000, "a in [" * 1_000,
]


def outcome(run: Any, text: str) -> tuple[str, Any]:
    """What a parse gives, comparably: the AST's repr (positions and number types
    included), or the errors in full."""
    try:
        return "ast", repr(run(text))
    except SegmentError as error:
        return "errors", [d.model_dump() for d in error.diagnostics]


def slow_parse(text: str) -> Any:
    """`parse` as it was before the fast path."""
    too_long = _too_long(text)
    if too_long:
        raise SegmentError([too_long], text)
    return _slow(text)


def same_both_ways(text: str) -> None:
    slow = outcome(slow_parse, text)
    assert outcome(parse, text) == slow
    if slow[0] == "ast":
        assert outcome(_fast, text) == slow, text
    else:  # declined, or (the canonical size) the same error
        assert _fast_declines(text) or outcome(_fast, text) == slow, text


def _fast_declines(text: str) -> bool:
    try:
        return _fast(text) is None
    except SegmentError:
        return False


@pytest.mark.parametrize("text", VALID, ids=[t[:40] for t in VALID])
def test_valid_text_takes_the_fast_path_to_the_same_ast(text: str) -> None:
    assert _fast(text) is not None
    same_both_ways(text)


@pytest.mark.parametrize("text", INVALID, ids=[t[:40] for t in INVALID])
def test_invalid_text_gets_the_slow_paths_errors(text: str) -> None:
    with pytest.raises(SegmentError):
        parse(text)
    same_both_ways(text)


PIECES = [*sorted(KEYWORDS), "(", ")", "[", "]", ",", "=", "!=", ">=", "<", '"x"', '"',
          "`", "`a b`", "1", "-2.5", "1e999", "30d", "now-1d", "+2h", "#", "\n", "\t", "\\",
          "'", "😀", "\u2028", "\udcff", " ", "all(", "where (", "a", "B_1"]


@settings(max_examples=3000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from([" ", "  "])),
                max_size=30).map(" ".join))
def test_token_soup_parses_the_same_both_ways(text: str) -> None:
    same_both_ways(text)


NAMES = st.one_of(st.sampled_from(["a", "City", "`x y`", "`all`", "_9"]),
                  st.sampled_from(sorted(KEYWORDS)).map(lambda k: f"`{k}`"))
VALUES = st.one_of(
    st.sampled_from(['"x"', '"\\u0001\\n"', '"\x01"', '""', "0", "-1.5e-7", "9E15", "30d",
                     "now", "today-1y+2mo", '[1, "a",]', "[]"]),
    st.text(max_size=5).map(lambda s: '"' + s.replace("\\", "").replace('"', "")
                            .replace("\n", "") + '"'),
)
LEAVES = st.one_of(
    st.builds("{} {} {}".format, NAMES, st.sampled_from(["=", "!=", "<", "in", "equals"]),
              VALUES),
    st.builds("{} has_value".format, NAMES),
    st.builds("{} between {} and {}".format, NAMES, VALUES, VALUES),
    st.sampled_from(['event X occurred', 'visit not_occurred within 1d',
                     'event "E" occurred at_least 2 times since "2025-01-01"',
                     'in_segment "S"', 'visit occurred between now-1d and today']),
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner.map("not {}".format), inner.map("({})".format),
        st.builds("{}({})".format, st.sampled_from(["all", "any", "ALL"]),
                  st.lists(inner, max_size=4).map(", ".join)),
        st.lists(inner, min_size=2, max_size=4).map(" and ".join),
        st.lists(inner, min_size=2, max_size=4).map(" or ".join),
        inner.map("event E where ({}) occurred".format),
    )


SEGMENTS = st.recursive(LEAVES, _compound, max_leaves=40)


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(SEGMENTS, st.sampled_from([" ", "\n  ", " # c\n", "\t"]))
def test_random_segments_parse_the_same_both_ways(text: str, space: str) -> None:
    same_both_ways(text)
    same_both_ways(text.replace(" ", space, 3))


def bound(text: str) -> int:
    """The canonical size `_finish` assumes: 6 bytes per character and 64 + 8·MAX_DEPTH
    per token (counted with Lark's contextual lexer, as `_fast` counts them)."""
    tokens = sum(1 for _ in _lark().parse_interactive(text).iter_parse())
    return 6 * len(text) + tokens * (64 + 8 * MAX_DEPTH)


def assert_within_bound(text: str) -> None:
    node = _slow(text)  # formats the AST itself: never skips the check
    assert len(fmt(node).encode("utf-8", "surrogatepass")) <= bound(text), text


@pytest.mark.parametrize("text", [
    "all(" * (D - 1) + "a in [" + "9E15," * 300 + "]" + ")" * (D - 1),
    "all(" * (D - 1) + "a in [" + '"\x01",' * 300 + "]" + ")" * (D - 1),
    "(" * (D - 1) + "a=1 or b=2 and c=3" + ")" * (D - 1),
    "not (" * (D // 2) + " or ".join(["a=1 and b!=2"] * 30) + ")" * (D // 2),
    "event E where (" * (D - 1) + "a = 1E15 and b = 1" + ") occurred" * (D - 1),
    "all(" * (D - 1) + ",".join(["a=1"] * 200) + ")" * (D - 1),
    'a in ["' + "\u2028" * 100 + '"]', "event `\u2028` occurred",
    "any(" + ",".join(['event "\x7f\x7f" occurred'] * 300) + ")",
])
def test_the_canonical_size_bound_holds(text: str) -> None:
    assert_within_bound(text)


@settings(max_examples=500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(SEGMENTS)
def test_the_canonical_size_bound_holds_for_random_segments(text: str) -> None:
    with contextlib.suppress(SegmentError):  # a random string can hold a lone surrogate
        assert_within_bound(text)


def test_a_text_near_the_limit_is_measured_not_bounded() -> None:
    """Past the bound the fast path formats the AST, as the slow path does."""
    fits = "a in [" + ",".join(['"\x01\x02"'] * 3000) + "]"
    assert bound(fits) > MAX_BYTES
    assert _fast(fits) is not None
    too_long = "a in [" + ",".join(['"\x01\x02\x03\x04"'] * 2800) + "]"
    with pytest.raises(SegmentError) as error:
        _fast(too_long)
    assert [d.code for d in error.value.diagnostics] == ["E_TOO_LONG"]
