"""Combining queries with as little nesting as possible.

Elasticsearch refuses a query nested more than 30 query objects deep
(`indices.query.bool.max_nested_depth`), so `and`, `or` and `not` are folded into the
fewest `bool`s: an `all` takes its items' filters, negations (`must_not`) and one `any`
(`should`) into one bool; `any` of `any` is one bool; `not not x` is x. What still nests
too deep after that is a check error (`depth`, used by the compiler), never a failed
request.
"""

from __future__ import annotations

from typing import Any

#: An Elasticsearch query object.
Query = dict[str, Any]


def match_all() -> Query:
    """Every document (what an empty conjunction means); a new object each time."""
    return {"match_all": {}}


#: The deepest query Elasticsearch accepts, counting the leaf (measured on 9.2.0).
MAX_QUERY_DEPTH = 30


def _bool_parts(query: Query) -> dict[str, Any] | None:
    """The clauses of a `bool` query, or None for any other query."""
    inner = query.get("bool")
    return inner if isinstance(inner, dict) and len(query) == 1 else None


def conjoin(queries: list[Query]) -> Query:
    """All of `queries`."""
    filters: list[Query] = []
    must_not: list[Query] = []
    should: list[Query] | None = None
    for query in queries:
        parts = _bool_parts(query)
        keys = set(parts) if parts is not None else set()
        if parts is not None and keys <= {"filter", "must_not"}:
            filters += parts.get("filter", [])
            must_not += parts.get("must_not", [])
        elif parts is not None and keys == {"should", "minimum_should_match"} and should is None:
            should = parts["should"]
        else:
            filters.append(query)
    if len(filters) == 1 and not must_not and should is None:
        return filters[0]
    combined: dict[str, Any] = {}
    if filters:
        combined["filter"] = filters
    if must_not:
        combined["must_not"] = must_not
    if should is not None:
        combined["should"] = should
        combined["minimum_should_match"] = 1
    return {"bool": combined}


def disjoin(queries: list[Query]) -> Query:
    """Any of `queries`."""
    should: list[Query] = []
    for query in queries:
        parts = _bool_parts(query)
        if parts is not None and set(parts) == {"should", "minimum_should_match"}:
            should += parts["should"]
        else:
            should.append(query)
    if len(should) == 1:
        return should[0]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def negate(query: Query) -> Query:
    """Not `query`: the complement, so a document without the field matches."""
    parts = _bool_parts(query)
    if parts is not None and set(parts) == {"must_not"} and len(parts["must_not"]) == 1:
        inner: Query = parts["must_not"][0]
        return inner
    return {"bool": {"must_not": [query]}}


def depth(query: Query) -> int:
    """How many query objects deep `query` is, as Elasticsearch counts (leaf included)."""
    deepest = 0
    stack: list[tuple[Query, int]] = [(query, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        kind, body = next(iter(node.items()))
        children: list[Query] = []
        if kind == "bool":
            for key in ("filter", "must", "should", "must_not"):
                children += body.get(key, [])
        elif kind in ("nested", "function_score"):
            children.append(body["query"])
        elif kind == "constant_score":
            children.append(body["filter"])
        stack.extend((child, level + 1) for child in children)
    return deepest
