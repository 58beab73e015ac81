"""Checked tree → Elasticsearch request body. Filter context throughout (scores only
inside the event-count queries, where they are the count); every query is confined to one
account. Operators' queries come from `operators.py`, which activities a condition counts
and how many from `activities.py`."""

from __future__ import annotations

from typing import Any, assert_never

from segql.compiler import checked as tree
from segql.compiler.activities import count_query
from segql.compiler.boolean import Query, conjoin, disjoin, negate
from segql.compiler.limits import check_compiled


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

    Raises SegmentError when the query, saved segments inlined, would nest deeper than
    Elasticsearch accepts (E_TOO_DEEP), have more clauses than every node accepts
    (E_TOO_COMPLEX) or be too large (E_TOO_LARGE): see `limits.py`.
    """
    query = conjoin([{"term": {"account": checked.account}}, to_query(checked.expr)])
    check_compiled(checked, query, to_query)
    return {"query": query}
