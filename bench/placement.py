"""Where an account's contacts live (issue 18, point 4; docs/scaling.md holds the
results). Run from the repository root:

    ELASTICSEARCH_URL=http://127.0.0.1:9217 python bench/placement.py --contacts 100000 \
        --shards 6 --partition 3 --out bench/results/

The sample of bench/run.py (`segql.sample`, seed 7, cached in $SEGQL_BENCH_CACHE) is
folded once; its contacts are dealt to one big account (`--big-share` of them) and
`--small-accounts` small ones, and the same documents are written into one index per
placement, all with `--shards` shards on the same node:

* `account`   — routing by account: an account on one shard (segql's default for a new
                index).
* `partition` — routing by account with `index.routing_partition_size` = `--partition`:
                an account on `--partition` shards, chosen by `hash(account)` + `hash(_id)`
                (segql's placement before spread accounts).
* `spread`    — routing by account for small accounts; the big one spread over `--spread`
                shards (default: all) by routing keys probed on the index and kept in its
                `_meta` (`stores/placement.py`: `spread_keys`, `Routes`) — what `segql
                reindex` makes of an account above `--spread-above`.

Measured side by side in one run (the machine is shared; only ratios are meaningful):
indexing (the same 500-document bulk chunks sent to each index in turn, rotating the
order), the big account's contacts per shard, counts of a few suite segments for the big
account and for small accounts (`_shards.total`, `took`, wall time of an msearch of
`--copies` copies, interleaved, request cache off; counts must agree across placements),
the shards a profiled count visits, and exports of the big account (`api.export`, its
point in time opened with the placement's routing; sliced like a real export). The JSON
result goes to `--out`; the indices are deleted unless `--keep`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers
from suite import NOW, SEGMENTS

from segql import api, sample
from segql.compiler.catalog import learn
from segql.compiler.context import Context
from segql.contract.document import contact_document, document_id
from segql.indexer.records import fold_records
from segql.stores.connection import connect
from segql.stores.mapping import index_body, put_routes
from segql.stores.placement import Routes, spread_keys

CACHE = Path(os.environ.get("SEGQL_BENCH_CACHE", "/tmp/segql-bench"))
SEED = 7
BIG = "big"
COUNTED = ["text_starts_with", "number_between", "nested_groups", "event_window",
           "event_count_where", "visit_path_count", "mixed_realistic"]
EXPORTED = "ltv > 0"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Placement:
    name: str
    index: str
    partition: int = 1
    spread: int = 0  # > 1: the big account spread over that many shards
    routes: Routes = dataclasses.field(default_factory=Routes)

    def route(self, account: str, contact_id: str) -> str:
        return self.routes.route(account, contact_id)

    def search_routing(self, account: str) -> str:
        return self.routes.search_routing(account)

    def body(self, shards: int) -> dict[str, Any]:
        body = index_body(shards, 0)
        body["settings"]["refresh_interval"] = "-1"
        body["mappings"]["_routing"] = {"required": True}
        if self.partition > 1:
            body["settings"]["routing_partition_size"] = self.partition
            body["settings"]["number_of_routing_shards"] = shards  # see `quirk`
        return body


def quirk(es: Elasticsearch, shards: int, partition: int) -> dict[str, Any]:
    """60 documents of one routing value into a partitioned index, with and without
    `number_of_routing_shards` = shards: on how many shards they land. (Elasticsearch's
    default routing shards, a multiple of the shards for `_split`, map the partition's
    consecutive hashes to one shard.)"""
    out = {}
    for name, extra in (("default_routing_shards", {}),
                        ("routing_shards_equal_shards", {"number_of_routing_shards": shards})):
        index = "placement-quirk"
        es.options(ignore_status=404).indices.delete(index=index)
        es.indices.create(index=index, settings={
            "number_of_shards": shards, "number_of_replicas": 0,
            "routing_partition_size": partition, **extra},
            mappings={"_routing": {"required": True}})
        helpers.bulk(es, ({"_index": index, "_id": f"c{n}", "_routing": "acme",
                           "_source": {"n": n}} for n in range(60)), refresh=True)
        out[name] = {"shards_holding": sum(1 for k in range(shards) if es.count(
            index=index, preference=f"_shards:{k}")["count"]),
            "search_shards_total": es.search(index=index, routing="acme", size=0)[
                "_shards"]["total"]}
        es.indices.delete(index=index)
    return out


def dataset(contacts: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / sample.sample_name(contacts, SEED)  # the generator's version in it
    if not path.exists():
        log(f"generating {contacts:,} contacts -> {path}")
        part = path.with_suffix(".part")
        sample.write(part, contacts=contacts, seed=SEED, account="bench")
        part.replace(path)
    return path


def documents(path: Path, big_share: float, smalls: int
              ) -> tuple[list[tuple[str, str, str, str]], Any]:
    """(account, contact id, _id, JSON source) of every contact, and the catalog."""
    t0 = time.perf_counter()
    with path.open("rb") as lines:
        store, _ = fold_records(lines)
    contacts = sorted(store.contacts.values(), key=lambda c: c.id)
    log(f"folded {len(contacts):,} contacts in {time.perf_counter() - t0:.0f}s")
    catalog = learn(contacts).catalog
    cut = int(len(contacts) * big_share)
    docs = []
    for n, contact in enumerate(contacts):
        account = BIG if n < cut else f"small{n % smalls:04d}"
        doc = contact_document(dataclasses.replace(contact, account=account))
        docs.append((account, contact.id, document_id(account, contact.id),
                     json.dumps(doc, ensure_ascii=False, separators=(",", ":"))))
    return docs, catalog


def load(es: Elasticsearch, placements: list[Placement], docs: list[tuple[str, str, str, str]],
         shards: int) -> dict[str, float]:
    """The same chunks into every index in turn; seconds spent per placement."""
    for p in placements:
        es.options(ignore_status=404).indices.delete(index=p.index)
        es.indices.create(index=p.index, **p.body(shards))
        if p.spread > 1:  # as `segql reindex` does: keys on distinct shards, in `_meta`
            p.routes = Routes({BIG: spread_keys(es, p.index, BIG, p.spread)})
            put_routes(es, p.index, p.routes)
    spent = {p.name: 0.0 for p in placements}
    chunk = 500
    for at in range(0, len(docs), chunk):
        turn = (at // chunk) % len(placements)
        for p in placements[turn:] + placements[:turn]:
            actions = [{"_index": p.index, "_id": doc_id, "_routing": p.route(acc, cid),
                        "_source": source} for acc, cid, doc_id, source in docs[at:at + chunk]]
            t0 = time.perf_counter()
            for ok, item in helpers.streaming_bulk(es, actions, chunk_size=chunk,
                                                   max_chunk_bytes=16 << 20,
                                                   raise_on_error=False):
                if not ok:
                    raise RuntimeError(f"bulk failure: {str(item)[:400]}")
            spent[p.name] += time.perf_counter() - t0
        if at % 20_000 == 0:
            log(f"loaded {at + chunk:,} of {len(docs):,}")
    for p in placements:
        es.indices.put_settings(index=p.index, settings={"index.refresh_interval": None})
        es.indices.refresh(index=p.index)
    return spent


def per_shard(es: Elasticsearch, p: Placement, shards: int, accounts: list[str]
              ) -> dict[str, Any]:
    """The big account's contacts on each shard; on how many shards each small one is."""
    big = [int(es.search(index=p.index, preference=f"_shards:{k}", size=0,
                         track_total_hits=True, query={"term": {"account": BIG}}
                         )["hits"]["total"]["value"]) for k in range(shards)]
    spread = []
    for account in accounts:
        spread.append(sum(1 for k in range(shards) if es.search(
            index=p.index, preference=f"_shards:{k}", size=0, track_total_hits=1,
            query={"term": {"account": account}})["hits"]["total"]["value"]))
    stats = es.indices.stats(index=p.index, metric="store,docs")["indices"][p.index]
    return {"big_contacts_per_shard": big, "small_account_shards_holding":
            dict(sorted((s, spread.count(s)) for s in set(spread))),
            "store_bytes": stats["primaries"]["store"]["size_in_bytes"],
            "lucene_docs": stats["primaries"]["docs"]["count"]}


def counts(es: Elasticsearch, placements: list[Placement], catalog: Any,
           accounts: list[str], reps: int, copies: int) -> dict[str, Any]:
    """Every counted segment for every account under every placement, interleaved."""
    chosen = [(name, text) for name, text, _ in SEGMENTS if name in COUNTED]
    out: dict[str, Any] = {}
    for account in accounts:
        ctx = Context(account=account, now=datetime.fromisoformat(NOW), catalog=catalog)
        queries = {name: api.compile_text(text, ctx)["query"] for name, text in chosen}
        for name, query in queries.items():
            row: dict[str, Any] = {p.name: {"took": [], "wall_ms": [], "batch_ms": []}
                                   for p in placements}
            seen: dict[str, int] = {}
            for rep in range(reps):
                turn = rep % len(placements)
                for p in placements[turn:] + placements[:turn]:
                    routing = p.search_routing(account)
                    t0 = time.perf_counter()
                    reply = es.search(index=p.index, routing=routing, size=0, query=query,
                                      track_total_hits=True, request_cache=False)
                    row[p.name]["wall_ms"].append((time.perf_counter() - t0) * 1000)
                    row[p.name]["took"].append(reply["took"])
                    row[p.name]["shards"] = reply["_shards"]["total"]
                    if reply["_shards"]["failed"]:
                        raise RuntimeError(f"{p.name}: shards failed")
                    seen[p.name] = reply["hits"]["total"]["value"]
                    header = {"index": p.index, "routing": routing, "request_cache": False}
                    body = {"size": 0, "query": query, "track_total_hits": True}
                    t0 = time.perf_counter()
                    es.msearch(searches=[header, body] * copies)
                    row[p.name]["batch_ms"].append((time.perf_counter() - t0) * 1000 / copies)
            if len(set(seen.values())) != 1:
                raise RuntimeError(f"{account} {name}: counts differ {seen}")
            out.setdefault(account, {})[name] = {"count": next(iter(seen.values())), **{
                p: {"shards": r["shards"], "took_p50": statistics.median(r["took"]),
                    "wall_ms_p50": round(statistics.median(r["wall_ms"]), 3),
                    "batch_ms_p50": round(statistics.median(r["batch_ms"]), 3)}
                for p, r in row.items()}}
        log(f"counted {account}")
    return out


def profiled(es: Elasticsearch, p: Placement, catalog: Any, account: str) -> int:
    """Shards a profiled count of `mixed_realistic` visits."""
    ctx = Context(account=account, now=datetime.fromisoformat(NOW), catalog=catalog)
    text = next(text for name, text, _ in SEGMENTS if name == "mixed_realistic")
    reply = es.search(index=p.index, routing=p.search_routing(account), size=0,
                      query=api.compile_text(text, ctx)["query"], profile=True)
    return len(reply["profile"]["shards"])


def exports(es: Elasticsearch, placements: list[Placement], catalog: Any, reps: int
            ) -> dict[str, Any]:
    ctx = Context(account=BIG, now=datetime.fromisoformat(NOW), catalog=catalog)
    query = api.compile_text(EXPORTED, ctx)["query"]
    seconds: dict[str, list[float]] = {p.name: [] for p in placements}
    rows: dict[str, int] = {}
    for rep in range(reps):
        turn = rep % len(placements)
        for p in placements[turn:] + placements[:turn]:
            t0 = time.perf_counter()
            with api.Export(es, query, BIG, p.index) as run:  # routes from the index
                ids = {row.contact_id for row in run}
            seconds[p.name].append(time.perf_counter() - t0)
            if len(ids) != run.contacts:
                raise RuntimeError(f"{p.name}: an id twice")
            rows[p.name] = len(ids)
    if len(set(rows.values())) != 1:
        raise RuntimeError(f"exports differ: {rows}")
    n = next(iter(rows.values()))
    return {"segment": EXPORTED, "rows": n, **{
        name: {"seconds_p50": round(statistics.median(s), 3),
               "rows_per_s": round(n / statistics.median(s))} for name, s in seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--big-share", type=float, default=0.7)
    parser.add_argument("--small-accounts", type=int, default=600)
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--partition", type=int, default=3)
    parser.add_argument("--spread", type=int, default=0,
                        help="shards the big account is spread over (default: all)")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--export-reps", type=int, default=3)
    parser.add_argument("--sampled-small", type=int, default=8,
                        help="small accounts counted (the rest are only placed)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    es = connect()
    placements = [Placement("account", "placement-account"),
                  Placement("partition", "placement-partition", partition=args.partition),
                  Placement("spread", "placement-spread", spread=args.spread or args.shards)]
    docs, catalog = documents(dataset(args.contacts), args.big_share, args.small_accounts)
    smalls = sorted({acc for acc, *_ in docs if acc != BIG})
    probe = quirk(es, args.shards, args.partition)
    spent = load(es, placements, docs, args.shards)
    result: dict[str, Any] = {
        "what": __doc__, "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "contacts": len(docs), "big_account_contacts": sum(1 for d in docs if d[0] == BIG),
        "small_accounts": len(smalls), "shards": args.shards, "partition": args.partition,
        "spread": args.spread or args.shards,
        "partition_quirk": probe,
        "json_bytes_per_contact": round(sum(len(d[3].encode()) for d in docs) / len(docs)),
        "indexing": {name: {"seconds": round(s, 1), "contacts_per_s": round(len(docs) / s)}
                     for name, s in spent.items()},
    }
    del docs
    result["placement"] = {p.name: per_shard(es, p, args.shards, smalls) for p in placements}
    counted = [BIG, *smalls[:: max(1, len(smalls) // args.sampled_small)][:args.sampled_small]]
    result["profiled_shards"] = {p.name: {"big": profiled(es, p, catalog, BIG),
                                          "small": profiled(es, p, catalog, smalls[0])}
                                 for p in placements}
    result["counts"] = counts(es, placements, catalog, counted, args.reps, args.copies)
    result["export_big"] = exports(es, placements, catalog, args.export_reps)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"placement-{args.contacts}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out}")
    if not args.keep:
        for p in placements:
            es.options(ignore_status=404).indices.delete(index=p.index)


if __name__ == "__main__":
    main()
