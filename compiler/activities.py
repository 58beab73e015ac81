"""Activity conditions (LANGUAGE.md §4), defined once: which events or visits a condition
counts, and how many it needs.

n = the contact's events of that name (or visits) that lie in the window and satisfy
`where`. `ActivityFilter` states that rule once, requirement by requirement, with each
requirement's test on one activity (the reference evaluator) beside its query on one
nested document (the compiler). Every COUNT form is a conjunction of `n >= k` facts
(`count_facts`): the evaluator checks them on n, the compiler turns each into a query.

`n >= k` in Elasticsearch, exactly and without scripts: a `nested` query with
`score_mode: sum` over `constant_score` children scores each contact with n, and a
`function_score` with `min_score: k` keeps those with n >= k. Scores are 32-bit floats,
exact for whole numbers up to 2^24 — far above any per-contact event cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from segql.compiler import dates
from segql.compiler.boolean import Query, conjoin, match_all, negate
from segql.compiler.dates import Bounds, Clock
from segql.compiler.targets import time_range
from segql.contract.contact import Activity, Contact
from segql.grammar import ast
from segql.values import epoch_millis, parse_instant

#: "n >= k is `holds`" facts, all of which must be true (none: always true).
CountFacts = tuple[tuple[int, bool], ...]
W = TypeVar("W", covariant=True)


@dataclass(frozen=True)
class ActivityFilter(Generic[W]):
    """Which activities of a contact a condition counts: of `kind`, called `name` (events),
    at a time inside `window`, satisfying `where` (a checked condition on one activity)."""

    kind: Literal["event", "visit"]
    name: str | None
    window: Bounds | None
    where: W | None

    @property
    def path(self) -> str:
        """The nested documents that hold this kind of activity."""
        return "events" if self.kind == "event" else "visits"

    def candidates(self, contact: Contact) -> Iterable[Activity]:
        return (contact.events if self.kind == "event" else contact.visits).values()

    def counts(self, item: Activity, where_holds: Callable[[W, Activity], bool]) -> bool:
        """Whether `item` is counted (the evaluator: `where_holds` evaluates `where`)."""
        return (
            (self.name is None or item.name == self.name)
            and (self.window is None or self.window.contains(activity_millis(item)))
            and (self.where is None or where_holds(self.where, item))
        )

    def query(self, where_query: Callable[[W], Query]) -> Query:
        """The same requirements on one nested document (the compiler: `where_query`
        compiles `where`), in the same order."""
        clauses: list[Query] = []
        if self.name is not None:
            clauses.append({"term": {f"{self.path}.name": self.name}})
        if self.window is not None:
            clauses.append(time_range(f"{self.path}.ts", self.window))
        if self.where is not None:
            clauses.append(where_query(self.where))
        return conjoin(clauses) if clauses else match_all()


def activity_millis(item: Activity) -> int:
    """An activity's time as epoch milliseconds (stored `ts` is always a valid instant)."""
    return epoch_millis(parse_instant(item.ts))  # type: ignore[arg-type]


def count_facts(node: ast.Activity) -> CountFacts:
    """The condition's count as facts `(k, holds)`: "n >= k is `holds`"."""
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
    return tuple((k, holds) for k, holds in facts if not (k <= 0 and holds))


def count_holds(facts: CountFacts, n: int) -> bool:
    return all((n >= k) == holds for k, holds in facts)


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


def count_query(facts: CountFacts, path: str, inner: Query) -> Query:
    clauses = [
        at_least_query(k, path, inner) if holds else negate(at_least_query(k, path, inner))
        for k, holds in facts
    ]
    return conjoin(clauses) if clauses else match_all()


def window_bounds(window: ast.Window | None, clock: Clock) -> Bounds | None:
    """The time interval of a WINDOW (its date rules are §3.6's); the checker has made
    sure its values fit its kind."""
    if window is None:
        return None
    match window.kind, window.value, window.upper:
        case "within", ast.Duration() as duration, None:
            return dates.within(duration, clock.now_ms, clock.zone)
        case "since", (ast.StringValue() | ast.RelativeDate()) as value, None:
            return dates.since(dates.resolve(value, clock.now_ms, clock.zone))
        case "before", (ast.StringValue() | ast.RelativeDate()) as value, None:
            return dates.before(dates.resolve(value, clock.now_ms, clock.zone))
        case ("between", (ast.StringValue() | ast.RelativeDate()) as low,
              (ast.StringValue() | ast.RelativeDate()) as high):
            return dates.between(dates.resolve(low, clock.now_ms, clock.zone),
                                 dates.resolve(high, clock.now_ms, clock.zone))
    raise ValueError(f"a `{window.kind}` window with values that do not fit it")
