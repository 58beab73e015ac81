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
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from elasticsearch import Elasticsearch, helpers
from freshness import WHAT as FRESHNESS_WHAT
from freshness import pct
from freshness import step as freshness_step
from freshness import sweep as freshness_sweep
from suite import ACCOUNT, EXPORT_CANDIDATES, NOW, SAVED, SEGMENTS, naive_bodies

from segql import api, sample
from segql.compiler import definitions
from segql.stores.connection import connect
from segql.stores.mapping import index_body

CACHE = Path(os.environ.get("SEGQL_BENCH_CACHE", "/tmp/segql-bench"))
SEED = 7
SEGQL = str(Path(sys.executable).with_name("segql"))
SCAN_ONCE_ABOVE = 200_000
LAST_CPU_S = [0.0]


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p95": pct(values, 0.95),
            "p99": pct(values, 0.99), "n": len(values)}


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


# --- data ----------------------------------------------------------------------------


def dataset(contacts: int) -> Path:
    """The sample stream for `contacts`, generated once and cached outside the repo."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / sample.sample_name(contacts, SEED)  # the generator's version in it
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
    """Run `cmd`; (seconds, peak RSS in bytes of it and its children, result). The CPU
    seconds it used (user + system) are in `LAST_CPU_S`."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    peak = 0
    out: dict[str, str] = {}
    cpu = [0.0]

    def drain() -> None:
        out["stdout"], out["stderr"] = proc.communicate()

    reader = threading.Thread(target=drain)
    reader.start()
    while reader.is_alive():
        try:
            rss = proc.memory_info().rss + sum(
                child.memory_info().rss for child in proc.children(recursive=True))
            peak = max(peak, rss)
            times = proc.cpu_times()
            cpu[0] = times.user + times.system
        except psutil.Error:
            pass
        reader.join(0.05)
    elapsed = time.perf_counter() - start
    LAST_CPU_S[0] = cpu[0]
    result = subprocess.CompletedProcess(cmd, proc.returncode, out["stdout"], out["stderr"])
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, peak, result


# --- figures ---------------------------------------------------------------------------


def initial_load(es: Elasticsearch, data: Path, index: str, env: dict[str, str]
                 ) -> dict[str, Any]:
    """`segql index` (CLI, subprocess) on an empty index vs `helpers.parallel_bulk` of the
    same documents pre-built: those segql wrote, dumped from its index to a file as JSON
    (not timed) and sent as they are (no client-side encoding: the ceiling)."""
    drop(es, index)
    rejects = CACHE / f"rejects-{index}.jsonl"
    log(f"load: segql index {data.name} -> {index}")
    es_cpu = node_cpu_s(es)
    seconds, peak, result = run_measured(
        [SEGQL, "index", str(data), "--index", index, "--rejects", str(rejects)], env=env)
    segql_es_cpu = node_cpu_s(es) - es_cpu
    segql_cpu = LAST_CPU_S[0]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    es.indices.refresh(index=index)
    contacts = int(es.count(index=index)["count"])
    log(f"load: {contacts:,} contacts in {seconds:.1f}s "
        f"({contacts / seconds:,.0f}/s); dumping the documents for the ceiling")
    dump = CACHE / f"documents-{index}.tsv"
    t0 = time.perf_counter()
    dumped = _dump_documents(es, index, dump)
    dump_s = time.perf_counter() - t0
    ceiling = f"{index}-ceiling"
    drop(es, ceiling)
    es.indices.create(index=ceiling, **index_body())

    def actions() -> Iterator[dict[str, Any]]:
        with dump.open("rb") as lines:
            for line in lines:
                doc_id, source = line.rstrip(b"\n").split(b"\t", 1)
                yield {"_index": ceiling, "_id": doc_id.decode(), "_routing": ACCOUNT,
                       "_source": source}

    log(f"load: parallel_bulk of {dumped:,} pre-built documents")
    es_cpu = node_cpu_s(es)
    client_cpu = time.process_time()
    t0 = time.perf_counter()
    for ok, item in helpers.parallel_bulk(es, actions(), thread_count=4, chunk_size=500,
                                          max_chunk_bytes=8 << 20):
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
    es.indices.refresh(index=ceiling)
    bulk_s = time.perf_counter() - t0
    ceiling_es_cpu = node_cpu_s(es) - es_cpu
    ceiling_client_cpu = time.process_time() - client_cpu
    ceiling_contacts = int(es.count(index=ceiling)["count"])
    dump.unlink()
    drop(es, ceiling)
    segql_rate = contacts / seconds
    ceiling_rate = ceiling_contacts / bulk_s
    return {
        "segql_index": {"seconds": round(seconds, 2), "contacts": contacts,
                        "records": summary.get("records"), "contacts_per_s": round(segql_rate),
                        "records_per_s": round(summary.get("records", 0) / seconds),
                        "peak_rss_mb": round(peak / 2**20, 1), "summary": summary,
                        "client_cpu_s": round(segql_cpu, 1),
                        "elasticsearch_cpu_s": round(segql_es_cpu, 1)},
        "parallel_bulk_ceiling": {"seconds": round(bulk_s, 2), "contacts": ceiling_contacts,
                                  "contacts_per_s": round(ceiling_rate),
                                  "client_cpu_s": round(ceiling_client_cpu, 1),
                                  "elasticsearch_cpu_s": round(ceiling_es_cpu, 1),
                                  "not_timed_dump_s": round(dump_s, 2)},
        "ratio_segql_vs_ceiling": ratio(segql_rate, ceiling_rate),
        "target": 0.8,
    }


def node_cpu_s(es: Elasticsearch) -> float:
    """CPU seconds the Elasticsearch process has used so far (all nodes)."""
    nodes = es.nodes.stats(metric="process")["nodes"].values()
    return sum(node["process"]["cpu"]["total_in_millis"] for node in nodes) / 1000


def _dump_documents(es: Elasticsearch, index: str, path: Path, slices: int = 2) -> int:
    """Every document's `_id` and `_source` (re-encoded compactly) as `id TAB json` lines:
    a sliced PIT scan, one thread per slice."""
    pit = es.open_point_in_time(index=index, keep_alive="5m")["id"]
    counts = [0] * slices
    lock = threading.Lock()

    def one(i: int, out: Any) -> None:
        after: list[Any] | None = None
        while True:
            page = es.search(pit={"id": pit, "keep_alive": "5m"}, size=1000,
                             sort=["_shard_doc"], slice={"id": i, "max": slices},
                             search_after=after, track_total_hits=False)["hits"]["hits"]
            if not page:
                return
            text = "".join(hit["_id"] + "\t" + json.dumps(hit["_source"], ensure_ascii=False,
                                                          separators=(",", ":")) + "\n"
                           for hit in page)
            with lock:
                out.write(text)
            counts[i] += len(page)
            after = page[-1]["sort"]

    with path.open("w", encoding="utf-8") as out:
        _in_threads(lambda i: one(i, out), slices)
    es.close_point_in_time(id=pit)
    return sum(counts)


def _in_threads(work: Callable[[int], None], count: int) -> None:
    """work(0) … work(count - 1), each in its own thread (one per PIT slice)."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def compile_figure(ctx: Any, reps: int) -> dict[str, Any]:
    """Cold parse+check+compile per expression, segql vs luqum on the Lucene-expressible
    subset. Per call the `parse_definition` cache is cleared; Lark's parser object
    (`grammar.keywords.lark_parser`, built once per process) and luqum's PLY tables are both
    built before timing: a one-time cost, not part of a call."""
    from luqum.elasticsearch import ElasticsearchQueryBuilder
    from luqum.parser import parser as luqum_parser

    def segql_once(text: str) -> None:
        definitions.parse_definition.cache_clear()
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
    # the floor: a search that does no work, through the same client and connection
    floor = []
    for _ in range(reps * 5):
        t0 = time.perf_counter()
        es.search(index=index, routing=ctx.account, size=0, query={"match_none": {}})
        floor.append((time.perf_counter() - t0) * 1000)
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
        "client_floor_ms": stats(floor),
        "client_floor_what": "wall of es.search(size 0, match_none) on the same client: the "
                             "HTTP round trip and response handling any count pays",
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

    _in_threads(one, slices)
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
        # helpers.scan reads ~1.6k rows/s: above SCAN_ONCE_ABOVE rows it runs once
        for _ in range(1 if label == "helpers_scan" and counts[text] > SCAN_ONCE_ABOVE
                       else reps):
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


# --- main ------------------------------------------------------------------------------


def machine(es: Elasticsearch) -> dict[str, Any]:
    server = es.cluster.stats()["nodes"]["versions"]
    return {"cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "segql": metadata.version("segql"), "elasticsearch_server": server,
            "elasticsearch_client": metadata.version("elasticsearch"),
            "luqum": metadata.version("luqum"),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def run_size(es: Elasticsearch, args: argparse.Namespace, contacts_wanted: int,
             env: dict[str, str], run_id: str) -> None:
    """Every figure for one data size, saved to `bench-<N>.json` as it is measured."""
    index = f"bench-{contacts_wanted}"
    started = time.perf_counter()
    results: dict[str, Any] = {"contacts": contacts_wanted, "seed": SEED, "index": index,
                               "run": run_id, "command": " ".join(sys.argv),
                               "machine": machine(es), "figures": {}}
    figures = results["figures"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"bench-{contacts_wanted}.json"

    def save() -> None:
        results["run_seconds"] = round(time.perf_counter() - started, 1)
        target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    if args.skip_load and target.exists():  # keep the load figure of the earlier run
        earlier = json.loads(target.read_text()).get("figures", {})
        if "initial_load" in earlier:
            figures["initial_load"] = {**earlier["initial_load"], "from_earlier_run": True}
    data = dataset(contacts_wanted)
    with data.open("rb") as lines:
        results["records"] = sum(1 for _ in lines)
    if not args.skip_load:
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

    def follow(seconds: float, rate: int, spread: int) -> dict[str, Any]:
        return freshness_step(es, ctx, index, env=env, segql=SEGQL, folder=CACHE,
                              seconds=seconds, rate=rate, spread=spread,
                              timeout=args.freshness_timeout, seed=SEED, log=log)

    if args.freshness_seconds > 0:
        # the figure: events for any of the account's contacts; then a hot set where every
        # event rewrites one of 1,000 contacts (each gets ~1 event/s)
        for name, spread in (("freshness", contacts), ("freshness_hot_1000", 1000)):
            figures[name] = {"what": FRESHNESS_WHAT,
                             **follow(args.freshness_seconds, args.rate, spread)}
            save()
    if args.freshness_sweep:
        figures["freshness_sweep"] = freshness_sweep(
            args.freshness_sweep, lambda rate: follow(args.sweep_seconds, rate, contacts),
            every=args.sweep_all)
        log(f"freshness sweep: highest sustainable rate "
            f"{figures['freshness_sweep']['highest_sustainable_rate']}/s")
        save()
    save()
    log(f"wrote {target} in {results['run_seconds']}s")


def _rates(text: str) -> list[int]:
    try:
        rates = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated whole numbers") from None
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[100_000],
                        help="data sizes, measured one after the other in this run")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--reps", type=int, default=20, help="count reps per segment")
    parser.add_argument("--compile-reps", type=int, default=200)
    parser.add_argument("--export-reps", type=int, default=3)
    parser.add_argument("--freshness-seconds", type=float, default=30.0,
                        help="0 skips the freshness figure")
    parser.add_argument("--rate", type=int, default=1000, help="freshness: events/s")
    parser.add_argument("--freshness-timeout", type=float, default=30.0,
                        help="seconds after which a probe not yet counted is unseen (a "
                             "failure, counted at this value in the percentiles)")
    parser.add_argument("--freshness-sweep", type=_rates, default=[],
                        help="event rates (per second, comma-separated, e.g. "
                             "250,500,1000,2000,4000): one step each, lowest first, to find "
                             "the highest sustainable one; empty: no sweep")
    parser.add_argument("--sweep-seconds", type=float, default=60.0,
                        help="seconds of writing per sweep step")
    parser.add_argument("--sweep-all", action="store_true",
                        help="run every sweep step, even after one that is not sustainable")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the index loaded by an earlier run")
    args = parser.parse_args(argv)

    es = connect()
    url = os.environ.get("ELASTICSEARCH_URL")
    env = {**os.environ, **({"ELASTICSEARCH_URL": url} if url else {})}
    run_id = datetime.now(UTC).isoformat(timespec="seconds")
    for contacts in args.contacts:
        run_size(es, args, contacts, env, run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
