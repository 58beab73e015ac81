"""What `segql reindex` (`reindex.py`) reads about a contact index: the concrete index
behind its name, whether its mapping is in the current shape (and its placement the one
wanted), its contacts per account, its per-shard sequence-number checkpoints, and pages
of a point-in-time scan; and its report, its bulk writes and the deletion of old indices
closed by earlier reindexes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from segql.errors import InputError, SegqlError
from segql.indexer.batch import Key
from segql.indexer.writer import DERIVED, BulkWriter, Outcome, Stored
from segql.stores import searches
from segql.stores.mapping import index_body
from segql.stores.placement import PLACEMENT_META, Placement, placement_of

KEEP_ALIVE = "5m"


class ReindexError(SegqlError):
    """A reindex that can't go on; nothing was switched (exit 1)."""


@dataclass
class Report:
    index: str
    #: "current" (nothing to do), "switched", or "partial" (accounts remain to copy).
    status: str
    source: str
    target: str | None = None
    copied: int = 0
    caught_up: int = 0
    deleted: int = 0
    #: Contacts per account: verified equal in both (switched), or copied so far.
    contacts: dict[str, int] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)
    resumed: bool = False
    #: The new index's shards, routing partition and spread accounts.
    placement: dict[str, Any] | None = None
    #: Accounts over the spread threshold left unspread: the source is a concrete index
    #: named as the contact index (see `Reindex._wanted`); the next reindex spreads them.
    spread_deferred: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "status": self.status, "from": self.source,
                "to": self.target, "copied": self.copied, "caught_up": self.caught_up,
                "deleted": self.deleted, "contacts": self.contacts,
                "remaining_accounts": self.remaining, "resumed": self.resumed,
                "placement": self.placement, "spread_deferred": self.spread_deferred}


class Calls(BulkWriter):
    """BulkWriter's retries (429, 5xx, connection failures, with backoff for max_wait),
    for requests that are not an Indexer's."""

    def _fold(self, key: Key, stored: Stored | None, lines: list[Any]) -> Outcome:
        raise NotImplementedError


def send_bulk(calls: Calls, lines: list[str]) -> None:
    """Send bulk lines (an action and maybe a document each); items refused with 429
    are sent again, any other refusal stops the reindex."""
    while lines:
        reply = calls.call(calls.es.bulk, operations="\n".join(lines) + "\n")
        again: list[str] = []
        at = 0
        for item in reply["items"]:
            kind, answer = next(iter(item.items()))
            width = 1 if kind == "delete" else 2
            status = answer.get("status", 500)
            if status == 429 or status >= 500:
                again += lines[at:at + width]
            elif status >= 300 and not (kind == "delete" and status == 404):
                raise ReindexError(f"Elasticsearch refused the rebuilt document "
                                   f"{answer.get('_id')} ({status}); nothing was "
                                   "switched: the contact index is unchanged")
            at += width
        if again:
            time.sleep(1.0)
        lines = again


def delete_closed(es: Elasticsearch, index: str, keep: tuple[str, ...]) -> list[str]:
    """Delete the closed `index-v<n>` indices (old indices of earlier reindexes) but
    `keep`; their names."""
    rows = es.cat.indices(index=f"{index}-v*", h="index,status", format="json",
                          expand_wildcards="closed")
    found: list[dict[str, str]] = rows.body  # type: ignore[assignment]
    gone = sorted(row["index"] for row in found if row["status"] == "close"
                  and row["index"] not in keep
                  and re.fullmatch(re.escape(index) + r"-v\d+", row["index"]))
    for name in gone:
        es.options(ignore_status=404).indices.delete(index=name)
    return gone


# -- is an index in the current shape? ---------------------------------------------------


def _normal(value: Any) -> Any:
    """A mapping as Elasticsearch gives it back: booleans as strings, no `type: object`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if (k, v) != ("type", "object")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def mapping_shape(mappings: dict[str, Any]) -> dict[str, Any]:
    """What decides a document's shape in a contact index's mappings: `_meta` (the shape
    version marker), the dynamic templates and the static fields (not the contact fields
    mapped on the way)."""
    static = {name: _normal({k: v for k, v in definition.items()
                             if not (name == "fields" and k == "properties")})
              for name, definition in mappings.get("properties", {}).items()}
    meta = {k: v for k, v in (mappings.get("_meta") or {}).items() if k != PLACEMENT_META}
    return {"meta": meta or None, "dynamic": _normal(mappings.get("dynamic")),
            "templates": _normal(mappings.get("dynamic_templates", [])),
            "properties": static}


def index_placement(es: Elasticsearch, index: str) -> Placement:
    """The placement (shards, routing partition, spread accounts) a concrete index has
    in effect."""
    (found,) = es.indices.get_settings(index=index).values()
    (mapped,) = es.indices.get_mapping(index=index).values()
    state = es.cluster.state(metric="metadata", index=index, filter_path=(
        "metadata.indices.*.routing_num_shards"))
    (meta,) = state["metadata"]["indices"].values()
    return placement_of(found["settings"]["index"], int(meta["routing_num_shards"]),
                        mapped["mappings"].get("_meta"))


def is_current(es: Elasticsearch, index: str, wanted: Placement | None = None) -> bool:
    """Whether the index's mapping is the current one, and (given `wanted`) its
    placement that one."""
    (found,) = es.indices.get_mapping(index=index).values()
    if mapping_shape(found["mappings"]) != mapping_shape(index_body()["mappings"]):
        return False
    return wanted is None or index_placement(es, index) == wanted


# -- reading the source ---------------------------------------------------------------


def concrete_index(es: Elasticsearch, index: str) -> tuple[str, bool]:
    """The concrete index behind `index`, and whether `index` is an alias of it."""
    if es.indices.exists_alias(name=index):
        names = list(es.indices.get_alias(name=index))
        if len(names) != 1:
            raise ReindexError(f"{index} is an alias of {len(names)} indices, not of one "
                               "contact index")
        return names[0], True
    if not es.indices.exists(index=index):
        raise InputError(f"there is no contact index {index}")
    return index, False


def account_counts(es: Elasticsearch, index: str) -> dict[str, int]:
    """Contacts per account (composite aggregation, paged)."""
    counts: dict[str, int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": [
            {"account": {"terms": {"field": "account"}}}]}
        if after:
            composite["after"] = after
        reply = searches.search(es, index=index, size=0, track_total_hits=False,
                                aggs={"a": {"composite": composite}})["aggregations"]["a"]
        counts.update((b["key"]["account"], b["doc_count"]) for b in reply["buckets"])
        after = reply.get("after_key")
        if not reply["buckets"] or after is None:
            return counts


def local_checkpoints(es: Elasticsearch, index: str) -> dict[str, int]:
    """Per shard, the sequence number up to which every write is processed."""
    (found,) = es.indices.stats(index=index, level="shards")["indices"].values()
    return {shard: next(c["seq_no"]["local_checkpoint"] for c in copies
                        if c["routing"]["primary"])
            for shard, copies in found["shards"].items()}


def primary_terms(es: Elasticsearch, index: str) -> dict[str, int]:
    """Per shard, the primary term of a concrete index (from the cluster state)."""
    state = es.cluster.state(metric="metadata", index=index)["metadata"]["indices"][index]
    return {shard: int(term) for shard, term in state["primary_terms"].items()}


def scan_pages(es: Elasticsearch, pit: str, query: dict[str, Any], sort: list[Any],
          after: list[Any] | None, size: int, source: Any = None
          ) -> Iterator[list[dict[str, Any]]]:
    """Pages of a point-in-time search after `after`."""
    while True:
        hits = searches.search(
            es, pit={"id": pit, "keep_alive": KEEP_ALIVE}, query=query, sort=sort,
            search_after=after, size=size, track_total_hits=False,
            source=source if source is not None else {"excludes": DERIVED})["hits"]["hits"]
        if not hits:
            return
        yield hits
        after = hits[-1]["sort"][:len(sort)]
