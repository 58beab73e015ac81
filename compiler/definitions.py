"""`in_segment` references: looking up a saved segment's definition by name
(case-insensitively) and parsing it once; which segments a definition refers to, and which
refer to a segment, directly or through others. The checker rejects unknown names and
cycles; the checked tree holds each reference's checked body, which the compiler and the
evaluator follow."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import assert_never

from segql.compiler.context import Context
from segql.errors import SegmentError
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


def segment_key(name: str) -> str:
    """What makes two names the same segment: NFC, then case folding (as `in_segment`
    matches names)."""
    return unicodedata.normalize("NFC", name).casefold()


def references(expr: ast.Expr) -> Iterator[str]:
    """The names an expression refers to with `in_segment` (not following them)."""
    match expr:
        case ast.SegmentRef():
            yield expr.name
        case ast.Group():
            for item in expr.items:
                yield from references(item)
        case ast.Not():
            yield from references(expr.expr)
        case ast.Activity():
            if expr.where is not None:
                yield from references(expr.where)
        case ast.FieldCondition():
            pass
        case _:
            assert_never(expr)


def _refers_to(text: str) -> set[str]:
    try:
        return {segment_key(ref) for ref in references(parse_definition(text))}
    except SegmentError:  # stored before a grammar change: it refers to nothing
        return set()


def referrers(definitions: Mapping[str, str], name: str, *,
              transitive: bool = False) -> list[str]:
    """The segments among `definitions` whose expression refers to `name` (with
    `transitive`, also through others), sorted."""
    graph = {segment_key(other): (other, _refers_to(text))
             for other, text in definitions.items()}
    found: dict[str, str] = {}
    todo = [segment_key(name)]
    while todo:
        target = todo.pop()
        for key, (other, refs) in graph.items():
            if target in refs and key not in found and key != segment_key(name):
                found[key] = other
                if transitive:
                    todo.append(key)
    return sorted(found.values())
