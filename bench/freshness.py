"""Freshness under `segql index --follow` (issue 15): how long an event appended to the
file a follower tails takes to be counted, at a given event rate, and the sweep of rates
that finds the highest one the follower sustains.

A step: a follower (`segql index FILE --follow`, a subprocess) tails a new file; once a
warm-up probe is counted (process start is not part of the figure), events are appended
at `rate` per second for `seconds`, to contacts drawn at random (seeded) from the first
`spread` ids; every PROBE_EVERY seconds one of them is a probe, an event with a unique
property. A poller counts the pending probes (`api.count`, the oldest first) until each is
seen or its `timeout` passes.

Honest accounting: a probe never seen within `timeout` is a failure. It is reported
(`probes_seen`, `probes_unseen`) and counted *at the timeout* in the percentiles — a lower
bound on its latency, never dropped (dropping them made a follower that fell behind look
fast). A step meets the target only with p99 <= TARGET_P99_S and no unseen probe.

The follower's lag: once a second, the lines written minus the lines its checkpoint
(`stores.checkpoints`, stored after every batch) says are applied. At the end of the
writing, that backlog in events and in seconds of input (events / the achieved rate);
then how long the follower takes to drain it. A rate is sustainable when the step meets
the target and the backlog at the end is at most TARGET_P99_S seconds of input (a lag that
grows through the step ends above it).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from segql import api
from segql.stores.checkpoints import CheckpointStore, Input

TARGET_P99_S = 2.0
PROBE_EVERY = 0.25
#: Seconds between two polling rounds of the pending probes.
POLL_EVERY = 0.025
#: Seconds the follower may take to start and count the warm-up probe.
WARM_UP_S = 120.0
FOLLOW_BATCH = "5000"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 3), "p95": round(pct(values, 0.95), 3),
            "p99": round(pct(values, 0.99), 3), "max": round(max(values), 3),
            "n": len(values)}


@dataclass
class Probe:
    name: str
    written: float
    seen: float | None = None
    expired: bool = False


class Follower:
    """A `segql index --follow` subprocess on a new file in `folder`, and its lag."""

    def __init__(self, es: Elasticsearch, index: str, segql: str, env: dict[str, str],
                 folder: Path) -> None:
        self.es, self.index = es, index
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        self.path = folder / f"follow-{stamp}.jsonl"
        self.path.touch()
        rejects = folder / f"rejects-follow-{stamp}.jsonl"
        self.proc = subprocess.Popen(
            [segql, "index", str(self.path), "--index", index, "--follow",
             "--rejects", str(rejects), "--batch-size", FOLLOW_BATCH],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.out = self.path.open("a", encoding="utf-8")
        self.lines = 0
        self._checkpoint_id: str | None = None
        self._applied = 0

    def write(self, text: str, lines: int) -> None:
        self.out.write(text)
        self.out.flush()
        self.lines += lines

    def applied(self) -> int:
        """Lines of the file the follower's checkpoint says are applied."""
        if self._checkpoint_id is None:
            source = Input(str(self.path))
            try:
                self._checkpoint_id = source.checkpoint_id()
            finally:
                source.close()
        try:
            found = CheckpointStore(self.es, self.index).read(self._checkpoint_id)
        except ApiError:  # a busy node: the last answer stands
            return self._applied
        self._applied = found.line if found else 0
        return self._applied

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop it; what it said on stderr if it had died on its own."""
        died = self.proc.poll() is not None
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.out.close()
        self.path.unlink(missing_ok=True)
        return (err or "")[-2000:] if died else ""


class Poller:
    """Counts the pending probes, the oldest first (see `_run`), until each is seen or its
    timeout passes."""

    def __init__(self, es: Elasticsearch, ctx: Any, index: str, timeout: float) -> None:
        self.es, self.ctx, self.index, self.timeout = es, ctx, index, timeout
        self.probes: list[Probe] = []
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, name: str) -> Probe:
        probe = Probe(name, time.perf_counter())
        with self.lock:
            self.probes.append(probe)
        return probe

    def _pending(self) -> list[Probe]:
        now = time.perf_counter()
        with self.lock:
            for probe in self.probes:
                if probe.seen is None and not probe.expired and now - probe.written > \
                        self.timeout:
                    probe.expired = True
            return [p for p in self.probes if p.seen is None and not p.expired]

    def _run(self) -> None:
        """Counts the oldest pending probe; once it is seen, every pending one (one
        msearch). The follower applies the file in order, so a probe is never searchable
        before an older one: polling the oldest costs one search a round, not one per
        pending probe (which, on a node already behind, would slow the follower down)."""
        while True:
            pending = self._pending()
            if not pending:
                if self.closing:
                    return
                time.sleep(POLL_EVERY)
                continue
            try:
                if self._seen(pending[:1]):
                    self._seen(pending[1:])
            except Exception:  # a busy node's timeout: the probes stay pending
                pass
            time.sleep(POLL_EVERY)

    def _seen(self, probes: list[Probe]) -> bool:
        """Count `probes` (one msearch); mark those seen; whether all were."""
        if not probes:
            return True
        texts = [f'event Login where (device = "{p.name}") occurred' for p in probes]
        counts = api.count_many(self.es, texts, self.ctx, self.index)
        now = time.perf_counter()
        for probe, count in zip(probes, counts, strict=True):
            if isinstance(count, int) and count >= 1:
                probe.seen = now
        return all(p.seen is not None for p in probes)

    def finish(self) -> None:
        """Wait until every probe is seen or expired."""
        self.closing = True
        self.thread.join()

    def wait_seen(self, probe: Probe, alive: Callable[[], bool]) -> bool:
        while probe.seen is None and not probe.expired and alive():
            time.sleep(POLL_EVERY)
        return probe.seen is not None


def _lag_trend(samples: list[tuple[float, int]]) -> float | None:
    """Events per second the backlog grew by (least squares) over the second half."""
    half = [(t, lag) for t, lag in samples if t >= samples[-1][0] / 2] if samples else []
    if len(half) < 3:
        return None
    mean_t = statistics.fmean(t for t, _ in half)
    mean_l = statistics.fmean(lag for _, lag in half)
    var = sum((t - mean_t) ** 2 for t, _ in half)
    return round(sum((t - mean_t) * (lag - mean_l) for t, lag in half) / var, 1) if var \
        else None


def step(es: Elasticsearch, ctx: Any, index: str, *, env: dict[str, str], segql: str,
         folder: Path, seconds: float, rate: int, spread: int, timeout: float,
         seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """One freshness measurement (see the module doc)."""
    picker = random.Random(seed * 1_000_003 + rate)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    drawn: set[str] = set()

    def record(i: int, device: str) -> str:
        # each event's contact drawn anew: a list of 10,000 drawn once and cycled (as
        # before 2026-11-28) made every step longer than 10,000 events rewrite contacts
        # the follower had just written (its cache: no read), which flattered the figure
        contact = f"c{picker.randint(1, spread):06d}"
        drawn.add(contact)
        return json.dumps({"type": "event", "account": ctx.account,
                           "contact": contact,
                           "id": f"f{stamp}-{rate}-{i}", "name": "Login",
                           "ts": "2026-10-31T12:00:00Z", "props": {"device": device}}) + "\n"

    follower = Follower(es, index, segql, env, folder)
    poller = Poller(es, ctx, index, WARM_UP_S)
    lag: list[tuple[float, int]] = []
    try:
        follower.write(record(0, f"warmup-{stamp}-{rate}"), 1)
        warm_up = poller.add(f"warmup-{stamp}-{rate}")
        if not poller.wait_seen(warm_up, follower.alive):
            raise RuntimeError(f"the follower did not count its first event (it died, or "
                               f"took over {WARM_UP_S:.0f} s): {follower.stop()}")
        poller.timeout = timeout
        with poller.lock:
            poller.probes.clear()
        written = 0
        start = time.perf_counter()
        next_probe = next_lag = start
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate) - written
            if due > 0:
                follower.write("".join(record(1 + written + k, "web") for k in range(due)),
                               due)
                written += due
            if now >= next_probe:
                name = f"probe-{stamp}-{rate}-{written}"
                follower.write(record(10**9 + written, name), 1)
                poller.add(name)
                written += 1
                next_probe += PROBE_EVERY
            if now >= next_lag:
                lag.append((round(now - start, 2), follower.lines - follower.applied()))
                next_lag += 1.0
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        achieved = written / elapsed
        lag_end = follower.lines - follower.applied()
        ended = time.perf_counter()
        drained: float | None = None
        while time.perf_counter() - ended < timeout:
            if follower.applied() >= follower.lines:
                drained = time.perf_counter() - ended
                break
            time.sleep(0.1)
        poller.finish()
        died = "" if follower.alive() else follower.stop()
    finally:
        poller.closing = True
        if follower.alive():
            follower.stop()
    if died:
        raise RuntimeError(f"the follower died during the step: {died}")
    probes = poller.probes
    seen = [p.seen - p.written for p in probes if p.seen is not None]
    counted = seen + [timeout] * (len(probes) - len(seen))
    result: dict[str, Any] = {
        "duration_s": seconds, "target_rate": rate, "achieved_events_per_s": round(achieved),
        "contacts_drawn_from": spread, "distinct_contacts_written": len(drawn),
        "timeout_s": timeout,
        "probes": len(probes), "probes_seen": len(seen), "probes_unseen": len(probes) - len(seen),
        "latency_s": latency_stats(counted) if counted else None,
        "latency_seen_only_s": latency_stats(seen) if seen else None,
        "lag": {"at_end_events": lag_end, "at_end_s": round(lag_end / achieved, 2),
                "max_events": max([n for _, n in lag] + [lag_end]),
                "growth_events_per_s": _lag_trend(lag),
                "drain_s": None if drained is None else round(drained, 2),
                "samples": lag},
        "target_p99_s": TARGET_P99_S,
    }
    result["met"] = bool(counted) and not result["probes_unseen"] and \
        result["latency_s"]["p99"] <= TARGET_P99_S
    result["sustainable"] = result["met"] and result["lag"]["at_end_s"] <= TARGET_P99_S
    log(f"freshness {rate}/s over {spread:,} contacts: p99 "
        f"{result['latency_s'] and result['latency_s']['p99']} s, {len(seen)}/{len(probes)} "
        f"seen, lag at end {lag_end} events ({result['lag']['at_end_s']} s)")
    return result


WHAT = ("events appended to a plain file under `segql index --follow --batch-size "
        f"{FOLLOW_BATCH}`, after a warm-up event was counted; every {PROBE_EVERY} s a probe "
        "event with a unique property; latency = its write (flushed) until "
        "api.count(event Login where device = probe) >= 1 (the oldest pending probe polled "
        f"every {POLL_EVERY * 1000:.0f} ms); a probe not seen within timeout_s is unseen and "
        "counts as timeout_s in the percentiles; lag = lines written - lines the "
        "follower's checkpoint says are applied")


def sweep(rates: list[int], run: Callable[[int], dict[str, Any]], *, every: bool
          ) -> dict[str, Any]:
    """Steps at each rate, lowest first; after the first rate that is not sustainable the
    higher ones are not run (unless `every`)."""
    steps: list[dict[str, Any]] = []
    for rate in sorted(rates):
        steps.append(run(rate))
        if not steps[-1]["sustainable"] and not every:
            break
    sustained = [s["target_rate"] for s in steps if s["sustainable"]]
    return {
        "what": WHAT, "rates": sorted(rates), "steps": steps,
        "not_run": [r for r in sorted(rates) if r not in {s["target_rate"] for s in steps}],
        "highest_sustainable_rate": max(sustained) if sustained else None,
        "criteria": f"p99 <= {TARGET_P99_S} s with every probe seen, and a backlog at the "
                    f"end of the step of at most {TARGET_P99_S} s of input",
    }
