"""How many shards and replicas the indices segql creates get: one place for the contact
index and every store index (catalog, saved segments, checkpoints, tokens).

Defaults (docs/elasticsearch.md, "Shards and replicas"):

* replicas: `index.auto_expand_replicas: "0-1"` on every index — one replica as soon as
  the cluster has a second node to hold it, none on a single node. A single node stays
  green; on three nodes every shard has a copy on another node, so losing any one node
  loses no index (the replica is promoted within a second; the cluster is yellow until a
  new replica is built). Measured on the pinned 9.2.0: 1 replica on 3 nodes, 0 on 1.
* shards: the contact index has 1 primary unless told otherwise (contacts are routed by
  account, so a small account's queries touch one shard whatever the number); the stores
  always have 1 (a few documents per account).

Precedence: an option (`segql index --shards N --replicas N|auto`) over the environment
(`SEGQL_SHARDS`, `SEGQL_REPLICAS`) over the default. The settings apply when an index is
created; an existing index keeps its own (Elasticsearch's `_settings` changes replicas).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from segql.errors import InputError

SHARDS_ENV = "SEGQL_SHARDS"
REPLICAS_ENV = "SEGQL_REPLICAS"
#: The contact index's primaries by default.
DEFAULT_SHARDS = 1
#: What "auto" replicas means: one when the cluster has a node for it, else none.
AUTO_EXPAND = "0-1"
#: The most primaries segql lets one ask for (Elasticsearch's own limit is 1024).
MAX_SHARDS = 1024

Replicas = int | Literal["auto"]


def parse_shards(text: str, origin: str = "--shards") -> int:
    """A number of primary shards, 1 to 1024; InputError (exit 2) otherwise."""
    try:
        shards = int(text.strip())
    except ValueError:
        shards = 0
    if not 1 <= shards <= MAX_SHARDS:
        raise InputError(f"{origin} must be a whole number of shards from 1 to {MAX_SHARDS}, "
                         f"not {text!r}")
    return shards


def parse_replicas(text: str, origin: str = "--replicas") -> Replicas:
    """`auto` or a number of replicas 0 to 10; InputError (exit 2) otherwise."""
    value = text.strip().lower()
    if value == "auto":
        return "auto"
    try:
        replicas = int(value)
    except ValueError:
        replicas = -1
    if not 0 <= replicas <= 10:
        raise InputError(f"{origin} must be `auto` or a number of replicas from 0 to 10, "
                         f"not {text!r}")
    return replicas


def shards_setting(shards: int | None = None) -> int:
    """The contact index's primaries: `shards`, else `$SEGQL_SHARDS`, else 1."""
    if shards is not None:
        return shards
    raw = os.environ.get(SHARDS_ENV, "").strip()
    return parse_shards(raw, SHARDS_ENV) if raw else DEFAULT_SHARDS


def replicas_setting(replicas: Replicas | None = None) -> Replicas:
    """Replicas of a new index: `replicas`, else `$SEGQL_REPLICAS`, else auto."""
    if replicas is not None:
        return replicas
    raw = os.environ.get(REPLICAS_ENV, "").strip()
    return parse_replicas(raw, REPLICAS_ENV) if raw else "auto"


def replica_settings(replicas: Replicas | None = None) -> dict[str, Any]:
    """The index settings that give `replicas` (resolved by `replicas_setting`)."""
    chosen = replicas_setting(replicas)
    if chosen == "auto":
        return {"auto_expand_replicas": AUTO_EXPAND}
    return {"number_of_replicas": chosen, "auto_expand_replicas": False}


def contact_index_settings(shards: int | None = None,
                           replicas: Replicas | None = None) -> dict[str, Any]:
    """Shards and replicas of a new contact index."""
    return {"number_of_shards": shards_setting(shards), **replica_settings(replicas)}


def store_index_settings(replicas: Replicas | None = None) -> dict[str, Any]:
    """Shards and replicas of a new store index: one shard, replicas as the contact
    index's (a store lost with a node would make every account unusable)."""
    return {"number_of_shards": 1, **replica_settings(replicas)}


def replicas_of(index_settings: dict[str, Any]) -> Replicas:
    """What an existing index's settings (`index` part of `GET _settings`) say about its
    replicas, as an option would (auto when it expands 0-1), e.g. to copy them."""
    if str(index_settings.get("auto_expand_replicas", "false")) == AUTO_EXPAND:
        return "auto"
    return int(index_settings.get("number_of_replicas", 0))
