"""The incremental indexer (issue 5): what it stores is what the reference fold of the
records says — after merges, repeats, shuffles, rejects, concurrent writers and retention —
and event properties never grow the mapping. Faults (kill -9, node restarts):
test_indexer_faults.py."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import sample
from segql.cli.index_commands import EXIT_REJECTED
from segql.contract.contact import Activity, Contact, Dropped
from segql.contract.document import contact_document
from segql.indexer.apply import Indexer, ensure_index, stored_contacts
from segql.indexer.batch import Line, batched, parse_line
from segql.indexer.loader import load
from segql.indexer.records import ContactStore, fold_records
from segql.indexer.rejects import RejectsFile
from segql.indexer.run import Run, RunOptions
from segql.stores.checkpoints import checkpoint_index_name
from segql.stores.mapping import index_body

SEGQL = str(Path(sys.executable).with_name("segql"))


@pytest.fixture
def index(es: Elasticsearch, index_name: str) -> Iterator[str]:
    """A fresh contact index; its checkpoints go with it."""
    yield index_name
    admin(es).options(ignore_status=404).indices.delete(index=checkpoint_index_name(index_name))


def assert_index_is_the_fold(es: Elasticsearch, index: str, lines: list[str],
                             **limits: int) -> dict[tuple[str, str], Contact]:
    """Every stored contact equals the reference fold of `lines`, and nothing else is
    stored (deleted contacts included)."""
    es.indices.refresh(index=index)
    store, _ = fold_records(lines, **limits)
    stored = {contact.key: contact for contact in stored_contacts(es, index)}
    assert stored.keys() == store.contacts.keys()
    different = [key for key in stored if stored[key] != store.contacts[key]]
    assert different == [], f"{len(different)} contacts differ, e.g. {different[:3]}"
    assert es.count(index=index)["count"] == len(store.contacts)
    return stored


def sample_lines(contacts: int, seed: int = 7) -> list[str]:
    return [sample.dumps(record) for record in sample.generate(contacts=contacts, seed=seed)]


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([SEGQL, "index", *args], capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())
    if check:
        assert done.returncode == 0, done.stderr
    return done


def contact(cid: str, **kw: Any) -> dict[str, Any]:
    return {"type": "contact", "account": "acme", "id": cid, **kw}


def event(eid: str, cid: str, ts: str = "2025-01-01T10:00:00Z", **kw: Any) -> dict[str, Any]:
    return {"type": "event", "account": "acme", "contact": cid, "id": eid,
            "name": kw.pop("name", "MailOpen"), "ts": ts, **kw}


# -- the merge, one batch after another --------------------------------------------------


def test_records_merge_into_stored_documents(es: Elasticsearch, index: str) -> None:
    """LANGUAGE.md §8, each record its own batch: field merge and null removal, events by
    id (before their contact, late, repeated), a delete that leaves nothing, a contact
    created again after its delete."""
    records = [
        event("e2", "c1", ts="2025-03-01T00:00:00Z"),  # before its contact
        contact("c1", email="a@x.pl", fields={"city": "Łódź", "age": 30, "tags": ["a"]}),
        contact("c1", email=None, fields={"age": None, "vip": True}),
        event("e1", "c1", ts="2024-01-01T00:00:00Z", props={"campaign": "late"}),  # late
        event("e1", "c1", ts="2024-01-01T01:00:00+01:00", props={"campaign": "late"}),
        contact("c2", fields={"city": "Kraków"}),
        event("e3", "c2"),
        {"type": "delete", "account": "acme", "id": "c2"},
        contact("c3", fields={"x": 1}),
        {"type": "delete", "account": "acme", "id": "c3"},
        event("e4", "c3"),  # a new c3
        {"type": "delete", "account": "acme", "id": "nobody"},
    ]
    lines = [json.dumps(r) for r in records]
    indexer = Indexer(es, index)
    results = [indexer.apply(batch) for batch in batched(lines, 1)]
    assert [r.rejects for r in results] == [[]] * len(lines)
    stored = assert_index_is_the_fold(es, index, lines)
    assert stored[("acme", "c1")].fields == {"city": "Łódź", "tags": ["a"], "vip": True}
    assert set(stored[("acme", "c1")].events) == {"e1", "e2"}
    assert stored[("acme", "c3")].fields == {}
    assert ("acme", "c2") not in stored
    assert (indexer.stats.applied, indexer.stats.unchanged) == (10, 2), \
        "the repeated e1 and the delete of nobody change nothing"


def test_the_same_stream_twice_or_shuffled_gives_the_same_index(
    es: Elasticsearch, index: str, index_name: str
) -> None:
    lines = sample_lines(300)
    load(es, index, lines, batch_size=700)
    first = assert_index_is_the_fold(es, index, lines)
    again = load(es, index, lines, batch_size=500)
    assert again.rejected == []
    assert assert_index_is_the_fold(es, index, lines) == first
    # events and visits shuffled among themselves, between deletes (nothing of a deleted
    # contact arrives after its delete), contact records and deletes kept in place
    rng = random.Random(5)
    shuffled = list(lines)
    start = 0
    cuts = [i for i, line in enumerate(lines) if '"type":"delete"' in line] + [len(lines)]
    for cut in cuts:
        slots = [i for i in range(start, cut) if '"type":"event"' in lines[i]
                 or '"type":"visit"' in lines[i]]
        moved = [lines[i] for i in slots]
        rng.shuffle(moved)
        for slot, line in zip(slots, moved, strict=True):
            shuffled[slot] = line
        start = cut
    assert shuffled != lines
    other = f"{index_name}-shuffled"
    try:
        load(es, other, shuffled, batch_size=400)
        assert assert_index_is_the_fold(es, other, shuffled) == first
    finally:
        admin(es).options(ignore_status=404).indices.delete(index=f"{other},{other}-catalog")


# -- the initial load ---------------------------------------------------------------------


def _sources(es: Elasticsearch, index: str) -> dict[str, Any]:
    es.indices.refresh(index=index)
    return {hit["_id"]: hit["_source"] for hit in
            es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]}


def test_the_initial_load_writes_what_batches_write(
    es: Elasticsearch, index: str, index_name: str, tmp_path: Path
) -> None:
    """An input going to an empty index is split into partitions by contact and each
    contact is written once (here 7 partitions); the documents are the batched way's,
    byte for byte, and so are the counts and the catalog."""
    lines = sample_lines(300)
    data = tmp_path / "records.jsonl"
    data.write_text("\n".join(lines) + "\n")
    partition = data.stat().st_size // 7 + 1
    runs = {}
    other = f"{index_name}-batched"
    try:
        for target, options in ((index, RunOptions(partition_bytes=partition)),
                                (other, RunOptions(batch_size=500, incremental=True))):
            indexer = Indexer(es, target)
            runs[target] = Run(indexer, RejectsFile(str(tmp_path / f"{target}.rejects")),
                               options).run([str(data)])
        loaded, batched_way = runs[index], runs[other]
        assert loaded.counts() == batched_way.counts()
        contacts = len(fold_records(lines)[0].contacts)
        assert loaded.written == contacts, "the initial load writes each contact once"
        assert batched_way.written > contacts
        assert _sources(es, index) == _sources(es, other)
        assert_index_is_the_fold(es, index, lines)
        catalogs = [es.search(index=f"{name}-catalog")["hits"]["hits"][0]["_source"]
                    for name in (index, other)]
        assert catalogs[0] == catalogs[1]
        again = Run(Indexer(es, index), RejectsFile(str(tmp_path / "again.rejects")),
                    RunOptions(partition_bytes=partition)).run([str(data)])
        assert again.written == 0, "the checkpoint says the input is applied"
    finally:
        admin(es).options(ignore_status=404).indices.delete(
            index=f"{other},{other}-catalog,{checkpoint_index_name(other)}")


def test_the_initial_load_merges_contacts_stored_meanwhile(
    es: Elasticsearch, index: str
) -> None:
    """`load` assumes contacts are new; one that another writer stored first fails its
    `create` and is read and merged as `apply` does: nothing is overwritten."""
    first = [json.dumps(contact("c1", fields={"city": "Kraków", "age": 30})),
             json.dumps(event("e1", "c1"))]
    later = [json.dumps(contact("c1", fields={"age": 31})), json.dumps(event("e2", "c1")),
             json.dumps(contact("c2"))]
    indexer = Indexer(es, index)
    indexer.apply([Line(n, parse_line(n, raw.encode())) for n, raw in enumerate(first, 1)])
    result = indexer.load([Line(n, parse_line(n, raw.encode()))
                           for n, raw in enumerate(later, 3)])
    assert result.rejects == []
    stored = assert_index_is_the_fold(es, index, first + later)
    assert stored[("acme", "c1")].fields == {"city": "Kraków", "age": 31}
    assert set(stored[("acme", "c1")].events) == {"e1", "e2"}
    assert indexer.stats.retried >= 1, "c1's create was refused and retried as a merge"


# -- rejects -------------------------------------------------------------------------------

_CORRUPTIONS: list[tuple[Callable[[dict[str, Any]], str], str]] = [
    (lambda r: "{not json", "not valid JSON"),
    (lambda r: json.dumps({**r, "account": "no spaces"}), "`account` must be"),
    (lambda r: json.dumps({**r, "type": "unknown"}), "`type` must be one of"),
    (lambda r: json.dumps({**r, "ts": "yesterday"} if "ts" in r else {**r, "fields": 3}),
     "`ts` is not an ISO 8601 date|`fields` must be an object"),
    (lambda r: json.dumps([r]), "a record must be a JSON object"),
]


def test_one_percent_malformed_records_are_set_aside(
    es: Elasticsearch, index: str, tmp_path: Path
) -> None:
    rng = random.Random(11)
    lines = sample_lines(250)
    bad: dict[int, str] = {}
    for position in rng.sample(range(len(lines)), len(lines) // 100):
        corrupt, reason = _CORRUPTIONS[len(bad) % len(_CORRUPTIONS)]
        lines[position] = corrupt(json.loads(lines[position]))
        bad[position + 1] = reason
    data = tmp_path / "records.jsonl"
    data.write_bytes(("\n".join(lines) + "\n").encode() + b'{"type": "\xff"}\n')
    bad[len(lines) + 1] = "not UTF-8"
    rejects = tmp_path / "rejects.jsonl"
    done = run_cli(str(data), "--index", index, "--rejects", str(rejects),
                   "--batch-size", "1000", check=False)
    summary = json.loads(done.stdout)
    assert done.returncode == EXIT_REJECTED, done.stderr
    assert f"{len(bad)} rejected" in done.stderr and str(rejects) in done.stderr
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {r["line"] for r in written} == set(bad)
    for reject in written:
        assert any(part in reject["reason"] for part in bad[reject["line"]].split("|")), reject
        assert reject["file"] == str(data) and "record" in reject
    assert summary["rejected"] == len(bad)
    assert summary["records"] == summary["applied"] + summary["unchanged"] + len(bad)
    assert_index_is_the_fold(es, index, lines)


# -- concurrency -------------------------------------------------------------------------


def test_concurrent_indexers_lose_no_update(es: Elasticsearch, index: str) -> None:
    """Two indexers write the same contacts at once: `if_seq_no` turns every lost update
    into a 409, and the contact is read and its records applied again."""
    contacts = [f"c{i}" for i in range(40)]

    def stream(writer: str) -> list[str]:
        out = []
        for n in range(15):
            for cid in contacts:
                out.append(json.dumps(event(f"{writer}-{n}", cid)))
                out.append(json.dumps(contact(cid, fields={f"{writer}_{n % 3}": n})))
        return out

    streams = {writer: stream(writer) for writer in ("a", "b")}
    indexers = {writer: Indexer(es, index) for writer in streams}

    failures: list[BaseException] = []

    def work(writer: str) -> None:
        try:
            for batch in batched(streams[writer], 60):
                indexers[writer].apply(batch)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    es.indices.refresh(index=index)
    stored = {c.id: c for c in stored_contacts(es, index)}
    for cid in contacts:
        assert len(stored[cid].events) == 30, cid
        assert stored[cid].fields == {f"{w}_{k}": 12 + k for w in "ab" for k in range(3)}
    print(f"conflicts retried: {sum(i.stats.retried for i in indexers.values())}")


# -- bounded documents -----------------------------------------------------------------------


def _events(count: int, cid: str = "big") -> list[str]:
    return [json.dumps(event(f"e{i:06d}", cid, ts=f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}"
                                                   f"T10:{i % 60:02d}:00Z"))
            for i in range(count)]


def test_retention_is_the_newest_n_whatever_the_order() -> None:
    lines = _events(3000)
    store, _ = fold_records(lines, max_events=1000)
    kept = store.contacts[("acme", "big")]
    everything = {json.loads(line)["id"]: json.loads(line)["ts"] for line in lines}
    newest = sorted(everything, key=lambda i: (everything[i].replace("Z", ".000Z"), i))[-1000:]
    assert set(kept.events) == set(newest)
    assert kept.events_dropped == 2000, "exact up to Dropped.EXACT_LIMIT"
    rng = random.Random(3)
    for _ in range(3):
        shuffled = lines + rng.sample(lines, 800)  # with repeats of dropped events
        rng.shuffle(shuffled)
        again, _ = fold_records(shuffled, max_events=1000)
        assert again.contacts[("acme", "big")] == kept


def test_dropped_counts_in_bounded_space() -> None:
    exact, sketch = Dropped(), Dropped()
    for i in range(Dropped.EXACT_LIMIT):
        assert exact.add(f"x{i}", [])
    assert not exact.add("x0", []), "an id dropped again changes nothing"
    assert exact.count(0) == Dropped.EXACT_LIMIT and exact.registers is None
    for i in range(60_000):
        sketch.add(f"x{i}", [])
    assert sketch.registers is not None and not sketch.hashes
    assert abs(sketch.count(0) - 60_000) < 60_000 * 0.03
    assert Dropped.from_json(sketch.to_json()) == sketch
    assert Dropped.from_json(exact.to_json()) == exact


def test_a_contact_with_100k_events_keeps_n(es: Elasticsearch, index: str) -> None:
    lines = _events(100_000)
    load(es, index, lines, batch_size=25_000)
    stored = assert_index_is_the_fold(es, index, lines)
    big = stored[("acme", "big")]
    assert len(big.events) == 1000
    assert big.events_dropped == pytest.approx(99_000, rel=0.03)
    source = es.get(index=index, id="acme:big", routing="acme")["_source"]
    assert source["events_dropped"] == big.events_dropped
    size = len(json.dumps(source))
    assert size < 250_000, "the document stays bounded"
    # an update of that contact: one read and one write of the bounded document
    indexer = Indexer(es, index)
    started = time.monotonic()
    indexer.apply(next(batched([json.dumps(contact("big", fields={"vip": True}))], None)))
    assert indexer.stats.written == 1 and time.monotonic() - started < 5
    # old events again: already dropped, they change nothing
    indexer.apply(next(batched(lines[:2000], None)))
    assert indexer.stats.written == 1 and indexer.stats.unchanged == 2000
    assert len(json.dumps(es.get(index=index, id="acme:big", routing="acme")["_source"])) \
        < size + 100


def test_a_store_keeps_its_limits() -> None:
    store = ContactStore(max_events=2, max_visits=1)
    for line in _events(5, "c"):
        store.apply(json.loads(line))
    visit = {"type": "visit", "account": "acme", "contact": "c", "ts": "2025-01-01T00:00:00Z"}
    store.apply(visit | {"id": "v1"})
    store.apply(visit | {"id": "v2"})
    found = store.contacts[("acme", "c")]
    assert (len(found.events), found.events_dropped) == (2, 3)
    assert (list(found.visits), found.visits_dropped) == (["v2"], 1)
    document = contact_document(found)
    assert (document["events_dropped"], document["visits_dropped"]) == (3, 1)
    assert "events_dropped" not in contact_document(
        Contact("acme", "x", events={"e": Activity("e", "2025-01-01T00:00:00.000Z", {})}))


# -- the mapping --------------------------------------------------------------------------


def test_an_index_from_before_retention_gets_its_counters(es: Elasticsearch,
                                                          index: str) -> None:
    body = index_body()
    for name in ("events_dropped", "visits_dropped"):
        del body["mappings"]["properties"][name]
    es.indices.create(index=index, **body)
    load(es, index, _events(3), max_events=1)
    assert es.get(index=index, id="acme:big", routing="acme")["_source"]["events_dropped"] == 2


def _mapped_fields(es: Elasticsearch, index: str) -> int:
    def count(properties: dict[str, Any]) -> int:
        return sum(1 + count(p.get("properties", {})) + len(p.get("fields", {}))
                   for p in properties.values())

    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    return count(mapping["properties"])


def test_event_property_names_add_no_mapped_field(es: Elasticsearch, index: str) -> None:
    load(es, index, [json.dumps(event("first", "c0", props={"p": 1}))])
    before = _mapped_fields(es, index)
    lines = [json.dumps(event(f"e{i}", f"c{i % 20}", name=f"Custom{i % 7}", props={
        f"prop_{i}_{k} {'ł' * (k % 2)}": [k, f"v{k}", k % 2 == 0] for k in range(10)}))
        for i in range(1000)]
    assert len({name for line in lines for name in json.loads(line)["props"]}) == 10_000
    summary = load(es, index, lines)
    assert summary.rejected == [] and summary.failed == []
    assert _mapped_fields(es, index) == before


# -- the command -------------------------------------------------------------------------


def test_cli_rate_resume_and_dry_run(es: Elasticsearch, index: str, tmp_path: Path) -> None:
    lines = sample_lines(40)
    data = tmp_path / "records.jsonl"
    data.write_text("\n".join(lines[:600]) + "\n")
    started = time.monotonic()
    first = json.loads(run_cli(str(data), "--index", index, "--rate", "1000",
                               "--rejects", str(tmp_path / "r.jsonl")).stdout)
    assert time.monotonic() - started > 0.5, "600 records at 1000/s take 0.6 s at least"
    assert first["records"] == 600
    with data.open("a") as out:  # the file grows: the next run applies only the news
        out.write("\n".join(lines[600:]) + "\n")
    second = json.loads(run_cli(str(data), "--index", index,
                                "--rejects", str(tmp_path / "r.jsonl")).stdout)
    assert second["resumed_after_line"] == 600 and second["records"] == len(lines)
    assert second["written"] <= len({json.loads(line).get("contact") or
                                     json.loads(line)["id"] for line in lines[600:]})
    assert_index_is_the_fold(es, index, lines)
    dry = json.loads(run_cli(str(data), "--dry-run").stdout)
    assert dry["rejected"] == 0


def test_follow_keeps_documents_current(es: Elasticsearch, index: str, tmp_path: Path) -> None:
    data = tmp_path / "feed.jsonl"
    data.write_text(json.dumps(contact("f1")) + "\n")
    ensure_index(es, index)  # so that searching it never races with its creation
    follower = subprocess.Popen(
        [SEGQL, "index", str(data), "--follow", "--index", index, "--rejects",
         str(tmp_path / "r.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy())

    def searchable(cid: str) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = es.options(ignore_status=404).search(
                index=index, query={"term": {"contact_id": cid}}, size=0)
            if found.get("hits", {}).get("total", {}).get("value"):
                return True
            time.sleep(0.2)
        return False

    try:
        assert searchable("f1")
        with data.open("a") as out:  # a line written in two parts
            line = json.dumps(contact("f2", fields={"city": "Gdańsk"}))
            out.write(line[:10])
            out.flush()
            time.sleep(0.5)
            out.write(line[10:] + "\n")
        assert searchable("f2")
        data.rename(tmp_path / "feed.1.jsonl")  # rotation: a new file at the path
        data.write_text(json.dumps(contact("f3")) + "\n")
        assert searchable("f3")
        data.write_text(json.dumps(contact("f4")) + "\n")  # truncated and rewritten
        assert searchable("f4")
    finally:
        follower.terminate()
        out_text, err_text = follower.communicate(timeout=60)
    assert follower.returncode == 0, err_text
    assert json.loads(out_text)["records"] == 4
