"""Explain (`api.explain`, `segql explain`): every node of a segment marked true/false for
one contact by Elasticsearch — events and visits with their count n — agrees with the
reference evaluator on the stored contact: for the README's example segments on the
shipped sample, and for random expressions of the differential generator on its hard
records. A disagreement is reported loudly (exit 3)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import hard_data
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from hard_data import ACCOUNTS, CATALOG, NOWS, ExprGen
from housekeeping import admin

from segql import ContactNotFoundError, Explanation, api
from segql.cli.demo import DEMO_ACCOUNT, EXAMPLES, sample_path
from segql.cli.main import cli
from segql.compiler.catalog import learn
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.contract.document import contact_document, document_id
from segql.errors import SegmentError
from segql.indexer.files import open_records
from segql.indexer.loader import load
from segql.indexer.records import fold_records

pytestmark = pytest.mark.es

NOW = datetime.fromisoformat("2026-11-01T12:00:00+00:00")
ZONE = ZoneInfo("Europe/Warsaw")
#: Sample contacts explained per example segment: members of it, and others at random.
MEMBERS_PER_EXAMPLE = 20
OTHERS = 60
#: The differential test's seed.
HARD_SEED = 20250615


def _drop(es: Elasticsearch, name: str) -> None:
    for found in es.indices.get(index=f"{name}*", allow_no_indices=True):
        admin(es).options(ignore_status=404).indices.delete(index=found)


def _walk(tree: Explanation) -> Iterator[Explanation]:
    yield tree
    for child in tree.children:
        yield from _walk(child)


@pytest.fixture(scope="module")
def sample(es: Elasticsearch) -> Iterator[tuple[str, dict[str, Contact]]]:
    """A few hundred contacts of the shipped sample — members of each example segment and
    others — loaded with all their records into a fresh index."""
    with open_records(sample_path()) as lines:
        all_lines = list(lines)
    store, _ = fold_records(all_lines)
    everyone = sorted(store.contacts.values(), key=lambda c: c.id)
    ctx = Context(account=DEMO_ACCOUNT, now=NOW, timezone=ZONE,
                  catalog=learn(everyone, account=DEMO_ACCOUNT).catalog)
    rng = random.Random(6)
    chosen: set[str] = {c.id for c in rng.sample(everyone, OTHERS)}
    for text in EXAMPLES:
        members = matching_ids(api.prepare(text, ctx), everyone)
        chosen |= set(rng.sample(members, min(MEMBERS_PER_EXAMPLE, len(members))))
    wanted = [line for line in all_lines if _contact_of(line) in chosen]
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    try:
        assert load(es, name, wanted).failed == []
        loaded, _ = fold_records(wanted)
        yield name, {c.id: c for c in loaded.contacts.values()}
    finally:
        _drop(es, name)


def _contact_of(line: str | bytes) -> str | None:
    record = json.loads(line)
    return record.get("contact") if record["type"] in ("event", "visit") else record["id"]


def test_explain_agrees_with_the_evaluator_on_the_examples(
    es: Elasticsearch, sample: tuple[str, dict[str, Contact]]
) -> None:
    index, contacts = sample
    ctx = api.context(es, DEMO_ACCOUNT, index=index, now=NOW, timezone=ZONE)
    results: set[bool] = set()
    counted = 0
    for text in EXAMPLES:
        members = set(matching_ids(api.prepare(text, ctx), contacts.values()))
        assert members, text
        for contact_id in sorted(contacts):
            tree = api.explain(es, text, ctx, contact_id, index=index)
            assert list(tree.disagreements()) == [], "\n".join(tree.render())
            assert tree.result == (contact_id in members), (text, contact_id)
            results |= {node.result for node in _walk(tree)}
            counted += sum(bool(node.count) for node in _walk(tree))
    assert results == {True, False} and counted > 0


@pytest.fixture(scope="module")
def hard(es: Elasticsearch) -> Iterator[tuple[str, list[Contact]]]:
    """The differential test's hard records (two accounts), loaded."""
    lines = hard_data.records(HARD_SEED)
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    try:
        assert load(es, name, lines).failed == []
        store, _ = fold_records(lines)
        yield name, list(store.contacts.values())
    finally:
        _drop(es, name)


#: Random expressions per (account, evaluation instant, zone), contacts explained for each.
EXPRESSIONS = 60
CONTACTS_EACH = 6


def test_explain_agrees_with_the_evaluator_on_random_expressions(
    es: Elasticsearch, hard: tuple[str, list[Contact]]
) -> None:
    index, everyone = hard
    rng = random.Random(11)
    segment_nodes = hard_data.saved_segments(random.Random(12))
    segments = {name: node.render() for name, node in segment_nodes.items()}
    explained = 0
    for account, now, zone in ((ACCOUNTS[0], NOWS[0], "Europe/Warsaw"),
                               (ACCOUNTS[1], NOWS[3], "America/New_York")):
        contacts = [c for c in everyone if c.account == account]
        ctx = Context(account=account, now=hard_data.parse_now(now), timezone=ZoneInfo(zone),
                      catalog=CATALOG, segments=segments)
        gen = ExprGen(rng, segments=segment_nodes, now_ms=hard_data.instant_ms(now),
                      observed=hard_data.observe(contacts))
        made = 0
        while made < EXPRESSIONS:
            text = gen.expr().render()
            try:
                api.prepare(text, ctx)
            except SegmentError:  # a `between` reversed for this instant
                continue
            made += 1
            for contact in rng.sample(contacts, CONTACTS_EACH):
                tree = api.explain(es, text, ctx, contact.id, index=index)
                assert list(tree.disagreements()) == [], (
                    f"{account} {contact.id!r}:\n" + "\n".join(tree.render()))
                explained += 1
    assert explained == 2 * EXPRESSIONS * CONTACTS_EACH


@pytest.fixture
def liar(es: Elasticsearch, index_name: str) -> str:
    """Two contacts; one of them stored inconsistently: its indexed city is not the
    city its applied fields say (what a buggy indexer would write)."""
    load(es, index_name, [json.dumps({"type": "contact", "account": "acme", "id": "ok",
                                      "fields": {"city": "Warszawa"}})])
    document = contact_document(Contact("acme", "liar", {"city": "Warszawa"}))
    document["raw"]["fields"]["city"] = "Kraków"
    es.index(index=index_name, id=document_id("acme", "liar"), routing="acme",
             document=document, refresh=True)
    return index_name


def test_explain_cli(es_url: str, liar: str) -> None:
    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}
    text = 'all(city starts_with "War", not event MailOpen occurred at_least 2)'

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["explain", *args, "-a", "acme", "--index", liar], env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run(text, "--contact", "ok")
    assert code == 0
    assert out.splitlines() == [
        "contact 'ok' of account 'acme' is in the segment",
        "[true ] all(...)",
        '  [true ] city starts_with "War"',
        "  [true ] not ...",
        "    [false] event MailOpen occurred at_least 2    n = 0 (holds when n ≥ 2)",
    ]
    code, out, _ = run(text, "--contact", "ok", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["agrees"] and answer["result"]
    event = answer["tree"]["children"][1]["children"][0]
    assert event == {"text": "event MailOpen occurred at_least 2", "kind": "event",
                     "result": False, "count": 0, "rule": "n ≥ 2", "children": []}
    code, out, err = run(text, "--contact", "liar")
    assert code == 3 and "BUG" in err
    assert '[true ] city starts_with "War"    <-- BUG: the reference evaluator says false' in out
    code, _, err = run(text, "--contact", "nobody")
    assert code == 1 and "no contact 'nobody'" in err


def test_explain_of_a_missing_contact_is_an_error(es: Elasticsearch, liar: str) -> None:
    ctx = Context(account="other")
    with pytest.raises(ContactNotFoundError):  # the contact exists, in another account
        api.explain(es, "city has_value", ctx, "ok", index=liar)
