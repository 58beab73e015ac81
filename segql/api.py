"""The library API: what the CLI does, for other programs (`from segql import count`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.to_es import compile_segment
from segql.grammar import ast
from segql.grammar.parser import parse
from segql.indexer.catalog_store import CatalogStore, catalog_index_name

DEFAULT_INDEX = "segql-contacts"


def index_name() -> str:
    """The contact index: `$SEGQL_INDEX`, else `segql-contacts`."""
    return os.environ.get("SEGQL_INDEX", DEFAULT_INDEX)


def context(
    es: Elasticsearch,
    account: str,
    *,
    index: str | None = None,
    now: datetime | None = None,
    timezone: ZoneInfo | None = None,
) -> Context:
    """Everything a segment of `account` is evaluated against, from the cluster: the
    account's catalog (declared over learned) and the evaluation time and zone."""
    catalog = CatalogStore(es, catalog_index_name(index or index_name())).get(account)
    return Context(account=account, now=now or datetime.now(UTC),
                   timezone=timezone or ZoneInfo("UTC"), catalog=catalog)


def prepare(text: str, ctx: Context) -> ast.Expr:
    """Parse and check a segment's text; raises SegmentError with positions."""
    return check(parse(text), ctx, text)


def compile_text(text: str, ctx: Context) -> dict[str, Any]:
    """The Elasticsearch request body of a segment's text."""
    return compile_segment(prepare(text, ctx), ctx, text)


@dataclass(frozen=True)
class CountResult:
    count: int
    took_ms: int
    body: dict[str, Any]


def count(es: Elasticsearch, text: str, ctx: Context, index: str | None = None) -> CountResult:
    """How many of the account's contacts are in the segment, as Elasticsearch counts."""
    body = compile_text(text, ctx)
    response = es.search(
        index=index or index_name(), routing=ctx.account, size=0, track_total_hits=True,
        query=body["query"],
    )
    return CountResult(int(response["hits"]["total"]["value"]), int(response["took"]), body)


def export_ids(
    es: Elasticsearch, text: str, ctx: Context, index: str | None = None, page: int = 5000
) -> Iterator[str]:
    """Stream the ids of the segment's contacts over one point-in-time snapshot, so that
    concurrent writes can neither duplicate nor skip a contact; ids come from doc values."""
    body = compile_text(text, ctx)
    pit = es.open_point_in_time(
        index=index or index_name(), routing=ctx.account, keep_alive="2m"
    )["id"]
    try:
        after: list[Any] | None = None
        while True:
            response = es.search(
                pit={"id": pit, "keep_alive": "2m"}, size=page, query=body["query"],
                sort=[{"_shard_doc": "asc"}], search_after=after, source=False,
                docvalue_fields=[{"field": "contact_id"}], track_total_hits=False,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["fields"]["contact_id"][0]
            if len(hits) < page:
                return
            pit = response.get("pit_id", pit)
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)
