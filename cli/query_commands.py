"""Commands over one segment expression: compile, count, export, explain, eval."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

import click

from segql import api
from segql.api.segment_files import read_segments, segment_text
from segql.cli.common import (
    EXIT_CODES_HELP,
    EXIT_INTERNAL,
    INDEX_HELP,
    guarded,
    make_context,
    read_expression,
    resolve_context,
    segment_options,
    warn_if_unknown,
)
from segql.cli.export_output import complete_output
from segql.cli.language_commands import check_offline
from segql.compiler.catalog import learn, read_catalog
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.errors import SegmentError
from segql.indexer.files import open_records
from segql.indexer.records import fold_records
from segql.stores.connection import connect

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

EXPR_HELP = "EXPR is the segment's text, `-` to read it from stdin, or @FILE."


INDEX_OPTION = click.option("--index", help=INDEX_HELP)
CATALOG_OPTION = click.option(
    "--catalog", "catalog_file", type=click.Path(dir_okay=False),
    help="A declared catalog (JSON, see docs/catalog.md) to type the segment with.",
)


@click.command(epilog=EXPR_HELP + " " + EXIT_CODES_HELP)
@click.argument("expr")
@segment_options(require_account=True)
@CATALOG_OPTION
@INDEX_OPTION
@guarded
def compile(expr: str, account: str, now: datetime | None, timezone: ZoneInfo,
            catalog_file: str | None, index: str | None) -> None:
    """Print the Elasticsearch request body of a segment. The account's catalog comes
    from --catalog, or else from the cluster."""
    text = read_expression(expr)
    if not catalog_file:
        check_offline(text, account, now, timezone)  # before any cluster is asked
    ctx = resolve_context(account, now, timezone, catalog_file, index)
    click.echo(json.dumps(api.compile_text(text, ctx), ensure_ascii=False, indent=2))


SEGMENT_OPTION = click.option(
    "--segment", "saved", metavar="NAME", help="The account's saved segment NAME instead "
    "of EXPR.")
SEGMENT_HELP = EXPR_HELP + " Give EXPR or --segment NAME. " + EXIT_CODES_HELP


def _given_text(expr: str | None, saved: str | None, account: str, now: datetime | None,
                timezone: ZoneInfo) -> str | None:
    """EXPR's text, read and checked as far as it can be without a cluster, before one is
    asked (a missing @FILE or a syntax error comes first); None when --segment names a
    saved one. Exactly one of them must be given."""
    if (expr is None) == (saved is None):
        raise click.UsageError("give EXPR or --segment NAME (one of them)")
    if expr is None:
        return None
    text = read_expression(expr)
    check_offline(text, account, now, timezone)
    return text


def _segment_text(text: str | None, saved: str | None, ctx: Context) -> str:
    """The given text, or the saved segment's that --segment names."""
    return text if text is not None else api.saved_text(ctx, saved or "")


@click.command(epilog=SEGMENT_HELP)
@click.argument("expr", required=False)
@SEGMENT_OPTION
@segment_options(require_account=True)
@INDEX_OPTION
@click.option("--channels", is_flag=True,
              help="Also count who is reachable by e-mail, SMS and push, and who each "
              "channel leaves out, by reason (no address, unsubscribed, bounced, "
              "complained).")
@click.option("--verbose", "-v", is_flag=True,
              help="Also print the compiled query and Elasticsearch's `took`.")
@guarded
def count(expr: str | None, saved: str | None, account: str, now: datetime | None,
          timezone: ZoneInfo, index: str | None, channels: bool, verbose: bool) -> None:
    """Count the account's contacts in a segment, as Elasticsearch resolves it; with
    --channels, also how many of them each channel reaches (an address, and no consent
    unsubscribed, bounced or complained) and how many it leaves out, by reason (one
    request)."""
    text = _given_text(expr, saved, account, now, timezone)
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    result = api.count(es, _segment_text(text, saved, ctx), ctx, index, channels=channels)
    if verbose:
        click.echo(json.dumps(result.body, ensure_ascii=False, indent=2), err=True)
        click.echo(f"took: {result.took_ms} ms", err=True)
    if result.reachable is None:
        click.echo(result.count)
    else:
        left_out = result.left_out or {}
        click.echo(json.dumps({"total": result.count, **result.reachable, "left_out": {
            channel: reasons.to_json() for channel, reasons in left_out.items()}}))
    if result.count == 0:
        warn_if_unknown(es, account, index)


@click.command(epilog=SEGMENT_HELP)
@click.argument("expr", required=False)
@SEGMENT_OPTION
@segment_options(require_account=True)
@INDEX_OPTION
@click.option("--channel", type=click.Choice(list(api.CHANNELS)),
              help="Deliver this channel's addresses (one row per address, every push "
              "token); contacts without one, or whose consent for it is unsubscribed, "
              "bounced or complained, are left out and counted by reason.")
@click.option("--format", "fmt", type=click.Choice(["ids", "jsonl", "csv"]), default="ids",
              show_default=True, help="One id a line, JSON objects, or CSV with a header "
              "(JSON and CSV carry the address with --channel).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              default="-", help="Write to this file instead of stdout: first to "
              "FILE.partial, renamed to FILE only once the list is complete (a failed "
              "export removes FILE.partial and leaves FILE as it was).")
@click.option("--slices", type=click.IntRange(1, 64),
              help=f"Parallel slices of the snapshot (default: {api.DEFAULT_SLICES} above "
              f"{api.SLICE_ABOVE:,} contacts, else 1).")
@guarded
def export(expr: str | None, saved: str | None, account: str, now: datetime | None,
           timezone: ZoneInfo, index: str | None, channel: str | None, fmt: str,
           output: str, slices: int | None) -> None:
    """Stream the account's contacts in a segment over one consistent snapshot, in contact
    id order: nobody twice, nobody skipped, whatever is written meanwhile. If the snapshot
    loses a shard, a new one is taken once the cluster has recovered and the export
    resumes after the last contact written. A JSON summary (exported rows, contacts,
    without_address, renewed snapshots; with --channel, left_out by reason) goes to stderr
    at the end; exit 0 only for a complete list (docs/send-time.md)."""
    given = _given_text(expr, saved, account, now, timezone)
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    text = _segment_text(given, saved, ctx)
    with api.export(es, text, ctx, channel=channel, index=index, slices=slices) as rows, \
            complete_output(output, fmt) as out:
        total = rows.open()
        progress = (click.progressbar(length=total, file=sys.stderr, label="exporting")
                    if sys.stderr.isatty() else None)
        _write(rows, fmt, channel is not None, out, progress)
        if progress is not None:
            progress.update(rows.contacts - progress.pos)
            progress.render_finish()
    click.echo(json.dumps(rows.summary()), err=True)
    if rows.contacts == 0:
        warn_if_unknown(es, account, index)


def _write(rows: api.Export, fmt: str, with_address: bool, output: TextIO,
           progress: ProgressBar[int] | None) -> None:
    """Write the rows in `fmt`; `ids` writes each contact once (a contact with several
    push tokens has a row per token)."""
    writer = csv.writer(output) if fmt == "csv" else None
    if writer:
        writer.writerow(["contact_id", "address"] if with_address else ["contact_id"])
    previous = None
    step = max(1, (progress.length or 0) // 200) if progress is not None else 0
    for row in rows:
        if progress is not None and rows.contacts - progress.pos >= step:
            progress.update(rows.contacts - progress.pos)  # contacts, with or without address
        if writer:
            writer.writerow([row.contact_id, row.address] if with_address else [row.contact_id])
        elif fmt == "jsonl":
            item = {"contact_id": row.contact_id}
            if with_address and row.address is not None:
                item["address"] = row.address
            output.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif row.contact_id != previous:
            output.write(row.contact_id + "\n")
        previous = row.contact_id


@click.command(epilog=SEGMENT_HELP)
@click.argument("expr", required=False)
@SEGMENT_OPTION
@click.option("--contact", "contact_id", required=True, help="The contact's id.")
@segment_options(require_account=True)
@INDEX_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="Print the tree as JSON (text, kind, result, count, rule, children).")
@guarded
def explain(expr: str | None, saved: str | None, contact_id: str, account: str,
            now: datetime | None, timezone: ZoneInfo, index: str | None,
            as_json: bool) -> None:
    """Why a contact is or is not in a segment: each condition marked true or false by
    Elasticsearch, events and visits with their count n, checked against the reference
    evaluator on the stored contact. A disagreement is a bug: it is reported and the exit
    code is 3."""
    text = _given_text(expr, saved, account, now, timezone)
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    tree = api.explain(es, _segment_text(text, saved, ctx), ctx, contact_id, index=index)
    wrong = list(tree.disagreements())
    if as_json:
        click.echo(json.dumps({"contact": contact_id, "account": account,
                               "result": tree.result, "agrees": not wrong,
                               "tree": tree.to_json()}, ensure_ascii=False))
    else:
        click.echo(f"contact {contact_id!r} of account {account!r} is "
                   f"{'' if tree.result else 'not '}in the segment")
        click.echo("\n".join(tree.render()))
    if wrong:
        click.echo(f"BUG: Elasticsearch and the reference evaluator disagree on "
                   f"{len(wrong)} condition(s), marked BUG above; please report it with "
                   "this output", err=True)
        sys.exit(EXIT_INTERNAL)


EVAL_HELP = (EXPR_HELP + " Give EXPR or --segment NAME (a segment of --segments FILE). "
             + EXIT_CODES_HELP)


@click.command(name="eval", epilog=EVAL_HELP)
@click.argument("expr", required=False)
@segment_options(require_account=True)
@click.option("--data", "data", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Records (LANGUAGE.md §8, JSON Lines, .gz allowed) to evaluate over.")
@click.option("--segments", "segments_file", type=click.Path(exists=True, dir_okay=False),
              help="Saved segments for `in_segment`, as `segql segment list --json` prints "
              "them (JSON, JSON Lines, or an object name → expression).")
@click.option("--segment", "saved", metavar="NAME",
              help="Evaluate the segment NAME of --segments FILE instead of EXPR.")
@click.option("--count", "only_count", is_flag=True, help="Print only how many match.")
@CATALOG_OPTION
@guarded
def evaluate(expr: str | None, account: str, now: datetime | None, timezone: ZoneInfo,
             data: str, segments_file: str | None, saved: str | None, only_count: bool,
             catalog_file: str | None) -> None:
    """Evaluate a segment in memory with the reference evaluator: no Elasticsearch.
    The catalog is learned from the data (--catalog declares types over it); `in_segment`
    resolves against --segments FILE, checked as online (unknown names and cycles are
    errors)."""
    if (expr is None) == (saved is None):
        raise click.UsageError("give EXPR or --segment NAME (one of them)")
    if saved is not None and segments_file is None:
        raise click.UsageError("--segment NAME needs --segments FILE")
    segments = read_segments(segments_file) if segments_file else {}
    text = read_expression(expr) if expr is not None else segment_text(
        segments, saved or "", segments_file or "")
    with open_records(data) as lines:
        store, rejects = fold_records(lines)
    if rejects:
        click.echo(f"{len(rejects)} record(s) rejected (see `segql index --dry-run`)",
                   err=True)
    catalog = learn(store.contacts.values(), account=account).catalog
    if catalog_file:
        catalog = read_catalog(catalog_file).over(catalog)
    ctx = replace(make_context(account, now, timezone), catalog=catalog, segments=segments)
    try:
        expression = api.prepare(text, ctx)
    except SegmentError:
        if saved is not None:
            click.echo(f"in segment {json.dumps(saved, ensure_ascii=False)} of "
                       f"{segments_file}:", err=True)
        raise
    ids = matching_ids(expression, store.contacts.values())
    if only_count:
        click.echo(len(ids))
    else:
        sys.stdout.writelines(i + "\n" for i in ids)

