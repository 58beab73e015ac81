"""The incremental indexer: applies record streams (LANGUAGE.md §8) to the stored contact
documents, so that they stay current — idempotently, resumably, without losing an update.
This module holds the Indexer, which applies one batch at a time (`Indexer.apply`, and
`Indexer.load` for the initial load), and the contact index it works on (`ensure_index`,
`stored_contacts`); the writes are `writer.py`'s, the runs over files `run.py`'s.

A batch of records is grouped by contact (stream order kept within a contact). The stored
documents of those contacts are read (`mget`, with `_seq_no`/`_primary_term`) and turned
back into contacts (`document.document_contact`), each contact's records are applied with
`records.ContactStore` — the same fold the reference evaluator uses, so the index and the
evaluator can't disagree on what a stream means — and each contact that changed is
written once (`writer.py`: optimistic concurrency, retries, refused documents).

Why re-applying records is always safe (so a retry, a resumed run or the same stream again
never changes the result): for one contact, applying a sequence S twice gives what
applying it once gives. With a `delete` in S, both end in the state of what follows S's last
delete applied to nothing. Without one, every field ends at its last value in S (or stays),
an event or visit id already held is a no-op (first wins), and retention keeps the newest N
of the *set* of activities seen and counts the rest by their set of ids (`records.Dropped`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from elasticsearch import Elasticsearch

from segql.compiler.catalog import learn
from segql.contract.contact import MAX_EVENTS, MAX_VISITS, Contact, Dropped
from segql.contract.document import document_contact, document_id
from segql.indexer.batch import BatchResult, Key, Line, contact_key
from segql.indexer.codec import document_bytes, dumps, fragments_of
from segql.indexer.gc_tuning import batch_done
from segql.indexer.records import ContactStore, RecordError, Reject
from segql.indexer.writer import DEFAULT_MAX_WAIT, DERIVED, BulkWriter, Outcome, Stored
from segql.indexer.written import WrittenContacts
from segql.stores import searches
from segql.stores.catalogs import CatalogStore, catalog_index_name, merge_conflicts
from segql.stores.index_settings import Replicas
from segql.stores.mapping import create_index_once, index_body, refuse_newer_shape


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


def copy_contact(contact: Contact) -> Contact:
    """A copy the fold can change (`ContactStore.apply` replaces field values and
    activities, never changes one in place) while the original stays as stored."""
    return replace(contact, fields=dict(contact.fields), events=dict(contact.events),
                   visits=dict(contact.visits), consent=dict(contact.consent),
                   dropped_events=_copy_dropped(contact.dropped_events),
                   dropped_visits=_copy_dropped(contact.dropped_visits))


def _copy_dropped(dropped: Dropped) -> Dropped:
    if not dropped:
        return Dropped()
    return Dropped(set(dropped.hashes),
                   None if dropped.registers is None else bytearray(dropped.registers))


def stored_contacts(es: Elasticsearch, index: str) -> Iterator[Contact]:
    """Every contact stored in the index, as `document_contact` gives it back (to compare
    an index with the reference fold of its records)."""
    pit = searches.open_point_in_time(es, index=index, keep_alive="1m")
    try:
        after: list[Any] | None = None
        while True:
            hits = searches.search(es, pit={"id": pit, "keep_alive": "1m"}, size=500,
                                   sort=[{"_shard_doc": "asc"}], search_after=after,
                                   source={"excludes": DERIVED},
                                   track_total_hits=False)["hits"]["hits"]
            yield from (document_contact(hit["_source"]) for hit in hits)
            if len(hits) < 500:
                return
            after = hits[-1]["sort"]
    finally:
        searches.close_point_in_time(es, pit)


def ensure_index(es: Elasticsearch, index: str, shards: int | None = None,
                 replicas: Replicas | None = None) -> bool:
    """Create the contact index with segql's mapping (and `shards`, `replicas`:
    `index_settings`) unless it exists (then refuse one of a newer document shape, and add
    what newer versions map, e.g. the retention counters); True if created."""
    body = index_body(shards, replicas)
    if es.indices.exists(index=index):
        properties = body["mappings"]["properties"]
        # keyed by the concrete index: `index` may be an alias of it (`segql reindex`)
        (found,) = es.indices.get_mapping(index=index).values()
        mappings = found["mappings"]
        refuse_newer_shape(index, mappings)
        mapped = mappings["properties"]
        missing = {name: properties[name] for name in properties if name not in mapped
                   or set(properties[name].get("properties", {}))
                   - set(mapped[name].get("properties", {}))}
        templates = body["mappings"]["dynamic_templates"]
        names = [name for template in templates for name in template]
        if missing or [name for template in mappings.get("dynamic_templates", [])
                       for name in template] != names:
            # an index from before them (putting needs `manage`: only then); its documents
            # of an older shape stay unreadable until `segql reindex` (mapping.py)
            es.indices.put_mapping(index=index, properties=missing,
                                   dynamic_templates=templates)
        return False
    return create_index_once(es, index, body)


class Indexer(BulkWriter):
    """Applies batches of records to one contact index (see the module doc)."""

    def __init__(
        self, es: Elasticsearch, index: str, *, max_events: int = MAX_EVENTS,
        max_visits: int = MAX_VISITS, max_wait: float = DEFAULT_MAX_WAIT,
        catalog_index: str | None = None, cache: WrittenContacts | None = None,
        shards: int | None = None, replicas: Replicas | None = None,
    ) -> None:
        super().__init__(es, index, max_wait=max_wait, cache=cache)
        self.max_events = max_events
        self.max_visits = max_visits
        self.replicas = replicas  # of the indices it creates (contacts, catalog, checkpoints)
        self.catalogs = CatalogStore(es, catalog_index or catalog_index_name(index), replicas)
        self.call(ensure_index, es, index, shards, replicas)

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
            key = contact_key(line.record)
            if isinstance(line.record, Reject):
                result.rejects.append(line.record)
            elif key is None:
                result.rejects.append(self._reject_unkeyed(line))
            else:
                groups.setdefault(key, []).append(line)
        return groups

    def _finish(self, result: BatchResult) -> BatchResult:
        result.rejects.sort(key=lambda r: r.line)
        self.stats.rejected += len(result.rejects)
        if result.news:
            self.call(self._learn, result.news)
        batch_done()
        return result

    def _reject_unkeyed(self, line: Line) -> Reject:
        try:
            ContactStore().apply(line.record)
        except RecordError as error:
            return Reject(line.number, str(error), line.record)
        raise AssertionError("a record without a valid contact key was accepted")

    def _fold(self, key: Key, stored: Stored | None, lines: list[Line]) -> Outcome:
        """Apply one contact's records to its stored state (the reference fold)."""
        store = ContactStore(self.max_events, self.max_visits)
        before = stored.contact if stored is not None else None
        if before is not None:
            store.contacts[key] = copy_contact(before)
        outcome = Outcome(key, lines)
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
        target = self.target  # the concrete index and its routing (writer.py)
        meta: dict[str, Any] = {"_index": target.index, "_id": document_id(*key),
                                "routing": target.route(*key)}
        if stored is not None:
            meta |= {"if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term}
        if final is None:
            if before is not None:
                outcome.bulk = dumps({"delete": meta}) + b"\n"
        elif final != before:
            outcome.events = fragments_of(final.events, stored.events if stored else None)
            outcome.visits = fragments_of(final.visits, stored.visits if stored else None)
            document = document_bytes(final, outcome.events, outcome.visits)
            outcome.document_bytes = len(document)
            outcome.bulk = (dumps({"index" if before else "create": meta}) + b"\n"
                            + document + b"\n")
            outcome.news = _news(final, before)
        return outcome

    def _learn(self, contacts: list[Contact]) -> None:
        by_account: dict[str, list[Contact]] = {}
        for contact in contacts:
            by_account.setdefault(contact.account, []).append(contact)
        for account, group in sorted(by_account.items()):
            learned = self.catalogs.merge_learned(account, learn(group))
            if learned.conflicts:
                self.stats.conflicts[account] = list(merge_conflicts(
                    self.stats.conflicts.get(account, []), learned.conflicts))
