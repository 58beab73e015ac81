"""Explain: why one contact is (or is not) in a segment, node by node.

Every node of the expression tree (saved segments followed into their definitions) is
answered by Elasticsearch — the node's compiled query restricted to the contact's
document — and, for events and visits, n is counted by Elasticsearch too (a `nested`
aggregation over the contact's events or visits that the condition counts). The reference
evaluator answers the same questions on the contact rebuilt from its stored document; a
node where the two differ is a bug in one of them, and the explanation says so.

n is defined once for both sides by the condition's `ActivityFilter` (activities.py): in
Elasticsearch its query is the aggregation's filter over the nested documents, in the
evaluator its test counts the contact's events or visits.

This module does no I/O: the caller runs the search bodies (one `msearch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, assert_never

from segql.compiler import checked as tree
from segql.compiler.boolean import Query, conjoin
from segql.compiler.evaluator import activity_count, holds
from segql.compiler.to_es import to_query
from segql.contract.contact import Contact
from segql.grammar import ast
from segql.grammar.format import fmt

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

    node: tree.ContactExpr
    children: list[_Step]
    search: int
    count_search: int | None = None


def _rule(node: ast.Activity) -> str:
    if not node.occurred:
        return "n = 0"
    if node.count is None:
        return "n ≥ 1"
    return _RULES[node.count.op].format(node.count.n)


@dataclass
class _Planner:
    account: str
    doc_id: str
    bodies: list[Query] = field(default_factory=list)

    def _contact_only(self) -> list[Query]:
        return [{"ids": {"values": [self.doc_id]}}, {"term": {"account": self.account}}]

    def _search(self, body: Query) -> int:
        self.bodies.append(body)
        return len(self.bodies) - 1

    def step(self, node: tree.ContactExpr) -> _Step:
        step = _Step(node, [], self._search({
            "size": 0, "track_total_hits": True,
            "query": conjoin([*self._contact_only(), to_query(node)])}))
        match node:
            case tree.Group():
                step.children = [self.step(item) for item in node.items]
            case tree.Not():
                step.children = [self.step(node.expr)]
            case tree.SegmentRef():
                step.children = [self.step(node.body)]
            case tree.ActivityCondition():
                counted = node.filter.query(to_query)
                step.count_search = self._search({
                    "size": 0, "query": conjoin(self._contact_only()),
                    "aggs": {"n": {"nested": {"path": node.filter.path},
                                   "aggs": {"counted": {"filter": counted}}}}})
            case tree.FieldCondition():
                pass
            case _:
                assert_never(node)
        return step


def _answer(step: _Step, responses: list[dict[str, Any]], contact: Contact) -> Explanation:
    node = step.node
    result = responses[step.search]["hits"]["total"]["value"] > 0
    count = expected_count = rule = None
    if isinstance(node, tree.ActivityCondition) and step.count_search is not None:
        count = responses[step.count_search]["aggregations"]["n"]["counted"]["doc_count"]
        expected_count = activity_count(node, contact)
        rule = _rule(node.source)
    return Explanation(
        text=fmt(node.source), kind=node.source.type, result=result,
        expected=holds(node, contact), count=count,
        expected_count=expected_count, rule=rule,
        children=tuple(_answer(child, responses, contact) for child in step.children),
    )


def explain(checked: tree.Checked, contact: Contact, doc_id: str,
            search: Searcher) -> Explanation:
    """Explain a checked segment for `contact`, stored as document `doc_id`: `search`
    runs every node's search body in one round trip, on one snapshot."""
    planner = _Planner(checked.account, doc_id)
    root = planner.step(checked.expr)
    return _answer(root, search(planner.bodies), contact)
