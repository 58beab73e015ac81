"""Counting: a segment's size (with per-channel reach, in the same request), the sizes of
many segments in one `msearch`, and one page of members for a screen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from segql.api.contact_index import index_name
from segql.api.resolve import (
    CHANNELS,
    MAX_WINDOW,
    Segment,
    address_path,
    checked,
    ok,
)
from segql.compiler.context import Context
from segql.errors import InputError, SegmentError


@dataclass(frozen=True)
class CountResult:
    count: int
    took_ms: int
    body: dict[str, Any]
    #: With `channels`: per channel, how many of them have an address for it.
    reachable: dict[str, int] | None = None


def count(es: Elasticsearch, segment: Segment, ctx: Context, index: str | None = None, *,
          channels: bool = False) -> CountResult:
    """How many of the account's contacts are in the segment, as Elasticsearch counts;
    with `channels`, also how many are reachable per channel — in the same request."""
    _, body = checked(segment, ctx)
    aggs = {"reachable": {"filters": {"filters": {
        channel: {"exists": {"field": address_path(channel)}} for channel in CHANNELS
    }}}} if channels else None
    response = es.search(
        index=index or index_name(), routing=ctx.account, size=0, track_total_hits=True,
        query=body["query"], aggs=aggs,
    )
    reachable = None
    if channels:
        buckets = response["aggregations"]["reachable"]["buckets"]
        reachable = {channel: int(buckets[channel]["doc_count"]) for channel in CHANNELS}
    return CountResult(int(response["hits"]["total"]["value"]), int(response["took"]), body,
                       reachable)


def count_many(es: Elasticsearch, segments: Sequence[Segment], ctx: Context,
               index: str | None = None) -> list[int | SegmentError]:
    """The count of each segment, in one `msearch`; a segment that does not check (e.g. a
    saved one whose fields changed type since) gets its SegmentError instead."""
    queries: list[dict[str, Any] | SegmentError] = []
    for segment in segments:
        try:
            queries.append(checked(segment, ctx)[1]["query"])
        except SegmentError as error:
            queries.append(error)
    header = {"index": index or index_name(), "routing": ctx.account}
    searches = [part for query in queries if not isinstance(query, SegmentError)
                for part in (header, {"size": 0, "track_total_hits": True, "query": query})]
    responses = iter(es.msearch(searches=searches)["responses"] if searches else [])
    return [query if isinstance(query, SegmentError) else
            int(ok(next(responses))["hits"]["total"]["value"]) for query in queries]


@dataclass(frozen=True)
class Members:
    total: int
    ids: list[str]


def members(es: Elasticsearch, segment: Segment, ctx: Context, *, index: str | None = None,
            page: int = 1, size: int = 20) -> Members:
    """One page of the segment's contact ids, sorted, with the segment's count: what a
    screen shows. For all of them, use `export`."""
    if page < 1 or size < 1 or page * size > MAX_WINDOW:
        raise InputError(f"pages reach the first {MAX_WINDOW:,} contacts; use export "
                         "for all of them")
    _, body = checked(segment, ctx)
    response = es.search(
        index=index or index_name(), routing=ctx.account, query=body["query"],
        from_=(page - 1) * size, size=size, track_total_hits=True, source=False,
        docvalue_fields=[{"field": "contact_id"}], sort=[{"contact_id": "asc"}],
    )
    return Members(int(response["hits"]["total"]["value"]),
                   [hit["fields"]["contact_id"][0] for hit in response["hits"]["hits"]])
