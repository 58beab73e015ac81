"""Exporting a segment's recipients over one point-in-time snapshot: pages by
`search_after` on `_shard_doc`, parallel slices for large segments, per channel."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from elasticsearch import Elasticsearch

from segql.api.contact_index import index_name
from segql.api.reach import LeftOut, channel_aggs, complete, left_out_reason, status_path
from segql.api.resolve import (
    CHANNELS,
    DEFAULT_PAGE,
    DEFAULT_SLICES,
    KEEP_ALIVE,
    SLICE_ABOVE,
    Segment,
    address_path,
    checked,
)
from segql.compiler.context import Context
from segql.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One row of an export: a contact, and with a channel one of its addresses."""

    contact_id: str
    address: str | None = None


def _snapshot_search(es: Elasticsearch, pit: str, query: dict[str, Any], fields: list[str],
                     *, page: int, after: list[Any] | None = None,
                     slice_: tuple[int, int] | None = None, count: bool = False,
                     aggs: dict[str, Any] | None = None) -> dict[str, Any]:
    """One page of a snapshot, after `after` in `_shard_doc` order; doc values only; a
    page some shard did not answer is an error, never a silent gap."""
    response: dict[str, Any] = es.search(
        pit={"id": pit, "keep_alive": KEEP_ALIVE}, size=page, query=query,
        sort=[{"_shard_doc": "asc"}], search_after=after, source=False,
        docvalue_fields=[{"field": name} for name in fields], track_total_hits=count,
        slice={"id": slice_[0], "max": slice_[1]} if slice_ else None, aggs=aggs,
    ).body
    return complete(response, "export")


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
    rows, `left_out` contacts by reason (`reach`: consent unsubscribed, bounced or
    complained, else no address for the channel; `without_address` is its `no_address`).
    With a channel, `expected_left_out` is what the snapshot holds, known once `open`ed
    (Elasticsearch's count of the same reasons); the iteration checks it got as many.
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
    left_out: LeftOut = field(default_factory=LeftOut)
    expected_left_out: LeftOut | None = None
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
            self._first = _snapshot_search(
                self.es, self._pit, self.query, self._fields, page=self.page, count=True,
                aggs=channel_aggs((self.channel,)) if self.channel else None)
            if self.channel:
                self.expected_left_out = LeftOut.of_buckets(
                    self._first["aggregations"][self.channel]["buckets"])
        return int(self._first["hits"]["total"]["value"])

    def summary(self) -> dict[str, Any]:
        """What an export reports at its end (`segql export` on stderr, the HTTP export's
        completion line): rows, contacts, and with a channel who it left out, by reason."""
        summary: dict[str, Any] = {"exported": self.exported, "contacts": self.contacts,
                                   "without_address": self.without_address}
        if self.channel is not None:
            summary["left_out"] = self.left_out.to_json()
        return summary

    @property
    def without_address(self) -> int:
        """Contacts left out for having no address for the channel (and no consent state
        that left them out first)."""
        return self.left_out.no_address

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
        if self.channel is None:
            return ["contact_id"]
        return ["contact_id", address_path(self.channel), status_path(self.channel)]

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
            if self.expected_left_out not in (None, self.left_out):
                raise AssertionError("the export left out other contacts than its "
                                     "snapshot counted")
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
        status = fields.get(status_path(self.channel))
        reason = left_out_reason(status[0] if status else None, bool(addresses))
        if reason is not None:
            self.left_out.add(reason)
            return
        for address in addresses:
            self.exported += 1
            yield Recipient(contact_id, address)


def export(es: Elasticsearch, segment: Segment, ctx: Context, *, channel: str | None = None,
           index: str | None = None, slices: int | None = None,
           page: int = DEFAULT_PAGE) -> Export:
    """Stream the segment's recipients over one point-in-time snapshot, so that concurrent
    writes can neither duplicate nor skip a contact. Without `channel`, one Recipient per
    contact; with one (`email`, `sms`, `push`), one per address of that channel (every push
    token); contacts whose consent for it is unsubscribed, bounced or complained, and those
    without an address, are left out and counted by reason (`left_out`). Large
    segments (over SLICE_ABOVE) are read in `slices` parallel slices (default
    DEFAULT_SLICES). Only doc values are read; memory stays flat in the segment's size."""
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    _, body = checked(segment, ctx)
    return Export(es, body["query"], ctx.account, index or index_name(), channel, slices, page)


def export_ids(
    es: Elasticsearch, text: str, ctx: Context, index: str | None = None, page: int = DEFAULT_PAGE
) -> Iterator[str]:
    """Stream the ids of the segment's contacts (see `export`)."""
    return (row.contact_id for row in export(es, text, ctx, index=index, page=page))
