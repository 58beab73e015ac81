"""`indexer.ingest`: records sent by an account's systems are applied exactly as `segql index`
applies them (same documents, same catalog, same rejects), each with its outcome, bound to
the request's account, and concurrent calls on the same contacts both land."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers
from housekeeping import admin

from segql import sample
from segql.errors import SegqlError
from segql.indexer import ingest as ingest_module
from segql.indexer.apply import Indexer, ensure_index, stored_contacts
from segql.indexer.ingest import (
    MAX_RECORDS,
    IngestError,
    IngestResult,
    RecordOutcome,
    TooManyRecords,
    ingest,
)
from segql.indexer.loader import load
from segql.indexer.records import ContactStore, RecordError, fold_records
from segql.indexer.rejects import RejectsFile
from segql.indexer.run import Run, RunOptions
from segql.indexer.writer import BulkWriter
from segql.stores.checkpoints import checkpoint_index_name


@pytest.fixture
def other(es: Elasticsearch, index_name: str) -> Iterator[str]:
    """A second contact index, for what `segql index` writes of the same records."""
    name = f"{index_name}-other"
    yield name
    admin(es).options(ignore_status=404).indices.delete(
        index=f"{name},{name}-catalog,{checkpoint_index_name(name)}", ignore_unavailable=True)


def contact(cid: str, account: str = "acme", **kw: Any) -> dict[str, Any]:
    return {"type": "contact", "account": account, "id": cid, **kw}


def event(eid: str, cid: str, ts: str = "2025-01-01T10:00:00Z", **kw: Any) -> dict[str, Any]:
    return {"type": "event", "account": "acme", "contact": cid, "id": eid,
            "name": kw.pop("name", "MailOpen"), "ts": ts, **kw}


def sources(es: Elasticsearch, index: str) -> dict[str, Any]:
    es.indices.refresh(index=index)
    return {hit["_id"]: hit["_source"] for hit in
            helpers.scan(es, index=index, query={"query": {"match_all": {}}})}


def catalog(es: Elasticsearch, index: str, account: str) -> Any:
    return es.get(index=f"{index}-catalog", id=account)["_source"]


def reference(store: ContactStore, records: list[Any]) -> list[tuple[str, str | None]]:
    """Each record's verdict from the reference fold, record by record, in memory."""
    verdicts: list[tuple[str, str | None]] = []
    for record in records:
        try:
            store.apply(record)
        except RecordError as error:
            verdicts.append(("rejected", str(error)))
        else:
            verdicts.append(("applied" if store.changed else "duplicate", None))
    return verdicts


def in_chunks(es: Elasticsearch, index: str, records: list[Any], size: int = 500,
              ) -> list[RecordOutcome]:
    outcomes: list[RecordOutcome] = []
    for start in range(0, len(records), size):
        result = ingest(es, index, records[start:start + size], account="demo")
        assert [o.index for o in result.outcomes] == list(range(len(result.outcomes)))
        assert (result.applied, result.duplicates, result.rejected) == tuple(
            sum(o.status == s for o in result.outcomes)
            for s in ("applied", "duplicate", "rejected"))
        outcomes += result.outcomes
    return outcomes


# -- the same path as `segql index` ------------------------------------------------------


def test_the_sample_in_chunks_is_what_segql_index_writes(
    es: Elasticsearch, index_name: str, other: str
) -> None:
    """The shipped sample through `ingest` in chunks of 500: the documents (`_source` of
    every one) and the catalog are what `load` (`segql index`'s Indexer) writes of the same
    records; each record's outcome is the reference fold's verdict on it. Replayed, the
    documents stay as they are and the outcomes are again the fold's: `duplicate` for every
    record but those whose effect a later record undid (a field set again to another
    value, a delete), which a second pass sets once more on the way."""
    records = list(sample.read())
    store = ContactStore()
    first = in_chunks(es, index_name, records)
    assert [(o.status, o.reason) for o in first] == reference(store, records)
    assert [o.contact_id for o in first] == [
        r["contact" if r["type"] in ("event", "visit") else "id"] for r in records]
    summary = load(es, other, [json.dumps(r, ensure_ascii=False) for r in records])
    assert summary.rejected == []
    written = sources(es, index_name)
    assert len(written) == len(store.contacts) > 2000
    assert written == sources(es, other)
    assert catalog(es, index_name, "demo") == catalog(es, other, "demo")

    again = in_chunks(es, index_name, records)
    verdicts = reference(store, records)
    assert [(o.status, o.reason) for o in again] == verdicts
    replayed = sum(o.status == "duplicate" for o in again)
    assert len(records) - 2000 < replayed < len(records), "overwrites and deletes apply again"
    assert sources(es, index_name) == written


def test_a_redelivery_is_a_duplicate(es: Elasticsearch, index_name: str) -> None:
    records = [
        contact("c1", email="a@x.pl", fields={"city": "Łódź", "tags": ["a"]}),
        event("e1", "c1", props={"campaign": "spring"}),
        {"type": "visit", "account": "acme", "contact": "c1", "id": "v1",
         "ts": "2025-01-02T08:00:00Z", "url": "https://shop.example/p/42"},
        event("e2", "c2"),
    ]
    first = ingest(es, index_name, records, account="acme")
    assert [o.status for o in first.outcomes] == ["applied"] * 4
    assert (first.applied, first.duplicates, first.rejected) == (4, 0, 0)
    again = ingest(es, index_name, [
        *records,
        contact("c1", fields={"city": "Łódź"}),  # the value it has
        event("e1", "c1", ts="2025-01-01T11:00:00+01:00", props={"campaign": "spring"}),
        {"type": "delete", "account": "acme", "id": "nobody"},
        contact("c1", fields={"city": "Kraków"}),  # a change after duplicates
    ], account="acme")
    assert [o.status for o in again.outcomes] == ["duplicate"] * 7 + ["applied"]
    assert [o.contact_id for o in again.outcomes] == ["c1", "c1", "c1", "c2", "c1", "c1",
                                                      "nobody", "c1"]
    assert again.to_json() == {
        "applied": 1, "duplicates": 7, "rejected": 0,
        "outcomes": [{"index": i, "status": o.status, "reason": None,
                      "contact_id": o.contact_id} for i, o in enumerate(again.outcomes)]}


# -- rejects -----------------------------------------------------------------------------


REJECTED: list[tuple[Any, str]] = [
    ("not an object", "a record must be a JSON object"),
    ({"account": "acme", "id": "c1"}, "`type` must be one of contact, event, visit, delete"),
    (contact(""), "`id` must be a non-empty string"),
    (contact("c1", fields={"email": "a@x.pl"}),
     "`email` is an address: put it at the top level of the record"),
    (contact("c1", fields={"nested": {"a": 1}}),
     "`nested`: nested objects and lists are not supported"),
    (contact("c1", fields={"long": "x" * 20_000}),
     "`long`: text longer than 16384 bytes (UTF-8)"),
    (contact("c1", fields=[1]), "`fields` must be an object"),
    (event("e9", "c1", ts="yesterday"), "`ts` is not an ISO 8601 date or instant: 'yesterday'"),
    (event("e1", "c1", props={"campaign": "autumn"}),
     "event id 'e1' was already applied with other content"),
    ({"type": "delete", "account": "acme", "id": "x" * 401},
     "`id` is longer than 400 bytes (UTF-8)"),
]


def test_rejected_records_with_their_reasons_as_segql_index_writes_them(
    es: Elasticsearch, index_name: str, other: str, tmp_path: Path
) -> None:
    """A table of bad records between good ones: each rejected, at its index, with the
    reason `segql index` writes to its rejects file for the same line; the others apply."""
    good = [contact("c1"), event("e1", "c1", props={"campaign": "spring"})]
    records: list[Any] = good[:1]
    for record, _ in REJECTED:
        records += [record, event(f"ok{len(records)}", "c1")]
    records.insert(1, good[1])
    result = ingest(es, index_name, records, account="acme")
    rejected = {o.index: o.reason for o in result.outcomes if o.status == "rejected"}
    expected = {records.index(record): reason for record, reason in REJECTED}
    assert rejected == expected
    assert result.rejected == len(REJECTED)
    assert result.applied == len(records) - len(REJECTED)
    assert result.outcomes[records.index(REJECTED[1][0])].contact_id == "c1"
    assert result.outcomes[0].contact_id == "c1" and result.outcomes[2].contact_id is None

    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    rejects = tmp_path / "rejects.jsonl"
    Run(Indexer(es, other), RejectsFile(str(rejects)), RunOptions(incremental=True)
        ).run([str(data)])
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {r["line"] - 1: r["reason"] for r in written} == rejected
    assert sources(es, index_name) == sources(es, other)


def test_raw_lines_are_read_as_segql_index_reads_them(
    es: Elasticsearch, index_name: str, other: str, tmp_path: Path
) -> None:
    """`bytes` items are JSON Lines lines: decoded by `segql index`'s code, with its
    reasons for a line that is not UTF-8 or not JSON; a blank one is rejected too."""
    lines = [line + b"\n" for line in (
        b'{"type":"contact","account":"acme","id":"c1","fields":{"a":1}}',
        b'{"type":"contact","id":"c1"', b"\xff\xfe", b'{"type":"contact","id":"c2"}',
        b'{"type":"contact","account":"other","id":"c3"}')]
    result = ingest(es, index_name, [*lines, b"  \n", {"type": "contact", "id": "c3"}],
                    account="acme")
    assert [o.status for o in result.outcomes] == ["applied", "rejected", "rejected",
                                                   "applied", "rejected", "rejected",
                                                   "applied"]
    data = tmp_path / "records.jsonl"
    data.write_bytes(b"".join(lines[:3]))  # what segql index can know of them
    rejects = tmp_path / "rejects.jsonl"
    Run(Indexer(es, other), RejectsFile(str(rejects)), RunOptions()).run([str(data)])
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [result.outcomes[r["line"] - 1].reason for r in written] == [
        r["reason"] for r in written]
    assert [r["line"] for r in written] == [2, 3]
    assert result.outcomes[2].reason == "not UTF-8: invalid start byte at byte 0"
    assert result.outcomes[5].reason == "a blank line is not a record"
    assert result.outcomes[4].reason is not None and "'other'" in result.outcomes[4].reason


def test_a_record_of_another_account_is_rejected_and_never_written(
    es: Elasticsearch, index_name: str
) -> None:
    records = [contact("c1", account="other", fields={"x": 1}),
               {"type": "contact", "id": "c2", "fields": {"x": 2}},  # no account: acme's
               event("e1", "c1") | {"account": None},
               event("e2", "c1") | {"account": "ACME"},
               {"type": "delete", "account": "other", "id": "c1"}]
    result = ingest(es, index_name, records, account="acme", refresh=True)
    assert [o.status for o in result.outcomes] == ["rejected", "applied", "rejected",
                                                   "rejected", "rejected"]
    assert result.outcomes[0].reason == ("`account` is 'other', but this request writes to "
                                         "account 'acme' only (a record may leave "
                                         "`account` out)")
    assert result.outcomes[2].reason is not None and "`account` is None" in \
        result.outcomes[2].reason
    assert [o.contact_id for o in result.outcomes] == [None, "c2", None, None, None]
    assert [(c.account, c.id, c.fields) for c in stored_contacts(es, index_name)] == [
        ("acme", "c2", {"x": 2})]
    with pytest.raises(IngestError, match="bad account id"):
        ingest(es, index_name, [contact("c1")], account="a/b")


# -- refresh, limits ---------------------------------------------------------------------


def test_refresh_makes_the_records_searchable_on_return(
    es: Elasticsearch, index_name: str
) -> None:
    """With periodic refreshes off, only `refresh=True` makes the writes visible."""
    ensure_index(es, index_name)
    admin(es).indices.put_settings(index=index_name, settings={"index": {"refresh_interval": "-1"}})
    ingest(es, index_name, [contact(f"a{i}") for i in range(5)], account="acme")
    assert es.count(index=index_name)["count"] == 0
    result = ingest(es, index_name, [contact(f"b{i}") for i in range(7)]
                    + [{"type": "delete", "account": "acme", "id": "a0"}],
                    account="acme", refresh=True)
    assert result.applied == 8
    assert es.count(index=index_name)["count"] == 11


def test_too_many_records(es: Elasticsearch, index_name: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TooManyRecords) as raised:
        ingest(es, index_name, [{}] * (MAX_RECORDS + 1), account="acme")
    assert isinstance(raised.value, SegqlError)
    assert str(raised.value) == (f"{MAX_RECORDS + 1} records in one request; at most "
                                 f"{MAX_RECORDS} are accepted: send them in several requests")
    assert MAX_RECORDS == 20_000  # one batch of `segql index`'s default size
    assert not es.indices.exists(index=index_name), "nothing of it is applied"
    monkeypatch.setattr(ingest_module, "MAX_RECORDS", 3)
    assert ingest(es, index_name, [contact("c1")] * 3, account="acme").applied == 1
    with pytest.raises(TooManyRecords, match="4 records in one request; at most 3"):
        ingest(es, index_name, [contact("c1")] * 4, account="acme")
    with pytest.raises(IngestError, match="a list"):
        ingest(es, index_name, contact("c1"), account="acme")  # type: ignore[arg-type]


def test_an_empty_request(es: Elasticsearch, index_name: str) -> None:
    assert ingest(es, index_name, [], account="acme") == IngestResult(0, 0, 0, [])
    assert es.indices.exists(index=index_name)


# -- concurrency -------------------------------------------------------------------------


def streams(contacts: int, chunks: int) -> dict[str, list[list[dict[str, Any]]]]:
    """Two streams on the same contacts whose records commute (each its own fields and
    event ids), so that any interleaving folds to the same contacts."""
    return {name: [[contact(f"c{i}", fields={f"{name}{n}": n})
                    for i in range(contacts)]
                   + [event(f"{name}{n}-{i}", f"c{i}") for i in range(contacts)]
                   for n in range(chunks)]
            for name in ("a", "b")}


def assert_index_is_the_fold(es: Elasticsearch, index: str, records: list[Any]) -> None:
    store, _ = fold_records(json.dumps(r) for r in records)
    es.indices.refresh(index=index)
    assert {c.key: c for c in stored_contacts(es, index)} == store.contacts


def test_a_concurrent_write_in_between_is_read_again_and_both_land(
    es: Elasticsearch, index_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thread a reads its contacts, then waits until thread b has written the same ones:
    a's writes fail with 409 (create and index), a reads again, folds again, writes."""
    ensure_index(es, index_name)
    chunks = streams(4, 1)
    reads = {"a": 0, "b": 0}
    b_done = threading.Event()
    read = BulkWriter._read

    def paused_read(self: BulkWriter, keys: list[tuple[str, str]]) -> Any:
        name = threading.current_thread().name
        found = read(self, keys)
        reads[name] += 1
        if name == "a" and reads["a"] == 1:
            assert b_done.wait(60)
        return found

    monkeypatch.setattr(BulkWriter, "_read", paused_read)
    results: dict[str, IngestResult] = {}

    def work(name: str) -> None:
        results[name] = ingest(es, index_name, chunks[name][0], account="acme")
        if name == "b":
            b_done.set()

    threads = [threading.Thread(target=work, args=(name,), name=name) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert reads == {"a": 2, "b": 1}, "a's writes conflicted once, and were tried again"
    assert [results[n].applied for n in "ab"] == [8, 8]
    assert_index_is_the_fold(es, index_name, chunks["b"][0] + chunks["a"][0])


def test_two_concurrent_ingests_on_overlapping_contacts(
    es: Elasticsearch, index_name: str
) -> None:
    ensure_index(es, index_name)
    chunks = streams(6, 15)
    start = threading.Barrier(2)
    results: dict[str, list[IngestResult]] = {"a": [], "b": []}

    def work(name: str) -> None:
        start.wait()
        for chunk in chunks[name]:
            results[name].append(ingest(es, index_name, chunk, account="acme"))

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert all(r.applied == 12 and r.duplicates == r.rejected == 0
               for name in "ab" for r in results[name])
    assert_index_is_the_fold(es, index_name, [r for name in "ab" for c in chunks[name]
                                              for r in c])
