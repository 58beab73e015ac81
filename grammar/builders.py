"""Parse results → AST nodes. One builder per rule (by alias, else name), shared by both
paths so that they build the same AST: `ToAst` calls them on the slow path's tree,
`fastpath.fast_parse` on its reductions. A builder gets the rule's children as Lark keeps
them (tokens already made values: the text, a string's decoded text, a duration's node)
and the rule's position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from lark import Token, Transformer
from lark.tree import Meta

from segql.grammar import ast
from segql.grammar.keywords import SYMBOLS
from segql.grammar.literals import duration, number, offset, unquote
from segql.grammar.positions import Pos, as_span

#: A builder: the rule's children and its position → the node (or value) it stands for.
Builder = Callable[[list[Any], Pos], Any]


def first_child(items: list[Any], pos: Pos) -> Any:
    """The first child, as it is (`where (x)` is x, a name is its text)."""
    return items[0]


def _or_chain(items: list[Any], pos: Pos) -> Any:
    return items[0] if len(items) == 1 else ast.Group(type="or", items=items,
                                                      span=as_span(pos))


def _and_chain(items: list[Any], pos: Pos) -> Any:
    return items[0] if len(items) == 1 else ast.Group(type="and", items=items,
                                                      span=as_span(pos))


def _not(items: list[Any], pos: Pos) -> ast.Expr:
    return ast.Not(expr=items[0], span=as_span(pos))


def _group(items: list[Any], pos: Pos) -> ast.Expr:
    kind, *exprs = items
    group_type: ast.GroupType = "all" if kind.lower() == "all" else "any"
    return ast.Group(type=group_type, items=exprs, span=as_span(pos))


def _field_cond(items: list[Any], pos: Pos) -> ast.Expr:
    name, op, *value = items
    return ast.written(ast.FieldCondition(field=name, op=SYMBOLS.get(op, op.lower()),
                                          value=value[0] if value else None,
                                          span=as_span(pos)), str(op))


def _between_cond(items: list[Any], pos: Pos) -> ast.Expr:
    name, low, high = items
    return ast.FieldCondition(field=name, op="between", value=low, upper=high,
                              span=as_span(pos))


def _anniversary_cond(items: list[Any], pos: Pos) -> ast.Expr:
    """`anniversary today` or `anniversary in 7d`; `anniversary now` becomes an operator
    the checker does not know (and names the fix for)."""
    name, word, *rest = items
    words = word.split()
    if len(words) == 2:  # `anniversary in`
        op, shown = "anniversary_in", " ".join(words)
    else:
        base, *rest = rest
        op, shown = f"anniversary_{base.lower()}", f"{word} {base}"
    return ast.written(ast.FieldCondition(field=name, op=op, value=rest[0] if rest else None,
                                          span=as_span(pos)), shown)


def _activity_cond(items: list[Any], pos: Pos) -> ast.Expr:
    kind: Literal["event", "visit"]
    if isinstance(items[0], str):
        name, *rest = items
        kind = "event"
    else:
        name, rest, kind = None, items, "visit"
    where = rest[0] if len(rest) == 2 else None
    occurrence: dict[str, Any] = rest[-1]
    return ast.Activity(type=kind, name=name, where=where, span=as_span(pos), **occurrence)


def _occurrence(items: list[Any], pos: Pos) -> dict[str, Any]:
    word, *rest = items
    found: dict[str, Any] = {"occurred": word.lower() == "occurred"}
    for item in rest:
        found["count" if isinstance(item, ast.Count) else "window"] = item
    return found


def _count(items: list[Any], pos: Pos) -> ast.Count:
    op, n = items
    return ast.Count(op=op.lower(), n=int(n), span=as_span(pos))


def _window(items: list[Any], pos: Pos) -> ast.Window:
    word, value = items
    return ast.Window(kind=word.lower(), value=value, span=as_span(pos))


def _between_window(items: list[Any], pos: Pos) -> ast.Window:
    low, high = items
    return ast.Window(kind="between", value=low, upper=high, span=as_span(pos))


def _segment_ref(items: list[Any], pos: Pos) -> ast.Expr:
    return ast.SegmentRef(name=items[0], span=as_span(pos))


def _quoted_name(items: list[Any], pos: Pos) -> str:
    text: str = items[0]
    return text[1:-1]


def _string(items: list[Any], pos: Pos) -> ast.StringValue:
    return ast.StringValue(value=items[0], span=as_span(pos))


def _number_value(items: list[Any], pos: Pos) -> ast.NumberValue:
    return ast.NumberValue(value=number(items[0]), span=as_span(pos))


def _relative(items: list[Any], pos: Pos) -> ast.RelativeDate:
    base, *offsets = items
    return ast.RelativeDate(base=base.lower(), offsets=[offset(o) for o in offsets],
                            span=as_span(pos))


def _list(items: list[Any], pos: Pos) -> ast.ListValue:
    return ast.ListValue(items=items, span=as_span(pos))


BUILDERS: dict[str, Builder] = {
    "or_chain": _or_chain, "and_chain": _and_chain, "not_": _not, "group": _group,
    "field_cond": _field_cond, "between_cond": _between_cond,
    "anniversary_cond": _anniversary_cond,
    "activity_cond": _activity_cond, "where": first_child, "occurrence": _occurrence,
    "count": _count, "window": _window, "between_window": _between_window,
    "segment_ref": _segment_ref, "plain_name": first_child, "quoted_name": _quoted_name,
    "string_name": first_child, "string": _string, "number": _number_value,
    "duration": first_child, "relative": _relative, "list": _list,
}
#: The builders that return a lone child as it is.
LONE = frozenset({first_child, _or_chain, _and_chain})


class ToAst(Transformer[Token, Any]):
    """The slow path's tree → AST."""

    def __default__(self, data: str, children: list[Any], meta: Meta) -> Any:
        pos = None if meta.empty else (meta.line, meta.column, meta.end_line, meta.end_column)
        return BUILDERS[data](children, pos)

    def __default_token__(self, token: Token) -> Any:
        if token.type == "STRING":
            return unquote(token)
        if token.type == "DURATION":
            return duration(token, (token.line or 1, token.column or 1,
                                    token.end_line or 1, token.end_column or 1))
        return str(token)
