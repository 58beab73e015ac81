"""AST → Elasticsearch request body. Filter context throughout; every query is confined
to one account; operators' queries come from `operators.py`."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from segql.compiler.context import Context
from segql.compiler.operators import operand, resolve
from segql.compiler.targets import FieldTarget, Query
from segql.grammar import ast


def _must_not(query: Query) -> Query:
    return {"bool": {"must_not": [query]}}


@singledispatch
def to_query(node: ast.Node, ctx: Context) -> Query:
    raise TypeError(f"no query for {type(node).__name__}")


@to_query.register
def _group(node: ast.Group, ctx: Context) -> Query:
    clauses = [to_query(item, ctx) for item in node.items]
    if node.conjunctive:
        return {"bool": {"filter": clauses}}
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


@to_query.register
def _not(node: ast.Not, ctx: Context) -> Query:
    return _must_not(to_query(node.expr, ctx))


@to_query.register
def _field(node: ast.FieldCondition, ctx: Context) -> Query:
    found = resolve(node.op)
    assert found is not None, "the checker rejects unknown operators"
    operator, negated = found
    target = FieldTarget(node.field, ctx.catalog.type_of(node.field))
    query = operator.query(target, operand(node))
    return _must_not(query) if negated else query


@to_query.register
def _activity(node: ast.Activity, ctx: Context) -> Query:
    query: Query = {
        "nested": {"path": "events", "query": {"term": {"events.name": node.name}}}
    }
    return query if node.occurred else _must_not(query)


def compile_segment(expr: ast.Expr, ctx: Context) -> dict[str, Any]:
    """The request body (`query` only) that selects the account's contacts in the segment."""
    return {
        "query": {
            "bool": {"filter": [{"term": {"account": ctx.account}}, to_query(expr, ctx)]}
        }
    }
