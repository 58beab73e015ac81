"""The incremental indexer: applies record streams (LANGUAGE.md §8) to the stored contact
documents, so that they stay current — idempotently, resumably, without losing an update.

A batch of records is grouped by contact (stream order kept within a contact). The stored
documents of those contacts are read (`mget`, with `_seq_no`/`_primary_term`) and turned
back into contacts (`document.document_contact`), each contact's records are applied with
`records.ContactStore` — the same fold the reference evaluator uses, so the index and the
evaluator can't disagree on what a stream means — and each contact that changed is
written once:

* a new contact is `create`d, an existing one `index`ed with `if_seq_no`/`if_primary_term`,
  a deleted one `delete`d with them; so when another indexer (or an earlier attempt) wrote
  the contact in between, the write fails with 409 instead of overwriting, and the contact
  is read again and its records re-applied on what is stored now. No update is lost.
* 429, 5xx and connection failures are retried with backoff, for as long as `max_wait`
  seconds of continuous failure (the node may be restarting); then the run fails.
* A document Elasticsearch refuses for good (a 4xx other than 409) sends that contact's
  records of the batch to the rejects, with Elasticsearch's reason; the stream goes on.

Why re-applying records is always safe (so a retry, a resumed run or the same stream again
never changes the result): for one contact, applying a sequence S twice gives what
applying it once gives. With a `delete` in S, both end in the state of what follows S's last
delete applied to nothing. Without one, every field ends at its last value in S (or stays),
an event or visit id already held is a no-op (first wins), and retention keeps the newest N
of the *set* of activities seen and counts the rest by their set of ids (`records.Dropped`).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any, TypeVar, cast

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from segql.compiler.catalog import Conflict, learn
from segql.errors import SegqlError
from segql.indexer.catalog_store import CatalogStore, catalog_index_name, merge_conflicts
from segql.indexer.checkpoint import Checkpoint, CheckpointStore, Input
from segql.indexer.document import contact_document, document_contact, document_id
from segql.indexer.mapping import create_index_once, index_body
from segql.indexer.records import (
    ACCOUNT_ID,
    MAX_EVENTS,
    MAX_VISITS,
    Contact,
    ContactStore,
    RecordError,
    Reject,
    read_records,
)

Key = tuple[str, str]
T = TypeVar("T")

#: Records per batch: each contact a batch mentions is read and written once, so a bigger
#: batch writes less (the sample stream: 2.3x faster than 5,000, for ~40 MB more memory),
#: and a batch is re-applied in seconds after a crash.
DEFAULT_BATCH_SIZE = 20_000
#: Seconds of continuous failure (node down, overloaded) before a run gives up.
DEFAULT_MAX_WAIT = 300.0
#: Bulk requests are cut at about this many bytes.
BULK_BYTES = 8 << 20
#: The initial load splits its input into partitions of about this many bytes (one is
#: held in memory at a time) ...
PARTITION_BYTES = 32 << 20
#: ... and into at most this many (open files); DEFAULT_LOAD_BYTES when the size is unknown
#: (gzip, stdin).
MAX_PARTITIONS = 512
DEFAULT_LOAD_BYTES = 2 << 30
#: Under --follow a batch is cut when its first record is this old (seconds), so that a
#: sustained stream is searchable within about a second, not only when it pauses.
FOLLOW_BATCH_SECONDS = 0.25
#: Documents are sent without spaces: smaller, and encoded twice as fast.
COMPACT = (",", ":")
#: Bulk requests in flight at once: the next documents are built while Elasticsearch
#: indexes the ones sent.
WRITERS = 3
#: Attempts to write one contact that keeps being written by someone else in between.
MAX_CONFLICT_ATTEMPTS = 50
#: What `document_contact` does not read: the indexed copies, left out of `mget`.
_DERIVED = ["fields", *(f"{kind}.p{slot}" for kind in ("events", "visits")
                        for slot in "frsndb")]


class IndexerError(SegqlError):
    """Elasticsearch stayed unavailable, or kept refusing, past the configured wait."""


@dataclass
class Line:
    """One non-blank input line: its number and what it parsed to (a Reject when it is not
    UTF-8 JSON)."""

    number: int
    record: Any


@dataclass
class Stats:
    """What a run did. `applied` + `unchanged` + `rejected` = `records`."""

    records: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    #: Requests or contacts tried again (429/5xx/unreachable, or 409 on a contact).
    retried: int = 0
    #: Documents written (index/create) and deleted.
    written: int = 0
    deleted: int = 0
    #: Elasticsearch's reasons for documents it refused.
    failed: list[str] = field(default_factory=list)
    #: Per account, catalog conflicts (values that don't fit their learned type).
    conflicts: dict[str, list[Conflict]] = field(default_factory=dict)

    COUNTED = ("records", "applied", "unchanged", "rejected", "retried")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTED}

    def add_counts(self, counts: dict[str, int]) -> None:
        for name in self.COUNTED:
            setattr(self, name, getattr(self, name) + counts.get(name, 0))


@dataclass
class BatchResult:
    """A batch once written: the rejects (by line) and the contacts it wrote or deleted."""

    rejects: list[Reject] = field(default_factory=list)
    written: list[Contact] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    #: What the written contacts got in this batch (fields, new events and visits).
    news: list[Contact] = field(default_factory=list)


@dataclass
class _Stored:
    source: dict[str, Any]
    seq_no: int
    primary_term: int


@dataclass
class _Outcome:
    """One contact's records applied to its stored state: the bulk lines that write it
    (None: nothing to write), and the counts to commit once that write succeeded."""

    key: Key
    lines: list[Line]
    contact: Contact | None = None
    #: The contact's fields with only its new events and visits: what there is to learn.
    news: Contact | None = None
    bulk: str | None = None
    applied: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)


def parse_line(number: int, raw: bytes) -> Any | None:
    """A record, a Reject (not UTF-8, not JSON) or None (a blank line)."""
    for _, parsed in read_records([raw]):
        return replace(parsed, line=number) if isinstance(parsed, Reject) else parsed
    return None


def _news(contact: Contact, before: Contact | None) -> Contact:
    """The contact with only the events and visits it did not have `before`: learning
    from it adds what learning from the whole contact would, at the cost of the news."""
    if before is None:
        return contact
    return replace(
        contact,
        events={i: e for i, e in contact.events.items() if i not in before.events},
        visits={i: v for i, v in contact.visits.items() if i not in before.visits},
    )


def _contact_key(record: Any) -> Key | None:
    """The contact a record is about, when it names one validly."""
    if not isinstance(record, dict):
        return None
    account = record.get("account")
    contact_id = record.get("contact" if record.get("type") in ("event", "visit") else "id")
    if isinstance(account, str) and ACCOUNT_ID.match(account) and isinstance(contact_id, str):
        return (account, contact_id)
    return None


def stored_contacts(es: Elasticsearch, index: str) -> Iterator[Contact]:
    """Every contact stored in the index, as `document_contact` gives it back (to compare
    an index with the reference fold of its records)."""
    for hit in helpers.scan(es, index=index, query={"query": {"match_all": {}}},
                            _source_excludes=_DERIVED, size=500):
        yield document_contact(hit["_source"])


def ensure_index(es: Elasticsearch, index: str) -> bool:
    """Create the contact index with segql's mapping unless it exists (then add what newer
    versions map, e.g. the retention counters); True if created."""
    body = index_body()
    if es.indices.exists(index=index):
        properties = body["mappings"]["properties"]
        mapped = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        missing = {name: properties[name] for name in properties if name not in mapped}
        if missing:  # an index from before them (putting needs `manage`: only then)
            es.indices.put_mapping(index=index, properties=missing)
        return False
    return create_index_once(es, index, body)


def _retryable(error: Exception) -> bool:
    if isinstance(error, ApiError):
        return error.meta.status == 429 or error.meta.status >= 500
    return isinstance(error, TransportError)


class Indexer:
    """Applies batches of records to one contact index (see the module doc)."""

    def __init__(
        self, es: Elasticsearch, index: str, *, max_events: int = MAX_EVENTS,
        max_visits: int = MAX_VISITS, max_wait: float = DEFAULT_MAX_WAIT,
        catalog_index: str | None = None,
    ) -> None:
        self.es = es
        self.index = index
        self.max_events = max_events
        self.max_visits = max_visits
        self.max_wait = max_wait
        self.stats = Stats()
        self.catalogs = CatalogStore(es, catalog_index or catalog_index_name(index))
        self._failing_since: float | None = None
        self._delay = 0.0
        self.call(ensure_index, es, index)

    # -- retries ---------------------------------------------------------------------

    def call(self, request: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a request, retrying 429/5xx/connection failures with backoff until
        `max_wait` seconds of continuous failure."""
        while True:
            try:
                result = request(*args, **kwargs)
            except (ApiError, TransportError) as error:
                if not _retryable(error):
                    raise
                self._backoff(error)
                continue
            self._failing_since = None
            self._delay = 0.0
            return result

    def _backoff(self, error: Exception) -> None:
        now = time.monotonic()
        self._failing_since = self._failing_since or now
        if now - self._failing_since > self.max_wait:
            raise IndexerError(f"Elasticsearch kept failing for {self.max_wait:.0f}s, "
                               f"giving up: {error}")
        self.stats.retried += 1
        self._delay = min(max(0.1, self._delay * 2), 5.0)
        time.sleep(self._delay * random.uniform(0.5, 1.0))

    # -- one batch -------------------------------------------------------------------

    def apply(self, lines: Sequence[Line]) -> BatchResult:
        """Apply and write one batch; returns once every contact of it is written (or
        rejected). The caller may then record that the batch is done."""
        result = BatchResult()
        groups = self._group(lines, result)
        self._settle(groups, result, absent=False)
        return self._finish(result)

    def load(self, lines: Sequence[Line]) -> BatchResult:
        """Like `apply`, for records of contacts that are most likely not stored yet (the
        initial load): nothing is read first, each contact is `create`d from all its
        records at once. A contact that exists after all (another writer was first) fails
        its `create` with 409 and goes the `apply` way: read, merge, write."""
        result = BatchResult()
        self._settle(self._group(lines, result), result, absent=True)
        return self._finish(result)

    def _group(self, lines: Sequence[Line], result: BatchResult) -> dict[Key, list[Line]]:
        """The lines by contact, stream order kept; what names no contact is rejected."""
        groups: dict[Key, list[Line]] = {}
        for line in lines:
            self.stats.records += 1
            key = _contact_key(line.record)
            if isinstance(line.record, Reject):
                result.rejects.append(line.record)
            elif key is None:
                result.rejects.append(self._reject_unkeyed(line))
            else:
                groups.setdefault(key, []).append(line)
        return groups

    def _settle(self, groups: dict[Key, list[Line]], result: BatchResult, *,
                absent: bool) -> None:
        """Fold and write every group; contacts written by someone else in between are
        read again and folded again, up to MAX_CONFLICT_ATTEMPTS times."""
        pending = list(groups)
        for attempt in range(MAX_CONFLICT_ATTEMPTS):
            if not pending:
                return
            if attempt:
                self.stats.retried += len(pending)
                time.sleep(random.uniform(0, 0.02 * attempt))
            stored = {} if absent and not attempt else self.call(self._read, pending)
            pending = self._write((self._fold(key, stored.get(key), groups[key])
                                   for key in pending), result)
        raise IndexerError(f"{len(pending)} contacts kept changing under "
                           f"{MAX_CONFLICT_ATTEMPTS} attempts to write them")

    def _finish(self, result: BatchResult) -> BatchResult:
        result.rejects.sort(key=lambda r: r.line)
        self.stats.rejected += len(result.rejects)
        if result.news:
            self.call(self._learn, result.news)
        return result

    def _reject_unkeyed(self, line: Line) -> Reject:
        try:
            ContactStore().apply(line.record)
        except RecordError as error:
            return Reject(line.number, str(error), line.record)
        raise AssertionError("a record without a valid contact key was accepted")

    def _read(self, keys: list[Key]) -> dict[Key, _Stored]:
        stored: dict[Key, _Stored] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            response = self.es.mget(index=self.index, source_excludes=_DERIVED, docs=[
                {"_id": document_id(*key), "routing": key[0]} for key in chunk])
            for key, doc in zip(chunk, response["docs"], strict=True):
                if "error" in doc:  # e.g. a shard still recovering: retried by `call`
                    raise TransportError(f"reading {doc['_id']}: {doc['error']}")
                if doc.get("found"):
                    stored[key] = _Stored(doc["_source"], doc["_seq_no"], doc["_primary_term"])
        return stored

    def _fold(self, key: Key, stored: _Stored | None, lines: list[Line]) -> _Outcome:
        """Apply one contact's records to its stored state (the reference fold)."""
        store = ContactStore(self.max_events, self.max_visits)
        before = document_contact(stored.source) if stored is not None else None
        if stored is not None:
            store.contacts[key] = document_contact(stored.source)
        outcome = _Outcome(key, lines)
        for line in lines:
            try:
                store.apply(line.record)
            except RecordError as error:
                outcome.rejects.append(Reject(line.number, str(error), line.record))
                continue
            if store.changed:
                outcome.applied += 1
            else:
                outcome.unchanged += 1
        final = outcome.contact = store.contacts.get(key)
        meta: dict[str, Any] = {"_index": self.index, "_id": document_id(*key),
                                "routing": key[0]}
        if stored is not None:
            meta |= {"if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term}
        if final is None:
            if before is not None:
                outcome.bulk = json.dumps({"delete": meta}) + "\n"
        elif final != before:
            outcome.bulk = (json.dumps({"index" if before else "create": meta}) + "\n"
                            + json.dumps(contact_document(final), ensure_ascii=False,
                                         separators=COMPACT) + "\n")
            outcome.news = _news(final, before)
        return outcome

    def _write(self, outcomes: Iterable[_Outcome], result: BatchResult) -> list[Key]:
        """Bulk-write the outcomes, WRITERS requests in flight while the next ones are
        folded; commit those done, return the keys to try again."""
        retry: list[Key] = []
        in_flight: deque[tuple[list[_Outcome], Future[Any]]] = deque()

        def settle() -> None:
            chunk, reply = in_flight.popleft()
            for outcome, item in zip(chunk, reply.result()["items"], strict=True):
                _, answer = next(iter(item.items()))
                status = answer.get("status", 500)
                if status < 300:
                    self._commit(outcome, result)
                elif status in (404, 409, 429) or status >= 500:
                    retry.append(outcome.key)  # read again, apply again, write again
                else:
                    self._refused(outcome, answer.get("error"), result)

        with ThreadPoolExecutor(WRITERS) as pool:
            for chunk in _chunks(self._to_send(outcomes, result)):
                if len(in_flight) >= WRITERS:
                    settle()
                body = "".join(o.bulk or "" for o in chunk)
                in_flight.append((chunk, pool.submit(self.call, self.es.bulk,
                                                     operations=cast(Any, body))))
            while in_flight:
                settle()
        return retry

    def _to_send(self, outcomes: Iterable[_Outcome], result: BatchResult
                 ) -> Iterator[_Outcome]:
        """The outcomes that write something; the others are committed on the way."""
        for outcome in outcomes:
            if outcome.bulk is None:
                self._commit(outcome, result)
            else:
                yield outcome

    def _commit(self, outcome: _Outcome, result: BatchResult) -> None:
        self.stats.applied += outcome.applied
        self.stats.unchanged += outcome.unchanged
        result.rejects.extend(outcome.rejects)
        if outcome.bulk is None:
            return
        if outcome.contact is None:
            self.stats.deleted += 1
            result.deleted.append(outcome.key)
        else:
            self.stats.written += 1
            result.written.append(outcome.contact)
            if outcome.news is not None:
                result.news.append(outcome.news)

    def _refused(self, outcome: _Outcome, error: Any, result: BatchResult) -> None:
        reason = (f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict)
                  else str(error))
        self.stats.failed.append(f"{document_id(*outcome.key)}: {reason}")
        rejected = {r.line for r in outcome.rejects}
        result.rejects.extend(outcome.rejects)
        # every record of the contact in this batch goes aside, its own reject included
        result.rejects.extend(
            Reject(line.number, f"Elasticsearch refused the contact's document: {reason}",
                   line.record)
            for line in outcome.lines if line.number not in rejected)

    def _learn(self, contacts: list[Contact]) -> None:
        by_account: dict[str, list[Contact]] = {}
        for contact in contacts:
            by_account.setdefault(contact.account, []).append(contact)
        for account, group in sorted(by_account.items()):
            learned = self.catalogs.merge_learned(account, learn(group))
            if learned.conflicts:
                self.stats.conflicts[account] = list(merge_conflicts(
                    self.stats.conflicts.get(account, []), learned.conflicts))

    def refresh(self) -> None:
        self.call(self.es.indices.refresh, index=self.index)


def _chunks(outcomes: Iterable[_Outcome]) -> Iterator[list[_Outcome]]:
    """Bulk requests of about BULK_BYTES."""
    chunk: list[_Outcome] = []
    size = 0
    for outcome in outcomes:
        chunk.append(outcome)
        size += len(outcome.bulk or "")
        if size > BULK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def batched(lines: Iterable[str | bytes], size: int | None) -> Iterator[list[Line]]:
    """In-memory lines as batches of `size` (None: one batch), line numbers from 1."""
    batch: list[Line] = []
    for number, raw in enumerate(lines, start=1):
        record = parse_line(number, raw if isinstance(raw, bytes) else raw.encode())
        if record is not None:
            batch.append(Line(number, record))
        if size is not None and len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- running over files: checkpoints, rejects, rate, following, progress ----------------


class RejectsFile:
    """The rejects as JSON Lines (`file`, `line`, `reason`, `record`), created when the
    first one comes. On resume it is cut back to the size the checkpoint recorded, so the
    rejects of a batch applied again are not written twice."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.count = 0
        self._out: IO[str] | None = None

    def offset(self) -> int:
        if self._out is not None:
            self._out.flush()
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def truncate(self, offset: int) -> None:
        if self._out is not None:
            self._out.flush()
        if os.path.exists(self.path) and os.path.getsize(self.path) > offset:
            os.truncate(self.path, offset)

    def write(self, source: str, reject: Reject) -> None:
        if self._out is None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - close()
        self._out.write(json.dumps({"file": source} | json.loads(reject.to_json()),
                                   ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class Progress:
    """A progress line on a terminal: records, records/s and, for plain files, the ETA."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self._shown = 0.0

    def show(self, records: int, done: int | None, total: int | None, *,
             force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.5:
            return
        self._shown = now
        rate = records / max(now - self.started, 1e-9)
        text = f"{records:,} records  {rate:,.0f}/s"
        if done is not None and total and done <= total:
            eta = (now - self.started) / max(done, 1) * (total - done)
            text += f"  {100 * done / total:5.1f}%  ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        self.stream.write("\r" + text.ljust(60))
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


@dataclass
class RunOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    #: Records per second at most (None: as fast as Elasticsearch takes them).
    rate: float | None = None
    #: Keep reading a growing file (like `tail -F`) until `stop` is set.
    follow: bool = False
    #: Ignore checkpoints: apply every input from its start.
    from_start: bool = False
    #: Seconds between looks at a followed file that has nothing new.
    poll: float = 0.2
    #: Never take the initial-load way (`Run._load`), even on an empty index.
    incremental: bool = False
    #: The initial load's partition size (bytes of input).
    partition_bytes: int = PARTITION_BYTES


class Run:
    """Applies record files with an Indexer: checkpoints after every batch, rejects to a
    file, an optional rate limit, following, progress."""

    def __init__(self, indexer: Indexer, rejects: RejectsFile, options: RunOptions, *,
                 progress: Progress | None = None, stop: Callable[[], bool] = lambda: False,
                 ) -> None:
        self.indexer = indexer
        self.rejects = rejects
        self.options = options
        self.progress = progress
        self.stop = stop
        self.checkpoints = CheckpointStore(indexer.es, indexer.index)
        #: Totals over the inputs, including what earlier (resumed) runs did on them.
        self.totals = Stats()
        self.resumed_lines = 0
        self._started = time.monotonic()
        self._dirty = False

    def run(self, paths: Sequence[str]) -> Stats:
        for number, path in enumerate(paths):
            if self.stop():
                break
            source = Input(path)
            try:
                self._input(source, first=number == 0)
            finally:
                source.close()
        self.indexer.refresh()
        self.rejects.close()
        if self.progress:
            self.progress.show(self.indexer.stats.records, None, None, force=True)
            self.progress.finish()
        self.totals.written, self.totals.deleted = (self.indexer.stats.written,
                                                    self.indexer.stats.deleted)
        self.totals.failed = self.indexer.stats.failed
        self.totals.conflicts = self.indexer.stats.conflicts
        return self.totals

    def _input(self, source: Input, *, first: bool) -> None:
        base = self._resume(source, first=first)
        at_start = self.indexer.stats.counts()
        if source.line == 0 and self._initial():
            self._load(source, base, at_start)
        for batch in self._batches(source):
            if batch:
                self._pace()
                result = self.indexer.apply(batch)
                for reject in result.rejects:
                    self.rejects.write(source.path, reject)
                self._dirty = self._dirty or bool(result.written or result.deleted)
                self._checkpoint(source, base, at_start)
            if self._dirty and self.options.follow:
                self.indexer.refresh()  # following: make the news searchable now
                self._dirty = False
            if self.progress:
                self.progress.show(self.indexer.stats.records, source.offset, source.size())
            if self.stop():
                break
        now = self.indexer.stats.counts()
        self.totals.add_counts({name: base.get(name, 0) + now[name] - at_start[name]
                                for name in now})

    def _checkpoint(self, source: Input, base: dict[str, int], at_start: dict[str, int]
                    ) -> None:
        """Record that the input is applied up to where it was read."""
        if not source.resumable:
            return
        counts = {name: base.get(name, 0) + now - at_start[name]
                  for name, now in self.indexer.stats.counts().items()}
        checkpoint = Checkpoint(source.offset, source.line, self.rejects.path,
                                self.rejects.offset(), counts)
        self.indexer.call(self.checkpoints.write, source.checkpoint_id(), source.path,
                          checkpoint)

    def _initial(self) -> bool:
        """Whether to take the initial-load way: a whole input, no pacing, and an index
        holding no contact yet. Only a matter of speed: `Indexer.load` is correct on any
        index (a contact found stored is merged as `apply` does)."""
        if self.options.follow or self.options.rate or self.options.incremental:
            return False
        self.indexer.refresh()
        found = self.indexer.call(self.indexer.es.count, index=self.indexer.index)
        return int(found["count"]) == 0

    def _load(self, source: Input, base: dict[str, int], at_start: dict[str, int]) -> None:
        """The initial load of a whole input: split by contact into partition files of
        about PARTITION_BYTES, then load each partition, so that every contact is written
        once with all its records, whatever the stream's order. The checkpoint is stored
        at the end: an interrupted load is continued by `apply` from the input's start,
        which is safe (re-applying is idempotent) and only slower."""
        rejects: list[Reject] = []
        with tempfile.TemporaryDirectory(prefix="segql-load-") as folder:
            paths, unkeyed = self._partition(source, folder)
            rejects += self.indexer.apply(unkeyed).rejects  # all rejected, nothing written
            for path in paths:
                if self.stop():
                    return
                with open(path, "rb") as part_file:
                    lines = [Line(int(number), parse_line(int(number), raw))
                             for number, raw in (row.split(b"\t", 1) for row in part_file)]
                os.unlink(path)
                result = self.indexer.load(lines)
                rejects += result.rejects
                self._dirty = self._dirty or bool(result.written or result.deleted)
                if self.progress:
                    self.progress.show(self.indexer.stats.records, None, None)
        for reject in sorted(rejects, key=lambda r: r.line):
            self.rejects.write(source.path, reject)
        self._checkpoint(source, base, at_start)

    def _partition(self, source: Input, folder: str) -> tuple[list[str], list[Line]]:
        """The rest of the input split by contact into partition files in `folder`
        (`line number TAB raw line`); returns their paths and the lines that name no
        contact (not JSON, or no valid key), which go to the rejects."""
        size = source.size()
        parts = max(1, min(MAX_PARTITIONS,
                           -(-(size or DEFAULT_LOAD_BYTES) // self.options.partition_bytes)))
        paths = [os.path.join(folder, f"{number:04d}") for number in range(parts)]
        unkeyed: list[Line] = []
        outs = [open(path, "wb", buffering=1 << 18) for path in paths]  # noqa: SIM115
        try:
            while (raw := source.read_line(False)) is not None:
                record = parse_line(source.line, raw)
                key = _contact_key(record)
                if key is not None:
                    part = zlib.crc32(document_id(*key).encode()) % parts
                    outs[part].write(b"%d\t%s\n" % (source.line, raw.rstrip(b"\r\n")))
                elif record is not None:
                    unkeyed.append(Line(source.line, record))
                if self.progress and source.line % 10_000 == 0:
                    self.progress.show(source.line, source.offset, size)
        finally:
            for out in outs:
                out.close()
        return paths, unkeyed

    def _resume(self, source: Input, *, first: bool) -> dict[str, int]:
        """Continue where the input's checkpoint says; returns its counts."""
        found = None
        if source.resumable and not self.options.from_start:
            found = self.indexer.call(self.checkpoints.read, source.checkpoint_id())
        size = source.size()
        if found is None or (size is not None and size < found.offset):
            if first:
                self.rejects.truncate(0)
            return {}
        source.seek(found.offset, found.line)
        self.resumed_lines += found.line
        if found.rejects_path == self.rejects.path:
            self.rejects.truncate(found.rejects_offset)
        counts: dict[str, int] = found.counts
        return counts

    def _batches(self, source: Input) -> Iterator[list[Line]]:
        """Batches of the input; with `follow`, an empty batch whenever it is idle."""
        size = self.options.batch_size
        if self.options.rate:
            size = max(1, min(size, int(self.options.rate)))
        batch: list[Line] = []
        begun = time.monotonic()
        while True:
            raw = source.read_line(self.options.follow)
            if raw is not None:
                record = parse_line(source.line, raw)
                if record is not None:
                    if not batch:
                        begun = time.monotonic()
                    batch.append(Line(source.line, record))
                if len(batch) >= size or (self.options.follow and batch and
                                          time.monotonic() - begun >= FOLLOW_BATCH_SECONDS):
                    yield batch
                    batch = []
                continue
            if batch:
                yield batch
                batch = []
            if not self.options.follow or self.stop():
                return
            if source.replaced():
                source.reopen()
                continue
            yield []
            time.sleep(self.options.poll)

    def _pace(self) -> None:
        if self.options.rate:
            due = self._started + self.indexer.stats.records / self.options.rate
            time.sleep(max(0.0, due - time.monotonic()))


def stderr_progress() -> Progress | None:
    """A progress line when standard error is a terminal; quiet otherwise."""
    return Progress(sys.stderr) if sys.stderr.isatty() else None
