"""Checked tree → Elasticsearch request body. Filter context throughout (scores only
inside the event-count queries, where they are the count); every query is confined to one
account. Operators' queries come from `operators.py`, which activities a condition counts
and how many from `activities.py`."""

from __future__ import annotations

from typing import Any, assert_never

from segql.compiler import checked as tree
from segql.compiler.activities import count_query
from segql.compiler.boolean import MAX_QUERY_DEPTH, Query, conjoin, depth, disjoin, negate
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast


def to_query(node: tree.ContactExpr | tree.WhereExpr) -> Query:
    """The query of one checked condition (on a contact, or inside `where` on one nested
    event or visit)."""
    match node:
        case tree.Group():
            clauses = [to_query(item) for item in node.items]
            return conjoin(clauses) if node.conjunctive else disjoin(clauses)
        case tree.Not():
            return negate(to_query(node.expr))
        case tree.FieldCondition():
            query = node.operator.query(node.target, node.operand)
            return negate(query) if node.negated else query
        case tree.ActivityCondition():
            return count_query(node.facts, node.filter.path, node.filter.query(to_query))
        case tree.SegmentRef():
            return to_query(node.body)
        case _:
            assert_never(node)


def compile_segment(checked: tree.Checked) -> dict[str, Any]:
    """The request body (`query` only) that selects the account's contacts in the segment.

    Raises SegmentError (E_TOO_DEEP) when the query, saved segments inlined, would nest
    deeper than Elasticsearch accepts.
    """
    query = conjoin([{"term": {"account": checked.account}}, to_query(checked.expr)])
    if depth(query) > MAX_QUERY_DEPTH:
        span = checked.node.span or ast.Span(line=1, column=1, end_line=1, end_column=2)
        raise SegmentError([Diagnostic(
            code="E_TOO_DEEP",
            message=f"the compiled query nests {depth(query)} levels deep; Elasticsearch "
                    f"accepts {MAX_QUERY_DEPTH}",
            line=span.line, column=span.column, end_line=span.end_line,
            end_column=span.end_column,
            hint="flatten alternating all/any groups, or inline fewer saved segments")],
            checked.source)
    return {"query": query}
