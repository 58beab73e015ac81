"""Counting: a segment's size (with per-channel reach, in the same request), the sizes of
many segments in one `msearch`, and one page of members for a screen."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from segql.api.contact_index import index_name
from segql.api.reach import LeftOut, channel_aggs
from segql.api.resolve import (
    CHANNELS,
    MAX_WINDOW,
    IndexGoneError,
    Segment,
    checked,
    on_target,
)
from segql.compiler.context import Context
from segql.errors import InputError, SegmentError
from segql.stores import searches
from segql.stores.failures import from_answer
from segql.stores.placement import Target, gone


@dataclass(frozen=True)
class CountResult:
    count: int
    took_ms: int
    body: dict[str, Any]
    #: With `channels`: per channel, how many of them it reaches (an address, and no
    #: consent state that keeps them out: `reach`), and how many it leaves out, by reason.
    reachable: dict[str, int] | None = None
    left_out: dict[str, LeftOut] | None = None


def count(es: Elasticsearch, segment: Segment, ctx: Context, index: str | None = None, *,
          channels: bool = False) -> CountResult:
    """How many of the account's contacts are in the segment, as Elasticsearch counts;
    with `channels`, also how many each channel reaches and leaves out, by reason (never
    one whose consent for it is unsubscribed, bounced or complained: `reach`) — in the
    same request, so on one state of the index."""
    _, body = checked(segment, ctx)
    response = on_target(es, index, lambda target: searches.search(
        es, index=target.index, routing=target.search_routing(ctx.account), size=0,
        track_total_hits=True, query=body["query"],
        aggs=channel_aggs() if channels else None))
    reachable = left_out = None
    if channels:
        aggs = response["aggregations"]
        reachable = {channel: int(aggs[channel]["buckets"]["reachable"]["doc_count"])
                     for channel in CHANNELS}
        left_out = {channel: LeftOut.of_buckets(aggs[channel]["buckets"])
                    for channel in CHANNELS}
    return CountResult(int(response["hits"]["total"]["value"]), int(response["took"]), body,
                       reachable, left_out)


@dataclass(frozen=True)
class CountError:
    """Why one segment of a list has no count, in plain words: it does not check (the
    code of its first problem, e.g. E_TOO_MANY_CONDITIONS) or Elasticsearch could not
    count it (E_TOO_COMPLEX, E_SEARCH_FAILED)."""

    code: str
    message: str
    hint: str | None = None

    @classmethod
    def of(cls, error: SegmentError) -> CountError:
        first = error.diagnostics[0] if error.diagnostics else None
        return cls(first.code if first else "E_INVALID", str(error),
                   first.hint if first else None)

    @classmethod
    def of_api(cls, error: ApiError) -> CountError:
        """An Elasticsearch error response (a single search's) as a CountError."""
        body = error.body if isinstance(error.body, dict) else {}
        found = _counted({"error": body.get("error", {}), "status": error.meta.status})
        assert isinstance(found, CountError)
        return found

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message,
                **({"hint": self.hint} if self.hint else {})}


def _causes(error: Any) -> Iterator[str]:
    """The `type` of an Elasticsearch error and of every error under it."""
    if isinstance(error, dict):
        if isinstance(error.get("type"), str):
            yield error["type"]
        for value in error.values():
            yield from _causes(value)
    elif isinstance(error, list):
        for value in error:
            yield from _causes(value)


def _counted(response: dict[str, Any]) -> int | CountError:
    """One msearch response as a count, or why it is none (never Elasticsearch's own
    words: they name internals)."""
    status = int(response.get("status", 200))
    if "error" in response:
        if {"too_many_clauses", "too_many_nested_clauses"} & set(_causes(response["error"])):
            return CountError("E_TOO_COMPLEX", "Elasticsearch refused the query: it has more "
                              "clauses than this cluster accepts",
                              "make the segment or the saved segments it refers to smaller")
        return CountError("E_SEARCH_FAILED", str(from_answer(status, response["error"])))
    if response.get("timed_out") or response.get("_shards", {}).get("failed", 0):
        return CountError("E_SEARCH_FAILED", "Elasticsearch counted only part of the index "
                          "(a shard failed or timed out)", "try again in a moment")
    return int(response["hits"]["total"]["value"])


def count_many(es: Elasticsearch, segments: Sequence[Segment], ctx: Context,
               index: str | None = None) -> list[int | CountError]:
    """The count of each segment, in one `msearch`. A segment that does not check (e.g. a
    saved one whose fields changed type since, or over a limit with its saved segments
    expanded) or that Elasticsearch fails to count gets a CountError instead: one segment
    never fails the others."""
    queries: list[dict[str, Any] | CountError] = []
    for segment in segments:
        try:
            queries.append(checked(segment, ctx)[1]["query"])
        except SegmentError as error:
            queries.append(CountError.of(error))
    counts = iter(count_queries(es, [q for q in queries if not isinstance(q, CountError)],
                                index or index_name(), ctx.account))
    return [query if isinstance(query, CountError) else next(counts) for query in queries]


def count_queries(es: Elasticsearch, queries: Sequence[dict[str, Any]], index: str,
                  account: str) -> list[int | CountError]:
    """The count of each compiled query of the account in one `msearch`, or its
    CountError."""

    def counted(target: Target) -> list[int | CountError]:
        header = {"index": target.index, "routing": target.search_routing(account)}
        responses = searches.msearch(es, [(header, {"size": 0, "track_total_hits": True,
                                                    "query": query}) for query in queries])
        if any(gone(response.get("error") or "") for response in responses):
            raise IndexGoneError  # switched meanwhile: look the index up again
        return [_counted(response) for response in responses]

    return on_target(es, index, counted)


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
    response = on_target(es, index, lambda target: searches.search(
        es, index=target.index, routing=target.search_routing(ctx.account),
        query=body["query"], from_=(page - 1) * size, size=size, track_total_hits=True,
        source=False, docvalue_fields=[{"field": "contact_id"}],
        sort=[{"contact_id": "asc"}]))
    return Members(int(response["hits"]["total"]["value"]),
                   [hit["fields"]["contact_id"][0] for hit in response["hits"]["hits"]])
