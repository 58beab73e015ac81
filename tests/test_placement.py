"""Accounts over shards (issue 18, docs/scaling.md): a new contact index keeps every
account on one shard; an account spread by routing keys (the concrete index's `_meta`)
is on exactly S shards and its searches visit those S; a small account's count, msearch,
export, pages and explain visit one shard; every count and export equals the reference
evaluator's. Moving indices between placements: tests/test_placement_reindex.py.

The data: the hard records (tests/support/hard_data.py) of account `acme` (big) and of a
few ids only of account `other` (small).
"""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from housekeeping import admin
from placement_data import (
    BIG,
    SHARDS,
    SMALL,
    SPREAD,
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
from segql.contract.contact import bucket
from segql.errors import InputError
from segql.indexer.index_facts import index_placement
from segql.indexer.loader import load
from segql.stores.mapping import create_index_once, index_body, mark_shape, put_routes
from segql.stores.placement import (
    PLACEMENT_META,
    Placement,
    Routes,
    default_partition,
    placement,
    placement_of,
    resolve,
    spread_keys,
    spread_over,
)


def recording(es: Elasticsearch) -> tuple[Elasticsearch, list[int]]:
    """A client of the same node that notes the `_shards.total` of every answer it gets
    (searches, msearch items, points in time)."""
    totals: list[int] = []

    class Recording(type(es)):  # type: ignore[misc]
        def perform_request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().perform_request(*args, **kwargs)
            body = response.body if isinstance(response.body, dict) else {}
            for item in [body, *body.get("responses", [])]:
                if "_shards" in item:
                    totals.append(int(item["_shards"]["total"]))
            return response

    client = es.options()
    client.__class__ = Recording
    return client, totals


def every_reader(es: Elasticsearch, index: str, account: str, ids: list[str]) -> None:
    """A count, an msearch, a sliced export, pages and an explain of the account."""
    ctx = context(account)
    api.count(es, TEXTS[0], ctx, index)
    api.count_many(es, TEXTS[:3], ctx, index)
    api.members(es, TEXTS[0], ctx, index=index, size=3)
    with api.export(es, TEXTS[2], ctx, index=index, slices=2, page=5) as run:
        list(run)
    first = api.page(es, TEXTS[0], ctx, key=b"k" * 32, size=2, index=index)
    assert first.cursor is not None
    api.page(es, TEXTS[0], ctx, key=b"k" * 32, size=2, index=index, cursor=first.cursor)
    api.explain(es, TEXTS[0], ctx, ids[0], index=index)


# -- the placement rules (no cluster) ----------------------------------------------------


@pytest.mark.parametrize(("shards", "partition"), [
    (1, 1), (2, 1), (3, 2), (4, 2), (6, 3), (12, 6), (16, 8), (31, 8)])
def test_old_default_partition_and_the_new_default(shards: int, partition: int) -> None:
    assert default_partition(shards) == partition  # what indices before spreading have
    assert placement(shards) == Placement(shards, 1)  # a new one: an account on one shard


@pytest.mark.parametrize(("shards", "partition", "spread"), [
    (1, 2, {}), (3, 3, {}), (4, 5, {}), (0, 1, {}), (2, 0, {}),
    (6, 2, {"acme": 3}),  # spreading needs partition 1
    (4, 1, {"acme": 5}), (4, 1, {"acme": 1})])  # 2 to the shards
def test_impossible_placements_are_input_errors(shards: int, partition: int,
                                                spread: dict[str, int]) -> None:
    with pytest.raises(InputError):
        placement(shards, partition, spread)


@pytest.mark.parametrize(("contacts", "above", "shards", "over"), [
    (100, 100, 6, 1), (101, 100, 6, 2), (250, 100, 6, 3), (10_000, 100, 6, 6),
    (10_000, 100, 1, 1), (10_000_000, 2_000_000, 32, 5)])
def test_spread_over(contacts: int, above: int, shards: int, over: int) -> None:
    assert spread_over(contacts, above, shards) == over


def test_routes_are_the_account_or_its_key_by_bucket() -> None:
    routes = Routes({BIG: ("acme~0", "acme~2", "acme~5")})
    for contact in ("c1", "c2", "x", "ünïcode"):
        assert routes.route(BIG, contact) == routes.keys[BIG][bucket(contact) % 3]
        assert routes.route(SMALL, contact) == SMALL
    assert {routes.route(BIG, f"c{i}") for i in range(100)} == set(routes.keys[BIG])
    assert routes.search_routing(BIG) == "acme~0,acme~2,acme~5"
    assert routes.search_routing(SMALL) == SMALL
    assert Routes.of_meta({PLACEMENT_META: routes.to_meta()}) == routes
    assert Routes.of_meta(None) == Routes() == Routes.of_meta({"other": 1})


@pytest.mark.parametrize(("settings", "routing_shards", "meta", "effective"), [
    ({"number_of_shards": "1"}, 1, None, Placement(1, 1)),
    ({"number_of_shards": "6"}, 768, None, Placement(6, 1)),
    ({"number_of_shards": "6", "routing_partition_size": "3"}, 6, None, Placement(6, 3)),
    # Elasticsearch's default routing shards: the partition lands on one shard
    ({"number_of_shards": "6", "routing_partition_size": "3"}, 768, None, Placement(6, 1)),
    ({"number_of_shards": "6"}, 768, {PLACEMENT_META: {"spread": {"a": ["a~0", "a~3"]}}},
     Placement(6, 1, {"a": 2})),
])
def test_placement_in_effect(settings: dict[str, str], routing_shards: int,
                             meta: dict[str, Any] | None, effective: Placement) -> None:
    assert placement_of(settings, routing_shards, meta) == effective


# -- a new index ------------------------------------------------------------------------


def test_a_new_index_keeps_each_account_on_one_shard(es: Elasticsearch, name: str) -> None:
    create_index_once(es, name, index_body(SHARDS))
    assert load(es, name, records(), batch_size=60).failed == []
    assert index_placement(es, name) == Placement(SHARDS, 1)
    for account in (BIG, SMALL):
        assert sum(1 for n in shards_holding(es, name, account) if n) == 1
        assert visited(es, name, account) == 1
    assert answers(es, name) == reference(contacts())


def test_a_spread_account_is_on_its_shards_and_a_small_one_on_one(
        es: Elasticsearch, name: str) -> None:
    staging = admin(es)  # as `segql reindex` makes a spread index (an administrator's job)
    create_index_once(staging, name, index_body(SHARDS))
    keys = spread_keys(staging, name, BIG, SPREAD)
    put_routes(staging, name, Routes({BIG: keys}))
    mark_shape(staging, name)  # keeps the placement in `_meta`
    assert resolve(es, name).routes == Routes({BIG: keys})
    assert index_placement(es, name) == Placement(SHARDS, 1, {BIG: SPREAD})
    summary = load(es, name, records(), batch_size=60)  # later batches read stored ones
    assert summary.failed == []
    big = shards_holding(es, name, BIG)
    assert sum(1 for n in big if n) == SPREAD and sum(big) > 100, big
    assert sum(1 for n in shards_holding(es, name, SMALL) if n) == 1
    assert visited(es, name, BIG) == SPREAD and visited(es, name, SMALL) == 1
    want = reference(contacts())
    assert sum(1 for n, _ in want[BIG] if n) >= len(TEXTS) - 2, "the texts select"
    assert answers(es, name) == want
    for account, shards in ((SMALL, 1), (BIG, SPREAD)):
        client, totals = recording(es)
        ids = sorted(c.id for c in contacts() if c.account == account)
        every_reader(client, name, account, ids)
        assert len(totals) >= 8 and set(totals) == {shards}, (account, totals)
    for account, rows in want.items():  # a sliced export of the point in time
        with api.export(es, TEXTS[2], context(account), index=name, slices=3, page=5) as run:
            assert sorted(row.contact_id for row in run) == rows[2][1]
    with pytest.raises(BadRequestError):  # a write without routing is refused
        es.index(index=name, id=f"{BIG}:x", document={"account": BIG, "contact_id": "x"})
