"""Render the figures of bench/results/*.json as the Markdown table of BENCHMARKS.md:

    python bench/report.py bench/results/bench-10000.json bench/results/bench-100000.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _fresh(fr: dict[str, Any]) -> bool:
    """The freshness target: p99 ≤ 2 s and no probe unseen (an unseen probe is a miss)."""
    return not fr["probes_unseen"] and fr["latency_s"]["p99"] <= 2


def _freshness(fr: dict[str, Any]) -> str:
    """A freshness step in words: percentiles, probes seen and unseen, the lag."""
    lat = fr["latency_s"]
    if lat is None:
        return f"no probe seen of {fr['probes']} (timeout {fr['timeout_s']:.0f} s)"
    unseen = fr["probes_unseen"]
    seen = fr.get("probes_seen", fr["probes"] - unseen)
    text = f"p99 {lat['p99']} s (p50 {lat['p50']} s; {fr['probes']} probes: {seen} seen, "
    if "timeout_s" in fr:
        text += (f"{unseen} unseen, counted at the {fr['timeout_s']:.0f} s timeout" if unseen
                 else "0 unseen")
    else:  # results from before issue 15: percentiles of the seen probes only
        text += f"{unseen} unseen, percentiles over the seen only"
    text += (f"; {fr['achieved_events_per_s']:,} events/s written over "
             f"{fr.get('contacts_drawn_from', 1000):,} contacts")
    lag = fr.get("lag")
    if lag:
        drain = "not drained" if lag["drain_s"] is None else f"drained in {lag['drain_s']} s"
        text += (f"; lag at end {lag['at_end_events']:,} events = {lag['at_end_s']} s of "
                 f"input, {drain}")
    return text + ")"


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    f = result["figures"]
    out: list[tuple[str, str, str, str]] = []
    if "compile" in f:
        c = f["compile"]
        out.append(("compile: luqum µs / segql µs (sum over the "
                     f"{c['comparable_segments']} Lucene-expressible segments)",
                     f"{c['speedup_segql_vs_luqum']}x (segql {c['segql_total_us']:.0f} µs, "
                     f"luqum {c['luqum_total_us']:.0f} µs; per-segment median "
                     f"{c['speedup_median_per_segment']}x)", "≥ 2x",
                     _met(c["speedup_segql_vs_luqum"] >= 2)))
    if "count" in f:
        c = f["count"]
        r = c["p50_ratio_wall_over_took_median_of_segments"]
        out.append(("count: api.count wall p50 / ES took p50 (median over segments)",
                     f"{r}x (all calls: wall p50 {c['all_wall_ms']['p50']:.2f} ms, p95 "
                     f"{c['all_wall_ms']['p95']:.2f} ms; took p50 "
                     f"{c['all_took_ms']['p50']:.0f} ms, p95 {c['all_took_ms']['p95']:.0f} ms)",
                     "≤ 1.3x", _met(r <= 1.3)))
        if "client_floor_ms" in c:
            out.append(("count: client floor, es.search of match_none (HTTP + response)",
                        f"p50 {c['client_floor_ms']['p50']:.2f} ms", "—", "—"))
        if "all_warm_wall_ms" in c:
            out.append(("count: api.count wall, request cache warm (same call repeated)",
                        f"p50 {c['all_warm_wall_ms']['p50']:.2f} ms, p95 "
                        f"{c['all_warm_wall_ms']['p95']:.2f} ms", "—", "—"))
        for name, row in c["naive"].items():
            out.append((f"count: naive / segql took p50, `{name}`",
                        f"{row['naive_over_segql_p50']}x (segql "
                        f"{row['segql']['took_ms']['p50']:.0f} ms, "
                        f"{row['segql']['count']:,} hits; naive "
                        f"{row['naive']['took_ms']['p50']:.0f} ms, {row['naive']['count']:,} hits)",
                        "(design check)", "—"))
    if "export" in f:
        e = f["export"]
        out.append(("export: api.export / helpers.scan, recipients/s",
                    f"{e['ratio_vs_scan']}x ({e['api_export']['rows_per_s_p50']:,}/s vs "
                    f"{e['helpers_scan']['rows_per_s_p50']:,}/s; {e['segment_count']:,} rows)",
                    "≥ 3x", _met(e["ratio_vs_scan"] >= 3)))
        out.append(("export: api.export / sliced-PIT ids match_all (ceiling)",
                    f"{e['ratio_vs_ceiling']}x (ceiling "
                    f"{e['sliced_pit_ids_match_all']['rows_per_s_p50']:,}/s)", "≥ 0.7x",
                    _met(e["ratio_vs_ceiling"] >= 0.7)))
        out.append(("memory: peak RSS of `segql export --format ids`",
                    f"{e['cli_export']['peak_rss_mb']} MB ({e['cli_export']['rows_per_s']:,} "
                    "rows/s incl. process start)", "—", "—"))
    if "initial_load" in f:
        s = f["initial_load"]
        out.append(("initial load: `segql index` / parallel_bulk of pre-built documents",
                    f"{s['ratio_segql_vs_ceiling']}x ({s['segql_index']['contacts_per_s']:,} vs "
                    f"{s['parallel_bulk_ceiling']['contacts_per_s']:,} contacts/s; segql "
                    f"{s['segql_index']['records_per_s']:,} records/s, "
                    f"{s['segql_index']['seconds']:.0f} s)", "≥ 0.8x",
                    _met(s["ratio_segql_vs_ceiling"] >= 0.8)))
        if "client_cpu_s" in s["segql_index"]:
            seg, ceil = s["segql_index"], s["parallel_bulk_ceiling"]
            out.append(("initial load: CPU seconds, client + Elasticsearch",
                        f"segql {seg['client_cpu_s']} + {seg['elasticsearch_cpu_s']}; "
                        f"parallel_bulk {ceil['client_cpu_s']} + "
                        f"{ceil['elasticsearch_cpu_s']}", "—", "—"))
        out.append(("memory: peak RSS of `segql index` (initial load)",
                    f"{s['segql_index']['peak_rss_mb']} MB", "—", "—"))
    for key, label, target in (
            ("freshness", "events to any contact", "p99 ≤ 2 s, every probe seen"),
            ("freshness_hot_1000", "hot set: events to 1,000 contacts", "(stress)")):
        fr = f.get(key)
        if not fr or not fr.get("latency_s"):
            continue
        out.append((f"freshness: write → api.count under `segql index --follow`, {label}",
                    _freshness(fr), target, _met(_fresh(fr)) if key == "freshness" else "—"))
    sweep = f.get("freshness_sweep")
    if sweep:
        best = sweep["highest_sustainable_rate"]
        out.append(("freshness sweep: highest sustainable rate (events/s to any contact, "
                    f"{sweep['steps'][0]['duration_s']:.0f} s a step)",
                    f"{best:,} events/s" if best else
                    f"none of {', '.join(f'{r:,}' for r in sweep['rates'])}",
                    "—", "—"))
        for step in sweep["steps"]:
            out.append((f"freshness sweep: {step['target_rate']:,} events/s",
                        _freshness(step), "p99 ≤ 2 s, every probe seen, lag at end ≤ 2 s",
                        "sustainable" if step["sustainable"] else "**not sustainable**"))
        if sweep["not_run"]:
            out.append(("freshness sweep: not run (a lower rate was not sustainable)",
                        ", ".join(f"{r:,}" for r in sweep["not_run"]) + " events/s", "—",
                        "—"))
    return out


def growth(results: list[dict[str, Any]]) -> list[str]:
    """One row per headline figure, one column per data size: the cost curve."""
    picks = [
        ("compile ratio (luqum / segql)", "compile", "speedup_segql_vs_luqum", "x"),
        ("count wall / took p50", "count", "p50_ratio_wall_over_took_median_of_segments", "x"),
        ("export recipients/s", "export", "api_export.rows_per_s_p50", "/s"),
        ("export / helpers.scan", "export", "ratio_vs_scan", "x"),
        ("export / ceiling", "export", "ratio_vs_ceiling", "x"),
        ("export CLI peak RSS (MB)", "export", "cli_export.peak_rss_mb", ""),
        ("load contacts/s (segql index)", "initial_load", "segql_index.contacts_per_s", "/s"),
        ("load / parallel_bulk", "initial_load", "ratio_segql_vs_ceiling", "x"),
        ("load peak RSS (MB)", "initial_load", "segql_index.peak_rss_mb", ""),
        ("freshness p99 (s)", "freshness", "latency_s.p99", ""),
        ("freshness probes unseen", "freshness", "probes_unseen", ""),
        ("highest sustainable events/s (sweep)", "freshness_sweep",
         "highest_sustainable_rate", "/s"),
    ]
    lines = ["| figure | " + " | ".join(f"{r['contacts']:,}" for r in results) + " |",
             "|---|" + "---|" * len(results)]
    for label, figure, path, unit in picks:
        cells = []
        for result in results:
            value: Any = result["figures"].get(figure)
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            cells.append("—" if value is None else
                         f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main(paths: list[str]) -> int:
    results = sorted((json.loads(Path(path).read_text()) for path in paths),
                     key=lambda r: r["contacts"])
    print("\n### Growth\n")
    print("\n".join(growth(results)))
    for result in results:
        m = result["machine"]
        print(f"\n### {result['contacts']:,} contacts ({result['records']:,} records) — "
              f"{m['date']}, run {result['run_seconds']:.0f} s\n")
        print("| figure | measured | target | |\n|---|---|---|---|")
        for row in rows(result):
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
