"""`in_segment` references: looking up a saved segment's definition by name
(case-insensitively) and parsing it once. The checker rejects unknown names and cycles;
the checked tree holds each reference's checked body, which the compiler and the evaluator
follow."""

from __future__ import annotations

from functools import lru_cache

from segql.compiler.context import Context
from segql.grammar import ast
from segql.grammar.parser import parse


def definition(ctx: Context, name: str) -> tuple[str, str] | None:
    """(stored name, expression text) of the saved segment called `name`, if any."""
    wanted = name.casefold()
    for stored, text in ctx.segments.items():
        if stored.casefold() == wanted:
            return stored, text
    return None


@lru_cache(maxsize=256)
def parse_definition(text: str) -> ast.Expr:
    return parse(text)
