"""Activity conditions (LANGUAGE.md §4): which events or visits count, and how many.

n = the contact's events of that name (or visits) that satisfy `where` and lie in the
window. Every COUNT form is a conjunction of `n >= k` facts, defined here once:
the evaluator checks them on n, the compiler turns each into a query.

`n >= k` in Elasticsearch, exactly and without scripts: a `nested` query with
`score_mode: sum` over `constant_score` children scores each contact with n, and a
`function_score` with `min_score: k` keeps those with n >= k. Scores are 32-bit floats,
exact for whole numbers up to 2^24 — far above any per-contact event cap.
"""

from __future__ import annotations

from typing import Any

from segql.compiler import dates
from segql.compiler.boolean import conjoin, negate
from segql.compiler.dates import Bounds, Clock
from segql.grammar import ast

Query = dict[str, Any]


def count_facts(node: ast.Activity) -> list[tuple[int, bool]]:
    """The condition as facts `(k, holds)`: "n >= k is `holds`", all of which must be true
    (none: always true, e.g. `at_least 0`)."""
    if not node.occurred:
        facts = [(1, False)]
    elif node.count is None:
        facts = [(1, True)]
    elif node.count.op == "at_least":
        facts = [(node.count.n, True)]
    elif node.count.op == "at_most":
        facts = [(node.count.n + 1, False)]
    else:
        facts = [(node.count.n, True), (node.count.n + 1, False)]
    return [(k, holds) for k, holds in facts if not (k <= 0 and holds)]


def count_holds(node: ast.Activity, n: int) -> bool:
    return all((n >= k) == holds for k, holds in count_facts(node))


def at_least_query(k: int, path: str, inner: Query) -> Query:
    """Contacts with at least k (>= 1) nested `path` documents matching `inner`."""
    if k == 1:
        return {"nested": {"path": path, "query": inner}}
    return {
        "function_score": {
            "query": {
                "nested": {
                    "path": path,
                    "score_mode": "sum",
                    "query": {"constant_score": {"filter": inner, "boost": 1}},
                }
            },
            "min_score": k,
            "boost_mode": "replace",
        }
    }


def count_query(node: ast.Activity, path: str, inner: Query) -> Query:
    clauses = [
        at_least_query(k, path, inner) if holds else negate(at_least_query(k, path, inner))
        for k, holds in count_facts(node)
    ]
    return conjoin(clauses) if clauses else {"match_all": {}}


def window_bounds(window: ast.Window | None, clock: Clock) -> Bounds | None:
    """The time interval of a WINDOW (its date rules are §3.6's)."""
    if window is None:
        return None
    if window.kind == "within":
        assert isinstance(window.value, ast.Duration)
        return dates.within(window.value, clock.now_ms, clock.zone)
    assert not isinstance(window.value, ast.Duration)
    point = dates.resolve(window.value, clock.now_ms, clock.zone)
    if window.kind == "since":
        return dates.since(point)
    if window.kind == "before":
        return dates.before(point)
    assert window.upper is not None
    return dates.between(point, dates.resolve(window.upper, clock.now_ms, clock.zone))
