"""The bulk writer under the Indexer (`apply.py`): how the contacts a batch changed are
read and written, with optimistic concurrency, retries with backoff and bulk requests in
flight while the next documents are built.

Each contact that changed is written once:

* a new contact is `create`d, an existing one `index`ed with `if_seq_no`/`if_primary_term`,
  a deleted one `delete`d with them; so when another indexer (or an earlier attempt) wrote
  the contact in between, the write fails with 409 instead of overwriting, and the contact
  is read again and its records re-applied on what is stored now. No update is lost.
* 429, 5xx and connection failures are retried with backoff, for as long as `max_wait`
  seconds of continuous failure (the node may be restarting); then the run fails.
* A document Elasticsearch refuses for good (a 4xx other than 409) sends that contact's
  records of the batch to the rejects, with Elasticsearch's reason; the stream goes on.
* Contacts are read and written in the concrete index the contact index's name leads
  to, with that index's routing (`placement.resolve`: its spread accounts' keys), looked
  up again for every batch. A write refused because the index is blocked for writes
  (`segql reindex` blocks the old index while it switches to the new one), closed (the
  old index after the switch) or missing is not a refusal: the concrete index and its
  routing are looked up again, and the contact read again and written again after a
  pause, for as long as `max_wait` seconds of continuous blocking, so after the switch it
  is read from, and written to, the new index with the new index's routing.
* With a cache of written contacts (`written.py`), a contact this writer wrote is not
  read again: the next batch folds onto what was written, guarded by the `_seq_no` and
  `_primary_term` of that write (so a write by anyone else in between is still a 409).
"""

from __future__ import annotations

import random
import time
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from elasticsearch import ApiError, Elasticsearch, TransportError

from segql.contract.contact import Contact
from segql.contract.document import document_contact, document_id
from segql.errors import SegqlError
from segql.indexer.batch import BatchResult, Key, Line, Stats
from segql.indexer.codec import Fragments
from segql.indexer.records import Reject
from segql.indexer.written import WrittenContacts
from segql.stores.failures import reason_of, translate, url_of
from segql.stores.placement import Target, gone, resolve

T = TypeVar("T")

#: Seconds of continuous failure (node down, overloaded) before a run gives up.
DEFAULT_MAX_WAIT = 300.0
#: Bulk requests are cut at about this many bytes (the initial load's) ...
BULK_BYTES = 8 << 20
#: ... and at this many when stored contacts are rewritten (`apply`, --follow): small
#: enough that the first is sent while the rest of a batch is still folded, and that
#: IN_FLIGHT of them keep several of the node's cores indexing (a --follow batch of ~1,000
#: contacts is ~7 MB: cut at 8 MB it was one request, sent after the whole batch was
#: folded and indexed on one thread; with mgets in chunks too, freshness p99 at 1,000
#: events/s to random contacts of 100k went from 2.09-3.32 s to 1.31-2.24 s, side by
#: side: BENCHMARKS.md, issue 15).
REWRITE_BULK_BYTES = 1 << 20
#: Requests in flight at once, on the writer's own threads: bulks (the next documents
#: are built while Elasticsearch indexes the ones sent) or `mget`s (the node reads them on
#: several cores while the client decodes the ones that came back).
IN_FLIGHT = 3
#: Contacts per `mget` when reading stored contacts.
READ_CHUNK = 200
#: Attempts to write one contact that keeps being written by someone else in between.
MAX_CONFLICT_ATTEMPTS = 50
#: What `document_contact` does not read: the indexed copies, left out of `mget`.
DERIVED = ["fields", "anniv", *(f"{kind}.p{slot}" for kind in ("events", "visits")
                                for slot in "frsndcb")]


class IndexerError(SegqlError):
    """Elasticsearch stayed unavailable, or kept refusing, past the configured wait."""


class _Away(Exception):
    """A read found the concrete index closed or gone (a reindex switched since it was
    looked up): look it up again."""


#: Of a bulk reply, only what is read (the rest is ~3x the bytes to decode).
BULK_REPLY = "items.*.status,items.*.error,items.*._seq_no,items.*._primary_term"


@dataclass
class Stored:
    """A contact as stored, the version that holds it, and (when this process wrote it)
    its encoded events and visits."""

    contact: Contact
    seq_no: int
    primary_term: int
    events: Fragments = field(default_factory=dict)
    visits: Fragments = field(default_factory=dict)


@dataclass
class Outcome:
    """One contact's records applied to its stored state: the bulk lines that write it
    (None: nothing to write), and the counts to commit once that write succeeded."""

    key: Key
    lines: list[Line]
    contact: Contact | None = None
    #: The contact's fields with only its new events and visits: what there is to learn.
    news: Contact | None = None
    bulk: bytes | None = None
    #: The size of the document in `bulk`, and its encoded events and visits.
    document_bytes: int = 0
    events: Fragments = field(default_factory=dict)
    visits: Fragments = field(default_factory=dict)
    applied: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)


def _retryable(error: Exception) -> bool:
    if isinstance(error, ApiError):
        return error.meta.status == 429 or error.meta.status >= 500
    return isinstance(error, TransportError)


#: Bulk item errors that say the concrete index can't be written now (blocked by a
#: reindex's switch, closed or missing after it): look it up again, write again.
_AWAY = ("cluster_block_exception", "index_closed_exception", "index_not_found_exception")


def _blocked(answer: dict[str, Any]) -> bool:
    """Whether a bulk item was refused by an index block (e.g. `index.blocks.write`) or
    because the concrete index is closed or gone."""
    error = answer.get("error")
    return isinstance(error, dict) and error.get("type") in _AWAY


class BulkWriter(ABC):
    """Reads and writes the contact documents of one index (see the module doc); what a
    contact's records make of its stored state is `_fold`, the Indexer's."""

    def __init__(self, es: Elasticsearch, index: str, *, max_wait: float,
                 cache: WrittenContacts | None = None) -> None:
        self.es = es
        self.index = index
        self.max_wait = max_wait
        self.stats = Stats()
        self.cache = cache if cache is not None else WrittenContacts(0)
        #: Contacts read with `mget` (those the cache did not hold).
        self.reads = 0
        self._failing_since: float | None = None
        self._delay = 0.0
        #: Since when writes meet a write block (None: they don't).
        self._blocked_since: float | None = None
        self._target: Target | None = None
        #: The concrete index the cache's contacts were written to (None: not yet known).
        self._written_to: str | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The IN_FLIGHT threads that send a batch's `mget`s and bulks, started once and
        kept for the writer's life (stopped when it is collected)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="segql-writer")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool

    @property
    def target(self) -> Target:
        """The concrete index written and its routing (`placement.resolve`)."""
        if self._target is None:
            found = self.call(resolve, self.es, self.index)
            if self._written_to not in (None, found.index):
                # a reindex switched: the cached `_seq_no`s are another index's, and one
                # could equal the new copy's by chance (a write over an unseen update)
                self.cache.clear()
            self._target, self._written_to = found, found.index
        return self._target

    def retarget(self) -> None:
        """Look the concrete index and its routing up again before the next read."""
        self._target = None

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
            cause = translate(error, url_of(self.es))
            raise IndexerError(f"giving up after {self.max_wait:.0f} s of retries: "
                               f"{cause or 'it kept failing'}") from (cause or error)
        self.stats.retried += 1
        self._delay = min(max(0.1, self._delay * 2), 5.0)
        time.sleep(self._delay * random.uniform(0.5, 1.0))

    # -- reading and writing the contacts of a batch -----------------------------------

    def _settle(self, groups: dict[Key, list[Line]], result: BatchResult, *,
                absent: bool) -> None:
        """Fold and write every group; contacts written by someone else in between are
        read again and folded again, up to MAX_CONFLICT_ATTEMPTS times."""
        pending = list(groups)
        self.retarget()  # once per batch: a reindex may have switched since the last
        attempt, read = 0, False
        while attempt < MAX_CONFLICT_ATTEMPTS:
            if not pending:
                return
            if self._blocked_since is not None:
                self._wait_unblocked()  # not an attempt: nobody else wrote these contacts
            else:
                if attempt:
                    self.stats.retried += len(pending)
                    time.sleep(random.uniform(0, 0.02 * attempt))
                attempt += 1
            first, read = not read, True
            stored = {} if absent and first else self._stored(pending)
            pending = self._write((self._fold(key, stored.get(key), groups[key])
                                   for key in pending), result, loading=absent)
        raise IndexerError(f"{len(pending)} contacts kept changing under "
                           f"{MAX_CONFLICT_ATTEMPTS} attempts to write them")

    @abstractmethod
    def _fold(self, key: Key, stored: Stored | None, lines: list[Line]) -> Outcome:
        """Apply one contact's records to its stored state: the Indexer's (`apply.py`)."""

    def _wait_unblocked(self) -> None:
        """Pause before writing again to an index blocked for writes; fail once it stayed
        blocked for `max_wait` seconds."""
        assert self._blocked_since is not None
        if time.monotonic() - self._blocked_since > self.max_wait:
            raise IndexerError(f"the contact index stayed blocked for writes for "
                               f"{self.max_wait:.0f}s, giving up (is a segql reindex "
                               "stopped half-way? run it again to finish it)")
        self.stats.retried += 1
        time.sleep(random.uniform(0.2, 0.5))
        self.retarget()

    def _stored(self, keys: list[Key]) -> dict[Key, Stored]:
        """The stored state of contacts: what this writer wrote last (the cache), else
        read."""
        _ = self.target  # looked up before the cache is: a switch since empties it
        stored: dict[Key, Stored] = {}
        missing = []
        for key in keys:
            held = self.cache.get(key)
            if held is None:
                missing.append(key)
            else:
                stored[key] = held
        if missing:
            self.reads += len(missing)
            while True:
                try:
                    stored.update(self.call(self._read, missing))
                    break
                except (ApiError, _Away) as error:  # closed or gone since: look again
                    if not (isinstance(error, _Away) or gone(error)):
                        raise
                    self._blocked_since = self._blocked_since or time.monotonic()
                    self._wait_unblocked()
        return stored

    def _read(self, keys: list[Key]) -> dict[Key, Stored]:
        """The stored contacts of `keys`, read in chunks of READ_CHUNK, IN_FLIGHT of them
        at once (each chunk's documents are decoded as the next ones are read)."""
        target = self.target
        chunks = [keys[start:start + READ_CHUNK] for start in range(0, len(keys), READ_CHUNK)]

        def read(chunk: list[Key]) -> Any:
            return self.es.mget(index=target.index, source_excludes=DERIVED, docs=[
                {"_id": document_id(*key), "routing": target.route(*key)} for key in chunk])

        if len(chunks) == 1:
            return self._decoded(chunks[0], read(chunks[0]))
        stored: dict[Key, Stored] = {}
        replies = [self.pool.submit(read, chunk) for chunk in chunks]
        try:
            for chunk, reply in zip(chunks, replies, strict=True):
                stored.update(self._decoded(chunk, reply.result()))
        finally:
            _cancel_or_wait(replies)  # after a failed chunk, none is left running
        return stored

    @staticmethod
    def _decoded(chunk: list[Key], response: Any) -> dict[Key, Stored]:
        stored: dict[Key, Stored] = {}
        for key, doc in zip(chunk, response["docs"], strict=True):
            if "error" in doc and gone(doc["error"]):
                raise _Away
            if "error" in doc:  # e.g. a shard still recovering: retried by `call`
                raise TransportError(f"reading {doc['_id']}: {doc['error']}")
            if doc.get("found"):
                stored[key] = Stored(document_contact(doc["_source"]), doc["_seq_no"],
                                     doc["_primary_term"])
        return stored

    def _write(self, outcomes: Iterable[Outcome], result: BatchResult, *,
               loading: bool) -> list[Key]:
        """Bulk-write the outcomes, IN_FLIGHT requests at once while the next ones are
        folded; commit those done, return the keys to try again. Rewrites of stored
        contacts are cached and sent in REWRITE_BULK_BYTES requests; the initial load's
        (`loading`: contacts known absent, which nobody reads back soon) are not cached and
        go in BULK_BYTES requests."""
        retry: list[Key] = []
        in_flight: deque[tuple[list[Outcome], Future[Any]]] = deque()
        blocked = False

        def settle() -> None:
            nonlocal blocked
            chunk, reply = in_flight.popleft()
            for outcome, item in zip(chunk, reply.result()["items"], strict=True):
                _, answer = next(iter(item.items()))
                status = answer.get("status", 500)
                self.cache.drop(outcome.key)
                if status < 300:
                    self._commit(outcome, result)
                    if not loading and outcome.contact is not None and "_seq_no" in answer:
                        self.cache.put(outcome.key, Stored(
                            outcome.contact, answer["_seq_no"], answer["_primary_term"],
                            outcome.events, outcome.visits), outcome.document_bytes)
                elif status in (404, 409, 429) or status >= 500:
                    retry.append(outcome.key)  # read again, apply again, write again
                elif _blocked(answer):
                    blocked = True
                    retry.append(outcome.key)
                else:
                    self._refused(outcome, answer.get("error"), result)

        limit = BULK_BYTES if loading else REWRITE_BULK_BYTES
        try:
            for chunk in _chunks(self._to_send(outcomes, result), limit):
                if len(in_flight) >= IN_FLIGHT:
                    settle()
                body = b"".join(o.bulk or b"" for o in chunk)
                in_flight.append((chunk, self.pool.submit(self.call, self.es.bulk,
                                                          operations=cast(Any, body),
                                                          filter_path=BULK_REPLY)))
            while in_flight:
                settle()
        finally:
            _cancel_or_wait([reply for _, reply in in_flight])  # after a failure
        if not blocked:
            self._blocked_since = None
        elif self._blocked_since is None:
            self._blocked_since = time.monotonic()
        return retry

    def _to_send(self, outcomes: Iterable[Outcome], result: BatchResult
                 ) -> Iterator[Outcome]:
        """The outcomes that write something; the others are committed on the way."""
        for outcome in outcomes:
            if outcome.bulk is None:
                self._commit(outcome, result)
            else:
                yield outcome

    def _commit(self, outcome: Outcome, result: BatchResult) -> None:
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

    def _refused(self, outcome: Outcome, error: Any, result: BatchResult) -> None:
        plain = reason_of(error)  # in plain words; the rejects file also gets the details
        details = error.get("reason") if isinstance(error, dict) else None
        reason = f"{plain} ({details})" if details else plain
        self.stats.failed.append(f"{document_id(*outcome.key)}: {plain}")
        rejected = {r.line for r in outcome.rejects}
        result.rejects.extend(outcome.rejects)
        # every record of the contact in this batch goes aside, its own reject included
        result.rejects.extend(
            Reject(line.number, f"Elasticsearch refused the contact's document: {reason}",
                   line.record)
            for line in outcome.lines if line.number not in rejected)

    def refresh(self) -> None:
        self.call(self.es.indices.refresh, index=self.index)


def _cancel_or_wait(replies: list[Future[Any]]) -> None:
    """Requests not sent yet are dropped, those sent are waited for: nothing goes on
    behind the caller's back."""
    for reply in replies:
        reply.cancel()
    wait(replies)


def _chunks(outcomes: Iterable[Outcome], limit: int) -> Iterator[list[Outcome]]:
    """Bulk requests of about `limit` bytes."""
    chunk: list[Outcome] = []
    size = 0
    for outcome in outcomes:
        chunk.append(outcome)
        size += len(outcome.bulk or b"")
        if size > limit:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
