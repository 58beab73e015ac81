"""`segql demo`: the quick start's main job, end to end on the shipped sample data."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from importlib import resources

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, guarded
from segql.compiler.evaluator import matching_ids
from segql.errors import InputError
from segql.indexer.files import open_records
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.stores.connection import connect
from segql.userconfig import Written, set_value, toml_string

EXAMPLES = (
    'all(city starts_with "War", event MailOpen occurred)',
    'any(email ends_with "@gmail.com", city equals "KRAKÓW")',
    'all(tags contains "vip", not event Purchase occurred)',
    'all(age between 25 and 40, event Purchase where (value > 200 and currency = "PLN") '
    "occurred at_least 2 within 365d)",
    'all(vip is_true, visit where (url contains "/cart") occurred within 90d, '
    "event CartAbandoned occurred)",
)
DEMO_ACCOUNT = "demo"


def sample_path() -> str:
    return str(resources.files("segql").joinpath("data/sample.jsonl.gz"))


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--index", default="segql-demo", show_default=True, help="Index to load into.")
@click.option("--port", default=9200, show_default=True, help="Port of the local node.")
@click.option("--export", "export_path", default="demo-export.csv", show_default=True,
              help="Where the exported segment goes.")
@guarded
def demo(index: str, port: int, export_path: str) -> None:
    """Start a local node (unless ELASTICSEARCH_URL is set), load the shipped sample data,
    print the counts of example segments and export the first one. Then make the loaded
    index the default of every later command: `index` in the user's configuration file
    (only that key is written; the file and how to undo it are printed)."""
    from segql.localnode import LocalNode

    problem = api.index_name_problem(index)
    if problem:
        raise InputError(f"can't use `{index}` as the demo's index: {problem}")
    if os.environ.get("ELASTICSEARCH_URL"):
        click.echo("using the cluster at $ELASTICSEARCH_URL")
    else:
        click.echo("starting the local Elasticsearch node (the first run downloads it)...")
        click.echo(f"node: {LocalNode().up(port=port)}")
    es = connect()
    # the concrete indices behind the name (after `segql reindex` it is an alias)
    behind = es.options(ignore_status=404).indices.get(index=index, ignore_unavailable=True)
    for name in (*behind.body, f"{index}-catalog"):
        es.options(ignore_status=404).indices.delete(index=name)
    with open_records(sample_path()) as lines:
        summary = load(es, index, lines)
    click.echo(f"loaded {summary.records} records: {summary.contacts} contacts, "
               f"{len(summary.rejected)} rejected")
    with open_records(sample_path()) as lines:
        store, _ = fold_records(lines)
    ctx = api.context(es, DEMO_ACCOUNT, index=index)
    for text in EXAMPLES:
        result = api.count(es, text, ctx, index)
        reference = len(matching_ids(api.prepare(text, ctx), store.contacts.values()))
        click.echo(f"{result.count:>6}  {text}   (Elasticsearch took {result.took_ms} ms; "
                   f"reference evaluator: {reference})")
    with open(export_path, "w", encoding="utf-8") as out:
        out.write("contact_id\n")
        exported = 0
        for contact_id in api.export_ids(es, EXAMPLES[0], ctx, index):
            out.write(contact_id + "\n")
            exported += 1
    click.echo(f"exported {exported} contacts of `{EXAMPLES[0]}` to {export_path}")
    _remember(index, set_value("index", index))


def _remember(index: str, written: Written) -> None:
    """Say which file now names the demo's index, how to undo that, and what comes next."""
    line = f"index = {toml_string(index)}"
    how = "created it" if written.created else (
        "it was already so" if written.previous == index else
        f"it was `{written.previous}`" if written.previous is not None else "other keys kept")
    click.echo(f"wrote `{line}` to {written.path} ({how}): every segql command now uses the "
               "demo's index unless --index or $SEGQL_INDEX says otherwise")
    if written.created:
        undo = f"rm {shlex.quote(str(written.path))}"
    elif written.previous == index:
        undo = "nothing (the file said so before the demo)"
    elif written.previous is not None:
        undo = f"set `index = {toml_string(written.previous or '')}` back in {written.path}"
    else:
        undo = f"delete the line `{line}` from {written.path}"
    click.echo(f"to undo: {undo}")
    shell = os.environ.get(api.INDEX_ENV, "").strip()
    if shell and shell != index:
        click.echo(f"note: ${api.INDEX_ENV}={shell} is set in this shell and comes first: "
                   f"`unset {api.INDEX_ENV}` to use the demo's index")
    click.echo(f"next: {_program()} count {shlex.quote(EXAMPLES[0])} --account "
               f"{DEMO_ACCOUNT}   (README.md's quick start has more)")


def _program() -> str:
    """How this `segql` was invoked, as the user would type it here: `segql` when that is
    the one on PATH, else its path (relative when under the current folder)."""
    path = sys.argv[0] if sys.argv and os.path.basename(sys.argv[0]) == "segql" else "segql"
    on_path = shutil.which("segql")
    if on_path and os.path.exists(path) and os.path.samefile(on_path, path):
        return "segql"
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative if os.path.dirname(relative) else "./" + relative
    return shlex.quote(path)
