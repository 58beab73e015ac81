"""The library API: what the CLI does, for other programs (`from segql import count`).

A segment is given as text or as a checked-on-use AST (the visual builder's JSON form,
`segql.grammar.jsonform`); `context` loads what it is evaluated against from the cluster.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from segql.compiler.check import check
from segql.compiler.checked import Checked
from segql.compiler.context import Context
from segql.compiler.definitions import definition
from segql.compiler.explain import Explanation
from segql.compiler.explain import explain as explain_tree
from segql.compiler.to_es import compile_segment
from segql.contract.document import document_contact, document_id, field_path
from segql.errors import InputError, SegmentError, SegqlError
from segql.grammar import ast
from segql.grammar.parser import parse
from segql.stores.catalogs import CatalogStore, catalog_index_name
from segql.stores.saved_segments import SegmentNotFoundError, SegmentStore, segment_index_name

DEFAULT_INDEX = "segql-contacts"
#: A channel and the contact address field that reaches it.
CHANNELS = {"email": "email", "sms": "phone", "push": "push_tokens"}
#: Contacts per export page, and how long a snapshot lives between two pages.
DEFAULT_PAGE = 5000
KEEP_ALIVE = "2m"
#: Segments larger than this are exported in parallel slices of the snapshot.
SLICE_ABOVE = 50_000
DEFAULT_SLICES = 4
#: Deepest page `members` serves (Elasticsearch's `index.max_result_window`).
MAX_WINDOW = 10_000

Segment = str | ast.Expr
T = TypeVar("T")


class ContactNotFoundError(SegqlError):
    """The account has no contact of that id (exit 1)."""


def index_name() -> str:
    """The contact index: `$SEGQL_INDEX`, else `segql-contacts`."""
    return os.environ.get("SEGQL_INDEX", DEFAULT_INDEX)


def segment_store(es: Elasticsearch, index: str | None = None) -> SegmentStore:
    """The saved segments that go with a contact index."""
    return SegmentStore(es, segment_index_name(index or index_name()))


def context(
    es: Elasticsearch,
    account: str,
    *,
    index: str | None = None,
    now: datetime | None = None,
    timezone: ZoneInfo | None = None,
) -> Context:
    """Everything a segment of `account` is evaluated against, from the cluster: the
    account's catalog (declared over learned), its saved segments (for `in_segment`) and
    the evaluation time and zone."""
    contacts = index or index_name()
    catalog = CatalogStore(es, catalog_index_name(contacts)).get(account)
    return Context(account=account, now=now or datetime.now(UTC),
                   timezone=timezone or ZoneInfo("UTC"), catalog=catalog,
                   segments=segment_store(es, contacts).definitions(account))


def prepare(text: str, ctx: Context) -> Checked:
    """Parse and check a segment's text: its checked tree; raises SegmentError with
    positions."""
    return check(parse(text), ctx, text)


def compile_text(text: str, ctx: Context) -> dict[str, Any]:
    """The Elasticsearch request body of a segment's text."""
    return compile_segment(prepare(text, ctx))


def _checked(segment: Segment, ctx: Context) -> tuple[Checked, dict[str, Any]]:
    """A segment (text or AST) checked, and its request body."""
    checked = prepare(segment, ctx) if isinstance(segment, str) else check(segment, ctx)
    return checked, compile_segment(checked)


def saved_text(ctx: Context, name: str) -> str:
    """The expression of the account's saved segment `name` (loaded by `context`)."""
    found = definition(ctx, name)
    if found is None:
        raise SegmentNotFoundError(f"account {ctx.account!r} has no saved segment {name!r}")
    return found[1]


def address_path(channel: str) -> str:
    """The raw (doc-values) field of a channel's addresses."""
    return field_path(CHANNELS[channel], "v")


# --- count -------------------------------------------------------------------------------


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
    _, body = _checked(segment, ctx)
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
            queries.append(_checked(segment, ctx)[1]["query"])
        except SegmentError as error:
            queries.append(error)
    header = {"index": index or index_name(), "routing": ctx.account}
    searches = [part for query in queries if not isinstance(query, SegmentError)
                for part in (header, {"size": 0, "track_total_hits": True, "query": query})]
    responses = iter(es.msearch(searches=searches)["responses"] if searches else [])
    return [query if isinstance(query, SegmentError) else
            int(_ok(next(responses))["hits"]["total"]["value"]) for query in queries]


def _ok(response: dict[str, Any]) -> dict[str, Any]:
    """One response of an msearch, or its error raised."""
    if "error" in response:
        raise SegqlError(f"Elasticsearch: {response['error'].get('reason', response['error'])}")
    return response


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
    _, body = _checked(segment, ctx)
    response = es.search(
        index=index or index_name(), routing=ctx.account, query=body["query"],
        from_=(page - 1) * size, size=size, track_total_hits=True, source=False,
        docvalue_fields=[{"field": "contact_id"}], sort=[{"contact_id": "asc"}],
    )
    return Members(int(response["hits"]["total"]["value"]),
                   [hit["fields"]["contact_id"][0] for hit in response["hits"]["hits"]])


# --- export ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """One row of an export: a contact, and with a channel one of its addresses."""

    contact_id: str
    address: str | None = None


def _snapshot_search(es: Elasticsearch, pit: str, query: dict[str, Any], fields: list[str],
                     *, page: int, after: list[Any] | None = None,
                     slice_: tuple[int, int] | None = None, count: bool = False
                     ) -> dict[str, Any]:
    """One page of a snapshot, after `after` in `_shard_doc` order; doc values only."""
    response: dict[str, Any] = es.search(
        pit={"id": pit, "keep_alive": KEEP_ALIVE}, size=page, query=query,
        sort=[{"_shard_doc": "asc"}], search_after=after, source=False,
        docvalue_fields=[{"field": name} for name in fields], track_total_hits=count,
        slice={"id": slice_[0], "max": slice_[1]} if slice_ else None,
    ).body
    return response


def snapshot_pages(es: Elasticsearch, pit: str, query: dict[str, Any], fields: list[str],
                   *, page: int, slice_: tuple[int, int] | None = None,
                   first: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Every hit of `query` in a point-in-time snapshot (or in slice (id, max) of it), page
    by page, by `search_after` on `_shard_doc`: each document of the snapshot exactly
    once, whatever is written meanwhile. `first`: the first page's response, if read."""
    response = first
    after: list[Any] | None = None
    while True:
        if response is None:
            response = _snapshot_search(es, pit, query, fields, page=page, after=after,
                                        slice_=slice_)
        hits = response["hits"]["hits"]
        if hits:
            yield hits
        if len(hits) < page:
            return
        pit = response.get("pit_id", pit)
        after = hits[-1]["sort"]
        response = None


def merged(sources: Sequence[Callable[[], Iterator[T]]], buffer: int) -> Iterator[T]:
    """The items of every source, each source run in its own thread; at most `buffer`
    items wait, so memory stays flat. Stopping early (closing) stops the threads."""
    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=buffer)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(source: Callable[[], Iterator[T]]) -> None:
        try:
            for item in source():
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as error:  # handed to the consumer, raised there
            put("error", error)

    threads = [threading.Thread(target=run, args=(source,), daemon=True)
               for source in sources]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            kind, value = waiting.get()
            if kind == "item":
                yield value
            elif kind == "done":
                running -= 1
            else:
                raise value
    finally:
        stop.set()
        for thread in threads:
            thread.join()


@dataclass
class Export(Iterator[Recipient]):
    """The recipients of a segment over one point-in-time snapshot (see `export`).

    The counters are final once the iteration ends: `contacts` in the segment, `exported`
    rows, `without_address` contacts left out for lacking the channel's address.
    """

    es: Elasticsearch
    query: dict[str, Any]
    account: str
    index: str
    channel: str | None = None
    slices: int | None = None
    page: int = DEFAULT_PAGE
    contacts: int = 0
    exported: int = 0
    without_address: int = 0
    _pit: str | None = field(default=None, repr=False)
    _first: dict[str, Any] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)
    _rows: Generator[Recipient] | None = field(default=None, repr=False)

    def open(self) -> int:
        """Open the snapshot (the export's moment) if not yet; the segment's size in it."""
        if self._closed:
            raise ValueError("the export is closed")
        if self._pit is None:
            self._pit = self.es.open_point_in_time(
                index=self.index, routing=self.account, keep_alive=KEEP_ALIVE)["id"]
        if self._first is None:  # the first page tells the segment's size
            self._first = _snapshot_search(self.es, self._pit, self.query, self._fields,
                                           page=self.page, count=True)
        return int(self._first["hits"]["total"]["value"])

    def __next__(self) -> Recipient:
        if self._rows is None:
            self._rows = self._run()
        return next(self._rows)

    def close(self) -> None:
        """Stop early and release the snapshot (also done when the iteration ends)."""
        if self._rows is not None:
            self._rows.close()
        self._release()

    def __enter__(self) -> Export:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @property
    def _fields(self) -> list[str]:
        return ["contact_id", *([address_path(self.channel)] if self.channel else [])]

    def _release(self) -> None:
        self._closed = True
        if self._pit is not None:
            pit, self._pit = self._pit, None
            self.es.options(ignore_status=404).close_point_in_time(id=pit)

    def _run(self) -> Generator[Recipient]:
        try:
            total = self.open()
            assert self._pit is not None
            slices = self.slices or (DEFAULT_SLICES if total > SLICE_ABOVE else 1)
            pages = partial(snapshot_pages, self.es, self._pit, self.query, self._fields,
                            page=self.page)
            hits = pages(first=self._first) if slices == 1 else merged(
                [partial(pages, slice_=(i, slices)) for i in range(slices)], buffer=2 * slices)
            for batch in hits:
                for hit in batch:
                    yield from self._recipients(hit["fields"])
        finally:
            self._release()

    def _recipients(self, fields: dict[str, list[str]]) -> Iterator[Recipient]:
        contact_id = fields["contact_id"][0]
        self.contacts += 1
        if self.channel is None:
            self.exported += 1
            yield Recipient(contact_id)
            return
        addresses = fields.get(address_path(self.channel), [])
        if not addresses:
            self.without_address += 1
        for address in addresses:
            self.exported += 1
            yield Recipient(contact_id, address)


def export(es: Elasticsearch, segment: Segment, ctx: Context, *, channel: str | None = None,
           index: str | None = None, slices: int | None = None,
           page: int = DEFAULT_PAGE) -> Export:
    """Stream the segment's recipients over one point-in-time snapshot, so that concurrent
    writes can neither duplicate nor skip a contact. Without `channel`, one Recipient per
    contact; with one (`email`, `sms`, `push`), one per address of that channel (every push
    token), and contacts without one are left out and counted (`without_address`). Large
    segments (over SLICE_ABOVE) are read in `slices` parallel slices (default
    DEFAULT_SLICES). Only doc values are read; memory stays flat in the segment's size."""
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    _, body = _checked(segment, ctx)
    return Export(es, body["query"], ctx.account, index or index_name(), channel, slices, page)


def export_ids(
    es: Elasticsearch, text: str, ctx: Context, index: str | None = None, page: int = DEFAULT_PAGE
) -> Iterator[str]:
    """Stream the ids of the segment's contacts (see `export`)."""
    return (row.contact_id for row in export(es, text, ctx, index=index, page=page))


# --- explain -----------------------------------------------------------------------------


def explain(es: Elasticsearch, segment: Segment, ctx: Context, contact_id: str, *,
            index: str | None = None) -> Explanation:
    """Why one contact is or is not in the segment: every node of the expression marked
    true or false by Elasticsearch (events and visits with their count n), next to the
    reference evaluator's answer on the stored contact — all read from one snapshot.
    `Explanation.disagreements()` lists the nodes where the two differ (a bug)."""
    expr, _ = _checked(segment, ctx)
    doc_id = document_id(ctx.account, contact_id)
    pit = es.open_point_in_time(index=index or index_name(), routing=ctx.account,
                                keep_alive=KEEP_ALIVE)["id"]
    try:
        hits = es.search(pit={"id": pit}, size=1, query={"bool": {"filter": [
            {"ids": {"values": [doc_id]}}, {"term": {"account": ctx.account}}]}},
        )["hits"]["hits"]
        if not hits:
            raise ContactNotFoundError(f"account {ctx.account!r} has no contact "
                                       f"{contact_id!r}")

        def search(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
            searches = [part for body in bodies for part in ({}, {**body, "pit": {"id": pit}})]
            return [_ok(r) for r in es.msearch(searches=searches)["responses"]]

        return explain_tree(expr, document_contact(hits[0]["_source"]), doc_id, search)
    finally:
        es.options(ignore_status=404).close_point_in_time(id=pit)
