"""Where an account's contacts live in the contact index (docs/scaling.md).

Every contact document is routed by its account (`routing=account` on every write, get,
mget, delete, search, msearch and point in time: the account is known on each of them).
The index spreads each routing value over `partition` of its `shards` shards
(`index.routing_partition_size`): Elasticsearch picks the shard from the hash of the
account plus the hash of the document `_id` modulo `partition`. So an account of any
size occupies at most `partition` shards, and a search routed by account visits exactly
those, never the whole index; an account's contacts spread over `partition` shards, so
a 10M-contact account is not one shard's work.

Two constraints of Elasticsearch come with it, both set at index creation only (changing
them is a `segql reindex --shards/--routing-partition`, which rebuilds the index):

* `_routing` is `required` in the mapping: a write without routing is refused instead of
  landing on a shard no routed search visits;
* `index.number_of_routing_shards` equals the shards: with Elasticsearch's default (a
  multiple of the shards, kept for `_split`) the `partition` consecutive hashes of one
  account fall into one shard, and the partition spreads nothing (measured:
  bench/placement.py, `partition_quirk`). The index can't be `_split` then; a reindex
  into more shards can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segql.errors import InputError


@dataclass(frozen=True)
class Placement:
    """A contact index's shards, and over how many of them one account spreads."""

    shards: int = 1
    partition: int = 1

    def __post_init__(self) -> None:
        if self.shards < 1 or self.partition < 1:
            raise InputError("shards and routing partition must be at least 1")
        if self.partition > 1 and self.partition >= self.shards:
            raise InputError(
                f"a routing partition of {self.partition} needs more shards than that "
                f"(the index has {self.shards}): an account would be on every shard")

    def to_json(self) -> dict[str, int]:
        return {"shards": self.shards, "partition": self.partition}


#: The default partition's ceiling: an account on 8 shards holds ~30M contacts of 50
#: activities within 200M Lucene documents a shard (docs/scaling.md), while a small
#: account's search visits no more than 8 shards.
MAX_DEFAULT_PARTITION = 8


def default_partition(shards: int) -> int:
    """Over how many shards one account spreads when nobody says: half the shards
    (rounded up), fewer than all, at most MAX_DEFAULT_PARTITION; 1 for one or two."""
    return max(1, min(shards - 1, (shards + 1) // 2, MAX_DEFAULT_PARTITION))


def placement(shards: int, partition: int | None = None) -> Placement:
    return Placement(shards, default_partition(shards) if partition is None else partition)


def placement_settings(where: Placement) -> dict[str, Any]:
    """The index settings of a placement (beside `number_of_shards`)."""
    if where.partition == 1:
        return {}
    return {"routing_partition_size": where.partition,
            "number_of_routing_shards": where.shards}


#: The contact mapping's `_routing`: every document is written with its account.
ROUTING_MAPPING: dict[str, Any] = {"required": True}


def placement_of(settings: dict[str, Any], routing_shards: int) -> Placement:
    """The placement an existing index has in effect, from its `index` settings (as
    `indices.get_settings` gives them: strings) and its routing shards (the cluster
    state's `routing_num_shards`: the settings API does not show the real one). A
    partition over routing shards other than the shards spreads nothing (see the module
    doc): partition 1 in effect."""
    shards = int(settings["number_of_shards"])
    partition = int(settings.get("routing_partition_size", 1))
    return Placement(shards, partition if routing_shards == shards else 1)
