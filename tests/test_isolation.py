"""Account isolation, injection and denial-of-service limits, against a real node.

* Isolation: random expressions (hard_data's generator) over an index where every contact
  of account A has a twin in account B — same id, same fields, events and visits, so B's
  documents would match A's expressions — and where both accounts have saved segments of
  the same names but different meanings: every hit of a compiled query (searched without
  routing), every exported id and every count is A's, and equals the evaluator's fold.
* Injection: values made of Lucene, regex and wildcard syntax, in fields whose names hold
  quotes, and saved-segment names with quotes and backquotes, match only literally
  (Elasticsearch == evaluator).
* Denial: the largest accepted expression compiles in bounded time and size; just past
  each limit comes that limit's error code; thousands of listed values are one `terms`.
* Timeouts: a request timeout far below any round trip is a clear error, exit code 1.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import hard_data
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from fake_cluster import silent
from hard_data import CATALOG, NOWS, ZONES, ExprGen, quote
from housekeeping import admin

from segql import api
from segql.cli.main import cli
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.errors import SegmentError
from segql.grammar.limits import MAX_BYTES, MAX_CONDITIONS, MAX_DEPTH, MAX_STRING
from segql.indexer.loader import load
from segql.indexer.records import fold_records

pytestmark = pytest.mark.es

SEED = 20260808
A, B = hard_data.ACCOUNTS
#: Random expressions per account (each: a raw search, an export, sometimes a count).
PER_ACCOUNT = 120


@dataclass
class Twins:
    index: str
    contacts: dict[str, list[Contact]]


def _drop_indices(es: Elasticsearch, name: str) -> None:
    for found in es.indices.get(index=f"{name}*", allow_no_indices=True):
        admin(es).options(ignore_status=404).indices.delete(index=found)


@pytest.fixture(scope="module")
def twins(es: Elasticsearch) -> Iterator[Twins]:
    """A's hard records, plus a copy of each under account B (overlapping ids)."""
    dicts, _ = hard_data.record_dicts(SEED, contacts=60)
    mine = [record for record in dicts if record.get("account") == A]
    lines = [json.dumps(r) for r in mine] + [json.dumps({**r, "account": B}) for r in mine]
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    try:
        summary = load(es, name, lines)
        assert summary.failed == []
        store, _ = fold_records(lines)
        by_account: dict[str, list[Contact]] = {A: [], B: []}
        for contact in store.contacts.values():
            by_account[contact.account].append(contact)
        assert {c.id for c in by_account[A]} == {c.id for c in by_account[B]}
        yield Twins(name, by_account)
    finally:
        _drop_indices(es, name)


def _hits(es: Elasticsearch, index: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(account, contact_id) of every document the compiled query matches, searched on
    every shard (no routing): the query alone must confine it."""
    response = es.search(index=index, query=body["query"], size=10_000,
                         source_includes=["account", "contact_id"], track_total_hits=True)
    return sorted((h["_source"]["account"], h["_source"]["contact_id"])
                  for h in response["hits"]["hits"])


def test_every_answer_is_confined_to_its_account(es: Elasticsearch, twins: Twins) -> None:
    rng = random.Random(SEED)
    # Same segment names in both accounts, different meanings.
    segment_nodes = {A: hard_data.saved_segments(random.Random(SEED + 1)),
                     B: hard_data.saved_segments(random.Random(SEED + 2))}
    checked = twin_matches = 0
    for account, other in ((A, B), (B, A)):
        segments = {name: node.render() for name, node in segment_nodes[account].items()}
        observed = hard_data.observe(twins.contacts[account])
        made = 0
        while made < PER_ACCOUNT:
            now, zone = rng.choice(NOWS), rng.choice(ZONES)
            ctx = Context(account=account, now=hard_data.parse_now(now),
                          timezone=ZoneInfo(zone), catalog=CATALOG, segments=segments)
            gen = ExprGen(rng, segments=segment_nodes[account],
                          now_ms=hard_data.instant_ms(now), observed=observed)
            text = gen.expr().render()
            try:
                expr = api.prepare(text, ctx)
            except SegmentError:
                continue
            made += 1
            expected = matching_ids(expr, twins.contacts[account])
            hits = _hits(es, twins.index, api.compile_text(text, ctx))
            assert {acc for acc, _ in hits} <= {account}, f"{text!r} reads {other}'s contacts"
            assert [cid for _, cid in hits] == expected, text
            assert sorted(api.export_ids(es, text, ctx, twins.index)) == expected, text
            if made % 5 == 0:
                assert api.count(es, text, ctx, twins.index).count == len(expected), text
            # Did B's twins match A's expression (so isolation was really put to the test)?
            twin_ctx = Context(account=other, now=ctx.now, timezone=ctx.timezone,
                               catalog=CATALOG, segments=segments)
            twin_matches += bool(set(expected) & set(
                matching_ids(api.prepare(text, twin_ctx), twins.contacts[other])))
            checked += 1
    assert checked == 2 * PER_ACCOUNT
    # Many random expressions match nobody; enough must match twins on both sides.
    assert twin_matches >= PER_ACCOUNT // 10, twin_matches


# --- injection ----------------------------------------------------------------------------

SYNTAX = "\\+-=&|><!(){}[]^\"~*?:/ .#@$%'`,;"
FIELDS = ('it\'s "quoted"', "back\\slash", "plain_note")


def _values() -> list[str]:
    values = {*SYNTAX, "a*", "*a", ".*", "a.c", "a?c", "(a|b)", "[a-z]+", "a~2", "a^2",
              "\\*", "\\\\", "a\\b", "x:y", "x AND y", "x OR y", "NOT x", "/a.*/", "{1,3}",
              "a{2}", "${x}", "%s", "_all", "*:*", "\" OR 1=1 --", "\\u0041", "a\\nb"}
    values.update(f"a{c}b" for c in SYNTAX)
    values.update(c * 3 for c in SYNTAX)
    return sorted(values)


@pytest.fixture(scope="module")
def injected(es: Elasticsearch) -> Iterator[tuple[str, list[Contact], list[str]]]:
    values = _values()
    lines = [json.dumps({"type": "contact", "account": A, "id": f"v{i}",
                         "fields": dict.fromkeys(FIELDS, value)})
             for i, value in enumerate(values)]
    lines.append(json.dumps({"type": "contact", "account": A, "id": "plain",
                             "fields": dict.fromkeys(FIELDS, "abc")}))
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    try:
        assert load(es, name, lines).failed == []
        store, rejects = fold_records(lines)
        assert rejects == []
        yield name, list(store.contacts.values()), values
    finally:
        _drop_indices(es, name)


def test_syntax_in_values_field_and_segment_names_is_literal(
    es: Elasticsearch, injected: tuple[str, list[Contact], list[str]]
) -> None:
    index, contacts, values = injected
    catalog = Catalog(fields=dict.fromkeys(FIELDS, "text"))
    segments = {'quo"te': 'plain_note = "abc"', "back`tick": 'plain_note = "*"',
                "it's `both` \"x\"": 'plain_note starts_with "a"'}
    ctx = Context(account=A, catalog=catalog, segments=segments)
    texts = [f"in_segment {quote(name)}" for name in segments]
    for value in values:
        literal = quote(value)
        for field_name in FIELDS:
            spelled = f"`{field_name}`"
            texts += [f"{spelled} {op} {literal}"
                      for op in ("=", "starts_with", "ends_with", "contains", "!=")]
        texts.append(f"plain_note in [{literal}, \"abc\"]")
    nonempty = 0
    for text in texts:
        expected = matching_ids(api.prepare(text, ctx), contacts)
        assert sorted(api.export_ids(es, text, ctx, index)) == expected, text
        nonempty += bool(expected)
        if text.startswith("`plain_note` = "):
            # Equality with a syntax-laden value finds exactly that value's contact.
            assert len(expected) == 1, text
    assert nonempty > len(texts) // 2


# --- denial of service --------------------------------------------------------------------


def _codes(text: str, ctx: Context) -> set[str]:
    try:
        api.compile_text(text, ctx)
    except SegmentError as error:
        return {d.code for d in error.diagnostics}
    return set()


def test_limits_hold_at_their_edges_in_bounded_time() -> None:
    ctx = Context(account=A)
    # The deepest accepted nesting, and one level more.
    deep = "(" * MAX_DEPTH + "email has_value" + ")" * MAX_DEPTH
    assert _codes(deep, ctx) == set() or _codes(deep, ctx) == {"E_TOO_DEEP"}
    depth = MAX_DEPTH if not _codes(deep, ctx) else MAX_DEPTH - 1
    ok = "(" * depth + "email has_value" + ")" * depth
    assert _codes(ok, ctx) == set()
    assert _codes("(" + ok + ")", ctx) == {"E_TOO_DEEP"}
    # The most conditions, and one more.
    many = " or ".join(["email has_value"] * MAX_CONDITIONS)
    assert _codes(many, ctx) == set()
    assert "E_TOO_MANY_CONDITIONS" in _codes(many + " or email has_value", ctx)
    # The longest string, and one character more.
    assert _codes(f'city = "{"s" * MAX_STRING}"', ctx) == set()
    assert "E_STRING_TOO_LONG" in _codes(f'city = "{"s" * (MAX_STRING + 1)}"', ctx)
    # The longest text (with the most conditions), and one byte more.
    biggest = ("(" * depth + " or ".join(['city = "x"'] * (MAX_CONDITIONS - 1))
               + " or city = \"\")" + ")" * (depth - 1))
    room = MAX_BYTES - len(biggest.encode())
    assert room > 0
    biggest = biggest.replace('city = "")', 'city = "' + "y" * min(room, MAX_STRING) + '")')
    biggest += " " * (MAX_BYTES - len(biggest.encode()))
    assert len(biggest.encode()) == MAX_BYTES
    started = time.monotonic()
    body = api.compile_text(biggest, ctx)
    elapsed = time.monotonic() - started
    size = len(json.dumps(body))
    print(f"largest accepted expression: {len(biggest.encode())} bytes, {MAX_CONDITIONS} "
          f"conditions, depth {depth}: compiled in {elapsed:.3f} s to {size:,} bytes")
    assert elapsed < 5.0
    assert size < 50 * MAX_BYTES
    assert _codes(biggest + " ", ctx) == {"E_TOO_LONG"}


def _clauses(node: Any, kind: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[kind]] if kind in node else []
        return found + [c for value in node.values() for c in _clauses(value, kind)]
    if isinstance(node, list):
        return [c for value in node for c in _clauses(value, kind)]
    return []


def test_thousands_of_values_are_one_terms_clause() -> None:
    ctx = Context(account=A)
    values = [f"city-{i:05d}" for i in range(3_000)]
    text = "city in [" + ", ".join(quote(v) for v in values) + "]"
    assert len(text.encode()) <= MAX_BYTES
    body = api.compile_text(text, ctx)
    big = [c for c in _clauses(body, "terms")
           if any(isinstance(v, list) and len(v) >= len(values) for v in c.values())]
    assert len(big) == 1, json.dumps(body)[:2000]
    assert len(_clauses(body, "term")) <= 3  # the account filter and friends, not 3,000


# --- timeouts -----------------------------------------------------------------------------


def test_a_request_timeout_is_a_clear_error(es_url: str, twins: Twins) -> None:
    """A cluster that accepts the connection and never answers (a loopback socket that
    stays silent, tests/support/fake_cluster.py): the request times out, every time, and
    the user gets a clear error with exit 1. (A tiny timeout against a real node was tried
    first; the node sometimes answered within it, so that test could pass by luck.)"""
    text = 'email contains "x"'
    with silent() as url:
        env = {"ELASTICSEARCH_URL": url, "SEGQL_TIMEOUT": "0.3", "SEGQL_INDEX": twins.index}
        result = CliRunner().invoke(cli, ["count", text, "-a", A], env=env,
                                    catch_exceptions=False)
    assert result.exit_code == 1, result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "did not answer within 0.3 s (SEGQL_TIMEOUT)" in result.stderr
