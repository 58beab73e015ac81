"""Faults on a real 3-node cluster (marker `cluster`): a node killed with SIGKILL during
`segql index`, during counts and during `segql export`, then started again; and with the
default index settings, the loss of any one node leaves every account usable (count,
export, saved segment list, indexing) once the cluster is yellow. Every answer is compared
with the reference evaluator over the same records: exact, or a clear failure (exit 1,
a plain message) — never a short list or a wrong count with exit 0.

The cluster is started here (free ports, 512 MB heap per node) and removed after; a cluster
that cannot start fails these tests, never skips them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch, helpers

from segql import api, sample
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.contract.document import contact_document, document_id
from segql.indexer.apply import ensure_index, stored_contacts
from segql.indexer.records import fold_records
from segql.localnode import LocalCluster, LocalNodeError, free_port
from segql.stores.catalogs import CatalogStore, catalog_index_name
from segql.stores.checkpoints import checkpoint_index_name
from segql.stores.connection import connect
from segql.stores.saved_segments import segment_index_name

pytestmark = pytest.mark.cluster

SEGQL = str(Path(sys.executable).with_name("segql"))
NODES = 3
#: Accounts of the index made with the default settings, and their sample contacts.
ACCOUNTS = {"north": 260, "south": 180}
SEGMENT = 'plan in ["basic", "pro"] or event Purchase occurred at_least 2'
#: The export test: one account large enough that the export is mid-way at the kill.
BIG, BIG_CONTACTS = "big", 30_000
BIG_SEGMENT = 'tier in ["gold", "silver"] and score >= 10'
BIG_CATALOG = Catalog(fields={"tier": "text", "score": "number"})


def _free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster(f"pytest-{os.getpid()}")
    ports = _free_ports(2 * NODES)
    try:
        local.up(NODES, heap="512m", timeout=600, ports=ports[:NODES],
                 transport_ports=ports[NODES:])
    except LocalNodeError as error:
        local.down(purge=True)
        pytest.fail(f"no {NODES}-node cluster for the fault tests: {error}", pytrace=False)
    try:
        yield local
    finally:
        local.down(purge=True)


@dataclass
class Defaults:
    """The contact index made by `segql index` with the default settings, and every
    record line applied to it so far (the evaluator's input)."""

    url: str
    index: str
    lines: list[str] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)
    rounds: int = 0


@pytest.fixture(scope="module")
def url(cluster: LocalCluster) -> str:
    return ",".join(cluster.urls(alive_only=False))


@pytest.fixture(scope="module")
def client(url: str) -> Elasticsearch:
    return connect(url)


@pytest.fixture(scope="module")
def defaults(url: str, client: Elasticsearch) -> Iterator[Defaults]:
    state = Defaults(url, f"segql-faults-{uuid.uuid4().hex[:8]}")
    yield state
    _delete(client, state.index)


def _delete(client: Elasticsearch, index: str) -> None:
    """The contact index and its stores."""
    names = [index, *(name(index) for name in (catalog_index_name, checkpoint_index_name,
                                                segment_index_name))]
    client.options(ignore_status=404).indices.delete(index=",".join(names),
                                                     ignore_unavailable=True)


def _cli(url: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEGQL, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "ELASTICSEARCH_URL": url}, check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    return result


def _clear_failure(result: subprocess.CompletedProcess[str] | tuple[int, str]) -> None:
    """A failure as segql must report one: exit 1 and a plain message, nothing internal."""
    code, stderr = ((result.returncode, result.stderr)
                    if isinstance(result, subprocess.CompletedProcess) else result)
    assert code == 1, f"exit {code}: {stderr[-2000:]}"
    assert "error:" in stderr and "Traceback" not in stderr, stderr[-2000:]


def _node_of(cluster: LocalCluster, name: str) -> int:
    prefix = f"segql-{cluster.name}-"
    assert name.startswith(prefix), name
    return int(name[len(prefix):])


def _primary_holder(cluster: LocalCluster, client: Elasticsearch, index: str) -> int:
    rows = client.cat.shards(index=index, format="json", h="prirep,state,node")
    return next(_node_of(cluster, str(row["node"])) for row in rows
                if row["prirep"] == "p" and row["state"] == "STARTED")


def _kill(cluster: LocalCluster, number: int, defaults: Defaults) -> float:
    """SIGKILL node `number`, wait until the others see the cluster yellow without it;
    seconds that took."""
    started = time.monotonic()
    cluster.kill(number)
    cluster.wait_for("yellow", NODES - 1, timeout=120)
    defaults.killed.add(number)
    return time.monotonic() - started


def _restart(cluster: LocalCluster, number: int) -> float:
    started = time.monotonic()
    cluster.restart(number, timeout=300)
    cluster.wait_for("green", NODES, timeout=300)
    return time.monotonic() - started


def _records(account: str, contacts: int, seed: int) -> list[str]:
    return [sample.dumps(r) for r in sample.generate(contacts=contacts, seed=seed,
                                                     account=account)]


def _expected(client: Elasticsearch, defaults: Defaults, account: str) -> list[str]:
    """The reference evaluator's members of SEGMENT over every line applied so far."""
    folded, _ = fold_records(defaults.lines)
    catalog = CatalogStore(client, catalog_index_name(defaults.index)).get(account)
    checked = api.prepare(SEGMENT, Context(account=account, catalog=catalog))
    return matching_ids(checked, folded.contacts.values())


def _assert_index_is_the_fold(client: Elasticsearch, defaults: Defaults) -> None:
    client.indices.refresh(index=defaults.index)
    folded, _ = fold_records(defaults.lines)
    stored = {contact.key: contact for contact in stored_contacts(client, defaults.index)}
    assert stored.keys() == folded.contacts.keys()
    differ = [key for key, contact in stored.items() if contact != folded.contacts[key]]
    assert differ == [], f"{len(differ)} contacts differ from the fold, e.g. {differ[:3]}"


def _assert_usable(client: Elasticsearch, defaults: Defaults, tmp: Path) -> None:
    """Every account answers exactly (count, export, saved segment list) and takes new
    records, on whatever nodes are left."""
    defaults.rounds += 1
    extra = _records("north", 20, seed=900 + defaults.rounds)
    extra = [line.replace('"c0', f'"r{defaults.rounds}-c0') for line in extra]
    path = tmp / f"extra-{defaults.rounds}.jsonl"
    path.write_text("\n".join(extra) + "\n")
    _ok(_cli(defaults.url, "index", str(path), "--index", defaults.index,
             "--rejects", str(tmp / "rejects.jsonl"), "--max-wait", "120"))
    defaults.lines += extra
    _assert_index_is_the_fold(client, defaults)
    for account in ACCOUNTS:
        expected = _expected(client, defaults, account)
        counted = _ok(_cli(defaults.url, "count", SEGMENT, "-a", account,
                           "--index", defaults.index))
        assert int(counted.stdout.strip()) == len(expected)
        out = tmp / f"export-{account}-{defaults.rounds}.txt"
        _ok(_cli(defaults.url, "export", SEGMENT, "-a", account, "--index", defaults.index,
                 "--format", "ids", "-o", str(out)))
        assert sorted(out.read_text().split()) == expected
        listed = _ok(_cli(defaults.url, "segment", "list", "-a", account,
                          "--index", defaults.index, "--json"))
        rows = json.loads(listed.stdout)
        assert {row["name"]: row.get("count") for row in rows} == {"buyers": len(expected)}


def test_kill_9_during_index_loses_nothing_and_doubles_nothing(
    cluster: LocalCluster, client: Elasticsearch, defaults: Defaults, tmp_path: Path,
) -> None:
    """`segql index` with the defaults (1 shard, replicas auto: 1 on 3 nodes); the node
    holding the primary is killed mid-run; the run finishes (or fails clearly and a second
    run resumes it) and the index is exactly the fold of the records."""
    lines = [line for seed, (account, n) in enumerate(ACCOUNTS.items())
             for line in _records(account, n, seed=40 + seed)]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    argv = [SEGQL, "index", str(path), "--index", defaults.index, "--rejects",
            str(tmp_path / "rejects.jsonl"), "--batch-size", "300", "--incremental",
            "--max-wait", "240"]
    env = {**os.environ, "ELASTICSEARCH_URL": defaults.url}
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    deadline = time.monotonic() + 120
    written = 0
    while written < 100 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        # a new index answers 503 for a moment (its shards starting): not written yet
        found = client.options(ignore_status=(404, 503), max_retries=0).count(
            index=defaults.index)
        written = int(found.get("count", 0)) if found.meta.status == 200 else 0
    assert run.poll() is None, "the run ended before the kill: give it more records"
    # the new indices' replicas must be copies before a node may go (else red: a primary
    # lost with no copy elsewhere, which no setting prevents)
    client.cluster.health(wait_for_status="green", timeout="120s")
    settings = client.indices.get_settings(index=defaults.index)[defaults.index]
    assert settings["settings"]["index"]["auto_expand_replicas"] == "0-1"
    victim = _primary_holder(cluster, client, defaults.index)
    _kill(cluster, victim, defaults)
    _, err = run.communicate(timeout=600)
    print(f"index: killed node {victim} at {written} contacts; run exit {run.returncode}")
    if run.returncode != 0:
        _clear_failure((run.returncode, err))
    _restart(cluster, victim)
    if run.returncode != 0:  # a second run resumes from its checkpoint
        _ok(_cli(defaults.url, *argv[1:]))
    defaults.lines += lines
    _assert_index_is_the_fold(client, defaults)
    replicas = client.indices.get_settings(index=defaults.index)[defaults.index]
    assert replicas["settings"]["index"]["number_of_replicas"] == "1"
    for account in ACCOUNTS:  # the saved segment the other tests list
        _ok(_cli(defaults.url, "segment", "create", "buyers", "--expr", SEGMENT,
                 "-a", account, "--index", defaults.index))


def test_kill_9_during_counts_never_gives_a_wrong_count(
    cluster: LocalCluster, client: Elasticsearch, defaults: Defaults, tmp_path: Path,
) -> None:
    """Counts run in a loop (in this process, over every node) while a node dies: each is
    the evaluator's or an error; after it, on the yellow cluster and once the node is back,
    every account is exact again."""
    assert defaults.lines, "needs the index of the first test"
    expected = {account: _expected(client, defaults, account) for account in ACCOUNTS}
    contexts = {account: Context(account=account, catalog=CatalogStore(
        client, catalog_index_name(defaults.index)).get(account)) for account in ACCOUNTS}
    answers: list[tuple[str, int | str]] = []
    stop = threading.Event()

    def count_loop() -> None:
        while not stop.is_set():
            for account in ACCOUNTS:
                try:
                    total = api.count(client, SEGMENT, contexts[account],
                                      index=defaults.index).count
                    answers.append((account, total))
                except Exception as error:  # what the CLI turns into exit 1
                    answers.append((account, type(error).__name__))

    loop = threading.Thread(target=count_loop, daemon=True)
    loop.start()
    time.sleep(1.0)
    victim = next(n for n in (_primary_holder(cluster, client, defaults.index), 1, 2, 3)
                  if n not in defaults.killed)
    _kill(cluster, victim, defaults)
    time.sleep(2.0)
    stop.set()
    loop.join(60)
    wrong = [(a, n) for a, n in answers if isinstance(n, int) and n != len(expected[a])]
    assert answers and wrong == [], f"wrong counts: {wrong[:5]}"
    print(f"counts: {len(answers)} answers around the kill of node {victim}, "
          f"{sum(isinstance(n, str) for _, n in answers)} errors")
    _assert_usable(client, defaults, tmp_path)  # (adds contacts: expected again below)
    _restart(cluster, victim)
    for account in ACCOUNTS:
        counted = _ok(_cli(defaults.url, "count", SEGMENT, "-a", account,
                           "--index", defaults.index))
        assert int(counted.stdout.strip()) == len(_expected(client, defaults, account))


def test_any_one_node_down_leaves_every_account_usable(
    cluster: LocalCluster, client: Elasticsearch, defaults: Defaults, tmp_path: Path,
) -> None:
    """With the defaults, each node not killed yet is killed in turn: count, export,
    segment list and indexing stay exact on the yellow cluster."""
    assert defaults.lines, "needs the index of the first test"
    for victim in sorted(set(range(1, NODES + 1)) - defaults.killed):
        _kill(cluster, victim, defaults)
        _assert_usable(client, defaults, tmp_path)
        _restart(cluster, victim)
    assert defaults.killed == set(range(1, NODES + 1))


def _big(client: Elasticsearch, index: str) -> list[Contact]:
    """BIG_CONTACTS small contacts of BIG (and a few of two other accounts) in an index of
    3 shards and 1 replica."""
    rng = random.Random(18)
    contacts = [Contact(account=account, id=f"c{i:06d}", fields={
        "tier": rng.choice(("gold", "silver", "bronze")), "score": rng.randint(0, 40)})
        for account, count in ((BIG, BIG_CONTACTS), ("small1", 50), ("small2", 50))
        for i in range(count)]
    ensure_index(client, index, shards=3, replicas=1)
    helpers.bulk(client.options(request_timeout=120), ({
        "_index": index, "_id": document_id(c.account, c.id), "_routing": c.account,
        "_source": contact_document(c)} for c in contacts), chunk_size=5000)
    client.indices.refresh(index=index)
    for account in (BIG, "small1", "small2"):
        CatalogStore(client, catalog_index_name(index)).declare(account, BIG_CATALOG)
    cluster_health = client.cluster.health(index=index, wait_for_status="green",
                                           timeout="120s")
    assert cluster_health["status"] == "green"
    return contacts


def _pit_holder(cluster: LocalCluster, client: Elasticsearch) -> int:
    stats = client.nodes.stats(metric="indices", index_metric="search",
                               filter_path="nodes.*.name,nodes.*.indices.search")
    holders = [_node_of(cluster, node["name"]) for node in stats["nodes"].values()
               if node["indices"]["search"]["open_contexts"] > 0]
    # an account spreads over `routing_partition_size` shards (docs/scaling.md), so its
    # snapshot may be open on more than one node: losing any of them loses a shard of it
    assert holders, "the export's snapshot is open on no node"
    return min(holders)


def test_kill_9_of_the_snapshot_node_during_export_never_gives_a_short_list(
    cluster: LocalCluster, client: Elasticsearch, url: str, defaults: Defaults,
) -> None:
    """`segql export` of a 30,000-contact account over 3 shards with 1 replica; when a
    quarter is out, the node holding its snapshot is killed. Either every member exactly
    once with exit 0 (the summary counting the renewed snapshot), or exit 1 with a plain
    message and no completion summary."""
    index = f"segql-faults-big-{uuid.uuid4().hex[:8]}"
    try:
        contacts = _big(client, index)
        expected = matching_ids(api.prepare(BIG_SEGMENT, Context(account=BIG,
                                                                 catalog=BIG_CATALOG)),
                                contacts)
        assert len(expected) > 15_000
        run = subprocess.Popen(
            [SEGQL, "export", BIG_SEGMENT, "-a", BIG, "--index", index, "--format", "ids"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "ELASTICSEARCH_URL": url})
        assert run.stdout is not None and run.stderr is not None
        seen = [run.stdout.readline().strip() for _ in range(len(expected) // 4)]
        # the export waits on the pipe: the rest of the list is still to be read
        victim = _pit_holder(cluster, client)
        _kill(cluster, victim, defaults)
        seen += [line.strip() for line in run.stdout]
        stderr = run.stderr.read()
        code = run.wait(120)
        print(f"export: killed node {victim} (its snapshot) after {len(expected) // 4} of "
              f"{len(expected)} ids; exit {code}, {len(seen)} ids; {stderr.strip()[-300:]}")
        if code == 0:
            assert len(seen) == len(set(seen)), "a member was exported twice"
            assert sorted(seen) == expected
            summary = json.loads(stderr.strip().splitlines()[-1])
            # the snapshot's node died: the export went on in a new one, and says so
            assert summary["exported"] == len(expected) and summary["renewed"] >= 1
        else:
            _clear_failure((code, stderr))
            assert not stderr.strip().splitlines()[-1].startswith("{"), \
                "a failed export must not end with the completion summary"
        # and again on the cluster without the node (the last test: the cluster goes)
        again = _ok(_cli(url, "export", BIG_SEGMENT, "-a", BIG, "--index", index,
                         "--format", "ids"))
        assert sorted(again.stdout.split()) == expected
    finally:
        _delete(client, index)
