"""Commands over the language itself, no Elasticsearch: check, fmt, parse, json-schema."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from segql.cli.common import (
    EXIT_CODES_HELP,
    INDEX_HELP,
    fail,
    guarded,
    make_context,
    read_expression,
    resolve_context,
    segment_options,
)
from segql.compiler.catalog import read_catalog
from segql.compiler.check import check
from segql.compiler.to_es import compile_segment
from segql.errors import SegmentError
from segql.grammar.ast import Expr
from segql.grammar.format import fmt
from segql.grammar.jsonform import from_json, json_schema, to_json
from segql.grammar.parser import parse
from segql.stores.connection import cluster_failure

EXPR_HELP = "EXPR is the segment's text, `-` to read it from stdin, or @FILE."
#: Checker codes whose verdict depends on the account's catalog or saved segments. Any
#: other problem found against the standard fields alone is found with any catalog too.
_CATALOG_CODES = frozenset({"E_UNKNOWN_FIELD", "E_UNKNOWN_EVENT", "E_UNKNOWN_PROPERTY",
                            "E_UNKNOWN_SEGMENT", "E_SEGMENT_CYCLE", "E_SEGMENT_INVALID"})
_UNCHECKED = "the segment's syntax is fine, but its names and types could not be checked: "
#: What `check` says on stderr when it has no account (and no --catalog) to check against.
NO_ACCOUNT_NOTE = ("note: no --account: checked against the standard fields only (give "
                   "--account A to check against A's catalog and saved segments)")


@click.command(name="check", epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=False)
@click.option("--json", "as_json", is_flag=True,
              help='Print {"valid": ..., "errors": [...]} (errors with positions) on stdout.')
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False),
              help="A declared catalog (JSON) to check against instead of the cluster's.")
@click.option("--index", help=INDEX_HELP)
@guarded
def check_command(expr: str, account: str | None, now: datetime | None, timezone: ZoneInfo,
                  as_json: bool, catalog_file: str | None, index: str | None) -> None:
    """Parse and check a segment against the account's catalog (from --catalog, else from
    the cluster): exit 0 when valid. Problems that no catalog can change (syntax, a
    missing value, a value of the wrong kind for a standard field...) are reported
    without asking the cluster; names and types are checked once they are fixed. Without
    --account (and --catalog), the segment is checked against the standard fields only,
    without contacting a cluster, and stderr says so."""
    text = read_expression(expr)
    if account is None:
        if index is not None:
            raise click.UsageError("--index needs --account: the catalog a segment is "
                                   "checked against is an account's")
        expression = parse(text)
        ctx = make_context("", now, timezone)
        if catalog_file:
            ctx = replace(ctx, catalog=read_catalog(catalog_file))
        else:
            click.echo(NO_ACCOUNT_NOTE, err=True)
    else:
        expression = (parse(text) if catalog_file
                      else check_offline(text, account, now, timezone))
        try:
            ctx = resolve_context(account, now, timezone, catalog_file, index)
        except Exception as error:
            if cluster_failure(error) is None:
                raise
            fail(error, prefix=_UNCHECKED)
    compile_segment(check(expression, ctx, text))  # the compiled query's limits too
    click.echo(json.dumps({"valid": True, "errors": []}) if as_json else "ok")


def check_offline(text: str, account: str, now: datetime | None,
                  timezone: ZoneInfo) -> Expr:
    """Parse `text` and check it against the standard fields only, without a cluster:
    raise its syntax errors and the problems no catalog can change (so they come before
    any connection); return its AST."""
    expression = parse(text)
    try:
        check(expression, make_context(account, now, timezone), text)
    except SegmentError as error:
        final = [d for d in error.diagnostics if d.code not in _CATALOG_CODES]
        if final:
            raise SegmentError(final, text) from None
    return expression


@click.command(name="fmt", epilog=EXPR_HELP + " With --check, exit code 1 means the input "
               "is valid but not canonical. " + EXIT_CODES_HELP)
@click.argument("expr")
@click.option("--check", "check_only", is_flag=True,
              help="Print nothing; exit 1 if the input is not in canonical form.")
@click.option("--from-json", "from_json_form", is_flag=True,
              help="EXPR is the segment's JSON form (see `segql parse`).")
@guarded
def fmt_command(expr: str, check_only: bool, from_json_form: bool) -> None:
    """Print a segment in canonical form (docs/language.md)."""
    if check_only and from_json_form:
        raise click.UsageError("--check compares text with its canonical form, not JSON")
    text = read_expression(expr)
    canonical = fmt(from_json(text) if from_json_form else parse(text))
    if not check_only:
        click.echo(canonical)
    elif text not in (canonical, canonical + "\n"):
        click.echo("not in canonical form (`segql fmt` prints it)", err=True)
        sys.exit(1)


@click.command(name="parse", epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@click.option("--spans", is_flag=True, help="Include each node's position in the text.")
@click.option("--json", "as_json", is_flag=True,
              help='Errors too as JSON on stdout: {"valid": false, "errors": [...]}.')
@guarded
def parse_command(expr: str, spans: bool, as_json: bool) -> None:
    """Print the JSON form of a segment (its AST; no catalog check)."""
    click.echo(to_json(parse(read_expression(expr)), spans=spans, indent=2))


@click.command(name="json-schema", epilog=EXIT_CODES_HELP)
def json_schema_command() -> None:
    """Print the JSON Schema of the JSON form of segments."""
    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))


#: For `cli.main` to register.
COMMANDS = (check_command, fmt_command, parse_command, json_schema_command)
