"""Text → AST → query → Elasticsearch → count, against a real node, checked against the
reference evaluator on hard data (the skeleton of the differential test)."""

from __future__ import annotations

import json
import random

import hard_data
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from segql import api
from segql.cli.main import cli
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.indexer.loader import ensure_index, load
from segql.indexer.records import fold_records

pytestmark = pytest.mark.es

EXPRESSIONS_PER_SEED = 150


@pytest.fixture
def loaded(es: Elasticsearch, index_name: str) -> tuple[str, list[str]]:
    lines = hard_data.records(seed=11)
    summary = load(es, index_name, lines)
    assert summary.failed == []
    return index_name, lines


def test_es_agrees_with_the_evaluator(es: Elasticsearch, loaded: tuple[str, list[str]]) -> None:
    index, lines = loaded
    store, _ = fold_records(lines)
    rng = random.Random(5)
    checked = 0
    for _ in range(EXPRESSIONS_PER_SEED):
        text = hard_data.expression(rng)
        for account in hard_data.ACCOUNTS:
            ctx = Context(account=account)
            expected = matching_ids(api.prepare(text, ctx), store.contacts.values())
            exported = sorted(api.export_ids(es, text, ctx, index, page=7))
            assert exported == expected, f"{account}: {text}"
            assert api.count(es, text, ctx, index).count == len(expected), text
            checked += 1
    print(f"differential (skeleton): {checked} expression/account pairs, 0 mismatches")


def test_loader_deletes_and_replaces(es: Elasticsearch, index_name: str) -> None:
    contact = {"type": "contact", "account": "acme", "id": "c1", "fields": {"city": "Łódź"}}
    load(es, index_name, [json.dumps(contact)])
    ctx = Context(account="acme")
    assert api.count(es, 'city = "ŁÓDŹ"', ctx, index_name).count == 1
    load(es, index_name, [json.dumps({"type": "delete", "account": "acme", "id": "c1"})])
    assert api.count(es, "city has_value or city has_no_value", ctx, index_name).count == 0
    assert es.count(index=index_name)["count"] == 0, "nothing of a deleted contact remains"


def test_cli_count_verbose(es_url: str, loaded: tuple[str, list[str]]) -> None:
    index, lines = loaded
    store, _ = fold_records(lines)
    text = 'all(city starts_with "War", event MailOpen occurred)'
    ctx = Context(account="acme")
    expected = len(matching_ids(api.prepare(text, ctx), store.contacts.values()))
    result = CliRunner().invoke(
        cli, ["count", text, "--account", "acme", "--index", index, "--verbose"],
        env={"ELASTICSEARCH_URL": es_url},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(expected)
    assert '"prefix"' in result.stderr and "took:" in result.stderr


def test_cli_errors_have_exit_codes(es_url: str, es: Elasticsearch, index_name: str) -> None:
    runner = CliRunner()
    ensure_index(es, index_name)  # an existing contact index: the segment is what's wrong
    bad = runner.invoke(cli, ["count", 'city starts_with ""', "--account", "acme",
                              "--index", index_name], env={"ELASTICSEARCH_URL": es_url})
    assert bad.exit_code == 2
    assert "E_EMPTY_OPERAND" in bad.stderr and "^" in bad.stderr
    down = runner.invoke(cli, ["count", "city has_value", "--account", "acme"],
                         env={"ELASTICSEARCH_URL": "http://127.0.0.1:9"})
    assert down.exit_code == 1
    assert "Traceback" not in down.output + down.stderr


def test_sample_counts_agree_with_eval(es_url: str, es: Elasticsearch, index_name: str) -> None:
    """The README's example segments: `segql count` (Elasticsearch) == `segql eval`."""
    from segql.cli.demo import EXAMPLES, sample_path

    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}
    loaded = runner.invoke(cli, ["index", sample_path(), "--index", index_name], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["rejected"] == 0
    at = ["--now", "2026-11-01T12:00:00Z", "--timezone", "Europe/Warsaw"]
    for text in EXAMPLES:
        counted = runner.invoke(cli, ["count", text, "-a", "demo", "--index", index_name, *at],
                                env=env)
        evaluated = runner.invoke(cli, ["eval", text, "-a", "demo", "--data", sample_path(),
                                        "--count", *at])
        assert counted.exit_code == evaluated.exit_code == 0, counted.output + evaluated.output
        assert int(counted.stdout) == int(evaluated.stdout) > 0, text


def test_every_command_documents_exit_codes() -> None:
    runner = CliRunner()
    commands = ["compile", "count", "export", "eval", "index", "demo",
                "es up", "es down", "es status", "es logs"]
    for command in commands:
        result = runner.invoke(cli, [*command.split(), "--help"])
        assert result.exit_code == 0
        assert "Exit codes" in " ".join(result.output.split()), command
