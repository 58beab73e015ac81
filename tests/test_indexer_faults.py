"""The incremental indexer under faults, as a real process: killed with SIGKILL at random
points and restarted, or with its Elasticsearch node stopped and started again under it.
Either way the final index is exactly the reference fold of the whole input, and the
rejects file holds each bad record once."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import sample
from segql.cli.index_commands import EXIT_REJECTED
from segql.indexer.apply import stored_contacts
from segql.indexer.records import fold_records
from segql.localnode import LocalNode, free_port
from segql.stores.checkpoints import checkpoint_index_name
from segql.stores.connection import connect

SEGQL = str(Path(sys.executable).with_name("segql"))
#: Malformed lines mixed into the stream: their rejects must survive resumes exactly once.
BAD_LINES = 40


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[int]]:
    """About 50,000 records (2,400 contacts), with BAD_LINES malformed ones: the file, its
    lines and the line numbers of the bad ones."""
    lines = [sample.dumps(r) for r in sample.generate(contacts=2400, seed=21)]
    rng = random.Random(21)
    bad = sorted(rng.sample(range(len(lines)), BAD_LINES))
    for position in bad:
        lines[position] = lines[position][: len(lines[position]) // 2]  # cut short
    path = tmp_path_factory.mktemp("stream") / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, lines, [position + 1 for position in bad]


@pytest.fixture
def index(es: Elasticsearch, index_name: str) -> Iterator[str]:
    yield index_name
    admin(es).options(ignore_status=404).indices.delete(index=checkpoint_index_name(index_name))


def _indexer(path: Path, index: str, rejects: Path, url: str,
             *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SEGQL, "index", str(path), "--index", index, "--rejects", str(rejects),
         "--batch-size", "2000", "--max-wait", "240", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "ELASTICSEARCH_URL": url})


def _assert_exact(es: Elasticsearch, index: str, lines: list[str], rejects: Path,
                  bad: list[int], summary: dict[str, int]) -> None:
    """The index is the fold of all lines; every bad line is rejected once, in order."""
    es.indices.refresh(index=index)
    expected, _ = fold_records(lines)
    stored = {contact.key: contact for contact in stored_contacts(es, index)}
    assert stored.keys() == expected.contacts.keys()
    differ = [key for key, contact in stored.items() if contact != expected.contacts[key]]
    assert differ == [], f"{len(differ)} contacts differ from the fold, e.g. {differ[:3]}"
    assert es.count(index=index)["count"] == len(expected.contacts)
    assert [json.loads(line)["line"] for line in rejects.read_text().splitlines()] == bad
    assert summary["records"] == len(lines)
    assert summary["rejected"] == len(bad)


def test_kill_9_at_random_points_loses_nothing_and_applies_nothing_twice(
    es: Elasticsearch, es_url: str, index: str, tmp_path: Path,
    stream: tuple[Path, list[str], list[int]],
) -> None:
    path, lines, bad = stream
    rejects = tmp_path / "rejects.jsonl"
    rng = random.Random(os.getpid())
    kills = 0
    started = time.monotonic()
    while kills < 6:
        # at most 6 x 3 s x 2,500 records/s = 45,000 records before the last kill: the
        # stream outlasts the kills even on a fast machine
        process = _indexer(path, index, rejects, es_url, "--rate", "2500")
        try:
            process.wait(timeout=rng.uniform(1.0, 3.0))
        except subprocess.TimeoutExpired:
            process.kill()
            kills += 1
        process.communicate()
        assert process.returncode == -9, "the stream must outlast the kills"
    process = _indexer(path, index, rejects, es_url)
    out, err = process.communicate(timeout=600)
    assert process.returncode == EXIT_REJECTED, err  # BAD_LINES
    summary = json.loads(out)
    print(f"{kills} kills, then done after {time.monotonic() - started:.1f}s: {summary}")
    assert summary["resumed_after_line"] > 0
    _assert_exact(es, index, lines, rejects, bad, summary)


def _kill_in_phase(process: subprocess.Popen[str], delay: float, *phases: str) -> None:
    """Kill the run `delay` seconds after its progress says one of `phases` started (a
    plain line on stderr), so the kill lands inside it however fast the machine is."""
    assert process.stderr is not None
    for line in process.stderr:
        if any(f": {phase} started" in line for phase in phases):
            time.sleep(delay)
            process.kill()
            return


def test_kill_9_during_the_initial_load_loses_nothing(
    es: Elasticsearch, index: str, tmp_path: Path, stream: tuple[Path, list[str], list[int]],
    es_url: str,
) -> None:
    """The initial load killed (while partitioning, or part way through the partitions'
    writes) stores no checkpoint: the next run applies the input again from its start,
    onto whatever was created (in batches, as the index now holds contacts), and the index
    is still exactly the fold. Each kill is placed by the run's own progress lines, so it
    lands in its phase however fast the machine is."""
    path, lines, bad = stream
    rejects = tmp_path / "rejects.jsonl"
    rng = random.Random(os.getpid())
    outcomes = []
    # the input split (0.14 s here: killed at once), the writes (2.7 s here), then the
    # writes again or, when the killed load had written contacts, the batched pass
    for delay, phases in ((0.0, ("partitioning",)),
                          (rng.uniform(0.1, 0.4), ("folding+writing",)),
                          (rng.uniform(0.1, 0.4), ("folding+writing", "applying"))):
        process = _indexer(path, index, rejects, es_url)
        _kill_in_phase(process, delay, *phases)
        process.communicate()
        outcomes.append(process.returncode)
    assert outcomes == [-9, -9, -9], f"a run ended before its kill: {outcomes}"
    process = _indexer(path, index, rejects, es_url)
    out, err = process.communicate(timeout=600)
    assert process.returncode == EXIT_REJECTED, err  # BAD_LINES
    summary = json.loads(out)
    _assert_exact(es, index, lines, rejects, bad, summary)


def test_the_indexer_waits_for_a_restarted_node(
    tmp_path: Path, stream: tuple[Path, list[str], list[int]],
) -> None:
    path, lines, bad = stream
    node = LocalNode(name=f"fault-{os.getpid()}")
    port = free_port()
    rejects = tmp_path / "rejects.jsonl"
    try:
        url = node.up(port=port, heap="512m")
        es = connect(url)
        # batched (the initial load would store its first checkpoint only at the end)
        process = _indexer(path, "contacts", rejects, url, "--incremental")
        deadline = time.monotonic() + 120
        while not es.options(ignore_status=404).indices.exists(index="contacts-checkpoints"):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)  # the first batch is in
        node.down()
        time.sleep(3)
        assert process.poll() is None, "the indexer waits while the node is down"
        node.up(port=port, heap="512m")
        out, err = process.communicate(timeout=600)
        assert process.returncode == EXIT_REJECTED, err  # BAD_LINES
        summary = json.loads(out)
        print(f"after the restart: {summary}")
        assert summary["retried"] > 0
        _assert_exact(es, "contacts", lines, rejects, bad, summary)
    finally:
        node.remove()
