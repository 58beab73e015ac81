"""The language's vocabulary, read by the parser and the formatter alike: the grammar as
Lark's LALR parser (built once), the words of each keyword terminal, the comparison
symbols, and which names have a text form.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from lark import Lark

#: The words of each keyword terminal (lowercase; keywords are case-insensitive).
WORDS: dict[str, tuple[str, ...]] = {
    "GROUP_KIND": ("all", "any"),
    "_OR": ("or",),
    "_AND": ("and",),
    "_NOT": ("not",),
    "_EVENT": ("event",),
    "_VISIT": ("visit",),
    "_WHERE": ("where",),
    "_BETWEEN": ("between",),
    "_TIMES": ("times",),
    "_IN_SEGMENT": ("in_segment",),
    "ANNIVERSARY": ("anniversary",),
    "ANNIVERSARY_IN": ("anniversary in",),
    "OCCURRED": ("occurred",),
    "NOT_OCCURRED": ("not_occurred",),
    "COUNT_OP": ("at_least", "at_most", "exactly"),
    "WITHIN": ("within",),
    "WINDOW_AT": ("since", "before"),
    "DATE_BASE": ("now", "today"),
    "OPERATOR": (
        "equals", "not_equals", "starts_with", "ends_with", "contains", "not_contains",
        "in", "not_in", "has_value", "has_no_value", "is_true", "is_false", "on", "not_on",
        "before", "after", "within",
    ),
}
KEYWORDS = frozenset(word for words in WORDS.values() for word in words)

#: The comparison symbols and the operator each one is in the AST.
SYMBOLS = {"=": "equals", "!=": "not_equals", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


@cache
def lark_parser() -> Lark:
    """Lark's LALR parser for segql.lark, built once per process."""
    grammar = resources.files("segql.grammar").joinpath("segql.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def quotable(text: str) -> bool:
    """Whether a name can be written in backquotes (so, whether it has a text form)."""
    pattern = lark_parser().get_terminal("QUOTED_NAME").pattern.to_regexp()
    return re.fullmatch(pattern, f"`{text}`") is not None
