"""Never a silent or unmarked partial answer (issue 18, point 3).

* Every search segql sends goes through `segql.stores.searches` (asked with
  `allow_partial_search_results=false`, the answer checked by `failures.complete`): an
  AST walk over the whole package fails on a search sent anywhere else.
* A contact index with a missing shard on one node (a clone whose second primary may not
  be allocated: `index.routing.allocation.total_shards_per_node: 1`): every read of the
  account on that shard — library, `segql count`/`segql export` as real subprocesses,
  the HTTP service — fails with a clear error and a non-zero exit or an error status,
  never a 0 or an empty list; no output file appears. The account on the other shard is
  answered exactly (the reference evaluator agrees).
* An export whose snapshot is lost mid-way (the point in time closed under it, as a dead
  node would lose it) renews it and resumes after the last contact given: every member
  exactly once, in contact id order, with and without slices; past the renewal limit it
  fails instead.

Everything segql does runs with the test's credentials (in CI's API-key run, a key of the
write role: it creates and loads the two-shard index itself). Staging the lost shard and
the lost snapshot is not something segql does and needs index administration the write
role lacks by design (write block, clone, allocation filtering, `_cat/shards`, deleting
indices, closing another's point in time): it runs through the housekeeping client
(`admin`, tests/support/housekeeping.py: the node's superuser there, else `es`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import api
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.indexer.index_facts import account_counts
from segql.indexer.loader import load
from segql.stores.failures import ShardsUnavailableError, translate
from segql.stores.mapping import create_index_once, index_body
from service import SEGQL, running_service

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("core", "api", "grammar", "compiler", "contract", "stores", "indexer",
                "interop", "localnode", "sample", "service", "cli")
#: The client methods that search (a `count` too: it reads shards like a search).
SEARCHING = {"search", "msearch", "open_point_in_time", "scroll", "count", "search_template",
             "msearch_template", "submit", "knn_search", "terms_enum", "search_mvt"}
WRAPPER = ROOT / "stores" / "searches.py"
SEGMENT = 'tier in ["gold", "silver"]'
UNAVAILABLE = "part of the index is unavailable"


# --- every search goes through the one wrapper ---------------------------------------------

def _client_calls(tree: ast.AST) -> Iterator[tuple[int, str, ast.Call | None]]:
    """Uses of a searching method of an Elasticsearch client (`es`, `self.es`,
    `x.es.options(...)`), called or passed on, and every `helpers.scan`."""
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        receiver = ast.unparse(node.value)
        client = receiver == "es" or receiver.endswith(".es") or ".options(" in receiver \
            or receiver.startswith("es.")
        if (node.attr in SEARCHING and client) or (node.attr in ("scan", "scroll") and
                                                   receiver == "helpers"):
            yield node.lineno, f"{receiver}.{node.attr}", calls.get(id(node))


def _modules() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py"))


def test_no_search_is_sent_but_through_stores_searches() -> None:
    outside = [f"{path.relative_to(ROOT)}:{line}: {what}"
               for path in _modules() if path != WRAPPER
               for line, what, _ in _client_calls(ast.parse(path.read_text()))]
    assert outside == [], "search without allow_partial_search_results=false: " + \
        "; ".join(outside)


def test_the_wrapper_refuses_partial_results_in_every_search() -> None:
    tree = ast.parse(WRAPPER.read_text())
    found = list(_client_calls(tree))
    assert {what.rsplit(".", 1)[1] for _, what, _ in found} == {
        "search", "msearch", "open_point_in_time"}
    for line, what, call in found:
        assert call is not None, f"searches.py:{line}: {what} passed on, not called"
        if what.endswith(".msearch"):  # each item's header carries it
            continue
        assert any(k.arg is None and ast.unparse(k.value) == "NO_PARTIAL"
                   for k in call.keywords), f"searches.py:{line}: {what} lacks NO_PARTIAL"
    source = WRAPPER.read_text()
    assert '{**header, **NO_PARTIAL}' in source
    assert 'NO_PARTIAL: dict[str, Any] = {"allow_partial_search_results": False}' in source


def test_the_walk_sees_a_search_sent_elsewhere() -> None:
    """The walk is not blind: the shapes segql uses are each found."""
    code = ("es.search(index='x')\nself.es.options(ignore_status=404).search(index='x')\n"
            "calls.call(self.es.open_point_in_time, index='x')\nhelpers.scan(es)\n"
            "settings.es.msearch(searches=[])\nre.search('a', 'b')\ntext.count('a')\n")
    found = [what for _, what, _ in _client_calls(ast.parse(code))]
    assert found == ["es.search", "self.es.options(ignore_status=404).search",
                     "self.es.open_point_in_time", "helpers.scan", "settings.es.msearch"]


# --- a contact index with a missing shard ---------------------------------------------------

def _records(account: str, n: int) -> list[str]:
    tiers = ("gold", "silver", "bronze")
    return [json.dumps({"type": "contact", "account": account, "id": f"c{i:04d}",
                        "email": f"{account}{i}@x.pl", "fields": {"tier": tiers[i % 3]}})
            for i in range(n)]


def _contacts(account: str, n: int) -> list[Contact]:
    tiers = ("gold", "silver", "bronze")
    return [Contact(account=account, id=f"c{i:04d}", fields={"tier": tiers[i % 3]})
            for i in range(n)]


def _routed_to(keeper: Elasticsearch, index: str, shard: int) -> str:
    for i in range(1000):
        account = f"acct{i}"
        groups = keeper.search_shards(index=index, routing=account)["shards"]
        if groups and groups[0][0]["shard"] == shard:
            return account
    raise AssertionError(f"no account routed to shard {shard}")


class Split:
    """A contact index of two shards, one of them missing."""

    def __init__(self, index: str, live: str, lost: str, per_account: int) -> None:
        self.index, self.live, self.lost, self.per_account = index, live, lost, per_account


@pytest.fixture(scope="module")
def split(es: Elasticsearch) -> Iterator[Split]:
    source = f"segql-test-split-{uuid.uuid4().hex[:8]}"
    index = f"segql-test-red-{uuid.uuid4().hex[:8]}"
    keeper = admin(es)
    create_index_once(es, source, index_body(2, 0))  # segql's own: with the test's key
    try:
        accounts = [_routed_to(keeper, source, 0), _routed_to(keeper, source, 1)]
        n = 120
        load(es, source, [r for a in accounts for r in _records(a, n)])
        for name, target in ((source, index), (f"{source}-catalog", f"{index}-catalog")):
            keeper.indices.put_settings(index=name, settings={"index.blocks.write": True})
            limit = {"index.routing.allocation.total_shards_per_node": 1} \
                if name == source else {}
            keeper.indices.clone(index=name, target=target, wait_for_active_shards="0",
                                 settings={"index.number_of_replicas": 0,
                                           "index.blocks.write": None, **limit})
        keeper.cluster.health(index=f"{index}-catalog", wait_for_status="green",
                              timeout="60s")
        keeper.cluster.health(index=index, wait_for_active_shards=1, timeout="60s")
        shards = keeper.cat.shards(index=index, format="json")
        live = {int(s["shard"]) for s in shards if s["state"] == "STARTED"}
        assert len(shards) == 2 and len(live) == 1, shards
        (up,) = live
        yield Split(index, accounts[up], accounts[1 - up], n)
    finally:
        keeper.options(ignore_status=404).indices.delete(index=",".join(
            f"{name}{suffix}" for name in (source, index) for suffix in ("", "-catalog")),
            ignore_unavailable=True)


def _ctx(es: Elasticsearch, split: Split, account: str) -> Context:
    return api.context(es, account, index=split.index)


def _export(es: Elasticsearch, split: Split, account: str) -> list[str]:
    rows = api.export(es, SEGMENT, _ctx(es, split, account), index=split.index, page=7)
    return [row.contact_id for row in rows]


def _expected(split: Split, account: str) -> list[str]:
    return sorted(c.id for c in _contacts(account, split.per_account)
                  if c.fields["tier"] in ("gold", "silver"))


READS = {
    "count": lambda es, s, a: api.count(es, SEGMENT, _ctx(es, s, a), s.index).count,
    "members": lambda es, s, a: api.members(es, SEGMENT, _ctx(es, s, a),
                                            index=s.index).ids,
    "export": _export,
    "page": lambda es, s, a: api.page(es, SEGMENT, _ctx(es, s, a), key=b"k" * 32,
                                      index=s.index).rows,
    "explain": lambda es, s, a: api.explain(es, SEGMENT, _ctx(es, s, a), "c0000",
                                            index=s.index).result,
}


@pytest.mark.es
@pytest.mark.parametrize("read", sorted(READS))
def test_a_read_of_a_missing_shard_is_an_error_never_a_short_answer(
        es: Elasticsearch, split: Split, read: str) -> None:
    with pytest.raises(Exception) as raised:
        READS[read](es, split, split.lost)
    found = translate(raised.value)  # what the CLI and the service say
    assert isinstance(found, ShardsUnavailableError), raised.value
    assert UNAVAILABLE in str(found) and found.exit_code == 1
    assert "Traceback" not in str(found) and "_exception" not in str(found)


@pytest.mark.es
def test_the_account_on_the_shard_that_answers_is_answered_exactly(
        es: Elasticsearch, split: Split) -> None:
    expected = _expected(split, split.live)
    ctx = _ctx(es, split, split.live)
    assert api.count(es, SEGMENT, ctx, split.index).count == len(expected)
    assert sorted(matching_ids(api.prepare(SEGMENT, ctx),
                               _contacts(split.live, split.per_account))) == expected
    assert _export(es, split, split.live) == expected  # in contact id order


@pytest.mark.es
def test_count_many_and_whole_index_reads_refuse_a_missing_shard(
        es: Elasticsearch, split: Split) -> None:
    counted = api.count_many(es, [SEGMENT, 'tier = "gold"'], _ctx(es, split, split.lost),
                             split.index)
    assert all(isinstance(c, api.CountError) and c.code == "E_SEARCH_FAILED" and
               UNAVAILABLE in c.message for c in counted), counted
    live = api.count_many(es, [SEGMENT], _ctx(es, split, split.live), split.index)
    assert live == [len(_expected(split, split.live))]
    for whole_index in (lambda: account_counts(es, split.index),
                        lambda: api.account_known(es, split.live, split.index)):
        with pytest.raises(Exception) as raised:
            whole_index()
        assert isinstance(translate(raised.value), ShardsUnavailableError), raised.value


def _segql(*args: str, es_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    return subprocess.run([SEGQL, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.es
def test_cli_count_and_export_of_a_missing_shard_exit_1_and_write_no_list(
        es_url: str, split: Split, tmp_path: Path) -> None:
    common = ["--account", split.lost, "--index", split.index]
    count = _segql("count", SEGMENT, *common, es_url=es_url)
    assert (count.returncode, count.stdout) == (1, ""), count
    assert UNAVAILABLE in count.stderr and "Traceback" not in count.stderr
    out = tmp_path / "list.txt"
    for fmt in ("ids", "jsonl", "csv"):
        done = _segql("export", SEGMENT, *common, "--format", fmt, "-o", str(out),
                      es_url=es_url)
        assert done.returncode == 1 and UNAVAILABLE in done.stderr, done
        assert sorted(p.name for p in tmp_path.iterdir()) == [], fmt
    out.write_text("an earlier complete list\n")
    done = _segql("export", SEGMENT, *common, "-o", str(out), es_url=es_url)
    assert done.returncode == 1 and out.read_text() == "an earlier complete list\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.txt"]
    streamed = _segql("export", SEGMENT, *common, "--format", "jsonl", es_url=es_url)
    assert streamed.returncode == 1
    last = json.loads(streamed.stdout.splitlines()[-1])
    assert last["complete"] is False and UNAVAILABLE in last["error"]


@pytest.mark.es
def test_cli_export_of_the_live_shard_is_complete_and_renamed(
        es_url: str, split: Split, tmp_path: Path) -> None:
    out = tmp_path / "list.txt"
    done = _segql("export", SEGMENT, "--account", split.live, "--index", split.index,
                  "-o", str(out), es_url=es_url)
    assert done.returncode == 0, done
    assert out.read_text().splitlines() == _expected(split, split.live)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.txt"]
    summary = json.loads(done.stderr.splitlines()[-1])
    assert summary["renewed"] == 0 and summary["contacts"] == len(_expected(split, split.live))


@pytest.mark.es
def test_http_count_and_export_of_a_missing_shard_are_problems(
        es: Elasticsearch, es_url: str, split: Split) -> None:
    with running_service(es, es_url, index=split.index, cleanup=False) as service:
        try:
            with service.client(split.lost, "read") as client:
                base = f"/v1/accounts/{split.lost}"
                for path, body in (("/count", {"text": SEGMENT}),
                                   ("/export", {"text": SEGMENT, "format": "ndjson"}),
                                   ("/export", {"text": SEGMENT, "format": "csv"})):
                    reply = client.post(base + path, json=body)
                    assert reply.status_code == 503, reply.text
                    problem = reply.json()
                    assert problem["type"].endswith("/search-incomplete"), problem
                    assert "partial" in problem["detail"] and "Traceback" not in reply.text
            with service.client(split.live, "read") as client:
                reply = client.post(f"/v1/accounts/{split.live}/export",
                                    json={"text": SEGMENT, "format": "ndjson"})
                lines = [json.loads(line) for line in reply.text.splitlines()]
                assert [r["contact_id"] for r in lines[:-1]] == _expected(split, split.live)
                assert lines[-1]["complete"] is True and lines[-1]["renewed"] == 0
        finally:
            admin(es).options(ignore_status=404).indices.delete(index=f"{split.index}-tokens")


# --- a snapshot lost mid-export is renewed --------------------------------------------------

@pytest.fixture(scope="module")
def plain(es: Elasticsearch) -> Iterator[str]:
    index = f"segql-test-renew-{uuid.uuid4().hex[:8]}"
    load(es, index, _records("renew", 900))
    yield index
    admin(es).options(ignore_status=404).indices.delete(index=f"{index},{index}-catalog",
                                                        ignore_unavailable=True)


def _lose_snapshot(es: Elasticsearch, rows: api.Export) -> int:
    """Close the export's point in time under it, as a dead node loses it; 1 if it was
    open (not already lost, waiting for the next page to notice), else 0."""
    assert rows.snapshot is not None
    reply = admin(es).options(ignore_status=404).close_point_in_time(id=rows.snapshot)
    return 1 if reply.get("succeeded") else 0


@pytest.mark.es
@pytest.mark.parametrize(("slices", "lose_at"), [(1, (0, 50, 51, 400)), (3, (1, 200, 555)),
                                                 (4, (299,))])
def test_an_export_whose_snapshot_is_lost_resumes_exactly(
        es: Elasticsearch, plain: str, slices: int, lose_at: tuple[int, ...]) -> None:
    ctx = api.context(es, "renew", index=plain)
    expected = sorted(matching_ids(api.prepare(SEGMENT, ctx), _contacts("renew", 900)))
    got: list[str] = []
    lost = 0
    with api.export(es, SEGMENT, ctx, index=plain, slices=slices, page=25) as rows:
        for row in rows:
            if len(got) in lose_at:
                lost += _lose_snapshot(es, rows)
            got.append(row.contact_id)
    assert got == expected  # every member once, in contact id order
    # a loss is noticed at the next page read; near the end every page may be read
    assert 1 <= rows.renewed <= lost and rows.contacts == len(expected)
    if slices == 1:  # pages are read as rows are taken: every loss is noticed
        assert rows.renewed == lost


@pytest.mark.es
def test_members_who_join_or_leave_between_snapshots(es: Elasticsearch, plain: str) -> None:
    """Contacts up to the last one given are as of the first snapshot, the rest as of the
    new one (docs/send-time.md)."""
    load(es, plain, _records("joins", 300))
    ctx = api.context(es, "joins", index=plain)
    before = set(matching_ids(api.prepare(SEGMENT, ctx), _contacts("joins", 300)))
    gold = {"type": "contact", "account": "joins", "fields": {"tier": "gold"}}
    got: list[str] = []
    with api.export(es, SEGMENT, ctx, index=plain, page=25) as rows:
        for row in rows:
            if len(got) == 100:
                last = got[-1]
                load(es, plain, [json.dumps({**gold, "id": "c0000a"}),  # joins before: no
                                 json.dumps({**gold, "id": "c9999"}),  # joins after: yes
                                 json.dumps({**gold, "id": "c0001", "fields": {  # leaves
                                     "tier": "x"}}),  # before the last given: stays given
                                 json.dumps({**gold, "id": "c0298", "fields": {
                                     "tier": "x"}})])  # leaves after: not given
                _lose_snapshot(es, rows)
            got.append(row.contact_id)
    assert "c0000a" < last < "c0298" and "c0001" in before and "c0298" in before
    assert got == sorted(set(got))  # each once, in order
    assert set(got) == (before | {"c9999"}) - {"c0298"} and rows.renewed == 1


@pytest.mark.es
def test_past_the_renewal_limit_the_export_fails(es: Elasticsearch, plain: str) -> None:
    ctx = api.context(es, "renew", index=plain)
    rows = api.export(es, SEGMENT, ctx, index=plain, page=25)
    rows.max_renewals = 1
    got: list[str] = []
    with pytest.raises(ShardsUnavailableError, match="lost 2 times"), rows:
        for row in rows:
            if len(got) in (10, 30):  # pages of 25: each loss is noticed
                assert _lose_snapshot(es, rows) == 1
            got.append(row.contact_id)
    assert len(got) == 50 and rows.renewed == 1  # rows up to the page after the loss



@pytest.mark.es
def test_http_export_failing_mid_stream_ends_with_an_error_line_and_is_cut(
        es: Elasticsearch, es_url: str) -> None:
    """Once rows were sent the status can't change: NDJSON ends with an error line and
    the stream is cut (no final chunk), so no client takes it for the whole list."""
    index = f"segql-test-cut-{uuid.uuid4().hex[:8]}"
    load(es, index, _records("cut", 30_000))  # 20,000 members: 4 pages of 5,000
    with running_service(es, es_url, index=index) as service, \
            service.client("cut", "read") as client:
        lines: list[str] = []
        with client.stream("POST", "/v1/accounts/cut/export",
                           json={"text": SEGMENT, "format": "ndjson"}) as reply:
            assert reply.status_code == 200
            cut = False
            try:
                for line in reply.iter_lines():
                    if not lines:  # the contact index goes away under the export
                        admin(es).indices.delete(index=index)
                    lines.append(line)
            except httpx.RemoteProtocolError:
                cut = True
        assert cut, lines[-1]
        last = json.loads(lines[-1])
        assert last["complete"] is False and last["error"]["status"] == 404, last
        assert last["error"]["type"].endswith("/no-contact-index")
        rows = [json.loads(line)["contact_id"] for line in lines[:-1]]
        assert 0 < len(rows) < 20_000 and rows == sorted(rows)
