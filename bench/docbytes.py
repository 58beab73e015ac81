"""Bytes per contact document and the cost of `contains`/`ends_with`, for two document
shapes side by side (issue 15; docs/document.md holds the results). Run from the
repository root:

    ELASTICSEARCH_URL=http://127.0.0.1:9200 python bench/docbytes.py --contacts 20000

The *old* shape is built, and its segments compiled, by the code of `--old-ref` itself
(default: main before shape 2, with suffix slots): `git archive` of that commit, laid out
as the `segql` package and put first on PYTHONPATH of a worker process. The *new* shape
is the installed segql's. Both workers fold the same sample (`segql.sample`, seed 7, the
cache of bench/run.py), bulk their documents into an index of their own mapping, and
report the JSON bytes they sent; the indices are then force-merged to one segment each
(so store sizes compare) and every segment is counted on both, interleaved, with the
request cache off. Counts must agree. The indices are deleted at the end (`--keep` keeps
them).

Besides `old` (old index, old body) and `new` (new index, new body), two variants show
the options weighed: `wildcard_on_new` (the new body with `ends_with` on a contact field
as a wildcard `*x` on `f` instead of a prefix on the reversed `r`: no `r` at all), and
`regexp_on_new` (the new body with each wildcard written as the equivalent regexp).
Each count is timed alone (`took`, whole milliseconds, and wall) and as the mean of
`--copies` counts in one sequential `_msearch` (`batch`: finer than whole ms).

Last, the rewrite figure: Elasticsearch's indexing time per rewrite of the same contacts
in each shape, interleaved; also in the new shape without `r` (`new-r`) and with shape 1's
suffix slot `s` back on contact fields (`new+s`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

ACCOUNT = "bench"
NOW = "2026-11-01T00:00:00Z"
OLD_REF = "b930430"
HERE = Path(__file__).resolve().parent
#: Segments of bench/suite.py with `contains` or `ends_with` are added to these.
EXTRA = [
    ("event_property_contains", 'event Purchase where (category contains "elektr") occurred'),
    ("visit_url_contains_cart", 'visit where (url contains "/cart") occurred'),
    ("email_contains (distinct values)", 'email contains "kowal"'),
    ("last_name_ends_with", 'last_name ends_with "ski"'),
    ("contains_long_needle", 'visit where (url contains "?utm_source=newsletter&utm_medium")'
                             " occurred"),
]


# --- workers: run under the code of one shape -------------------------------------------


def _contacts(data: str) -> list[Any]:
    from segql.indexer.records import fold_records

    with open(data, "rb") as lines:
        store, _ = fold_records(lines)
    return list(store.contacts.values())


def work_load(es: Any, index: str, data: str, catalog_out: str) -> dict[str, Any]:
    """Fold, learn the catalog, build and bulk every document; the bytes sent."""
    from elasticsearch import helpers

    from segql.compiler.catalog import learn
    from segql.contract.document import contact_document, document_id
    from segql.stores.mapping import index_body

    t0 = time.perf_counter()
    contacts = _contacts(data)
    fold_s = time.perf_counter() - t0
    Path(catalog_out).write_text(json.dumps(learn(contacts).catalog.to_json()))
    es.options(ignore_status=404).indices.delete(index=index)
    es.indices.create(index=index, **index_body())
    sent = [0, 0, 0]  # bytes, documents, nested documents

    def actions() -> Iterator[dict[str, Any]]:
        for contact in contacts:
            doc = contact_document(contact)
            source = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            sent[0] += len(source.encode())
            sent[1] += 1
            sent[2] += len(doc["events"]) + len(doc["visits"])
            yield {"_index": index, "_id": document_id(contact.account, contact.id),
                   "_routing": contact.account, "_source": source}

    cpu0 = _node_cpu_s(es)
    t0 = time.perf_counter()
    for ok, item in helpers.streaming_bulk(es, actions(), chunk_size=500,
                                           max_chunk_bytes=8 << 20, raise_on_error=False):
        if not ok:
            raise RuntimeError(f"bulk failure: {str(item)[:500]}")
    bulk_s = time.perf_counter() - t0
    es_cpu = _node_cpu_s(es) - cpu0
    return {"contacts": sent[1], "json_bytes": sent[0], "json_bytes_per_contact":
            round(sent[0] / sent[1]), "nested_per_contact": round(sent[2] / sent[1], 2),
            "fold_s": round(fold_s, 1), "bulk_s": round(bulk_s, 1),
            "elasticsearch_cpu_ms_per_contact": round(es_cpu * 1000 / sent[1], 3)}


def work_bodies(segments: dict[str, str], catalog: str) -> dict[str, Any]:
    from datetime import datetime

    from segql import api
    from segql.compiler.catalog import Catalog
    from segql.compiler.context import Context

    ctx = Context(account=ACCOUNT, now=datetime.fromisoformat(NOW),
                  catalog=Catalog.from_json(json.loads(Path(catalog).read_text()),
                                            strict=False))
    return {name: api.compile_text(text, ctx)["query"] for name, text in segments.items()}


def _node_cpu_s(es: Any) -> float:
    nodes = es.nodes.stats(metric="process")["nodes"].values()
    return float(sum(node["process"]["cpu"]["total_in_millis"] for node in nodes)) / 1000


def _es() -> Any:
    from elasticsearch import Elasticsearch

    return Elasticsearch(os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
                         request_timeout=600)


def worker(args: argparse.Namespace) -> int:
    request = json.loads(args.worker)
    if request["do"] == "load":
        result = work_load(_es(), request["index"], request["data"], request["catalog"])
    else:
        result = work_bodies(request["segments"], request["catalog"])
    print(json.dumps(result, ensure_ascii=False))
    return 0


# --- the orchestrator ---------------------------------------------------------------------


def old_tree(ref: str, cache: Path) -> Path:
    """The code of `ref` laid out as importable packages (pyproject's package-dir)."""
    root = cache / f"old-{ref}"
    if (root / "segql" / "__init__.py").exists():
        return root
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref], check=True,
                             capture_output=True).stdout
    src = cache / f"old-{ref}-src"
    shutil.rmtree(src, ignore_errors=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    dirs = tomllib.loads((src / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    part = cache / f"old-{ref}.part"
    shutil.rmtree(part, ignore_errors=True)
    for package, folder in sorted(dirs.items()):  # `segql` before its subpackages
        shutil.copytree(src / folder, part / package.replace(".", "/"), dirs_exist_ok=True)
    part.replace(root)
    return root


def run_worker(request: dict[str, Any], pythonpath: Path | None) -> Any:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(request)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"worker {request['do']} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout)


def to_regexp(node: Any) -> Any:
    """The body with each `wildcard` written as the same literal regexp."""
    if isinstance(node, list):
        return [to_regexp(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"wildcard"}:
        ((path, spec),) = node["wildcard"].items()
        out, escaped = [], False
        for ch in spec["value"]:
            if escaped or ch not in "*?\\":
                out.append(ch if ch.isascii() and ch.isalnum() else "\\" + ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            else:
                out.append(".*" if ch == "*" else ".")
        return {"regexp": {path: {"value": "".join(out), "flags": "NONE",
                                  "max_determinized_states": 10_000_000}}}
    return {key: to_regexp(value) for key, value in node.items()}


def store_figures(es: Any, index: str) -> dict[str, Any]:
    es.indices.refresh(index=index)
    es.options(request_timeout=3600).indices.forcemerge(index=index, max_num_segments=1)
    es.indices.refresh(index=index)
    contacts = int(es.count(index=index)["count"])
    store = es.indices.stats(index=index, metric="store")["indices"][index]["primaries"][
        "store"]["size_in_bytes"]
    return {"store_bytes": store, "store_bytes_per_contact": round(store / contacts),
            "contacts": contacts}


def timed(es: Any, index: str, query: Any) -> tuple[int, float, float]:
    """(hits, took ms, wall ms) of one count."""
    t0 = time.perf_counter()
    response = es.search(index=index, routing=ACCOUNT, size=0, track_total_hits=True,
                         query=query, request_cache=False)
    wall = (time.perf_counter() - t0) * 1000
    return int(response["hits"]["total"]["value"]), float(response["took"]), wall


def batch_ms(es: Any, index: str, query: Any, copies: int) -> float:
    """Milliseconds per count of `copies` identical counts run one after the other in one
    `_msearch`: its `took` over `copies`, a finer resolution than one search's whole-ms
    `took`."""
    header = {"index": index, "routing": ACCOUNT, "request_cache": False}
    body = {"size": 0, "track_total_hits": True, "query": query}
    response = es.msearch(searches=[header, body] * copies, max_concurrent_searches=1)
    return float(response["took"]) / copies


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(es: Any, variants: dict[str, tuple[str, Any]], reps: int,
            copies: int) -> dict[str, Any]:
    """Every variant `reps` times, interleaved (the machine is shared: a slow moment
    hits all of them)."""
    samples: dict[str, dict[str, list[float]]] = {
        name: {"took": [], "wall": [], "batch": []} for name in variants}
    hits: dict[str, set[int]] = {name: set() for name in variants}
    for index, query in variants.values():  # warm-up
        timed(es, index, query)
    for _ in range(reps):
        for name, (index, query) in variants.items():
            count, took, wall = timed(es, index, query)
            hits[name].add(count)
            samples[name]["took"].append(took)
            samples[name]["wall"].append(wall)
            samples[name]["batch"].append(batch_ms(es, index, query, copies))
    counts = {name: sorted(found) for name, found in hits.items()}
    if len({tuple(found) for found in counts.values()}) != 1:
        raise RuntimeError(f"the variants disagree: {counts}")
    return {"count": next(iter(counts.values()))[0], **{
        name: {f"{kind}_ms": {"p50": round(statistics.median(values), 3),
                              "p95": round(p(values, 0.95), 3)}
               for kind, values in found.items()} for name, found in samples.items()}}


def _variant(doc: dict[str, Any], slots: str) -> dict[str, Any]:
    """A new-shape document with the contact fields' `r` dropped (`slots` "-r") or with
    shape 1's suffix slot `s` (cut to 24 characters) added ("+s")."""
    fields = {}
    for key, found in doc["fields"].items():
        found = dict(found)
        if slots == "-r":
            found.pop("r", None)
        elif found.get("f"):
            found["s"] = sorted({f[i:i + 24] for f in found["f"] for i in range(len(f))})
        fields[key] = found
    return {**doc, "fields": fields}


def to_wildcard(node: Any) -> Any:
    """The body with each prefix on a contact field's reversed fold (`ends_with`) written
    as the wildcard `*x` on its fold."""
    from segql.compiler.targets import literal_wildcard

    if isinstance(node, list):
        return [to_wildcard(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"prefix"}:
        ((path, value),) = node["prefix"].items()
        if path.startswith("fields.") and path.endswith(".r"):
            return {"wildcard": {path[:-1] + "f": {"value": "*" + literal_wildcard(
                value[::-1])}}}
    return {key: to_wildcard(value) for key, value in node.items()}


def _sources(es: Any, index: str, size: int) -> list[tuple[str, dict[str, Any]]]:
    hits = es.search(index=index, size=size, sort=[{"contact_id": "asc"}],
                     query={"match_all": {}})["hits"]["hits"]
    return [(hit["_id"], hit["_source"]) for hit in hits]


def rewrite_figure(es: Any, indices: dict[str, str], size: int, rounds: int
                   ) -> dict[str, Any]:
    """Elasticsearch's indexing time per rewrite of the same `size` contacts, each shape
    into its own index (`index_time_in_millis` of that index: the node's other work is not
    counted, but it competes for the cores), interleaved round by round. `new-r` and
    `new+s`: options weighed (`_variant`, docs/document.md)."""
    from elasticsearch import helpers

    from segql.stores.mapping import index_body

    docs = {shape: _sources(es, index, size) for shape, index in indices.items()}
    extra = {"new-r": indices["new"].replace("-new-", "-new-r-"),
             "new+s": indices["new"].replace("-new-", "-new-s-")}
    body = index_body()
    body["mappings"]["dynamic_templates"].insert(0, {"field_s": {
        "path_match": "fields.*.s", "mapping": {"type": "keyword", "doc_values": False}}})
    for shape, index in extra.items():
        docs[shape] = [(i, _variant(d, shape[3:])) for i, d in docs["new"]]
        es.options(ignore_status=404).indices.delete(index=index)
        es.indices.create(index=index, **body)
    indices = {**indices, **extra}

    def write(shape: str) -> None:
        actions = ({"_index": indices[shape], "_id": doc_id, "_routing": ACCOUNT,
                    "_source": source} for doc_id, source in docs[shape])
        for ok, item in helpers.streaming_bulk(es, actions, chunk_size=250,
                                               raise_on_error=False):
            if not ok:
                raise RuntimeError(f"bulk failure: {str(item)[:500]}")

    def index_ms(shape: str) -> int:
        stats = es.indices.stats(index=indices[shape], metric="indexing")
        return int(stats["indices"][indices[shape]]["primaries"]["indexing"][
            "index_time_in_millis"])

    for shape in extra:
        write(shape)
    spent = dict.fromkeys(docs, 0)
    for _ in range(rounds):
        for shape in docs:
            before = index_ms(shape)
            write(shape)
            spent[shape] += index_ms(shape) - before
    result: dict[str, Any] = {"contacts": size, "rounds": rounds}
    for shape, found in docs.items():
        sent = sum(len(json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode())
                   for _, d in found)
        result[shape] = {"index_ms_per_rewrite": round(spent[shape] / (size * rounds), 3),
                         "json_bytes_per_contact": round(sent / len(found))}
    for index in extra.values():
        es.options(ignore_status=404).indices.delete(index=index)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--copies", type=int, default=5,
                        help="counts per _msearch for the fine-grained time")
    parser.add_argument("--rewrite-contacts", type=int, default=2000)
    parser.add_argument("--rewrite-rounds", type=int, default=3)
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--keep", action="store_true", help="keep the two indices")
    parser.add_argument("--load", nargs="*", choices=("old", "new"), default=["old", "new"],
                        help="the shapes to (re)load; the others reuse the index (and load "
                             "figures) an earlier run kept (--keep)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    from run import CACHE, dataset, log  # bench/run.py: the cached sample
    from suite import SEGMENTS

    es = _es()
    data = dataset(args.contacts)
    tree = old_tree(args.old_ref, CACHE)
    indices = {"old": f"docbytes-old-{args.contacts}", "new": f"docbytes-new-{args.contacts}"}
    paths = {"old": tree, "new": None}
    catalog = CACHE / f"docbytes-catalog-{args.contacts}.json"
    target = Path(args.out) / f"docbytes-{args.contacts}.json"
    earlier = json.loads(target.read_text())["shapes"] if target.exists() else {}
    results: dict[str, Any] = {"contacts": args.contacts, "old_ref": args.old_ref,
                               "reps": args.reps, "shapes": {}}
    for shape in ("old", "new"):
        if shape in args.load:
            log(f"{shape}: folding and loading {data.name} into {indices[shape]}")
            results["shapes"][shape] = run_worker(
                {"do": "load", "index": indices[shape], "data": str(data),
                 "catalog": str(CACHE / f"docbytes-catalog-{shape}.json")}, paths[shape])
        else:
            results["shapes"][shape] = {**earlier[shape], "loaded_by_an_earlier_run": True}
        log(f"{shape}: force-merging")
        results["shapes"][shape].update(store_figures(es, indices[shape]))
    if "new" in args.load:
        shutil.copy(CACHE / "docbytes-catalog-new.json", catalog)
    shapes = results["shapes"]
    for key in ("json_bytes_per_contact", "store_bytes_per_contact"):
        results[f"ratio_new_over_old_{key}"] = round(shapes["new"][key] / shapes["old"][key], 3)

    segments = {name: text for name, text, _ in SEGMENTS
                if " contains " in text or " ends_with " in text}
    segments.update(EXTRA)
    bodies = {shape: run_worker({"do": "bodies", "segments": segments, "catalog": str(catalog)},
                                paths[shape]) for shape in ("old", "new")}
    results["segments"] = {}
    for name, text in segments.items():
        log(f"count: {name}")
        variants = {
            "old": (indices["old"], bodies["old"][name]),
            "new": (indices["new"], bodies["new"][name]),
            "wildcard_on_new": (indices["new"], to_wildcard(bodies["new"][name])),
            "regexp_on_new": (indices["new"], to_regexp(bodies["new"][name])),
        }
        row = {"segql": text, **measure(es, variants, args.reps, args.copies)}
        row["ratio_new_over_old_took_p50"] = round(
            max(row["new"]["took_ms"]["p50"], 0.5) / max(row["old"]["took_ms"]["p50"], 0.5), 2)
        row["ratio_new_over_old_batch_p50"] = round(
            row["new"]["batch_ms"]["p50"] / max(row["old"]["batch_ms"]["p50"], 0.01), 2)
        results["segments"][name] = row
    if args.rewrite_rounds:
        log("rewrites")
        results["rewrite"] = rewrite_figure(es, indices, args.rewrite_contacts,
                                            args.rewrite_rounds)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {target}")
    if not args.keep:
        for index in indices.values():
            es.options(ignore_status=404).indices.delete(index=index)
    print(summary(results))
    return 0


def summary(results: dict[str, Any]) -> str:
    shapes = results["shapes"]
    lines = [f"{results['contacts']:,} contacts; per contact: " + "; ".join(
        f"{shape} {s.get('json_bytes_per_contact', '?')} JSON bytes, "
        f"{s['store_bytes_per_contact']} store bytes" for shape, s in shapes.items())]
    for name, row in results["segments"].items():
        cells = "  ".join(f"{v}: took {row[v]['took_ms']['p50']:g}/{row[v]['took_ms']['p95']:g}"
                          f" batch {row[v]['batch_ms']['p50']:.2f}"
                          for v in ("old", "new", "wildcard_on_new", "regexp_on_new"))
        lines.append(f"{name} ({row['count']:,}): {cells}")
    if "rewrite" in results:
        lines.append("rewrite: " + json.dumps(results["rewrite"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
