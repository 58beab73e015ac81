"""The HTTP service against the library and the CLI, side by side in one run (ratios):

* count: p50 of `POST /v1/accounts/{a}/count` over p50 of `api.count` on the same
  segments (bench/suite.py), the shard request cache cleared before every timed call on
  both sides;
* export: rows/s of a streamed `POST .../export` (NDJSON, read to the end) over rows/s of
  `segql export` (to /dev/null), the same segment;
* ingestion: records/s of `POST .../records` (chunks of 20,000, sequential) over
  `segql index --incremental` of the same records into an empty index.

    python bench/service_bench.py --contacts 20000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from run import dataset, drop, log
from suite import ACCOUNT, NOW, SAVED, SEGMENTS

from segql import api
from segql.stores.connection import connect
from service import running_service

SEGQL = str(Path(sys.executable).with_name("segql"))
EXPORT_SEGMENT = "email has_value"
#: Records per ingestion request: the most one request may carry.
CHUNK = 20_000


def p50(values: list[float]) -> float:
    return statistics.median(values)


def ingestion(es: Any, es_url: str, data: Path, records: int) -> dict[str, Any]:
    lines = []
    with data.open() as source:
        for line in source:
            lines.append(line)
            if len(lines) == records:
                break
    part = data.with_name(f"http-bench-{records}.jsonl")
    part.write_text("".join(lines))
    cli_index, http_index = "bench-http-cli", "bench-http-api"
    for index in (cli_index, http_index):
        drop(es, index)
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    start = time.perf_counter()
    subprocess.run([SEGQL, "index", str(part), "--index", cli_index, "--incremental",
                    "--rejects", "/dev/null"], check=True, env=env, capture_output=True)
    cli_s = time.perf_counter() - start
    decoded = [json.loads(line) for line in lines]
    with running_service(es, es_url, index=http_index) as service, \
            service.client(ACCOUNT, "write", timeout=600) as client:
        start = time.perf_counter()
        for at in range(0, len(decoded), CHUNK):
            reply = client.post(f"/v1/accounts/{ACCOUNT}/records", json=decoded[at:at + CHUNK])
            reply.raise_for_status()
        http_s = time.perf_counter() - start
    for index in (cli_index, http_index):
        drop(es, index)
    part.unlink()
    return {"records": records, "cli_records_per_s": round(records / cli_s),
            "http_records_per_s": round(records / http_s),
            "ratio": round(cli_s / http_s, 3)}


def counts(es: Any, es_url: str, index: str, reps: int) -> dict[str, Any]:
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    ctx = api.context(es, ACCOUNT, index=index, now=now)
    if SAVED[0] not in ctx.segments:  # the suite's in_segment refers to it
        api.segment_store(es, index).create(ctx, *SAVED)
        ctx = api.context(es, ACCOUNT, index=index, now=now)
    library: list[float] = []
    http: list[float] = []  # a keep-alive http.client connection
    via_httpx: list[float] = []
    with running_service(es, es_url, index=index, cleanup=False) as service, \
            service.client(ACCOUNT, "read") as client:
        host, port = service.url.removeprefix("http://").split(":")
        connection = HTTPConnection(host, int(port))
        headers = {"Authorization": f"Bearer {service.token(ACCOUNT, 'read')}",
                   "Content-Type": "application/json"}

        def post(body: bytes) -> dict[str, Any]:
            connection.request("POST", f"/v1/accounts/{ACCOUNT}/count", body, headers)
            answer: dict[str, Any] = json.loads(connection.getresponse().read())
            return answer

        for _, text, _ in SEGMENTS:
            body = json.dumps({"text": text, "now": NOW, "channels": False}).encode()
            for _ in range(2):  # warm every path
                api.count(es, text, ctx, index)
                post(body)
                client.post(f"/v1/accounts/{ACCOUNT}/count", content=body)
            for _ in range(reps):
                es.indices.clear_cache(index=index, request=True)
                start = time.perf_counter()
                expected = api.count(es, text, ctx, index).count
                library.append((time.perf_counter() - start) * 1000)
                es.indices.clear_cache(index=index, request=True)
                start = time.perf_counter()
                found = post(body)["count"]
                http.append((time.perf_counter() - start) * 1000)
                es.indices.clear_cache(index=index, request=True)
                start = time.perf_counter()
                reply = client.post(f"/v1/accounts/{ACCOUNT}/count", content=body,
                                    headers={"Content-Type": "application/json"})
                via_httpx.append((time.perf_counter() - start) * 1000)
                assert found == reply.json()["count"] == expected, text
        connection.close()
    return {"segments": len(SEGMENTS), "reps": reps,
            "library_p50_ms": round(p50(library), 3), "http_p50_ms": round(p50(http), 3),
            "ratio": round(p50(http) / p50(library), 3),
            "httpx_p50_ms": round(p50(via_httpx), 3),
            "httpx_ratio": round(p50(via_httpx) / p50(library), 3)}


def exports(es: Any, es_url: str, index: str, reps: int) -> dict[str, Any]:
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    cli_rates, http_rates = [], []
    with running_service(es, es_url, index=index, cleanup=False) as service:
        for _ in range(reps):
            start = time.perf_counter()
            done = subprocess.run([SEGQL, "export", EXPORT_SEGMENT, "-a", ACCOUNT, "--index",
                                   index, "--format", "jsonl", "-o", "/dev/null"],
                                  check=True, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            rows = json.loads(done.stderr.strip().splitlines()[-1])["exported"]
            cli_rates.append(rows / elapsed)
            with service.client(ACCOUNT, "read", timeout=600) as client:
                start = time.perf_counter()
                got = 0
                with client.stream("POST", f"/v1/accounts/{ACCOUNT}/export",
                                   json={"text": EXPORT_SEGMENT}) as reply:
                    for _ in reply.iter_lines():
                        got += 1
                elapsed = time.perf_counter() - start
            assert got - 1 == rows, (got, rows)
            http_rates.append(rows / elapsed)
    return {"rows": rows, "reps": reps, "cli_rows_per_s": round(p50(cli_rates)),
            "http_rows_per_s": round(p50(http_rates)),
            "ratio": round(p50(http_rates) / p50(cli_rates), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--ingest-records", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--export-reps", type=int, default=3)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    es_url = os.environ["ELASTICSEARCH_URL"]
    es = connect(es_url)
    data = dataset(args.contacts)
    index = f"bench-http-{args.contacts}"
    drop(es, index)
    log(f"loading {data} into {index}")
    subprocess.run([SEGQL, "index", str(data), "--index", index, "--rejects", "/dev/null"],
                   check=True, env={**os.environ}, capture_output=True)
    result: dict[str, Any] = {"contacts": args.contacts, "when": time.strftime("%Y-%m-%d %H:%M")}
    log("ingestion")
    result["ingestion"] = ingestion(es, es_url, data, args.ingest_records)
    log("counts")
    result["count"] = counts(es, es_url, index, args.reps)
    log("exports")
    result["export"] = exports(es, es_url, index, args.export_reps)
    drop(es, index)
    out = Path(args.out) / f"http-{args.contacts}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
