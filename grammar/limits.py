"""The limits of LANGUAGE.md §6 (size, depth, conditions, strings, numbers), how the
parser counts them on tokens, and the checks on a whole text: its size as written and in
canonical form.
"""

from __future__ import annotations

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.grammar.literals import UNIT
from segql.grammar.positions import line_problem
from segql.values import finite

MAX_BYTES = 65_536
MAX_DEPTH = 32
MAX_CONDITIONS = 1_000
MAX_STRING = 4_096
#: How many errors one parse reports at most.
MAX_ERRORS = 10

#: Tokens that stand exactly once in each condition (`between` only after a name).
CONDITION_TOKENS = frozenset({"OPERATOR", "OCCURRED", "NOT_OCCURRED", "_IN_SEGMENT",
                              "ANNIVERSARY", "ANNIVERSARY_IN"})
NAME_TOKENS = frozenset({"NAME", "QUOTED_NAME"})
NUMBER_TOKENS = frozenset({"NUMBER", "INT", "DURATION", "OFFSET"})


def in_range(text: str) -> bool:
    """Whether a numeric token is a finite double (Python's int() would also refuse more
    than 4,300 digits, and the compiler reads numbers as doubles)."""
    return finite(float(UNIT.sub("", text)))


def too_long(text: str) -> Diagnostic | None:
    """E_TOO_LONG at the character that crosses the limit, if one does."""
    if len(text) * 4 <= MAX_BYTES:
        return None
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_BYTES:
        return None
    cut = MAX_BYTES
    while encoded[cut] & 0xC0 == 0x80:  # back to the first byte of the crossing character
        cut -= 1
    index = len(encoded[:cut].decode("utf-8", "surrogatepass"))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line_problem("E_TOO_LONG", f"the segment is longer than {MAX_BYTES:,} bytes "
                        f"({len(encoded):,})", line, column, column + 1,
                        "split it into saved segments and combine them with in_segment")


def check_canonical_size(node: ast.Expr, text: str) -> None:
    """The canonical text must be within the limit too, or formatting a segment could
    make it unparsable: escapes and layout can make it longer than what was written."""
    size = len(fmt(node).encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        first = text.split("\n", 1)[0]
        raise SegmentError([line_problem(
            "E_TOO_LONG", f"the segment is longer than {MAX_BYTES:,} bytes in canonical "
            f"form ({size:,})", 1, 1, len(first) + 1,
            "split it into saved segments and combine them with in_segment")], text)
