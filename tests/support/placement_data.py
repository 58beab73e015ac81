"""Shared by tests/test_placement.py and tests/test_placement_reindex.py: the data (the
hard records of account `acme`, big, and of a few ids of `other`, small), the texts,
their answers through segql and by the reference evaluator, and where contacts are."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import hard_data
import pytest
from elasticsearch import Elasticsearch
from hard_data import CATALOG, NOWS
from housekeeping import admin

from segql import api
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.indexer.index_facts import index_placement
from segql.indexer.records import fold_records
from segql.stores.placement import resolve

SEED = 20261128
BIG, SMALL = "acme", "other"
SMALL_IDS = {"c1", "c2", "c3", "c4", "c5"}
SHARDS = 4
SPREAD = 3
TEXTS = ["email has_value", 'note starts_with "a"', "event Purchase occurred",
         "visit occurred at_least 2 times", "not vip is_true", "age > 30",
         'any(event MailOpen occurred within 30d, event Login where (ok is_true) occurred)',
         'all(score has_value, not event Purchase where (currency = "PLN") occurred)']


@pytest.fixture
def name(es: Elasticsearch) -> Iterator[str]:
    unique = f"segql-test-{os.urandom(6).hex()}"
    yield unique
    housekeeping = admin(es)
    for found in housekeeping.indices.get(index=f"{unique}*", allow_no_indices=True,
                                          expand_wildcards="all"):
        housekeeping.options(ignore_status=404).indices.delete(index=found)


def records() -> list[str]:
    """`acme`'s records, and `other`'s of SMALL_IDS only."""
    out = []
    for line in hard_data.records(SEED, 160):
        record = json.loads(line)
        who = record.get("contact", record.get("id"))
        if record["account"] == BIG or who in SMALL_IDS:
            out.append(line)
    return out


def contacts(lines: list[str] | None = None) -> list[Contact]:
    store, _ = fold_records(records() if lines is None else lines)
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
    """The account's contacts on each shard of the index (its concrete one)."""
    concrete = resolve(es, index).index
    es.indices.refresh(index=concrete)
    shards = index_placement(es, concrete).shards
    return [int(es.count(index=concrete, preference=f"_shards:{k}",
                         query={"term": {"account": account}})["count"])
            for k in range(shards)]


def visited(es: Elasticsearch, index: str, account: str) -> int:
    """Shards a count routed as segql routes the account visits (`_shards.total`)."""
    target = resolve(es, index)
    reply = es.search(index=target.index, routing=target.search_routing(account), size=0,
                      track_total_hits=True, query={"term": {"account": account}})
    assert reply["_shards"]["failed"] == 0
    return int(reply["_shards"]["total"])


