"""Export at send time (`api.export`, `segql export`): one point-in-time snapshot read by
`search_after` (in parallel slices for large segments), so an indexer writing meanwhile
can neither duplicate nor skip a recipient; channels deliver their addresses and count
who has none; `count --channels` counts who is reachable."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch, helpers
from housekeeping import admin

from segql import api
from segql.cli.main import cli
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.contract.document import contact_document, document_id
from segql.indexer.loader import ensure_index, load

pytestmark = pytest.mark.es

ACCOUNT = "load"
CONTACTS = 100_000
SEGMENT = 'tier in ["gold", "silver"] and score >= 10'
CATALOG = Catalog(fields={"tier": "text", "score": "number", "touched": "number"})


def _contact(i: int, rng: random.Random, touched: int = 0) -> Contact:
    return Contact(account=ACCOUNT, id=f"c{i:06d}", fields={
        "tier": rng.choice(("gold", "silver", "bronze")), "score": rng.randint(0, 40),
        "touched": touched})


def _action(index: str, contact: Contact) -> dict[str, Any]:
    return {"_index": index, "_id": document_id(contact.account, contact.id),
            "_routing": contact.account, "_source": contact_document(contact)}


class Writer(threading.Thread):
    """An indexer at work on the exported contacts: re-indexes batches of them with a
    changed field that does not decide membership, deletes some, adds new matching ones,
    and refreshes after every batch."""

    def __init__(self, es: Elasticsearch, index: str, contacts: list[Contact]) -> None:
        super().__init__(daemon=True)
        self.es, self.index, self.contacts = es, index, contacts
        self.stop = threading.Event()
        self.batches = 0
        self.first_batch = threading.Event()
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(7)
        try:
            while not self.stop.is_set():
                batch = rng.sample(self.contacts, 500)
                actions = [_action(self.index, Contact(c.account, c.id, {
                    **c.fields, "touched": self.batches + 1})) for c in batch]
                for k in range(50):
                    new = Contact(ACCOUNT, f"new-{self.batches}-{k}",
                                  {"tier": "gold", "score": 20, "touched": 0})
                    actions.append(_action(self.index, new))
                    self.created.append(new.id)
                gone = rng.choice(self.contacts)
                actions.append({"_op_type": "delete", "_index": self.index,
                                "_id": document_id(ACCOUNT, gone.id), "_routing": ACCOUNT})
                self.deleted.append(gone.id)
                helpers.bulk(self.es, actions, raise_on_error=False)
                self.es.indices.refresh(index=self.index)
                self.batches += 1
                self.first_batch.set()
        except BaseException as error:
            self.error = error
            self.first_batch.set()


@pytest.fixture(scope="module")
def big(es: Elasticsearch) -> Iterator[tuple[str, list[Contact]]]:
    """100,000 small contacts of one account in a fresh index."""
    name = f"segql-test-big-{random.randrange(16**8):08x}"
    rng = random.Random(20250615)
    contacts = [_contact(i, rng) for i in range(CONTACTS)]
    ensure_index(es, name)
    helpers.bulk(es.options(request_timeout=120), (_action(name, c) for c in contacts),
                 chunk_size=5000)
    es.indices.refresh(index=name)
    try:
        yield name, contacts
    finally:
        admin(es).options(ignore_status=404).indices.delete(index=name)


def test_export_under_concurrent_writes_is_the_snapshot(
    es: Elasticsearch, big: tuple[str, list[Contact]]
) -> None:
    """Every contact that matched when the snapshot opened is exported exactly once —
    also those re-indexed or deleted meanwhile — and none created after it."""
    index, contacts = big
    ctx = Context(account=ACCOUNT, catalog=CATALOG)
    expected = matching_ids(api.prepare(SEGMENT, ctx), contacts)
    assert len(expected) > api.SLICE_ABOVE
    writer = Writer(es, index, contacts)
    seen: list[str] = []
    with api.export(es, SEGMENT, ctx, index=index, page=500) as rows:
        assert rows.open() == len(expected)  # the snapshot is taken here
        writer.start()
        try:
            started = time.monotonic()
            for row in rows:
                seen.append(row.contact_id)
                if len(seen) == 1000:  # let the indexer write into the export
                    assert writer.first_batch.wait(60)
            elapsed = time.monotonic() - started
        finally:
            writer.stop.set()
            writer.join()
    assert writer.error is None, writer.error
    assert writer.batches >= 2, "the indexer did not write during the export"
    assert len(seen) == len(set(seen)), "a contact was exported twice"
    assert sorted(seen) == expected
    assert not set(seen) & set(writer.created)
    assert set(writer.deleted) & set(expected), "no exported contact was deleted meanwhile"
    assert rows.contacts == rows.exported == len(expected) and rows.without_address == 0
    print(f"exported {len(seen)} in {elapsed:.1f}s ({len(seen) / elapsed:,.0f}/s, pages "
          f"of 500, {api.DEFAULT_SLICES} slices) while {writer.batches} batches were written")


def test_stopping_early_releases_the_snapshot(es: Elasticsearch,
                                              big: tuple[str, list[Contact]]) -> None:
    index, _ = big
    ctx = Context(account=ACCOUNT, catalog=CATALOG)
    before = es.nodes.stats(metric="indices")["nodes"]
    opened = sum(n["indices"]["search"]["open_contexts"] for n in before.values())
    rows = api.export(es, SEGMENT, ctx, index=index, slices=3, page=100)
    assert len([next(rows) for _ in range(250)]) == 250
    rows.close()
    after = es.nodes.stats(metric="indices")["nodes"]
    assert sum(n["indices"]["search"]["open_contexts"] for n in after.values()) == opened


CHANNEL_RECORDS = [
    {"type": "contact", "account": "acme", "id": "both", "email": "a@x.pl",
     "phone": "+48600100200", "push_tokens": ["t1"], "fields": {"city": "Warszawa"}},
    {"type": "contact", "account": "acme", "id": "mail", "email": "Ó@x.pl",
     "fields": {"city": "Warka"}},
    {"type": "contact", "account": "acme", "id": "push3", "push_tokens": ["p3", "p1", "p2"],
     "fields": {"city": "Wrocław"}},
    {"type": "contact", "account": "acme", "id": "none", "fields": {"city": "Wadowice"}},
    {"type": "contact", "account": "acme", "id": "elsewhere", "email": "e@x.pl",
     "push_tokens": ["e1"], "fields": {"city": "Łódź"}},
    {"type": "contact", "account": "other", "id": "both", "email": "o@x.pl",
     "push_tokens": ["o1"], "fields": {"city": "Warszawa"}},
]
IN_W = 'city starts_with "w"'


@pytest.fixture
def channels(es: Elasticsearch, index_name: str) -> str:
    load(es, index_name, [json.dumps(r, ensure_ascii=False) for r in CHANNEL_RECORDS])
    return index_name


def _rows(es: Elasticsearch, index: str, channel: str | None,
          slices: int | None = None) -> tuple[list[tuple[str, str | None]], api.Export]:
    ctx = api.context(es, "acme", index=index)
    rows = api.export(es, IN_W, ctx, channel=channel, index=index, slices=slices, page=2)
    return sorted((r.contact_id, r.address) for r in rows), rows


def test_channel_exports_deliver_addresses_and_count_who_has_none(
    es: Elasticsearch, channels: str
) -> None:
    found, rows = _rows(es, channels, "email")
    assert found == [("both", "a@x.pl"), ("mail", "Ó@x.pl")]
    assert (rows.contacts, rows.exported, rows.without_address) == (4, 2, 2)
    found, rows = _rows(es, channels, "sms")
    assert found == [("both", "+48600100200")] and rows.without_address == 3
    for slices in (None, 3):  # every push token, sliced or not
        found, rows = _rows(es, channels, "push", slices)
        assert found == [("both", "t1"), ("push3", "p1"), ("push3", "p2"), ("push3", "p3")]
        assert (rows.contacts, rows.exported, rows.without_address) == (4, 4, 2)
    found, rows = _rows(es, channels, None)
    assert found == [(c, None) for c in ("both", "mail", "none", "push3")]


def test_count_with_channels_is_one_request(es: Elasticsearch, channels: str) -> None:
    ctx = api.context(es, "acme", index=channels)
    result = api.count(es, IN_W, ctx, channels, channels=True)
    assert (result.count, result.reachable) == (4, {"email": 2, "sms": 1, "push": 2})


def test_export_and_count_cli(es_url: str, channels: str) -> None:
    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}

    def run(*args: str) -> tuple[str, dict[str, int]]:
        result = runner.invoke(cli, [*args, "-a", "acme", "--index", channels], env=env)
        assert result.exit_code == 0, result.output + result.stderr
        return result.stdout, json.loads(result.stderr.strip().splitlines()[-1])

    out, summary = run("export", IN_W, "--channel", "push", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "contact_id,address" and sorted(lines[1:]) == [
        "both,t1", "push3,p1", "push3,p2", "push3,p3"]
    # with a channel, the summary also says who it left out, by reason (none here is
    # unsubscribed, bounced or complained: tests/test_consent.py has those)
    assert summary == {"exported": 4, "contacts": 4, "without_address": 2, "renewed": 0,
                       "left_out": {
        "no_address": 2, "unsubscribed": 0, "bounced": 0, "complained": 0}}
    out, _ = run("export", IN_W, "--channel", "push", "--format", "ids", "--slices", "2")
    assert sorted(out.split()) == ["both", "push3"]  # a contact once, however many tokens
    out, summary = run("export", IN_W, "--channel", "email", "--format", "jsonl")
    assert sorted(json.loads(line)["address"] for line in out.splitlines()) == [
        "a@x.pl", "Ó@x.pl"]
    assert summary["without_address"] == 2
    out, summary = run("export", IN_W, "--format", "csv")
    assert sorted(out.splitlines()[1:]) == ["both", "mail", "none", "push3"]
    assert summary == {"exported": 4, "contacts": 4, "without_address": 0,
                       "renewed": 0}
    result = runner.invoke(cli, ["count", IN_W, "--channels", "-a", "acme", "--index",
                                 channels], env=env)
    nobody_else = {"unsubscribed": 0, "bounced": 0, "complained": 0}
    assert json.loads(result.stdout) == {"total": 4, "email": 2, "sms": 1, "push": 2,
                                         "left_out": {
                                             "email": {"no_address": 2, **nobody_else},
                                             "sms": {"no_address": 3, **nobody_else},
                                             "push": {"no_address": 2, **nobody_else}}}
