"""Exporting a segment's recipients over a point-in-time snapshot: pages by `search_after`
in contact id order, parallel slices for large segments merged back into that order, per
channel. When the snapshot loses a shard (a node died, the point in time is gone), the
export waits for the index to be readable again, opens a new snapshot and resumes after the
last contact it gave: every contact once, in contact id order (docs/send-time.md)."""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from elasticsearch import Elasticsearch

from segql.api.contact_index import index_name
from segql.api.reach import LeftOut, channel_aggs, left_out_reason, status_path
from segql.api.resolve import (
    CHANNELS,
    DEFAULT_PAGE,
    DEFAULT_SLICES,
    KEEP_ALIVE,
    SLICE_ABOVE,
    Segment,
    address_path,
    checked,
    on_target,
)
from segql.compiler.context import Context
from segql.errors import InputError
from segql.stores import searches
from segql.stores.failures import (
    ClusterError,
    MissingIndexError,
    ShardsUnavailableError,
    translate,
    url_of,
)

T = TypeVar("T")

#: The order of a plain scan (fastest; a snapshot's own, so no resume across snapshots).
SHARD_ORDER: list[dict[str, Any]] = [{"_shard_doc": "asc"}]
#: The export's order: by contact id (unique in an account), so that a new snapshot can
#: resume exactly after the last contact given.
ID_ORDER: list[dict[str, Any]] = [{"contact_id": "asc"}]
#: How many times one export may renew its snapshot, and how long (seconds) each renewal
#: waits for the index to be readable again (every primary assigned: yellow or green).
MAX_RENEWALS = 5
RECOVER_WITHIN = 60.0


@dataclass(frozen=True, slots=True)
class Recipient:
    """One row of an export: a contact, and with a channel one of its addresses."""

    contact_id: str
    address: str | None = None


def _snapshot_search(es: Elasticsearch, pit: str, query: dict[str, Any], fields: list[str],
                     *, page: int, after: list[Any] | None = None,
                     slice_: tuple[int, int] | None = None, count: bool = False,
                     sort: list[dict[str, Any]] = SHARD_ORDER,
                     aggs: dict[str, Any] | None = None) -> dict[str, Any]:
    """One page of a snapshot, after `after` in `sort` order; doc values only."""
    return searches.search(
        es, pit={"id": pit, "keep_alive": KEEP_ALIVE}, size=page, query=query,
        sort=sort, search_after=after, source=False,
        docvalue_fields=[{"field": name} for name in fields], track_total_hits=count,
        slice={"id": slice_[0], "max": slice_[1]} if slice_ else None, aggs=aggs,
    )


def snapshot_pages(es: Elasticsearch, pit: str, query: dict[str, Any], fields: list[str],
                   *, page: int, slice_: tuple[int, int] | None = None,
                   first: dict[str, Any] | None = None,
                   sort: list[dict[str, Any]] = SHARD_ORDER) -> Iterator[list[dict[str, Any]]]:
    """Every hit of `query` in a point-in-time snapshot (or in slice (id, max) of it), page
    by page, by `search_after` in `sort` order: each document of the snapshot exactly
    once, whatever is written meanwhile. `first`: the first page's response, if read."""
    response = first
    after: list[Any] | None = None
    while True:
        if response is None:
            response = _snapshot_search(es, pit, query, fields, page=page, after=after,
                                        slice_=slice_, sort=sort)
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
    threads = [threading.Thread(target=_feed, args=(source, waiting, stop), daemon=True)
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


def sorted_merge(sources: Sequence[Callable[[], Iterator[list[T]]]], key: Callable[[T], Any],
                 buffer: int = 2) -> Iterator[T]:
    """The items of sources that each give pages of items sorted by `key`, as one stream
    sorted by `key`. Each source runs in its own thread at most `buffer` pages ahead, so
    memory stays flat; an error of a source is raised when its next item is needed, after
    every smaller item was given. Stopping early (closing) stops the threads."""
    stop = threading.Event()
    queues: list[queue.Queue[tuple[str, Any]]] = [queue.Queue(maxsize=buffer)
                                                  for _ in sources]
    threads = [threading.Thread(target=_feed, args=(source, waiting, stop), daemon=True)
               for source, waiting in zip(sources, queues, strict=True)]
    for thread in threads:
        thread.start()

    def drain(waiting: queue.Queue[tuple[str, Any]]) -> Iterator[T]:
        while True:
            kind, value = waiting.get()
            if kind == "item":
                yield from value
            elif kind == "done":
                return
            else:
                raise value

    try:
        yield from heapq.merge(*(drain(waiting) for waiting in queues), key=key)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _feed(source: Callable[[], Iterator[Any]], waiting: queue.Queue[tuple[str, Any]],
          stop: threading.Event) -> None:
    """Run `source` in this thread into `waiting`, until it ends, fails or `stop`."""

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in source():
            if not put("item", item):
                return
        put("done", None)
    except BaseException as error:  # handed to the consumer, raised there
        put("error", error)


@dataclass
class Export(Iterator[Recipient]):
    """The recipients of a segment over a point-in-time snapshot (see `export`).

    The counters are final once the iteration ends: `contacts` in the segment, `exported`
    rows, `left_out` contacts by reason (`reach`: consent unsubscribed, bounced or
    complained, else no address for the channel; `without_address` is its `no_address`),
    `renewed` how many times the snapshot was lost and a new one taken (0: one snapshot
    throughout). With a channel, `expected_left_out` is what the first snapshot holds,
    known once `open`ed (Elasticsearch's count of the same reasons); an export that kept
    its one snapshot checks it left out exactly as many.
    """

    es: Elasticsearch
    query: dict[str, Any]
    account: str
    index: str
    channel: str | None = None
    slices: int | None = None
    page: int = DEFAULT_PAGE
    max_renewals: int = MAX_RENEWALS
    recover_within: float = RECOVER_WITHIN
    contacts: int = 0
    exported: int = 0
    left_out: LeftOut = field(default_factory=LeftOut)
    expected_left_out: LeftOut | None = None
    renewed: int = 0
    _pit: str | None = field(default=None, repr=False)
    _first: dict[str, Any] | None = field(default=None, repr=False)
    _last: str | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)
    _rows: Generator[Recipient] | None = field(default=None, repr=False)

    def open(self) -> int:
        """Open the snapshot (the export's moment) if not yet; the segment's size in it."""
        if self._closed:
            raise ValueError("the export is closed")
        if self._pit is None:
            self._pit = self._open_snapshot()
        if self._first is None:  # the first page tells the segment's size
            self._first = _snapshot_search(
                self.es, self._pit, self.query, self._fields, page=self.page, count=True,
                sort=ID_ORDER,
                aggs=channel_aggs((self.channel,)) if self.channel else None)
            if self.channel:
                self.expected_left_out = LeftOut.of_buckets(
                    self._first["aggregations"][self.channel]["buckets"])
        return int(self._first["hits"]["total"]["value"])

    def _open_snapshot(self) -> str:
        """A point in time of the concrete index behind the contact index, routed to the
        account's shards in it (looked up again at each renewal: a reindex may have
        switched, and the old index is closed then)."""
        return on_target(self.es, self.index, lambda target: searches.open_point_in_time(
            self.es, index=target.index, routing=target.search_routing(self.account),
            keep_alive=KEEP_ALIVE))

    def summary(self) -> dict[str, Any]:
        """What an export reports at its end (`segql export` on stderr, the HTTP export's
        completion line): rows, contacts, and with a channel who it left out, by reason."""
        summary: dict[str, Any] = {"exported": self.exported, "contacts": self.contacts,
                                   "without_address": self.without_address,
                                   "renewed": self.renewed}
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
    def snapshot(self) -> str | None:
        """The id of the point in time read now (None before `open` and after the end)."""
        return self._pit

    @property
    def _fields(self) -> list[str]:
        if self.channel is None:
            return ["contact_id"]
        return ["contact_id", address_path(self.channel), status_path(self.channel)]

    def _release(self) -> None:
        self._closed = True
        self._drop_snapshot()

    def _drop_snapshot(self) -> None:
        if self._pit is not None:
            pit, self._pit = self._pit, None
            with contextlib.suppress(Exception):  # a lost snapshot may not be closable
                searches.close_point_in_time(self.es, pit)

    def _run(self) -> Generator[Recipient]:
        try:
            total = self.open()
            slices = self.slices or (DEFAULT_SLICES if total > SLICE_ABOVE else 1)
            while True:
                try:
                    for hit in self._hits(slices):
                        yield from self._recipients(hit["fields"])
                        self._last = hit["sort"][0]
                    break
                except Exception as error:  # renewed, or raised as it was
                    self._renew(error)
            if self.renewed == 0 and self.expected_left_out not in (None, self.left_out):
                raise AssertionError("the export left out other contacts than its "
                                     "snapshot counted")
        finally:
            self._release()

    def _hits(self, slices: int) -> Iterator[dict[str, Any]]:
        """The snapshot's hits after the last contact given, in contact id order."""
        assert self._pit is not None
        query = self.query if self._last is None else {"bool": {"filter": [
            self.query, {"range": {"contact_id": {"gt": self._last}}}]}}
        pages = partial(snapshot_pages, self.es, self._pit, query, self._fields,
                        page=self.page, sort=ID_ORDER)
        first, self._first = self._first, None
        if slices == 1:
            return (hit for batch in pages(first=first) for hit in batch)
        return sorted_merge([partial(pages, slice_=(i, slices)) for i in range(slices)],
                            key=_contact_order)

    def _renew(self, error: Exception) -> None:
        """After `error` while reading: a new snapshot once the index is readable again
        (within `recover_within` seconds), or `error` as a ClusterError."""
        url = url_of(self.es)
        found = translate(error, url)
        if found is None or not _lost_snapshot(found):
            raise error
        if self.renewed >= self.max_renewals:
            raise ShardsUnavailableError(
                f"the export's snapshot was lost {self.renewed + 1} times, the limit is "
                f"{self.max_renewals} renewals", url=url, status=503) from error
        self.renewed += 1
        self._drop_snapshot()
        deadline = time.monotonic() + self.recover_within
        while True:
            try:
                self._pit = self._open_snapshot()
                return
            except Exception as again:  # still recovering?
                cause = translate(again, url)
                if cause is None or not _lost_snapshot(cause):
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise ShardsUnavailableError(
                    f"the export's snapshot lost a shard and the index was not readable "
                    f"again within {self.recover_within:g} s", url=url, status=503
                ) from error
            try:  # until every primary of the index is assigned again (or a while)
                self.es.cluster.health(index=self.index, wait_for_status="yellow",
                                       timeout=f"{max(1, min(5, int(left)))}s")
            except Exception:  # an unreachable or failing cluster: try again shortly
                time.sleep(min(0.5, max(left, 0)))

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


def _contact_order(hit: dict[str, Any]) -> str:
    return str(hit["sort"][0])


def _lost_snapshot(error: ClusterError) -> bool:
    """Whether an error while reading a snapshot means it lost a shard (or is gone), so
    that a new one may do once the cluster has recovered."""
    if isinstance(error, MissingIndexError):  # the index itself is gone: no new snapshot
        return False
    return (isinstance(error, ShardsUnavailableError) or error.status == 404 or
            error.kind in ("server-error", "unreachable", "timeout", "overloaded"))


def export(es: Elasticsearch, segment: Segment, ctx: Context, *, channel: str | None = None,
           index: str | None = None, slices: int | None = None,
           page: int = DEFAULT_PAGE) -> Export:
    """Stream the segment's recipients over a point-in-time snapshot, in contact id order,
    so that concurrent writes can neither duplicate nor skip a contact; a snapshot that
    loses a shard is renewed (see `Export`, docs/send-time.md). Without `channel`, one Recipient per
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
