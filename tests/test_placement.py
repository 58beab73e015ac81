"""Accounts over shards (issue 18, docs/scaling.md): a contact index spreads one account
over `routing_partition_size` of its shards; a small account's searches visit only those;
every count and export equals the reference evaluator's; an index built before (routing
by account alone, one shard per account) is moved to the placement by `segql reindex`,
resumably, with the same counts and exports.

The data: the hard records (tests/support/hard_data.py) of account `acme` (big) and of a
few ids only of account `other` (small).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hard_data
import pytest
from elasticsearch import BadRequestError, Elasticsearch
from hard_data import CATALOG, NOWS

from segql import api
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.errors import InputError
from segql.indexer.index_facts import concrete_index, index_placement
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.stores.mapping import create_index_once, index_body
from segql.stores.placement import Placement, default_partition, placement, placement_of

SEGQL = str(Path(sys.executable).with_name("segql"))
SEED = 20261128
BIG, SMALL = "acme", "other"
SMALL_IDS = {"c1", "c2", "c3", "c4", "c5"}
SHARDS = 4
TEXTS = ["email has_value", 'note starts_with "a"', "event Purchase occurred",
         "visit occurred at_least 2 times", "not vip is_true", "age > 30",
         'any(event MailOpen occurred within 30d, event Login where (ok is_true) occurred)',
         'all(score has_value, not event Purchase where (currency = "PLN") occurred)']


@pytest.fixture
def name(es: Elasticsearch) -> Iterator[str]:
    unique = f"segql-test-{os.urandom(6).hex()}"
    yield unique
    for found in es.indices.get(index=f"{unique}*", allow_no_indices=True):
        es.options(ignore_status=404).indices.delete(index=found)


def records() -> list[str]:
    """`acme`'s records, and `other`'s of SMALL_IDS only."""
    out = []
    for line in hard_data.records(SEED, 160):
        record = json.loads(line)
        who = record.get("contact", record.get("id"))
        if record["account"] == BIG or who in SMALL_IDS:
            out.append(line)
    return out


def contacts() -> list[Contact]:
    store, _ = fold_records(records())
    return list(store.contacts.values())


def context(account: str) -> Context:
    return Context(account=account, now=hard_data.parse_now(NOWS[2]), catalog=CATALOG)


def answers(es: Elasticsearch, index: str) -> dict[str, Any]:
    """Every text's count and exported ids, per account."""
    return {account: [(api.count(es, text, context(account), index).count,
                       sorted(api.export_ids(es, text, context(account), index, page=7)))
                      for text in TEXTS] for account in (BIG, SMALL)}


def reference(folded: list[Contact]) -> dict[str, Any]:
    out = {}
    for account in (BIG, SMALL):
        rows = []
        for text in TEXTS:
            ids = sorted(matching_ids(api.prepare(text, context(account)),
                                      [c for c in folded if c.account == account]))
            rows.append((len(ids), ids))
        out[account] = rows
    return out


def shards_holding(es: Elasticsearch, index: str, account: str) -> list[int]:
    """The account's contacts on each shard of the index."""
    es.indices.refresh(index=index)
    shards = index_placement(es, concrete_index(es, index)[0]).shards
    return [int(es.count(index=index, preference=f"_shards:{k}",
                         query={"term": {"account": account}})["count"])
            for k in range(shards)]


def visited(es: Elasticsearch, index: str, account: str) -> int:
    """Shards a count routed by the account visits (`_shards.total`), none failing."""
    reply = es.search(index=index, routing=account, size=0, track_total_hits=True,
                      query={"term": {"account": account}})
    assert reply["_shards"]["failed"] == 0
    return int(reply["_shards"]["total"])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEGQL, "reindex", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


# -- the placement rules (no cluster) ----------------------------------------------------


@pytest.mark.parametrize(("shards", "partition"), [
    (1, 1), (2, 1), (3, 2), (4, 2), (6, 3), (12, 6), (16, 8), (31, 8)])
def test_default_partition(shards: int, partition: int) -> None:
    assert default_partition(shards) == partition
    assert placement(shards) == Placement(shards, partition)


@pytest.mark.parametrize(("shards", "partition"), [(1, 2), (3, 3), (4, 5), (0, 1), (2, 0)])
def test_impossible_placements_are_input_errors(shards: int, partition: int) -> None:
    with pytest.raises(InputError):
        placement(shards, partition)


@pytest.mark.parametrize(("settings", "routing_shards", "effective"), [
    ({"number_of_shards": "1"}, 1, Placement(1, 1)),
    ({"number_of_shards": "6"}, 768, Placement(6, 1)),
    ({"number_of_shards": "6", "routing_partition_size": "3"}, 6, Placement(6, 3)),
    # Elasticsearch's default routing shards: the partition lands on one shard
    ({"number_of_shards": "6", "routing_partition_size": "3"}, 768, Placement(6, 1)),
])
def test_placement_in_effect(settings: dict[str, str], routing_shards: int,
                             effective: Placement) -> None:
    assert placement_of(settings, routing_shards) == effective


# -- a new index ------------------------------------------------------------------------


def test_big_account_spreads_small_one_stays_and_answers_equal_the_evaluator(
        es: Elasticsearch, name: str) -> None:
    create_index_once(es, name, index_body(SHARDS))
    summary = load(es, name, records(), batch_size=60)  # later batches read stored ones
    assert summary.failed == []
    (settings,) = es.indices.get_settings(index=name).values()
    assert index_placement(es, name) == Placement(SHARDS, 2)
    assert settings["settings"]["index"]["routing_partition_size"] == "2"
    big = shards_holding(es, name, BIG)
    assert sum(1 for n in big if n) == 2 and sum(big) > 100, big
    assert sum(1 for n in shards_holding(es, name, SMALL) if n) <= 2
    assert visited(es, name, BIG) == 2 and visited(es, name, SMALL) == 2
    want = reference(contacts())
    assert sum(1 for n, _ in want[BIG] if n) >= len(TEXTS) - 2, "the texts select"
    assert answers(es, name) == want
    for account, rows in want.items():  # a sliced export of the point in time
        with api.export(es, TEXTS[2], context(account), index=name, slices=3, page=5) as run:
            assert sorted(row.contact_id for row in run) == rows[2][1]
    with pytest.raises(BadRequestError):  # a write without routing is refused
        es.index(index=name, id=f"{BIG}:x", document={"account": BIG, "contact_id": "x"})


def test_partition_one_keeps_an_account_on_one_shard(es: Elasticsearch, name: str) -> None:
    create_index_once(es, name, index_body(SHARDS, partition=1))
    assert load(es, name, records()).failed == []
    assert sum(1 for n in shards_holding(es, name, BIG) if n) == 1
    assert visited(es, name, BIG) == 1 and visited(es, name, SMALL) == 1
    assert answers(es, name) == reference(contacts())


# -- moving an index built the old way ------------------------------------------------


def old_way() -> dict[str, Any]:
    """A contact index as segql made it before placements: routed by account, no
    partition, `_routing` not required."""
    body = index_body(SHARDS, partition=1)
    del body["mappings"]["_routing"]
    return body


def test_reindex_moves_an_old_index_to_the_placement_resumably(
        es: Elasticsearch, name: str) -> None:
    es.indices.create(index=name, **old_way())
    assert load(es, name, records()).failed == []
    before = answers(es, name)
    assert before == reference(contacts())
    assert sum(1 for n in shards_holding(es, name, BIG) if n) == 1
    # a first run copies one account only, into 3 partitions of 4 shards ...
    partial = run_cli("--index", name, "--account", SMALL, "--routing-partition", "3")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["status"] == "partial"
    # ... and a rerun without options continues into the same new index
    done = run_cli("--index", name)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "switched" and summary["resumed"] is True
    assert summary["placement"] == {"shards": SHARDS, "partition": 3}
    assert concrete_index(es, name) == (f"{name}-v2", True)
    assert index_placement(es, f"{name}-v2") == Placement(SHARDS, 3)
    assert sum(1 for n in shards_holding(es, name, BIG) if n) == 3
    assert visited(es, name, SMALL) == 3
    assert answers(es, name) == before
    # the placement asked for is the index's: current; another one rebuilds again
    again = run_cli("--index", name, "--routing-partition", "3")
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "current"
    moved = run_cli("--index", name, "--shards", "2")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["placement"] == {"shards": 2, "partition": 1}
    assert answers(es, name) == before


def test_reindex_refuses_an_impossible_placement(es: Elasticsearch, name: str) -> None:
    es.indices.create(index=name, **old_way())
    assert load(es, name, records()[:50]).failed == []
    refused = run_cli("--index", name, "--shards", "2", "--routing-partition", "2")
    assert refused.returncode == 2, refused.stderr
    assert "needs more shards" in refused.stderr and "Traceback" not in refused.stderr
    assert concrete_index(es, name) == (name, False)
