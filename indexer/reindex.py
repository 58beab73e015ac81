"""`segql reindex`: rebuild every contact document in the current shape, from what the
document itself stores (`raw`, events, visits: `document.document_contact`), into a new
index with the current mapping, then switch the contact index's name to it at once
(docs/indexer.md, "Reindexing").

* The name. The contact index `X` is a concrete index (as `segql index` creates it) or an
  alias of one concrete index `X-v<n>` (after a reindex). The new index is `X-v<n+1>`
  (`X-v2` for a concrete `X`); the switch is one `_aliases` call: `remove_index X` (a
  concrete X) or `remove` the old alias, and `add` the alias X to the new index. The store
  indices (`X-catalog`, `X-segments`, `X-checkpoints`, `X-tokens`) are named from `X` and
  are not touched. After the switch the old `X-v<n>` is closed, not deleted (a writer or
  reader that looked it up before fails there and looks X up again); the next reindex
  deletes it.
* Current or not. The mapping of X is compared with `mapping.index_body()`'s: its `_meta`
  (where a shape version marker lives), the dynamic templates and the static fields; and
  its placement (shards, routing partition, spread accounts: stores/placement.py) with
  the one wanted (as asked, else X's shards, partition 1, and every account of more
  than `spread_above` contacts spread: `_wanted`). The same: nothing to do ("current"),
  unless forced. The placement is kept in the progress: a rerun without one continues
  into the same new index. The new index's spread accounts get their routing keys
  before anything is written to it.
* The copy. Account by account, a point-in-time scan of the source sorted by contact_id
  (search_after), each document rebuilt (`contact_document(document_contact(source))`)
  and bulk-written with its `_id` and the new index's routing. After every batch the
  last contact id is checkpointed (a document in `X-checkpoints`, written with
  optimistic concurrency, so a second reindex running at once stops), and a rerun
  continues after it.
* Writers meanwhile (`segql index --follow`): before the first account is scanned, the
  source's per-shard local checkpoints are recorded; every write after has a higher
  `_seq_no`. Once every account is copied, documents with a higher `_seq_no` are copied
  again, once while writers go on, then with the source blocked for writes (`_block/write`, which
  waits for writes in flight); writers meeting the block pause and retry
  (`writer.py`), and after the switch they read and write the new index (the old one is
  closed: a writer that still addresses it looks the index and its routing up again).
  Contacts deleted meanwhile are found by comparing ids where an account's counts
  differ, and deleted. Then the count of every account must be equal in both, or
  nothing is switched.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from segql.contract.document import contact_document, document_contact
from segql.errors import InputError, SegqlError
from segql.indexer.index_facts import (
    KEEP_ALIVE,
    Calls,
    ReindexError,
    Report,
    account_counts,
    concrete_index,
    delete_closed,
    index_placement,
    is_current,
    local_checkpoints,
    primary_terms,
    scan_pages,
    send_bulk,
)
from segql.indexer.writer import DEFAULT_MAX_WAIT, DERIVED
from segql.stores import searches
from segql.stores.checkpoints import CheckpointStore, Version
from segql.stores.index_settings import replicas_of
from segql.stores.mapping import create_index_once, index_body, put_routes
from segql.stores.placement import (
    DEFAULT_SPREAD_ABOVE,
    Placement,
    Routes,
    Target,
    placement,
    resolve,
    spread_keys,
    spread_over,
)

#: The checkpoint store's key of a reindex's progress.
PROGRESS_KEY = "reindex"
DEFAULT_BATCH_SIZE = 1000


# -- the reindex ----------------------------------------------------------------------


class Reindex:
    """One `segql reindex` of the contact index `index` (see the module doc)."""

    def __init__(self, es: Elasticsearch, index: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 max_wait: float = DEFAULT_MAX_WAIT, pause: float = 0.0,
                 shards: int | None = None, partition: int | None = None,
                 spread_above: int | None = None, spread: dict[str, int] | None = None,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.es, self.index, self.batch_size, self.pause, self.log = (
            es, index, batch_size, pause, log)
        self.shards, self.partition, self.spread = shards, partition, dict(spread or {})
        self.spread_above = spread_above or DEFAULT_SPREAD_ABOVE
        #: whether a placement was asked for (else a resumed run keeps the stored one)
        self.asked = (shards is not None or partition is not None or spread_above is not None
                      or bool(spread))
        self.deferred: list[str] = []
        self._targets: dict[str, Target] = {}
        self.calls = Calls(es, index, max_wait=max_wait)
        self.store = CheckpointStore(es, index)
        self.state: dict[str, Any] = {}
        self.version: Version | None = None

    def run(self, accounts: list[str] | None = None, *, force: bool = False) -> Report:
        found = self.calls.call(self.store.read_state, PROGRESS_KEY)
        source, aliased = self.calls.call(concrete_index, self.es, self.index)
        if found is not None:
            self.state, self.version = found
            if self._finished(source):
                return self._cleanup(Report(self.index, "switched", self.state["source"],
                                            self.state["target"], resumed=True))
            if not self._resumable(source):
                self._discard()
        report = Report(self.index, "current", source, resumed=bool(self.state))
        if not self.state:
            wanted = self._wanted(source)
            report.spread_deferred = self.deferred
            # (a deferred spread is a reason to move: the next reindex can then spread)
            if not (force or self.deferred) and self.calls.call(is_current, self.es, source,
                                                                 wanted):
                return report
            self._start(source, wanted)
        report.target, report.placement = self.state["target"], self.state.get("placement")
        self._outrank(source, report.target)  # (again: a run killed before it was done)
        present = self.calls.call(account_counts, self.es, source)
        unknown = sorted(set(accounts or []) - set(present))
        if unknown:
            raise InputError(f"no contact of account {', '.join(unknown)} in {self.index}")
        for account in sorted(accounts or present):
            report.copied += self._copy(account)
        progress = self.state["accounts"]
        report.remaining = sorted(a for a in present if not progress.get(a, {}).get("done"))
        if report.remaining:
            report.status = "partial"
            report.contacts = {a: p["copied"] for a, p in sorted(progress.items())}
            return report
        self._switch(source, aliased, report)
        return self._cleanup(report)

    # -- progress -----------------------------------------------------------------------

    def _save(self) -> None:
        try:
            self.version = self.calls.call(self.store.write_state, PROGRESS_KEY, self.state,
                                           self.version)
        except ConflictError:
            raise ReindexError(f"another segql reindex of {self.index} is running (its "
                               "progress changed under this one)") from None

    def _finished(self, source: str) -> bool:
        """Whether the switch of the stored progress was made (only the cleanup is left)."""
        return bool(self.state.get("switching") and source == self.state["target"])

    def _uuid(self, index: str) -> str:
        (settings,) = self.calls.call(self.es.indices.get_settings, index=index).values()
        return str(settings["settings"]["index"]["uuid"])

    def _resumable(self, source: str) -> bool:
        """Whether the stored progress is of this very source (not of an index deleted
        and created again under the name) into a target of the current shape."""
        target = self.state["target"]
        stored = (Placement.from_json(self.state["placement"]) if "placement" in self.state
                  else None)
        asked = self._wanted(source) if self.asked else stored
        return bool(self.state["source"] == source
                    and self.state.get("source_uuid") == self._uuid(source)
                    and asked == stored
                    and self.calls.call(self.es.indices.exists, index=target)
                    and self.calls.call(is_current, self.es, target, stored))

    def _wanted(self, source: str) -> Placement:
        """The placement of the new index: the shards and routing partition asked for,
        else the source's shards and partition 1; the accounts asked for spread over the
        shards asked, and (with partition 1) every account of more than `spread_above`
        contacts over one shard per `spread_above` (stores/placement.py).

        Nothing is spread when the source is a concrete index named as the contact index
        (made before aliases): after the switch that name is the alias, and a writer or
        reader that looked it up before still addresses it, with routing by account, which
        is right in the new index only if it spreads nothing. The next reindex spreads."""
        shards = self.shards or self.calls.call(index_placement, self.es, source).shards
        spread: dict[str, int] = {}
        if (self.partition or 1) == 1:
            counts = self.calls.call(account_counts, self.es, source)
            spread = {account: over for account, count in counts.items()
                      if (over := spread_over(count, self.spread_above, shards)) > 1}
        spread |= self.spread
        if source == self.index and spread:
            self.deferred = sorted(spread)
            self.log(f"{source} is a concrete index named as the contact index: this "
                     f"reindex spreads no account; run segql reindex again afterwards to "
                     f"spread {', '.join(self.deferred)}")
            spread = {}
        return placement(shards, self.partition, spread)

    def _target_of(self, index: str) -> Target:
        """A concrete index (the source or the new one) with its routing keys."""
        if index not in self._targets:
            found = self.calls.call(resolve, self.es, index)
            assert found.index == index
            self._targets[index] = found
        return self._targets[index]

    def _discard(self) -> None:
        """Progress of another source or an older shape: drop it and its unswitched copy."""
        target = self.state["target"]
        found = self.es.options(ignore_status=404).indices.get_alias(index=target)
        if (re.fullmatch(re.escape(self.index) + r"-v\d+", target)
                and found.meta.status == 200 and not found[target]["aliases"]):
            self.es.indices.delete(index=target)  # a copy nothing uses
        self.log(f"discarded an earlier reindex into {target} (its source or shape changed)")
        self.calls.call(self.store.delete_state, PROGRESS_KEY)
        self.state, self.version = {}, None

    def _start(self, source: str, wanted: Placement) -> None:
        match = re.fullmatch(re.escape(self.index) + r"-v(\d+)", source)
        number = int(match.group(1)) + 1 if match else 2
        while self.calls.call(self.es.indices.exists, index=f"{self.index}-v{number}"):
            number += 1
        target = f"{self.index}-v{number}"
        (settings,) = self.calls.call(self.es.indices.get_settings, index=source).values()
        found = settings["settings"]["index"]
        body = index_body(wanted.shards, replicas_of(found), wanted.partition)
        body["settings"]["refresh_interval"] = "-1"  # until the switch
        # every write to the source from now on has a higher _seq_no: caught up later
        since = self.calls.call(local_checkpoints, self.es, source)
        self.state = {"source": source, "source_uuid": self._uuid(source), "target": target,
                      "placement": wanted.to_json(), "accounts": {}, "caught_up_to": since}
        self._save()  # first: a second reindex starting now stops here
        self.calls.call(create_index_once, self.es, target, body)
        if wanted.spread:  # keys on distinct shards of the new index, before any write
            keys = {account: self.calls.call(spread_keys, self.es, target, account, over)
                    for account, over in sorted(wanted.spread.items())}
            self.calls.call(put_routes, self.es, target, Routes(keys))
        spread = "".join(f", {a} over {n} shards" for a, n in sorted(wanted.spread.items()))
        self.log(f"reindexing {self.index} ({source}) into {target} ({wanted.shards} "
                 f"shards, an account on {wanted.partition}{spread})")

    def _outrank(self, source: str, target: str) -> None:
        """Raise the target's primary term above every one of the source (a closed and
        reopened index gets a new primary term), before anything is written to it: a
        write guarded by a `_primary_term` read in the source then always fails with 409
        in the target, and is read again there."""
        highest = max(self.calls.call(primary_terms, self.es, source).values())
        while min(self.calls.call(primary_terms, self.es, target).values()) <= highest:
            self.calls.call(self.es.indices.close, index=target)
            self.calls.call(self.es.indices.open, index=target, wait_for_active_shards="all")

    # -- copying --------------------------------------------------------------------------

    def _copy(self, account: str) -> int:
        """Copy one account's documents, continuing after its checkpointed contact."""
        progress = self.state["accounts"].setdefault(account, {"copied": 0, "done": False})
        if progress["done"]:
            return 0
        source = self.state["source"]
        self.calls.call(self.es.indices.refresh, index=source)
        pit = self.calls.call(searches.open_point_in_time, self.es, index=source,
                              routing=self._target_of(source).search_routing(account),
                              keep_alive=KEEP_ALIVE)
        copied = 0
        try:
            after = [progress["after"]] if progress.get("after") else None
            for hits in scan_pages(self.es, pit, {"term": {"account": account}},
                              [{"contact_id": "asc"}], after, self.batch_size):
                self._write(hits)
                copied += len(hits)
                progress["copied"] += len(hits)
                progress["after"] = hits[-1]["sort"][0]
                self._save()
                time.sleep(self.pause)
        finally:
            searches.close_point_in_time(self.es, pit)
        progress["done"] = True
        self._save()
        self.log(f"account {account}: {progress['copied']:,} contacts copied")
        return copied

    def _write(self, hits: list[dict[str, Any]]) -> None:
        """Rebuild the documents of `hits` in the current shape into the target."""
        lines = []
        target = self._target_of(self.state["target"])
        for hit in hits:
            try:
                document = contact_document(document_contact(hit["_source"]))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ReindexError(f"the document {hit['_id']} does not hold a contact "
                                   "segql can read back; nothing was switched") from None
            lines.append(json.dumps({"index": {
                "_index": target.index, "_id": hit["_id"],
                "routing": target.route(document["account"], document["contact_id"])}}))
            lines.append(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
        send_bulk(self.calls, lines)

    # -- catching up and switching ----------------------------------------------------

    def _catch_up(self, since: dict[str, int]) -> tuple[int, dict[str, int]]:
        """Copy what was written in the source after `since` (per shard); how many, and
        where the next catch-up starts."""
        source = self.state["source"]
        reached = self.calls.call(local_checkpoints, self.es, source)
        self.calls.call(self.es.indices.refresh, index=source)
        copied = 0
        for shard, seq in sorted(since.items()):
            after: list[Any] | None = None
            while True:
                hits = self.calls.call(
                    searches.search, self.es, index=source, preference=f"_shards:{shard}",
                    query={"range": {"_seq_no": {"gt": seq}}}, sort=[{"_seq_no": "asc"}],
                    search_after=after, size=self.batch_size, track_total_hits=False,
                    source={"excludes": DERIVED})["hits"]["hits"]
                if not hits:
                    break
                self._write(hits)
                copied += len(hits)
                after = hits[-1]["sort"]
        return copied, reached

    def _delete_gone(self, account: str) -> int:
        """Delete from the target the account's contacts the source no longer holds."""
        ids: list[dict[str, str]] = []
        for index in (self.state["source"], self.state["target"]):
            pit = self.calls.call(searches.open_point_in_time, self.es, index=index,
                                  routing=self._target_of(index).search_routing(account),
                                  keep_alive=KEEP_ALIVE)
            try:  # _id → contact id (the sort value)
                ids.append({hit["_id"]: hit["sort"][0] for hits in scan_pages(
                    self.es, pit, {"term": {"account": account}}, [{"contact_id": "asc"}],
                    None, 5000, source=False) for hit in hits})
            finally:
                searches.close_point_in_time(self.es, pit)
        target = self._target_of(self.state["target"])
        gone = sorted(set(ids[1]) - set(ids[0]))
        send_bulk(self.calls, [json.dumps({"delete": {"_index": target.index, "_id": doc_id,
                                           "routing": target.route(account, ids[1][doc_id])}})
                    for doc_id in gone])
        return len(gone)

    def _switch(self, source: str, aliased: bool, report: Report) -> None:
        state, target = self.state, self.state["target"]
        if not state.get("blocked"):
            copied, state["caught_up_to"] = self._catch_up(state["caught_up_to"])
            report.caught_up += copied  # while writers still write
            found = self.calls.call(self.es.indices.get_settings, index=source,
                                    name="index.blocks.write")  # {} when not set
            blocks = found.get(source, {}).get("settings", {}).get("index", {}).get(
                "blocks", {})
            state["was_blocked"] = str(blocks.get("write")).lower() == "true"
            state["blocked"] = True
            self._save()
            self.log(f"blocking writes to {source} to switch")
        self.calls.call(self.es.indices.add_block, index=source, block="write")
        try:
            copied, _ = self._catch_up(state["caught_up_to"])
            report.caught_up += copied
            self.calls.call(self.es.indices.refresh, index=target)
            want = self.calls.call(account_counts, self.es, source)
            for account, count in sorted(self.calls.call(account_counts, self.es,
                                                         target).items()):
                if count != want.get(account):
                    report.deleted += self._delete_gone(account)
            self.calls.call(self.es.indices.put_settings, index=target,
                            settings={"index.refresh_interval": None})
            self.calls.call(self.es.indices.refresh, index=target)
            report.contacts = self._verify(source, target)
            state["switching"] = True
            self._save()
            remove = ({"remove": {"index": source, "alias": self.index}} if aliased
                      else {"remove_index": {"index": source}})
            self.calls.call(self.es.indices.update_aliases, actions=[
                remove, {"add": {"index": target, "alias": self.index}}])
        except BaseException:
            if not state.get("was_blocked") and not self._switched():
                self.es.options(ignore_status=404).indices.put_settings(
                    index=source, settings={"index.blocks.write": None})
            raise
        self.log(f"{self.index} is now an alias of {target}")

    def _switched(self) -> bool:
        try:
            return bool(concrete_index(self.es, self.index)[0] == self.state["target"])
        except SegqlError:
            return False

    def _verify(self, source: str, target: str) -> dict[str, int]:
        """Contacts per account, equal in source and target, or a ReindexError."""
        want = self.calls.call(account_counts, self.es, source)
        have = self.calls.call(account_counts, self.es, target)
        if want != have:
            differ = sorted(a for a in set(want) | set(have) if want.get(a) != have.get(a))
            raise ReindexError(
                f"the new index {target} does not hold the same contacts as {source} for "
                f"account {', '.join(differ[:5])}; nothing was switched (run segql reindex "
                "again: it continues)")
        return dict(sorted(want.items()))

    def _cleanup(self, report: Report) -> Report:
        """After the switch: the old concrete index is closed, not deleted (a writer or
        reader that looked it up before the switch then fails, looks the contact index
        up again and meets the new one; a deleted name could be created again by a
        write); indices closed by earlier reindexes are deleted (nothing has addressed
        them since the switch after them); the progress goes."""
        old = self.state["source"]
        if old != self.index and old != self.state["target"]:
            self.es.options(ignore_status=404).indices.close(index=old)
            for name in delete_closed(self.es, self.index, keep=(old, self.state["target"])):
                self.log(f"deleted {name}, closed by an earlier reindex")
        self.calls.call(self.store.delete_state, PROGRESS_KEY)
        report.status = "switched"
        return report


def reindex(es: Elasticsearch, index: str, *, accounts: list[str] | None = None,
            force: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
            max_wait: float = DEFAULT_MAX_WAIT, pause: float = 0.0,
            shards: int | None = None, partition: int | None = None,
            spread_above: int | None = None, spread: dict[str, int] | None = None,
            log: Callable[[str], None] = lambda _: None) -> Report:
    """Rebuild the contact index `index` in the current shape and placement (see the
    module doc)."""
    return Reindex(es, index, batch_size=batch_size, max_wait=max_wait, pause=pause,
                   shards=shards, partition=partition, spread_above=spread_above,
                   spread=spread, log=log).run(accounts, force=force)
