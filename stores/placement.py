"""Where an account's contacts live in the contact index (docs/scaling.md).

Two ways, both properties of a *concrete* contact index, fixed when it is created
(changing them is a `segql reindex`, which creates another concrete index):

* **Routing by account** (every index): a contact is written, read and searched with
  `routing=account`; the index may spread each routing value over `partition` of its
  `shards` shards (`index.routing_partition_size`, the placement of indices made before
  spreading: a small account's search then visits `partition` shards). New indices have
  partition 1: an account on one shard, its searches visit one.
* **Spread accounts** (partition 1 only): a large account gets S routing keys
  `account~j`, chosen when the index is created so that they land on S distinct shards
  (`spread_keys` asks Elasticsearch where each candidate lands). A contact is routed by
  `keys[bucket(contact_id) % S]` (`Routes.route`), a search of the account by all its keys
  (`Routes.search_routing`): it visits exactly those S shards. The keys live in the
  index's mapping `_meta` (PLACEMENT_META): whoever addresses the concrete index reads
  them with it (`resolve`), so a writer or reader never combines one index's name with
  another index's keys; an old concrete index is closed after a switch, never reused.

Two constraints of Elasticsearch come with a partition, both set at index creation only:

* `_routing` is `required` in the mapping: a write without routing is refused instead of
  landing on a shard no routed search visits;
* `index.number_of_routing_shards` equals the shards: with Elasticsearch's default (a
  multiple of the shards, kept for `_split`) the `partition` consecutive hashes of one
  account fall into one shard, and the partition spreads nothing (measured:
  bench/placement.py, `partition_quirk`). Spread keys need no such setting: they are
  probed on the index as created.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from segql.contract.contact import bucket
from segql.errors import InputError, SegqlError

#: The key of the spread routing keys in a contact index's mapping `_meta`.
PLACEMENT_META = "segql_placement"
#: Candidate keys probed per shard wanted before giving up (`spread_keys`).
PROBES_PER_SHARD = 64


@dataclass(frozen=True)
class Placement:
    """A contact index's shards, over how many of them one account's routing value
    spreads, and the accounts spread over several shards by routing keys (account →
    how many shards)."""

    shards: int = 1
    partition: int = 1
    spread: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shards < 1 or self.partition < 1:
            raise InputError("shards and routing partition must be at least 1")
        if self.partition > 1 and self.partition >= self.shards:
            raise InputError(
                f"a routing partition of {self.partition} needs more shards than that "
                f"(the index has {self.shards}): an account would be on every shard")
        if self.spread and self.partition > 1:
            raise InputError("spreading accounts needs a routing partition of 1 (an "
                             "account's routing keys each land on one shard)")
        for account, over in self.spread.items():
            if not 2 <= over <= self.shards:
                raise InputError(f"account {account} can be spread over 2 to {self.shards} "
                                 f"shards (the index's), not {over}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shards": self.shards, "partition": self.partition}
        if self.spread:
            out["spread"] = dict(sorted(self.spread.items()))
        return out

    @classmethod
    def from_json(cls, found: dict[str, Any]) -> Placement:
        return cls(int(found["shards"]), int(found["partition"]),
                   dict(found.get("spread", {})))


#: The partition ceiling of indices made before spreading (`default_partition`).
MAX_DEFAULT_PARTITION = 8
#: Contacts above which `segql reindex` spreads an account, and per spread shard
#: (docs/scaling.md: 1M contacts of 50 activities are ~51M Lucene documents, a quarter
#: of a shard's ~200M guideline, leaving room for the small accounts on it).
DEFAULT_SPREAD_ABOVE = 1_000_000
SPREAD_ABOVE_ENV = "SEGQL_SPREAD_ABOVE"


def default_partition(shards: int) -> int:
    """The partition segql chose before spreading accounts (half the shards rounded up,
    fewer than all, at most MAX_DEFAULT_PARTITION): kept to read older indices' docs."""
    return max(1, min(shards - 1, (shards + 1) // 2, MAX_DEFAULT_PARTITION))


def placement(shards: int, partition: int | None = None,
              spread: Mapping[str, int] | None = None) -> Placement:
    """A placement; partition 1 (an account on one shard) unless asked."""
    return Placement(shards, 1 if partition is None else partition, dict(spread or {}))


def spread_over(contacts: int, above: int, shards: int) -> int:
    """Over how many shards an account of `contacts` is spread: 1 (not spread) up to
    `above`, else one shard per `above` contacts, at most every shard."""
    if contacts <= above or shards < 2:
        return 1
    return max(2, min(shards, math.ceil(contacts / above)))


def placement_settings(where: Placement) -> dict[str, Any]:
    """The index settings of a placement (beside `number_of_shards`)."""
    if where.partition == 1:
        return {}
    return {"routing_partition_size": where.partition,
            "number_of_routing_shards": where.shards}


#: The contact mapping's `_routing`: every document is written with its routing.
ROUTING_MAPPING: dict[str, Any] = {"required": True}


def placement_of(settings: dict[str, Any], routing_shards: int,
                 meta: dict[str, Any] | None = None) -> Placement:
    """The placement an existing index has in effect, from its `index` settings (as
    `indices.get_settings` gives them: strings), its routing shards (the cluster state's
    `routing_num_shards`: the settings API does not show the real one) and its mapping
    `_meta` (the spread accounts). A partition over routing shards other than the shards
    spreads nothing (see the module doc): partition 1 in effect."""
    shards = int(settings["number_of_shards"])
    partition = int(settings.get("routing_partition_size", 1))
    spread = {account: len(keys) for account, keys in Routes.of_meta(meta).keys.items()}
    return Placement(shards, partition if routing_shards == shards else 1, spread)


# -- the routing of a concrete index -------------------------------------------------


@dataclass(frozen=True)
class Routes:
    """The routing keys of a concrete contact index's spread accounts (account → keys)."""

    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of_meta(cls, meta: dict[str, Any] | None) -> Routes:
        found = (meta or {}).get(PLACEMENT_META) or {}
        return cls({account: tuple(keys) for account, keys in
                    (found.get("spread") or {}).items()})

    def to_meta(self) -> dict[str, Any]:
        return {"spread": {account: list(keys) for account, keys in sorted(self.keys.items())}}

    def route(self, account: str, contact_id: str) -> str:
        """The routing of one contact's document: the one home of that rule."""
        keys = self.keys.get(account)
        if not keys:
            return account
        return keys[bucket(contact_id) % len(keys)]

    def search_routing(self, account: str) -> str:
        """The routing of a search of the account: every shard its contacts are on."""
        return ",".join(self.keys.get(account) or (account,))


@dataclass(frozen=True)
class Target:
    """A concrete contact index and its routes, read together (`resolve`)."""

    index: str
    routes: Routes = field(default_factory=Routes)

    def route(self, account: str, contact_id: str) -> str:
        return self.routes.route(account, contact_id)

    def search_routing(self, account: str) -> str:
        return self.routes.search_routing(account)


class PlacementError(SegqlError):
    """The contact index's name does not lead to one concrete index (exit 1)."""


def resolve(es: Elasticsearch, name: str) -> Target:
    """The concrete index behind the contact index's name (itself, or the one index its
    alias names) with its routes, in one request (the mapping gives both). A name that
    names nothing yet is its own target, with no spread account (writers create it)."""
    # `dynamic` too: an index without `_meta` must still be in the answer
    found = es.options(ignore_status=404).indices.get_mapping(
        index=name, filter_path=["*.mappings._meta", "*.mappings.dynamic"])
    if found.meta.status == 404:
        return Target(name)
    names = dict(found.body)
    if not names:  # an index with neither (not a contact index): its name, to fail on
        names = {index: {} for index in es.indices.get_alias(index=name)}
    if len(names) != 1:
        raise PlacementError(f"{name} names {len(names)} indices, not one contact index")
    ((index, body),) = names.items()
    return Target(index, Routes.of_meta(body.get("mappings", {}).get("_meta")))


def gone(error: object) -> bool:
    """Whether an Elasticsearch error says the concrete index addressed is closed or
    missing (an old index after a reindex's switch): resolve again."""
    text = str(getattr(error, "body", None) or error)
    return "index_closed_exception" in text or "index_not_found_exception" in text


def spread_keys(es: Elasticsearch, index: str, account: str, over: int) -> tuple[str, ...]:
    """`over` routing keys `account~j` of the concrete `index` that land on `over`
    distinct shards, asked of Elasticsearch (`_search_shards`) one candidate at a time."""
    keys: list[str] = []
    taken: set[int] = set()
    for j in range(PROBES_PER_SHARD * over):
        key = f"{account}~{j}"
        groups = es.search_shards(index=index, routing=key)["shards"]
        (shard,) = {copy["shard"] for group in groups for copy in group}
        if shard not in taken:
            taken.add(shard)
            keys.append(key)
            if len(keys) == over:
                return tuple(keys)
    raise PlacementError(f"found no {over} routing keys of {account} on distinct shards "
                         f"of {index}")
