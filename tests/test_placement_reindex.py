"""Moving a contact index between placements (issue 18, docs/scaling.md): `segql reindex`
of an index made before (a concrete index with a routing partition) into one shard per
account, then spreading the big account, then not again — stopped after one account and
resumed, with the same counts and exports each time; old indices closed, then deleted; a
writer that looked the index up before a switch and writes after it, a `segql index
--follow` writing across a switch, and an export reading across one lose and double
nothing.

The data and helpers: tests/test_placement.py's.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from placement_data import (
    BIG,
    SHARDS,
    SMALL,
    TEXTS,
    answers,
    contacts,
    context,
    records,
    reference,
    shards_holding,
    visited,
)
from placement_data import name as name  # the fixture

from segql import api
from segql.errors import SegqlError
from segql.indexer.apply import Indexer, stored_contacts
from segql.indexer.batch import Key, Line, batched
from segql.indexer.index_facts import concrete_index, index_placement
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.indexer.reindex import reindex
from segql.indexer.writer import Outcome, Stored
from segql.indexer.written import WrittenContacts
from segql.stores.mapping import create_index_once, index_body
from segql.stores.placement import Placement, resolve

SEGQL = str(Path(sys.executable).with_name("segql"))
pytestmark = pytest.mark.es


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEGQL, "reindex", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def status(es: Elasticsearch, index: str) -> str:
    """`open` or `close`."""
    (row,) = es.cat.indices(index=index, h="status", format="json", expand_wildcards="all")
    return str(row["status"])


def on_shards(es: Elasticsearch, index: str, account: str) -> int:
    return sum(1 for n in shards_holding(es, index, account) if n)


def test_reindex_moves_an_old_index_to_one_shard_then_spreads_resumably(
        es: Elasticsearch, name: str) -> None:
    create_index_once(es, name, index_body(SHARDS, partition=2))  # the placement before
    assert load(es, name, records()).failed == []
    before = answers(es, name)
    assert before == reference(contacts())
    assert visited(es, name, SMALL) == 2
    big = sum(1 for c in contacts() if c.account == BIG)
    above = math.ceil(big / 3)  # acme over 3 shards, other (5 contacts) on one
    # the first reindex of a concrete index named as the contact index spreads nothing
    partial = run_cli("--index", name, "--account", SMALL, "--spread-above", str(above))
    assert partial.returncode == 0, partial.stderr
    first = json.loads(partial.stdout)
    assert first["status"] == "partial" and first["spread_deferred"] == [BIG]
    assert "run segql reindex again" in partial.stderr
    done = run_cli("--index", name)  # continues into the same new index
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "switched" and summary["resumed"] is True
    assert summary["placement"] == {"shards": SHARDS, "partition": 1}
    assert concrete_index(es, name) == (f"{name}-v2", True)
    assert on_shards(es, name, BIG) == 1 and visited(es, name, SMALL) == 1
    assert answers(es, name) == before
    # now spread: stopped after one account, resumed
    partial = run_cli("--index", name, "--account", BIG, "--spread-above", str(above))
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["status"] == "partial"
    done = run_cli("--index", name)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "switched" and summary["resumed"] is True
    assert summary["placement"] == {"shards": SHARDS, "partition": 1, "spread": {BIG: 3}}
    assert index_placement(es, f"{name}-v3") == Placement(SHARDS, 1, {BIG: 3})
    assert on_shards(es, name, BIG) == 3 and on_shards(es, name, SMALL) == 1
    assert visited(es, name, BIG) == 3 and visited(es, name, SMALL) == 1
    assert answers(es, name) == before
    assert status(es, f"{name}-v2") == "close" and not es.indices.exists(index=name + "-x")
    # the same threshold: current; a threshold the account no longer crosses: not
    again = run_cli("--index", name, "--spread-above", str(above))
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "current"
    back = run_cli("--index", name, "--spread-above", str(big))
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["placement"] == {"shards": SHARDS, "partition": 1}
    assert on_shards(es, name, BIG) == 1 and answers(es, name) == before
    assert status(es, f"{name}-v3") == "close"
    assert not es.indices.exists(index=f"{name}-v2"), "closed by the reindex before: deleted"


def test_a_current_concrete_index_with_an_account_to_spread_takes_two_reindexes(
        es: Elasticsearch, name: str) -> None:
    create_index_once(es, name, index_body(SHARDS))  # as `segql index` makes one
    assert load(es, name, records()).failed == []
    before = answers(es, name)
    first = reindex(es, name, spread_above=50)
    assert first.status == "switched" and first.spread_deferred == [BIG]
    assert first.placement == {"shards": SHARDS, "partition": 1}
    second = reindex(es, name, spread_above=50)
    assert second.status == "switched" and second.spread_deferred == []
    # 139 contacts over 50 a shard
    assert second.placement is not None and second.placement["spread"] == {BIG: 3}
    assert on_shards(es, name, BIG) == 3 and visited(es, name, SMALL) == 1
    assert answers(es, name) == before
    assert reindex(es, name, spread_above=50).status == "current"


@pytest.mark.parametrize(("args", "says"), [
    (["--routing-partition", "2", "--spread", f"{BIG}=2"], "needs a routing partition of 1"),
    (["--spread", f"{BIG}=9"], "2 to 4 shards"),
    (["--spread", "acme:2"], "ACCOUNT=SHARDS"),
])
def test_reindex_refuses_an_impossible_spread(es: Elasticsearch, name: str,
                                              args: list[str], says: str) -> None:
    create_index_once(es, f"{name}-v1", index_body(SHARDS))
    es.indices.put_alias(index=f"{name}-v1", name=name)
    assert load(es, name, records()[:50]).failed == []
    refused = run_cli("--index", name, *args)
    assert refused.returncode == 2, refused.stderr
    assert says in refused.stderr and "Traceback" not in refused.stderr
    assert concrete_index(es, name) == (f"{name}-v1", True)


def aliased(es: Elasticsearch, name: str, lines: list[str]) -> None:
    """A contact index `name` made as an alias of `name-v1`, holding `lines`."""
    create_index_once(es, f"{name}-v1", index_body(SHARDS))
    es.indices.put_alias(index=f"{name}-v1", name=name)
    assert load(es, name, lines).failed == []


def late(ids: list[str]) -> list[dict[str, Any]]:
    """Records for the big account after a switch: events on some, a delete, a new one."""
    return [*({"type": "event", "account": BIG, "contact": c, "id": f"late-{i}",
               "name": "Late", "ts": "2026-01-01T00:00:00Z", "props": {"n": i}}
              for i, c in enumerate(ids[:4])),
            {"type": "delete", "account": BIG, "id": ids[4]},
            {"type": "contact", "account": BIG, "id": "late-new", "email": "l@example.com"}]


def equals_the_fold(es: Elasticsearch, name: str, lines: list[str]) -> None:
    """The index holds the fold of `lines`, each contact once (a copy on a second shard
    would be a second entry: the scan reads every shard)."""
    expected, _ = fold_records(lines)
    es.indices.refresh(index=name)
    stored = sorted(stored_contacts(es, name), key=lambda c: c.key)
    assert stored == sorted(expected.contacts.values(), key=lambda c: c.key)
    assert int(es.count(index=name)["count"]) == len(expected.contacts)


@pytest.mark.parametrize("switch_before", ["read", "write"])
def test_a_writer_that_resolved_before_the_switch_writes_to_the_new_index(
        es: Elasticsearch, name: str, switch_before: str) -> None:
    """The writer looked the index up (its batch began), then the reindex switches and
    spreads its account: before its read (mget of the closed index: looked up again) or
    between its read and its write (bulk to the closed index: looked up, read again)."""
    lines = records()
    aliased(es, name, lines)
    ids = sorted(c.id for c in contacts() if c.account == BIG)
    switched: list[str] = []

    def switch(writer: Indexer) -> None:
        if not switched:
            switched.append(writer.target.index)
            report = reindex(es, name, spread={BIG: 3})
            assert report.status == "switched" and report.target == f"{name}-v2"

    class Stale(Indexer):
        def _read(self, keys: list[Key]) -> dict[Key, Stored]:
            if switch_before == "read":
                switch(self)
            return super()._read(keys)

        def _fold(self, key: Key, stored: Stored | None, lines: list[Line]) -> Outcome:
            if switch_before == "write":
                switch(self)
            return super()._fold(key, stored, lines)

    more = [json.dumps(r) for r in late(ids)]
    indexer = Stale(es, name)
    (batch,) = batched(more, None)
    result = indexer.apply(batch)
    assert switched == [f"{name}-v1"] and indexer.target.index == f"{name}-v2"
    assert result.rejects == [] and indexer.stats.failed == []
    assert status(es, f"{name}-v1") == "close"
    assert on_shards(es, name, BIG) == 3
    equals_the_fold(es, name, [*lines, *more])
    assert answers(es, name) == reference(contacts([*lines, *more]))


def test_an_export_across_a_switch_renews_on_the_new_index(
        es: Elasticsearch, name: str) -> None:
    lines = records()
    aliased(es, name, lines)
    want = reference(contacts())[BIG][0][1]
    with api.export(es, TEXTS[0], context(BIG), index=name, page=5) as run:
        head = [next(run).contact_id for _ in range(7)]
        assert reindex(es, name, spread={BIG: 3}).status == "switched"
        assert status(es, f"{name}-v1") == "close"
        try:
            rest = [row.contact_id for row in run]
        except SegqlError as error:  # or a clear failure, never a short list
            assert "Traceback" not in str(error)
            pytest.fail(f"the export failed: {error}")
        assert head + rest == want and run.renewed == 1
    assert resolve(es, name).index == f"{name}-v2"


def test_a_follower_writing_across_a_spreading_switch_loses_nothing(
        es: Elasticsearch, name: str, tmp_path: Path) -> None:
    lines = records()
    aliased(es, name, lines)
    ids = sorted(c.id for c in contacts() if c.account == BIG)
    feed, rejects = tmp_path / "feed.jsonl", tmp_path / "rejects.jsonl"
    written = [json.dumps({"type": "contact", "account": SMALL, "id": "first"})]
    feed.write_text(written[0] + "\n")
    follower = subprocess.Popen([SEGQL, "index", str(feed), "--index", name, "--follow",
                                 "--rejects", str(rejects), "--batch-size", "5"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def append(records: list[dict[str, Any]]) -> None:
        with feed.open("a", encoding="utf-8") as out:
            for record in records:
                written.append(json.dumps(record))
                out.write(written[-1] + "\n")

    def meanwhile(message: str) -> None:
        if message.startswith(f"account {BIG}:"):  # copied: write to it while copying more
            append(late(ids[:5]))

    try:
        time.sleep(2)
        report = reindex(es, name, batch_size=10, spread={BIG: 3}, log=meanwhile)
        assert report.status == "switched"
        append(late(ids[10:15])[:-1])  # after the switch (the new one exists already)
        expected, _ = fold_records([*lines, *written])
        deadline = time.monotonic() + 120
        while True:  # until the follower applied everything
            es.indices.refresh(index=name)
            if int(es.count(index=name)["count"]) == len(expected.contacts) and all(
                    c.events.get("late-0") for c in stored_contacts(es, name)
                    if c.account == BIG and c.id == ids[10]):
                break
            assert time.monotonic() < deadline and follower.poll() is None
            time.sleep(0.5)
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert not rejects.exists() or rejects.read_text() == ""
    assert on_shards(es, name, BIG) == 3
    equals_the_fold(es, name, [*lines, *written])


def test_a_cached_writer_idle_across_a_switch_reads_the_new_index(
        es: Elasticsearch, name: str) -> None:
    """A writer keeping what it wrote (`--follow`'s cache) sits idle while a reindex
    switches: its cached `_seq_no`s are the old index's, so its next batch forgets them
    and reads the contacts from the new index (a chance match of a cached `_seq_no` with
    the new copy's would otherwise let a write over an unseen update through)."""
    def later(ids: list[str], tag: str) -> list[dict[str, Any]]:
        return [{"type": "event", "account": BIG, "contact": c, "id": f"{tag}-{c}",
                 "name": "Late", "ts": "2026-01-02T00:00:00Z", "props": {"n": 1}}
                for c in ids]

    lines = records()
    aliased(es, name, lines)
    ids = sorted(c.id for c in contacts() if c.account == BIG)[:4]
    indexer = Indexer(es, name, cache=WrittenContacts(1000))
    first = [json.dumps(r) for r in later(ids, "a")]
    (batch,) = batched(first, None)
    assert indexer.apply(batch).rejects == []
    assert all((BIG, i) in indexer.cache for i in ids) and indexer.target.index == f"{name}-v1"
    assert reindex(es, name, spread={BIG: 3}).status == "switched"
    reads, retried = indexer.reads, indexer.stats.retried
    second = [json.dumps(r) for r in later(ids, "b")]
    (batch,) = batched(second, None)
    assert indexer.apply(batch).rejects == [] and indexer.stats.failed == []
    assert indexer.target.index == f"{name}-v2"
    assert indexer.reads - reads == len(ids), "every contact read again from the new index"
    assert indexer.stats.retried == retried, "no write guarded by the old index's _seq_no"
    equals_the_fold(es, name, [*lines, *first, *second])
