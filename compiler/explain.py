"""Explain: why one contact is (or is not) in a segment, node by node.

Every node of the expression tree (saved segments followed into their definitions) is
answered by Elasticsearch — the node's compiled query restricted to the contact's
document — and, for events and visits, n is counted by Elasticsearch too (a `nested`
aggregation over the contact's events or visits that the condition counts). The reference
evaluator answers the same questions on the contact rebuilt from its stored document; a
node where the two differ is a bug in one of them, and the explanation says so.

n is defined once for both sides through the condition itself: an event is counted when
the condition with its count rule dropped (`occurred` alone) holds for that event alone —
in Elasticsearch that condition's nested query is the aggregation filter, in the
evaluator it is evaluated on the contact holding only that event.

This module does no I/O: the caller runs the search bodies (one `msearch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from segql.compiler.boolean import conjoin
from segql.compiler.context import Context
from segql.compiler.evaluator import contact_holds
from segql.compiler.scopes import CONTACT
from segql.compiler.segments import referenced
from segql.compiler.to_es import to_query
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.indexer.records import Contact

Query = dict[str, Any]
#: Runs search bodies against the contact index (one snapshot), returning the responses.
Searcher = Callable[[list[Query]], list[dict[str, Any]]]

_RULES = {"at_least": "n ≥ {}", "at_most": "n ≤ {}", "exactly": "n = {}"}


@dataclass(frozen=True)
class Explanation:
    """One node: its canonical text, whether it holds for the contact (Elasticsearch) and
    what the reference evaluator says; for events and visits, n and the count rule."""

    text: str
    kind: str  # all any and or not field event visit in_segment
    result: bool
    expected: bool
    count: int | None = None
    expected_count: int | None = None
    rule: str | None = None
    children: tuple[Explanation, ...] = field(default=())

    @property
    def agrees(self) -> bool:
        """Elasticsearch and the evaluator agree on this node (not its children)."""
        return self.result == self.expected and self.count == self.expected_count

    def disagreements(self) -> Iterator[Explanation]:
        """Every node, at any depth, where Elasticsearch and the evaluator differ."""
        if not self.agrees:
            yield self
        for child in self.children:
            yield from child.disagreements()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "kind": self.kind, "result": self.result}
        if self.count is not None:
            out["count"] = self.count
            out["rule"] = self.rule
        if not self.agrees:
            out["evaluator"] = {"result": self.expected, "count": self.expected_count}
        out["children"] = [child.to_json() for child in self.children]
        return out

    def render(self, indent: int = 0) -> list[str]:
        """The tree as text lines: each node marked true/false, events with n."""
        pad = "  " * indent
        label = self.text if not self.children or self.kind == "in_segment" else {
            "all": "all(...)", "any": "any(...)", "and": "... and ...",
            "or": "... or ...", "not": "not ...",
        }[self.kind]
        first, *rest = label.split("\n")
        mark = "true " if self.result else "false"
        line = f"{pad}[{mark}] {first}"
        lines = [line, *(f"{pad}        {more}" for more in rest)]
        if self.count is not None:
            lines[-1] += f"    n = {self.count} (holds when {self.rule})"
        if not self.agrees:
            lines[-1] += (f"    <-- BUG: the reference evaluator says "
                          f"{str(self.expected).lower()}"
                          + (f", n = {self.expected_count}" if self.count is not None else ""))
        for child in self.children:
            lines.extend(child.render(indent + 1))
        return lines


@dataclass
class _Step:
    """A node to explain, with the index of its search(es) in the msearch."""

    node: ast.Expr
    kind: str
    children: list[_Step]
    search: int
    count_search: int | None = None
    #: For activities: the condition without its count rule (`occurred` alone).
    counted: ast.Activity | None = None


def _rule(node: ast.Activity) -> str:
    if not node.occurred:
        return "n = 0"
    if node.count is None:
        return "n ≥ 1"
    return _RULES[node.count.op].format(node.count.n)


def _counted_query(node: ast.Activity, ctx: Context) -> tuple[str, Query]:
    """(nested path, query on one event or visit) of what the activity counts: the nested
    query the compiler makes of the condition with `occurred` alone."""
    compiled = to_query(node, ctx, CONTACT)
    nested = compiled["nested"]
    return nested["path"], nested["query"]


@dataclass
class _Planner:
    ctx: Context
    doc_id: str
    bodies: list[Query] = field(default_factory=list)

    def _contact_only(self) -> list[Query]:
        return [{"ids": {"values": [self.doc_id]}}, {"term": {"account": self.ctx.account}}]

    def step(self, node: ast.Expr) -> _Step:
        self.bodies.append({"size": 0, "track_total_hits": True,
                            "query": conjoin([*self._contact_only(),
                                              to_query(node, self.ctx, CONTACT)])})
        step = _Step(node, node.type, [], len(self.bodies) - 1)
        if isinstance(node, ast.Group):
            step.children = [self.step(item) for item in node.items]
        elif isinstance(node, ast.Not):
            step.children = [self.step(node.expr)]
        elif isinstance(node, ast.SegmentRef):
            step.children = [self.step(referenced(self.ctx, node.name))]
        elif isinstance(node, ast.Activity):
            step.counted = node.model_copy(update={"occurred": True, "count": None})
            path, inner = _counted_query(step.counted, self.ctx)
            self.bodies.append({"size": 0, "query": conjoin(self._contact_only()),
                                "aggs": {"n": {"nested": {"path": path},
                                               "aggs": {"counted": {"filter": inner}}}}})
            step.count_search = len(self.bodies) - 1
        return step


def _evaluator_count(node: ast.Activity, contact: Contact, ctx: Context) -> int:
    """n by the reference evaluator: the contact's events (or visits) for which the
    condition `occurred` alone holds on that one event."""
    if node.type == "event":
        alone = (replace(contact, events={key: item}) for key, item in contact.events.items())
    else:
        alone = (replace(contact, visits={key: item}) for key, item in contact.visits.items())
    return sum(contact_holds(node, one, ctx) for one in alone)


def _answer(step: _Step, responses: list[dict[str, Any]], contact: Contact,
            ctx: Context) -> Explanation:
    result = responses[step.search]["hits"]["total"]["value"] > 0
    count = expected_count = rule = None
    if step.count_search is not None:
        assert isinstance(step.node, ast.Activity) and step.counted is not None
        count = responses[step.count_search]["aggregations"]["n"]["counted"]["doc_count"]
        expected_count = _evaluator_count(step.counted, contact, ctx)
        rule = _rule(step.node)
    return Explanation(
        text=fmt(step.node), kind=step.kind, result=result,
        expected=contact_holds(step.node, contact, ctx), count=count,
        expected_count=expected_count, rule=rule,
        children=tuple(_answer(child, responses, contact, ctx) for child in step.children),
    )


def explain(expr: ast.Expr, ctx: Context, contact: Contact, doc_id: str,
            search: Searcher) -> Explanation:
    """Explain a checked expression for `contact`, stored as document `doc_id`: `search`
    runs every node's search body in one round trip, on one snapshot."""
    planner = _Planner(ctx, doc_id)
    root = planner.step(expr)
    return _answer(root, search(planner.bodies), contact, ctx)
