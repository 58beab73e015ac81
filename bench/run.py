"""The segql benchmark harness (issue 7). Run from the repository root:

    ELASTICSEARCH_URL=http://127.0.0.1:9250 python bench/run.py --contacts 100000 \
        --out bench/results/

`bench/` is not a package: this script imports the installed `segql` and its sibling
`suite.py` (Python puts the script's own folder first on sys.path; the repository root is
never added, so `core/`, `grammar/` can't shadow the installed package).

Every figure is a ratio of two measurements taken in the same run, on the same node.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from elasticsearch import Elasticsearch, helpers
from suite import ACCOUNT, EXPORT_CANDIDATES, NOW, SAVED, SEGMENTS, naive_bodies

from segql import api, sample
from segql.compiler import segments as compiler_segments
from segql.connection import connect
from segql.indexer.document import contact_document, document_id
from segql.indexer.mapping import index_body
from segql.indexer.records import fold_records

CACHE = Path(os.environ.get("SEGQL_BENCH_CACHE", "/tmp/segql-bench"))
SEED = 7
SEGQL = str(Path(sys.executable).with_name("segql"))


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p95": pct(values, 0.95),
            "p99": pct(values, 0.99), "n": len(values)}


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


# --- data ----------------------------------------------------------------------------


def dataset(contacts: int) -> Path:
    """The sample stream for `contacts`, generated once and cached outside the repo."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sample-{contacts}-seed{SEED}.jsonl"
    if not path.exists():
        log(f"generating {contacts:,} contacts -> {path}")
        part = path.with_suffix(".part")
        sample.write(part, contacts=contacts, seed=SEED, account=ACCOUNT)
        part.replace(path)
    return path


def drop(es: Elasticsearch, index: str) -> None:
    for name in (index, f"{index}-catalog", f"{index}-checkpoints", f"{index}-segments"):
        es.options(ignore_status=404).indices.delete(index=name, ignore_unavailable=True)


# --- process measurement ---------------------------------------------------------------


def run_measured(cmd: list[str], **kw: Any) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Run `cmd`; (seconds, peak RSS in bytes of it and its children, result)."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    peak = 0
    out: dict[str, str] = {}

    def drain() -> None:
        out["stdout"], out["stderr"] = proc.communicate()

    reader = threading.Thread(target=drain)
    reader.start()
    while reader.is_alive():
        try:
            rss = proc.memory_info().rss + sum(
                child.memory_info().rss for child in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        reader.join(0.05)
    elapsed = time.perf_counter() - start
    result = subprocess.CompletedProcess(cmd, proc.returncode, out["stdout"], out["stderr"])
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, peak, result


# --- figures ---------------------------------------------------------------------------


def initial_load(es: Elasticsearch, data: Path, index: str, env: dict[str, str]
                 ) -> dict[str, Any]:
    """`segql index` (CLI, subprocess) vs parallel_bulk of pre-built documents."""
    drop(es, index)
    rejects = CACHE / f"rejects-{index}.jsonl"
    log(f"load: segql index {data.name} -> {index}")
    seconds, peak, result = run_measured(
        [SEGQL, "index", str(data), "--index", index, "--rejects", str(rejects)], env=env)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    es.indices.refresh(index=index)
    contacts = int(es.count(index=index)["count"])
    log(f"load: {contacts:,} contacts in {seconds:.1f}s; building documents for the ceiling")

    t0 = time.perf_counter()
    with data.open("rb") as lines:
        store, _ = fold_records(lines)
    fold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    actions = [{"_index": f"{index}-ceiling", "_id": document_id(*key), "_routing": key[0],
                "_source": contact_document(contact)}
               for key, contact in store.contacts.items()]
    build_s = time.perf_counter() - t0
    del store
    ceiling = f"{index}-ceiling"
    drop(es, ceiling)
    es.indices.create(index=ceiling, **index_body())
    log(f"load: parallel_bulk of {len(actions):,} pre-built documents")
    t0 = time.perf_counter()
    for ok, item in helpers.parallel_bulk(es, actions, thread_count=4, chunk_size=500,
                                          max_chunk_bytes=8 << 20):
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
    es.indices.refresh(index=ceiling)
    bulk_s = time.perf_counter() - t0
    ceiling_contacts = len(actions)
    del actions
    drop(es, ceiling)
    segql_rate = contacts / seconds
    ceiling_rate = ceiling_contacts / bulk_s
    return {
        "segql_index": {"seconds": round(seconds, 2), "contacts": contacts,
                        "records": summary.get("records"), "contacts_per_s": round(segql_rate),
                        "records_per_s": round(summary.get("records", 0) / seconds),
                        "peak_rss_mb": round(peak / 2**20, 1), "summary": summary},
        "parallel_bulk_ceiling": {"seconds": round(bulk_s, 2), "contacts": ceiling_contacts,
                                  "contacts_per_s": round(ceiling_rate),
                                  "not_timed_fold_s": round(fold_s, 2),
                                  "not_timed_build_documents_s": round(build_s, 2)},
        "ratio_segql_vs_ceiling": ratio(segql_rate, ceiling_rate),
        "target": 0.8,
    }


def bulk_load(es: Elasticsearch, data: Path, index: str) -> dict[str, Any]:
    """Load `index` the ceiling's way (fold, `contact_document`, parallel_bulk) and learn
    the catalog as the indexer would: for sizes where `segql index` takes too long to wait
    for. The load figure is then NOT measured (the result says so)."""
    from segql.compiler.catalog import learn
    from segql.indexer.catalog_store import CatalogStore, catalog_index_name

    drop(es, index)
    t0 = time.perf_counter()
    with data.open("rb") as lines:
        store, _ = fold_records(lines)
    es.indices.create(index=index, **index_body())
    actions = ({"_index": index, "_id": document_id(*key), "_routing": key[0],
                "_source": contact_document(contact)}
               for key, contact in store.contacts.items())
    for ok, item in helpers.parallel_bulk(es, actions, thread_count=4, chunk_size=500,
                                          max_chunk_bytes=8 << 20):
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
    CatalogStore(es, catalog_index_name(index)).merge_learned(
        ACCOUNT, learn(store.contacts.values(), account=ACCOUNT))
    es.indices.refresh(index=index)
    return {"mode": "bulk (fold + contact_document + parallel_bulk, catalog learned); "
                    "`segql index` not measured in this run",
            "contacts": len(store.contacts), "seconds": round(time.perf_counter() - t0, 1)}


def compile_figure(ctx: Any, reps: int) -> dict[str, Any]:
    """Cold parse+check+compile per expression, segql vs luqum on the Lucene-expressible
    subset. Per call the `parse_definition` cache is cleared; Lark's parser object
    (`grammar.parser._lark`, built once per process) and luqum's PLY tables are both
    built before timing: a one-time cost, not part of a call."""
    from luqum.elasticsearch import ElasticsearchQueryBuilder
    from luqum.parser import parser as luqum_parser

    def segql_once(text: str) -> None:
        compiler_segments.parse_definition.cache_clear()
        api.compile_text(text, ctx)

    def luqum_once(text: str) -> None:
        builder = ElasticsearchQueryBuilder(default_operator="must")
        builder(luqum_parser.parse(text))

    def timed(fn: Callable[[str], None], text: str) -> float:
        for _ in range(3):
            fn(text)  # warm-up (bytecode, one-time parser builds)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn(text)
            samples.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(samples)

    per: dict[str, Any] = {}
    for name, text, lucene in SEGMENTS:
        row: dict[str, Any] = {"segql_us": round(timed(segql_once, text), 1)}
        if lucene is not None:
            row["luqum_us"] = round(timed(luqum_once, lucene), 1)
            row["ratio_luqum_over_segql"] = ratio(row["luqum_us"], row["segql_us"])
        per[name] = row
    both = [r for r in per.values() if "luqum_us" in r]
    segql_sum = sum(r["segql_us"] for r in both)
    luqum_sum = sum(r["luqum_us"] for r in both)
    return {
        "what": "median µs per call of api.compile_text (parse+check+compile, "
                "parse_definition cache cleared each call) vs luqum parse + "
                "ElasticsearchQueryBuilder; Lark/PLY parser construction excluded (one-time)",
        "reps": reps, "per_segment": per,
        "comparable_segments": len(both),
        "segql_total_us": round(segql_sum, 1), "luqum_total_us": round(luqum_sum, 1),
        "speedup_segql_vs_luqum": ratio(luqum_sum, segql_sum),
        "speedup_median_per_segment": round(statistics.median(
            [r["ratio_luqum_over_segql"] for r in both]), 3),
        "target": 2.0,
    }


def count_figure(es: Elasticsearch, ctx: Any, index: str, reps: int) -> dict[str, Any]:
    """api.count wall time vs Elasticsearch's `took` of the same request, and segql's
    body vs the naive formulation where the query's design matters."""
    per: dict[str, Any] = {}
    walls_all: list[float] = []
    tooks_all: list[float] = []
    warm_walls: list[float] = []
    for name, text, _ in SEGMENTS:
        for _ in range(2):
            api.count(es, text, ctx, index)
        walls, tooks, warm = [], [], []
        for _ in range(reps):
            # cold: the shard request cache (which serves repeated size:0 searches) is
            # cleared first, outside the timing, so `took` is a real search
            es.indices.clear_cache(index=index, request=True)
            t0 = time.perf_counter()
            result = api.count(es, text, ctx, index)
            walls.append((time.perf_counter() - t0) * 1000)
            tooks.append(float(result.took_ms))
            t0 = time.perf_counter()
            api.count(es, text, ctx, index)  # warm: the same request, from the cache
            warm.append((time.perf_counter() - t0) * 1000)
        # `took` is whole milliseconds: 0 means under 1 ms; clamped to 0.5 for the ratio
        per[name] = {"count": result.count, "wall_ms": stats(walls), "took_ms": stats(tooks),
                     "warm_wall_ms": stats(warm),
                     "p50_ratio_wall_over_took": ratio(statistics.median(walls),
                                                       max(statistics.median(tooks), 0.5))}
        walls_all += walls
        tooks_all += tooks
        warm_walls += warm
    naive: dict[str, Any] = {}
    texts = {name: text for name, text, _ in SEGMENTS}
    for name, body in naive_bodies(ctx.account).items():
        segql_body = api.compile_text(texts[name], ctx)
        row = {}
        for label, query in (("segql", segql_body["query"]), ("naive", body["query"])):
            tooks, total = [], 0
            for i in range(reps + 2):
                response = es.search(index=index, routing=ctx.account, size=0,
                                     track_total_hits=True, query=query,
                                     request_cache=False)
                total = int(response["hits"]["total"]["value"])
                if i >= 2:
                    tooks.append(float(response["took"]))
            row[label] = {"count": total, "took_ms": stats(tooks)}
        row["naive_over_segql_p50"] = ratio(row["naive"]["took_ms"]["p50"],
                                            max(row["segql"]["took_ms"]["p50"], 0.5))
        naive[name] = row
    return {
        "what": "wall = api.count end to end (check+compile+HTTP+JSON) per call; took = "
                "Elasticsearch's own `took` of that request (ms, integer resolution); request "
                "cache cleared before each timed call (warm_wall_ms: the same call again, "
                "served by the request cache)",
        "reps": reps, "per_segment": per,
        "all_wall_ms": stats(walls_all), "all_took_ms": stats(tooks_all),
        "all_warm_wall_ms": stats(warm_walls),
        "p50_ratio_wall_over_took_median_of_segments": round(statistics.median(
            [r["p50_ratio_wall_over_took"] for r in per.values()]), 3),
        "p50_overhead_ms": round(statistics.median(walls_all) - statistics.median(tooks_all),
                                 2),
        "target_ratio": 1.3,
        "naive": naive,
        "naive_note": "scripts (painless) don't exist on the pinned integ-test-zip "
                      "distribution, so the naive forms are leading wildcards and "
                      "case_insensitive terms; request_cache off for both sides",
    }


def _sliced_pit_ids(es: Elasticsearch, index: str, account: str, slices: int,
                    page: int) -> int:
    pit = es.open_point_in_time(index=index, routing=account, keep_alive="2m")["id"]
    counts = [0] * slices

    def one(i: int) -> None:
        pages = api.snapshot_pages(es, pit, {"match_all": {}}, [], page=page,
                                   slice_=(i, slices))
        counts[i] = sum(len(hits) for hits in pages)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(slices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    es.close_point_in_time(id=pit)
    return sum(counts)


def export_figure(es: Elasticsearch, ctx: Any, index: str, contacts: int, env: dict[str, str],
                  reps: int) -> dict[str, Any]:
    counts = {text: api.count(es, text, ctx, index).count for text in EXPORT_CANDIDATES}
    text = min(counts, key=lambda t: abs(counts[t] - contacts / 2))
    body = api.compile_text(text, ctx)

    def segql_export() -> int:
        with api.export(es, text, ctx, index=index) as rows:
            return sum(1 for _ in rows)

    def scan() -> int:
        return sum(1 for _ in helpers.scan(es, index=index, query=body, routing=ctx.account,
                                           size=5000, scroll="2m"))

    def ceiling() -> int:
        return _sliced_pit_ids(es, index, ctx.account, api.DEFAULT_SLICES, api.DEFAULT_PAGE)

    out: dict[str, Any] = {"segment": text, "segment_count": counts[text],
                           "candidates": counts}
    for label, fn in (("api_export", segql_export), ("helpers_scan", scan),
                      ("sliced_pit_ids_match_all", ceiling)):
        rates, rows = [], 0
        for _ in range(reps):
            t0 = time.perf_counter()
            rows = fn()
            rates.append(rows / (time.perf_counter() - t0))
        out[label] = {"rows": rows, "rows_per_s_p50": round(statistics.median(rates)),
                      "runs": [round(r) for r in rates]}
        log(f"export: {label} {rows:,} rows, {statistics.median(rates):,.0f}/s")
    seconds, peak, result = run_measured(
        [SEGQL, "export", text, "--account", ctx.account, "--index", index, "--format",
         "ids", "-o", os.devnull, "--now", NOW], env=env)
    out["cli_export"] = {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20, 1),
                         "rows_per_s": round(counts[text] / seconds),
                         "summary": result.stderr.strip().splitlines()[-1:]}
    seg = out["api_export"]["rows_per_s_p50"]
    out["ratio_vs_scan"] = ratio(seg, out["helpers_scan"]["rows_per_s_p50"])
    out["ratio_vs_ceiling"] = ratio(seg, out["sliced_pit_ids_match_all"]["rows_per_s_p50"])
    out["targets"] = {"vs_scan": 3.0, "vs_ceiling": 0.7}
    return out


def freshness(es: Elasticsearch, ctx: Any, index: str, env: dict[str, str],
              seconds: float, rate: int) -> dict[str, Any]:
    """A sustained event stream appended to a file under `segql index --follow`; probes
    (events with a unique property) are timed from their write until api.count sees them."""
    contacts = [f"c{i:06d}" for i in range(1, 1001)]
    with tempfile.NamedTemporaryFile("w", dir=CACHE, prefix="follow-", suffix=".jsonl",
                                     delete=False) as first:
        path = Path(first.name)
    rejects = CACHE / "rejects-follow.jsonl"
    proc = subprocess.Popen([SEGQL, "index", str(path), "--index", index, "--follow",
                             "--rejects", str(rejects), "--batch-size", "5000"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pending: list[tuple[str, float]] = []
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    def record(i: int, device: str) -> str:
        return json.dumps({"type": "event", "account": ctx.account,
                           "contact": contacts[i % len(contacts)], "id": f"f{stamp}-{i}",
                           "name": "Login", "ts": "2026-10-31T12:00:00Z",
                           "props": {"device": device}}) + "\n"

    def poll() -> None:
        while not done.is_set() or pending:
            with lock:
                head = pending[0] if pending else None
            if head is None:
                time.sleep(0.01)
                continue
            text = f'event Login where (device = "{head[0]}") occurred'
            if api.count(es, text, ctx, index).count >= 1:
                seen = time.perf_counter()
                with lock:
                    pending.pop(0)
                latencies.append(seen - head[1])
            else:
                time.sleep(0.01)
            if done.is_set() and time.perf_counter() - done_at[0] > 30:
                break

    done_at = [0.0]
    poller = threading.Thread(target=poll)
    poller.start()
    written = 0
    start = time.perf_counter()
    probe_every = 0.25
    next_probe = start
    try:
        with path.open("a", encoding="utf-8") as out:
            while (now := time.perf_counter()) - start < seconds:
                due = int((now - start) * rate) - written
                if due > 0:
                    out.write("".join(record(written + k, "web") for k in range(due)))
                    written += due
                if now >= next_probe:
                    probe = f"probe-{stamp}-{len(latencies) + len(pending)}"
                    out.write(record(10**9 + written, probe))
                    out.flush()
                    with lock:
                        pending.append((probe, time.perf_counter()))
                    written += 1
                    next_probe += probe_every
                out.flush()
                time.sleep(0.005)
        achieved = written / (time.perf_counter() - start)
        done_at[0] = time.perf_counter()
        done.set()
        poller.join()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        path.unlink(missing_ok=True)
    return {
        "what": "events appended to a plain file under `segql index --follow`; every 0.25 s "
                "a probe event with a unique property; latency = its write (flushed) until "
                "api.count(event Login where device = probe) >= 1",
        "duration_s": seconds, "target_rate": rate, "achieved_events_per_s": round(achieved),
        "probes": len(latencies) + len(pending), "probes_unseen": len(pending),
        "latency_s": {k: round(v, 3) for k, v in stats(latencies).items()}
        if latencies else None,
        "target_p99_s": 2.0,
    }


# --- main ------------------------------------------------------------------------------


def machine(es: Elasticsearch) -> dict[str, Any]:
    server = es.cluster.stats()["nodes"]["versions"]
    return {"cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "segql": metadata.version("segql"), "elasticsearch_server": server,
            "elasticsearch_client": metadata.version("elasticsearch"),
            "luqum": metadata.version("luqum"),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--reps", type=int, default=20, help="count reps per segment")
    parser.add_argument("--compile-reps", type=int, default=200)
    parser.add_argument("--export-reps", type=int, default=3)
    parser.add_argument("--freshness-seconds", type=float, default=30.0,
                        help="0 skips the freshness figure")
    parser.add_argument("--rate", type=int, default=1000, help="freshness: events/s")
    parser.add_argument("--load", choices=["cli", "bulk"], default="cli",
                        help="bulk: load without measuring `segql index` (large N)")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the index loaded by an earlier run")
    args = parser.parse_args(argv)

    es = connect()
    url = os.environ.get("ELASTICSEARCH_URL")
    env = {**os.environ, **({"ELASTICSEARCH_URL": url} if url else {})}
    index = f"bench-{args.contacts}"
    started = time.perf_counter()
    results: dict[str, Any] = {"contacts": args.contacts, "seed": SEED, "index": index,
                               "machine": machine(es), "figures": {}}
    figures = results["figures"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"bench-{args.contacts}.json"

    def save() -> None:
        results["run_seconds"] = round(time.perf_counter() - started, 1)
        target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    if args.skip_load and target.exists():  # keep the load figure of the earlier run
        earlier = json.loads(target.read_text()).get("figures", {})
        if "initial_load" in earlier:
            figures["initial_load"] = {**earlier["initial_load"], "from_earlier_run": True}
    data = dataset(args.contacts)
    results["records"] = sum(1 for _ in data.open("rb"))
    if not args.skip_load and args.load == "bulk":
        results["load"] = bulk_load(es, data, index)
        log(f"bulk load: {results['load']}")
        save()
    elif not args.skip_load:
        figures["initial_load"] = initial_load(es, data, index, env)
        log(f"load: {figures['initial_load']['ratio_segql_vs_ceiling']}x of the ceiling")
        save()
    now = datetime.fromisoformat(NOW)
    ctx = api.context(es, ACCOUNT, index=index, now=now)
    store = api.segment_store(es, index)
    if SAVED[0] not in ctx.segments:
        store.create(ctx, *SAVED)
    ctx = api.context(es, ACCOUNT, index=index, now=now)

    figures["compile"] = compile_figure(ctx, args.compile_reps)
    save()
    log(f"compile: segql {figures['compile']['speedup_segql_vs_luqum']}x luqum")
    figures["count"] = count_figure(es, ctx, index, args.reps)
    save()
    log(f"count: wall/took p50 {figures['count']['p50_ratio_wall_over_took_median_of_segments']}")
    contacts = int(es.count(index=index, query={"term": {"account": ACCOUNT}})["count"])
    figures["export"] = export_figure(es, ctx, index, contacts, env, args.export_reps)
    save()
    if args.freshness_seconds > 0:
        figures["freshness"] = freshness(es, ctx, index, env, args.freshness_seconds,
                                         args.rate)
        log(f"freshness: {figures['freshness']['latency_s']}")
    save()
    log(f"wrote {target} in {results['run_seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
