"""Commands over one segment expression: compile, count, export, eval."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

import click

from segql import api
from segql.cli.common import (
    EXIT_CODES_HELP,
    guarded,
    make_context,
    read_expression,
    resolve_context,
    segment_options,
)
from segql.compiler.catalog import learn, read_catalog
from segql.compiler.evaluator import matching_ids
from segql.connection import connect
from segql.indexer.files import open_records
from segql.indexer.records import fold_records

EXPR_HELP = "EXPR is the segment's text, `-` to read it from stdin, or @FILE."


CATALOG_OPTION = click.option(
    "--catalog", "catalog_file", type=click.Path(dir_okay=False),
    help="A declared catalog (JSON, see docs/catalog.md) to type the segment with.",
)


@click.command(epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=True)
@CATALOG_OPTION
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@guarded
def compile(expr: str, account: str, now: datetime | None, timezone: ZoneInfo,
            catalog_file: str | None, index: str | None) -> None:
    """Print the Elasticsearch request body of a segment. The account's catalog comes
    from --catalog, or else from the cluster."""
    text = read_expression(expr)
    ctx = resolve_context(account, now, timezone, catalog_file, index)
    click.echo(json.dumps(api.compile_text(text, ctx), ensure_ascii=False, indent=2))


@click.command(epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=True)
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@click.option("--verbose", "-v", is_flag=True,
              help="Also print the compiled query and Elasticsearch's `took`.")
@guarded
def count(expr: str, account: str, now: datetime | None, timezone: ZoneInfo,
          index: str | None, verbose: bool) -> None:
    """Count the account's contacts in a segment, as Elasticsearch resolves it."""
    text = read_expression(expr)
    es = connect()
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    result = api.count(es, text, ctx, index)
    if verbose:
        click.echo(json.dumps(result.body, ensure_ascii=False, indent=2), err=True)
        click.echo(f"took: {result.took_ms} ms", err=True)
    click.echo(result.count)


@click.command(epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=True)
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@click.option("--format", "fmt", type=click.Choice(["ids", "jsonl", "csv"]), default="ids",
              show_default=True, help="One id a line, JSON objects, or CSV with a header.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write to this file instead of stdout.")
@guarded
def export(expr: str, account: str, now: datetime | None, timezone: ZoneInfo,
           index: str | None, fmt: str, output: TextIO) -> None:
    """Stream the ids of the account's contacts in a segment (one consistent snapshot)."""
    text = read_expression(expr)
    es = connect()
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    ids = api.export_ids(es, text, ctx, index)
    writer = csv.writer(output) if fmt == "csv" else None
    if writer:
        writer.writerow(["contact_id"])
    for contact_id in ids:
        if writer:
            writer.writerow([contact_id])
        elif fmt == "jsonl":
            output.write(json.dumps({"contact_id": contact_id}, ensure_ascii=False) + "\n")
        else:
            output.write(contact_id + "\n")


@click.command(name="eval", epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=True)
@click.option("--data", "data", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Records (LANGUAGE.md §8, JSON Lines, .gz allowed) to evaluate over.")
@click.option("--count", "only_count", is_flag=True, help="Print only how many match.")
@CATALOG_OPTION
@guarded
def evaluate(expr: str, account: str, now: datetime | None, timezone: ZoneInfo, data: str,
             only_count: bool, catalog_file: str | None) -> None:
    """Evaluate a segment in memory with the reference evaluator: no Elasticsearch.
    The catalog is learned from the data (--catalog declares types over it)."""
    text = read_expression(expr)
    with open_records(data) as lines:
        store, rejects = fold_records(lines)
    if rejects:
        click.echo(f"{len(rejects)} record(s) rejected (see `segql index --dry-run`)",
                   err=True)
    catalog = learn(store.contacts.values(), account=account).catalog
    if catalog_file:
        catalog = read_catalog(catalog_file).over(catalog)
    ctx = replace(make_context(account, now, timezone), catalog=catalog)
    expression = api.prepare(text, ctx)
    ids = matching_ids(expression, store.contacts.values(), ctx)
    if only_count:
        click.echo(len(ids))
    else:
        sys.stdout.writelines(i + "\n" for i in ids)
