"""`segql reindex` against the real node: documents rebuilt from what they store, in the
current shape, into `X-v<n>`; the contact index's name switched to it in one `_aliases`
call; counts per account verified; resumable after kill -9; writers meanwhile
(`segql index --follow`) lose nothing.

The "old" index of these tests has the current documents under a mapping that is not the
current one (an extra dynamic template and another `_meta` shape marker), or documents
whose derived slots are wrong (only `raw` is right): a reindex must rebuild both.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hard_data
import pytest
from elasticsearch import ApiError, Elasticsearch
from hard_data import ACCOUNTS, CATALOG, NOWS, ExprGen

from segql import api
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.contract.document import contact_document, document_id
from segql.errors import InputError, SegmentError
from segql.indexer.apply import stored_contacts
from segql.indexer.index_facts import ReindexError, concrete_index, is_current
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.indexer.reindex import PROGRESS_KEY, Reindex, reindex
from segql.stores.checkpoints import CheckpointStore, Input
from segql.stores.mapping import index_body

SEGQL = str(Path(sys.executable).with_name("segql"))
SEED = 20261127
pytestmark = pytest.mark.es


@pytest.fixture
def name(es: Elasticsearch) -> Iterator[str]:
    """A unique contact index name; every index under it (`X`, `X-v2`, stores) deleted
    after (an alias can't be deleted by its name: its concrete indices are)."""
    unique = f"segql-test-{os.urandom(6).hex()}"
    yield unique
    for found in es.indices.get(index=f"{unique}*", allow_no_indices=True,
                                expand_wildcards="all"):  # closed old indices too
        es.options(ignore_status=404).indices.delete(index=found)


def old_body() -> dict[str, Any]:
    """The current contact index body, made "older": another shape marker in `_meta`
    and one more dynamic template."""
    body = index_body()
    # the current shape (its documents are current: readers accept it) beside another
    # marker, so the mapping is not the current one (issue 16: shapes 1 and 2 are refused)
    body["mappings"]["_meta"] = {**body["mappings"]["_meta"], "segql_test_shape": "old"}
    body["mappings"]["dynamic_templates"].append(
        {"field_old": {"path_match": "fields.*.old", "mapping": {"type": "keyword"}}})
    return body


def build(es: Elasticsearch, index: str, *, concrete: str | None = None,
          contacts: int = 90) -> list[Contact]:
    """The hard records loaded into an old-shape index (`concrete`, aliased as `index`,
    when given); the folded contacts."""
    es.indices.create(index=concrete or index, **old_body())
    if concrete:
        es.indices.put_alias(index=concrete, name=index)
    lines = hard_data.records(SEED, contacts)
    summary = load(es, index, lines)
    assert summary.failed == []
    store, _ = fold_records(lines)
    return list(store.contacts.values())


def texts(contacts: list[Contact], account: str, count: int = 60) -> list[str]:
    """Random expressions that check in the account's context."""
    rng = random.Random(SEED)
    gen = ExprGen(rng, now_ms=hard_data.instant_ms(NOWS[2]),
                  observed=hard_data.observe([c for c in contacts if c.account == account]))
    out: list[str] = []
    while len(out) < count:
        text = gen.expr().render()
        try:
            api.prepare(text, context(account))
        except SegmentError:
            continue
        out.append(text)
    return out


def context(account: str) -> Context:
    return Context(account=account, now=hard_data.parse_now(NOWS[2]), catalog=CATALOG)


def counts(es: Elasticsearch, index: str, suite: dict[str, list[str]]) -> dict[str, list[Any]]:
    return {account: api.count_many(es, items, context(account), index)
            for account, items in suite.items()}


def evaluator_counts(contacts: list[Contact], suite: dict[str, list[str]]
                     ) -> dict[str, list[int]]:
    return {account: [len(matching_ids(api.prepare(t, context(account)), contacts))
                      for t in items] for account, items in suite.items()}


def per_account(es: Elasticsearch, index: str) -> dict[str, int]:
    es.indices.refresh(index=index)
    return {a: int(es.count(index=index, query={"term": {"account": a}})["count"])
            for a in ACCOUNTS}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEGQL, "reindex", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_rebuilds_an_old_index_and_switches_by_alias(es: Elasticsearch, name: str) -> None:
    contacts = build(es, name)
    suite = {account: texts(contacts, account) for account in ACCOUNTS}
    before = counts(es, name, suite)
    assert not is_current(es, name)
    sample = document_id(contacts[0].account, contacts[0].id)
    term = es.get(index=name, id=sample, routing=contacts[0].account)["_primary_term"]
    done = run_cli("--index", name)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "switched" and summary["to"] == f"{name}-v2"
    assert summary["contacts"] == {a: n for a, n in per_account(es, name).items() if n}
    assert "Traceback" not in done.stderr
    assert concrete_index(es, name) == (f"{name}-v2", True)
    assert is_current(es, name)
    # a write guarded by a term read in the old index can't succeed in the new one
    assert es.get(index=name, id=sample, routing=contacts[0].account)["_primary_term"] > term
    after = counts(es, name, suite)
    assert after == before
    assert after == evaluator_counts(contacts, suite)
    assert sorted(stored_contacts(es, name), key=lambda c: c.key) == \
        sorted(contacts, key=lambda c: c.key)
    # the store indices are named from the alias and keep working
    ctx = api.context(es, ACCOUNTS[0], index=name, now=context(ACCOUNTS[0]).now)
    assert ctx.catalog.fields, "the learned catalog is read through the alias name"
    # a second run: already current
    again = run_cli("--index", name)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "current"
    assert "already in the current shape" in again.stderr


def test_rebuilds_derived_slots_from_raw(es: Elasticsearch, name: str) -> None:
    """Documents whose indexed slots are wrong (fields emptied, event encodings dropped)
    but whose `raw`, events and visits are right: the rebuilt index answers like the
    evaluator again."""
    lines = hard_data.records(SEED)
    store, _ = fold_records(lines)
    contacts = list(store.contacts.values())
    es.indices.create(index=name, **old_body())
    operations: list[Any] = []
    for contact in contacts:
        document = contact_document(contact)
        document["fields"] = {}
        for activity in (*document["events"], *document["visits"]):
            for slot in [key for key in activity if key.startswith("p") and key != "props"]:
                del activity[slot]
        operations += [{"index": {"_index": name, "_id": document_id(*contact.key),
                                  "routing": contact.account}}, document]
    assert not es.bulk(operations=operations, refresh=True)["errors"]
    suite = {account: texts(contacts, account, 40) for account in ACCOUNTS}
    expected = evaluator_counts(contacts, suite)
    assert counts(es, name, suite) != expected, "the damage shows before the reindex"
    report = reindex(es, name)
    assert report.status == "switched" and report.copied == len(contacts)
    assert counts(es, name, suite) == expected


def test_current_index_is_left_alone_unless_forced(es: Elasticsearch, name: str) -> None:
    load(es, name, hard_data.records(SEED, 20))
    assert is_current(es, name)
    report = reindex(es, name)
    assert report.status == "current" and report.target is None
    assert concrete_index(es, name) == (name, False)
    forced = reindex(es, name, force=True)
    assert forced.status == "switched" and concrete_index(es, name) == (f"{name}-v2", True)


def test_an_alias_is_switched_to_the_next_version(es: Elasticsearch, name: str) -> None:
    contacts = build(es, name, concrete=f"{name}-v1")
    api.segment_store(es, name).create(context(ACCOUNTS[0]), "Somebody", "email has_value")
    saved = 'in_segment "Somebody"'
    want = api.count(es, saved, api.context(es, ACCOUNTS[0], index=name), name).count
    report = reindex(es, name)
    assert report.status == "switched" and (report.source, report.target) == (
        f"{name}-v1", f"{name}-v2")
    assert status(es, f"{name}-v1") == "close", "the old concrete index is closed"
    assert concrete_index(es, name) == (f"{name}-v2", True)
    assert api.count(es, saved, api.context(es, ACCOUNTS[0], index=name), name).count == want
    # writing through the alias after the switch (segql index on the new index)
    extra = {"type": "contact", "account": ACCOUNTS[0], "id": "after-switch",
             "email": "a@example.com"}
    written = load(es, name, [json.dumps(extra)])
    assert written.failed == [] and written.rejected == [] and written.contacts == 1
    assert api.count(es, saved, api.context(es, ACCOUNTS[0], index=name), name).count == \
        want + 1
    third = reindex(es, name, force=True)
    assert (third.source, third.target) == (f"{name}-v2", f"{name}-v3")
    assert sum(third.contacts.values()) == len(contacts) + 1
    # the next reindex closes its old index and deletes the one closed before
    assert status(es, f"{name}-v2") == "close"
    assert not es.indices.exists(index=f"{name}-v1")


def status(es: Elasticsearch, index: str) -> str:
    """`open` or `close`."""
    (row,) = es.cat.indices(index=index, h="status", format="json", expand_wildcards="all")
    return str(row["status"])


def test_account_filter_copies_now_and_switches_when_all_are_copied(
        es: Elasticsearch, name: str) -> None:
    build(es, name)
    want = per_account(es, name)
    first = reindex(es, name, accounts=[ACCOUNTS[0]])
    assert first.status == "partial" and first.remaining == [ACCOUNTS[1]]
    assert first.contacts == {ACCOUNTS[0]: want[ACCOUNTS[0]]}
    assert concrete_index(es, name) == (name, False), "nothing switched yet"
    with pytest.raises(InputError):
        reindex(es, name, accounts=["nobody"])
    bad = run_cli("--index", name, "--account", "nobody")
    assert bad.returncode == 2 and "no contact of account nobody" in bad.stderr
    second = reindex(es, name, accounts=[ACCOUNTS[1]])
    assert second.status == "switched" and second.resumed
    assert second.copied == want[ACCOUNTS[1]], "the first account is not copied again"
    assert second.contacts == want and per_account(es, name) == want


def _progress(es: Elasticsearch, name: str) -> dict[str, Any]:
    try:
        found = CheckpointStore(es, name).read_state(PROGRESS_KEY)
    except ApiError:  # the store index being created by the reindex: no shard yet
        return {}
    return found[0] if found else {}


def test_kill_minus_9_then_a_rerun_completes(es: Elasticsearch, name: str) -> None:
    contacts = build(es, name, contacts=150)
    want = per_account(es, name)
    proc = subprocess.Popen([SEGQL, "reindex", "--index", name, "--batch-size", "5"],
                            env={**os.environ, "SEGQL_REINDEX_TEST_PAUSE": "0.2"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    copied = 0
    while copied < 30:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
        time.sleep(0.2)
        copied = sum(p["copied"] for p in _progress(es, name).get("accounts", {}).values())
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    state = _progress(es, name)
    done_before = sum(p["copied"] for p in state["accounts"].values())
    assert 30 <= done_before < len(contacts)
    assert concrete_index(es, name) == (name, False), "killed before the switch"
    rerun = run_cli("--index", name)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["status"] == "switched" and summary["resumed"]
    assert summary["copied"] == len(contacts) - done_before
    assert summary["contacts"] == want == per_account(es, name)
    assert sorted(stored_contacts(es, name), key=lambda c: c.key) == \
        sorted(contacts, key=lambda c: c.key)
    assert _progress(es, name) == {}, "the progress is gone after the switch"


def test_writes_wait_for_a_write_block(es: Elasticsearch, name: str) -> None:
    """A writer meeting the write block of a switch pauses and retries: nothing is
    rejected, the record lands once the block is lifted."""
    load(es, name, hard_data.records(SEED, 10))
    es.indices.add_block(index=name, block="write")
    record = {"type": "contact", "account": ACCOUNTS[0], "id": "blocked", "fields": {"a": 1}}
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(
        summary=load(es, name, [json.dumps(record)])))
    thread.start()
    time.sleep(2.0)
    assert thread.is_alive(), "the writer waits while the index is blocked"
    es.indices.put_settings(index=name, settings={"index.blocks.write": None})
    thread.join(60)
    assert outcome["summary"].failed == [] and outcome["summary"].rejected == []
    assert es.exists(index=name, id=document_id(ACCOUNTS[0], "blocked"), routing=ACCOUNTS[0])


def _applied(es: Elasticsearch, name: str, feed: Path) -> int:
    """Lines of `feed` the follower's checkpoint says are applied."""
    source = Input(str(feed))
    try:
        found = CheckpointStore(es, name).read(source.checkpoint_id())
    except ApiError:  # the store index just being created by the follower: no shard yet
        return 0
    finally:
        source.close()
    return found.line if found else 0


def _append(es: Elasticsearch, name: str, feed: Path, records: list[dict[str, Any]],
            written: list[str]) -> None:
    """Append records to the followed file and wait until the follower applied them."""
    lines = [json.dumps(r) for r in records]
    with feed.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
    written += lines
    deadline = time.monotonic() + 120
    while _applied(es, name, feed) < len(written):
        assert time.monotonic() < deadline, "the follower did not apply the records"
        time.sleep(0.1)


def test_a_follower_writing_during_the_reindex_loses_nothing(
        es: Elasticsearch, name: str, tmp_path: Path) -> None:
    """`segql index --follow` writes (updates, new contacts, deletes) to an account the
    reindex has already copied, and after the switch: the switched index holds exactly
    the fold of every record."""
    lines = hard_data.records(SEED, 40)
    es.indices.create(index=name, **old_body())
    assert load(es, name, lines).failed == []
    store, _ = fold_records(lines)
    acme = sorted(c.id for c in store.contacts.values() if c.account == ACCOUNTS[0])
    feed, rejects = tmp_path / "feed.jsonl", tmp_path / "rejects.jsonl"
    feed.write_text(json.dumps({"type": "contact", "account": ACCOUNTS[1], "id": "first",
                                "fields": {"n": 1}}) + "\n")
    written = [feed.read_text().strip()]
    follower = subprocess.Popen([SEGQL, "index", str(feed), "--index", name, "--follow",
                                 "--rejects", str(rejects), "--batch-size", "50"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def event(contact: str, number: int) -> dict[str, Any]:
        return {"type": "event", "account": ACCOUNTS[0], "contact": contact,
                "id": f"late-{number}", "name": "Late", "ts": "2026-01-01T00:00:00Z",
                "props": {"n": number}}

    def meanwhile(message: str) -> None:
        """Called by the reindex once the first account is copied: write to it."""
        if message.startswith(f"account {ACCOUNTS[0]}:"):
            _append(es, name, feed, [
                *({"type": "delete", "account": ACCOUNTS[0], "id": c} for c in acme[:3]),
                *(event(c, i) for i, c in enumerate(acme[3:6])),
                {"type": "contact", "account": ACCOUNTS[0], "id": "late-new",
                 "email": "late@example.com"}], written)

    try:
        deadline = time.monotonic() + 120
        while _applied(es, name, feed) < 1:
            assert time.monotonic() < deadline and follower.poll() is None
            time.sleep(0.1)
        report = reindex(es, name, batch_size=10, log=meanwhile)
        assert report.status == "switched"
        assert report.deleted == 3 and report.caught_up >= 4
        _append(es, name, feed, [event(acme[6], 9),
                                 {"type": "delete", "account": ACCOUNTS[0], "id": acme[7]},
                                 {"type": "contact", "account": ACCOUNTS[1], "id": "first",
                                  "fields": {"n": 2}}], written)
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert not rejects.exists() or rejects.read_text() == ""
    assert concrete_index(es, name) == (f"{name}-v2", True)
    expected, _ = fold_records([*lines, *written])
    assert sorted(stored_contacts(es, name), key=lambda c: c.key) == \
        sorted(expected.contacts.values(), key=lambda c: c.key)


def test_progress_of_a_replaced_index_is_dropped_and_a_concurrent_run_stops(
        es: Elasticsearch, name: str) -> None:
    build(es, name, contacts=20)
    stale = Reindex(es, name)
    assert stale.run([ACCOUNTS[0]]).status == "partial"
    # the index is deleted and created again under the same name, with other contacts
    es.indices.delete(index=name)
    contacts = build(es, name, contacts=12)
    report = reindex(es, name)
    assert report.status == "switched" and not report.resumed
    assert report.target == f"{name}-v2", "the unswitched copy was dropped, its name reused"
    assert sum(report.contacts.values()) == len(contacts) == sum(per_account(es, name).values())
    # the first run, still holding its progress's version, can't write it any more
    with pytest.raises(ReindexError, match="another segql reindex"):
        stale._save()
