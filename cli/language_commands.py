"""Commands over the language itself, no Elasticsearch: check, fmt, parse, json-schema."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from segql.cli.common import (
    EXIT_CODES_HELP,
    guarded,
    read_expression,
    resolve_context,
    segment_options,
)
from segql.compiler.check import check
from segql.compiler.to_es import compile_segment
from segql.grammar.format import fmt
from segql.grammar.jsonform import from_json, json_schema, to_json
from segql.grammar.parser import parse

EXPR_HELP = "EXPR is the segment's text, `-` to read it from stdin, or @FILE."
@click.command(name="check", epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=False)
@click.option("--json", "as_json", is_flag=True,
              help='Print {"valid": ..., "errors": [...]} (errors with positions) on stdout.')
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False),
              help="A declared catalog (JSON) to check against instead of the cluster's.")
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@guarded
def check_command(expr: str, account: str, now: datetime | None, timezone: ZoneInfo,
                  as_json: bool, catalog_file: str | None, index: str | None) -> None:
    """Parse and check a segment against the account's catalog (from --catalog, else from
    the cluster): exit 0 when valid. Syntax errors are found without a cluster."""
    text = read_expression(expr)
    expression = parse(text)
    ctx = resolve_context(account, now, timezone, catalog_file, index)
    compile_segment(check(expression, ctx, text))  # the compiled query's limits too
    click.echo(json.dumps({"valid": True, "errors": []}) if as_json else "ok")


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
