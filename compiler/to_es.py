"""AST → Elasticsearch request body. Filter context throughout (scores only inside the
event-count queries, where they are the count); every query is confined to one account.
Operators' queries come from `operators.py`, counts from `activities.py`."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from segql.compiler.activities import count_query, window_bounds
from segql.compiler.boolean import MAX_QUERY_DEPTH, conjoin, depth, disjoin, negate
from segql.compiler.context import Context
from segql.compiler.operators import bind
from segql.compiler.scopes import CONTACT, ActivityScope, Scope
from segql.compiler.segments import referenced
from segql.compiler.targets import Query
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast


@singledispatch
def to_query(node: ast.Node, ctx: Context, scope: Scope) -> Query:
    raise TypeError(f"no query for {type(node).__name__}")


@to_query.register
def _group(node: ast.Group, ctx: Context, scope: Scope) -> Query:
    clauses = [to_query(item, ctx, scope) for item in node.items]
    return conjoin(clauses) if node.conjunctive else disjoin(clauses)


@to_query.register
def _not(node: ast.Not, ctx: Context, scope: Scope) -> Query:
    return negate(to_query(node.expr, ctx, scope))


@to_query.register
def _field(node: ast.FieldCondition, ctx: Context, scope: Scope) -> Query:
    bound = bind(node, scope.type_of(ctx.catalog, node.field), ctx.clock)
    query = bound.operator.query(scope.target(node.field, bound.type), bound.operand)
    return negate(query) if bound.negated else query


@to_query.register
def _activity(node: ast.Activity, ctx: Context, scope: Scope) -> Query:
    inner_scope = ActivityScope(node.type, node.name)
    clauses: list[Query] = []
    if node.name is not None:
        clauses.append({"term": {"events.name": node.name}})
    bounds = window_bounds(node.window, ctx.clock)
    if bounds is not None:
        spec: dict[str, Any] = {"format": "epoch_millis"}
        if bounds.lo is not None:
            spec["gte" if bounds.lo_inclusive else "gt"] = int(bounds.lo)
        if bounds.hi is not None:
            spec["lte" if bounds.hi_inclusive else "lt"] = int(bounds.hi)
        clauses.append({"range": {f"{inner_scope.path}.ts": spec}})
    if node.where is not None:
        clauses.append(to_query(node.where, ctx, inner_scope))
    inner = conjoin(clauses) if clauses else {"match_all": {}}
    return count_query(node, inner_scope.path, inner)


@to_query.register
def _segment(node: ast.SegmentRef, ctx: Context, scope: Scope) -> Query:
    return to_query(referenced(ctx, node.name), ctx, scope)


def compile_segment(expr: ast.Expr, ctx: Context, source: str = "") -> dict[str, Any]:
    """The request body (`query` only) that selects the account's contacts in the segment.

    Raises SegmentError (E_TOO_DEEP) when the query, saved segments inlined, would nest
    deeper than Elasticsearch accepts.
    """
    query = conjoin([{"term": {"account": ctx.account}}, to_query(expr, ctx, CONTACT)])
    if depth(query) > MAX_QUERY_DEPTH:
        span = expr.span or ast.Span(line=1, column=1, end_line=1, end_column=2)
        raise SegmentError([Diagnostic(
            code="E_TOO_DEEP",
            message=f"the compiled query nests {depth(query)} levels deep; Elasticsearch "
                    f"accepts {MAX_QUERY_DEPTH}",
            line=span.line, column=span.column, end_line=span.end_line,
            end_column=span.end_column,
            hint="flatten alternating all/any groups, or inline fewer saved segments")],
            source)
    return {"query": query}
