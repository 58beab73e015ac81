"""The written-contacts cache (indexer/written.py): a contact the indexer wrote is not
read back for the next batch; a write by anyone else in between is a 409 that falls back to
a read and ends with the right document; the bound evicts the least recently used."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from segql.contract.contact import Contact
from segql.errors import InputError
from segql.indexer import gc_tuning
from segql.indexer.apply import Indexer, stored_contacts
from segql.indexer.batch import Line
from segql.indexer.ingest import ingest
from segql.indexer.records import fold_records
from segql.indexer.written import WrittenContacts, default_contacts, default_megabytes


def event(eid: str, cid: str, **props: Any) -> dict[str, Any]:
    return {"type": "event", "account": "acme", "contact": cid, "id": eid,
            "name": "Login", "ts": "2025-01-01T10:00:00Z", "props": props}


def contact(cid: str, **fields: Any) -> dict[str, Any]:
    return {"type": "contact", "account": "acme", "id": cid, "fields": fields}


def lines(records: list[dict[str, Any]], start: int = 1) -> list[Line]:
    return [Line(start + i, record) for i, record in enumerate(records)]


def assert_index_is_the_fold(es: Elasticsearch, index: str,
                             records: list[dict[str, Any]]) -> dict[tuple[str, str], Contact]:
    store, rejects = fold_records(json.dumps(r) for r in records)
    assert rejects == []
    es.indices.refresh(index=index)
    stored = {c.key: c for c in stored_contacts(es, index)}
    assert stored == store.contacts
    return stored


def test_a_contact_written_is_not_read_back(es: Elasticsearch, index_name: str) -> None:
    indexer = Indexer(es, index_name, cache=WrittenContacts(100))
    first = [contact(f"c{i}", n=i) for i in range(5)]
    indexer.apply(lines(first))
    assert indexer.reads == 5, "the first batch reads its contacts (none is stored yet)"
    assert len(indexer.cache) == 5
    second = [event(f"e{i}", f"c{i}", device="web") for i in range(5)]
    indexer.apply(lines(second, 10))
    assert indexer.reads == 5, "the second batch read nothing: every contact was cached"
    assert indexer.cache.hits == 5
    third = [event("e9", "c0"), contact("c1", n=None), contact("c7")]
    indexer.apply(lines(third, 20))
    assert indexer.reads == 6, "only the new contact c7 was read"
    assert indexer.stats.written == 13
    assert_index_is_the_fold(es, index_name, first + second + third)


def test_a_write_by_another_writer_is_a_409_then_a_read(
    es: Elasticsearch, index_name: str
) -> None:
    """The cached _seq_no is stale once the HTTP ingestion wrote the contact: the write
    fails with 409, the contact is read, the batch's records folded on what is stored."""
    indexer = Indexer(es, index_name, cache=WrittenContacts(100))
    mine = [contact("c1", city="Kraków"), event("e1", "c1", device="web")]
    indexer.apply(lines(mine))
    assert ("acme", "c1") in indexer.cache
    theirs = [event("e2", "c1", device="ios"), contact("c1", plan="pro")]
    result = ingest(es, index_name, theirs, account="acme")
    assert result.applied == 2
    reads, retried = indexer.reads, indexer.stats.retried
    later = [event("e3", "c1", device="android"), contact("c1", city="Gdańsk")]
    indexer.apply(lines(later, 10))
    assert indexer.stats.retried == retried + 1, "the cached version was refused once"
    assert indexer.reads == reads + 1, "and the contact was read again"
    stored = assert_index_is_the_fold(es, index_name, mine + theirs + later)
    assert stored[("acme", "c1")].fields == {"city": "Gdańsk", "plan": "pro"}
    assert list(stored[("acme", "c1")].events) == ["e1", "e2", "e3"]
    indexer.apply(lines([event("e4", "c1")], 20))
    assert indexer.reads == reads + 1, "what the retry wrote is cached again"
    assert_index_is_the_fold(es, index_name, mine + theirs + later + [event("e4", "c1")])


def test_a_deleted_contact_leaves_the_cache(es: Elasticsearch, index_name: str) -> None:
    indexer = Indexer(es, index_name, cache=WrittenContacts(100))
    records = [contact("c1", a=1), event("e1", "c1")]
    indexer.apply(lines(records))
    gone = [{"type": "delete", "account": "acme", "id": "c1"}]
    indexer.apply(lines(gone, 5))
    assert ("acme", "c1") not in indexer.cache
    again = [event("e1", "c1", device="other")]  # the same id, other content: new contact
    indexer.apply(lines(again, 9))
    assert_index_is_the_fold(es, index_name, records + gone + again)


def test_the_bound_evicts_the_least_recently_used(es: Elasticsearch, index_name: str) -> None:
    indexer = Indexer(es, index_name, cache=WrittenContacts(3))
    records = [contact(f"c{i}") for i in range(5)]
    indexer.apply(lines(records))
    assert len(indexer.cache) == 3 and indexer.cache.evicted == 2
    assert [f"c{i}" in {k[1] for k in indexer.cache._entries} for i in range(5)] == [
        False, False, True, True, True]
    more = [event("e1", "c2"), event("e2", "c0")]  # c2 cached, c0 evicted: read
    reads = indexer.reads
    indexer.apply(lines(more, 10))
    assert indexer.reads == reads + 1
    assert [k[1] for k in indexer.cache._entries] == ["c4", "c2", "c0"], "LRU order"
    assert_index_is_the_fold(es, index_name, records + more)


def test_the_bound_in_bytes_and_no_cache() -> None:
    cache = WrittenContacts(100, megabytes=1)
    stored: Any = object()
    for i in range(10):
        cache.put(("a", f"c{i}"), stored, 200_000)  # ~400 kB each, estimated
    assert len(cache) == 2 and cache.bytes <= 1 << 20
    none = WrittenContacts(0)
    none.put(("a", "c"), stored, 10)
    assert len(none) == 0 and none.get(("a", "c")) is None


@pytest.mark.parametrize(("env", "expected"), [
    ({}, (100_000, 256)),
    ({"SEGQL_CACHE_CONTACTS": "0", "SEGQL_CACHE_MB": "64"}, (0, 64)),
    ({"SEGQL_CACHE_CONTACTS": " 2500 "}, (2500, 256)),
])
def test_the_bounds_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str],
                                         expected: tuple[int, int]) -> None:
    for name in ("SEGQL_CACHE_CONTACTS", "SEGQL_CACHE_MB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (default_contacts(), default_megabytes()) == expected


@pytest.mark.parametrize("value", ["many", "-1", "1.5"])
def test_a_bad_bound_is_an_input_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SEGQL_CACHE_CONTACTS", value)
    with pytest.raises(InputError, match="SEGQL_CACHE_CONTACTS"):
        default_contacts()


def test_the_collector_is_tuned_only_during_a_run() -> None:
    assert gc.isenabled()
    gc_tuning.batch_done()  # outside a run: nothing
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with gc_tuning.tuned_gc():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        with gc_tuning.tuned_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_batch_of_known_types_does_not_write_the_catalog(
    es: Elasticsearch, index_name: str
) -> None:
    indexer = Indexer(es, index_name, cache=WrittenContacts(100))
    indexer.apply(lines([event("e1", "c1", device="web"), contact("c1", plan="pro")]))

    def version() -> int:
        found = es.get(index=indexer.catalogs.index, id="acme")
        return int(found["_seq_no"])

    learned = version()
    indexer.apply(lines([event("e2", "c2", device="ios"), contact("c2", plan="free")], 5))
    assert version() == learned, "nothing new to learn: the catalog was not written"
    indexer.apply(lines([event("e3", "c2", browser="firefox")], 9))
    assert version() > learned, "a new property is learned"
    assert indexer.catalogs.get("acme").events["Login"] == {"device": "text",
                                                           "browser": "text"}


def test_a_batch_of_many_stored_contacts_is_read_in_parallel_chunks(
        es: Elasticsearch, index_name: str) -> None:
    """More stored contacts than one `mget` reads (writer.READ_CHUNK): the chunks are read
    at once, and every contact is folded onto its own stored state (none lost, none
    swapped between chunks)."""
    from segql.indexer import writer

    many = writer.READ_CHUNK * 2 + 37
    first = [contact(f"c{i:04d}", n=i, city=f"city{i % 7}") for i in range(many)]
    Indexer(es, index_name, cache=WrittenContacts(0)).apply(lines(first))
    second = [event(f"e{i}", f"c{i:04d}", device=f"d{i}") for i in range(many)]
    fresh = Indexer(es, index_name, cache=WrittenContacts(0))
    fresh.apply(lines(second, many + 1))
    assert fresh.reads == many, "every contact of the batch was read (no cache)"
    stored = assert_index_is_the_fold(es, index_name, first + second)
    assert len(stored) == many
    assert all(c.fields["n"] == int(c.id[1:]) and list(c.events) == [f"e{int(c.id[1:])}"]
               for c in stored.values())
