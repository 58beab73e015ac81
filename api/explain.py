"""Explain over the cluster: one contact, every node of the segment from one snapshot,
beside the reference evaluator."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from segql.api.resolve import (
    KEEP_ALIVE,
    ContactNotFoundError,
    Segment,
    checked,
    ok,
    on_target,
)
from segql.compiler.context import Context
from segql.compiler.explain import Explanation
from segql.compiler.explain import explain as explain_tree
from segql.contract.document import document_contact, document_id
from segql.stores import searches


def explain(es: Elasticsearch, segment: Segment, ctx: Context, contact_id: str, *,
            index: str | None = None) -> Explanation:
    """Why one contact is or is not in the segment: every node of the expression marked
    true or false by Elasticsearch (events and visits with their count n), next to the
    reference evaluator's answer on the stored contact — all read from one snapshot.
    `Explanation.disagreements()` lists the nodes where the two differ (a bug)."""
    expr, _ = checked(segment, ctx)
    doc_id = document_id(ctx.account, contact_id)
    pit = on_target(es, index, lambda target: searches.open_point_in_time(
        es, index=target.index, routing=target.search_routing(ctx.account),
        keep_alive=KEEP_ALIVE))
    try:
        hits = searches.search(es, pit={"id": pit}, size=1, query={"bool": {"filter": [
            {"ids": {"values": [doc_id]}}, {"term": {"account": ctx.account}}]}},
        )["hits"]["hits"]
        if not hits:
            raise ContactNotFoundError(f"account {ctx.account!r} has no contact "
                                       f"{contact_id!r}")

        def search(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
            pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
                ({}, {**body, "pit": {"id": pit}}) for body in bodies]
            return [ok(r) for r in searches.msearch(es, pairs)]

        return explain_tree(expr, document_contact(hits[0]["_source"]), doc_id, search)
    finally:
        searches.close_point_in_time(es, pit)
