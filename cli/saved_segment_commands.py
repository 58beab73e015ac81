"""`segql segment ...`: the account's saved segments (create, edit, delete, show, list)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from elasticsearch import ApiError

from segql import api
from segql.cli.common import (
    EXIT_CODES_HELP,
    guarded,
    read_expression,
    segment_options,
    warn_if_unknown,
)
from segql.cli.language_commands import check_offline
from segql.cli.query_commands import EXPR_HELP, INDEX_OPTION
from segql.errors import SegmentError
from segql.stores.connection import connect

EPILOG = EXPR_HELP + " " + EXIT_CODES_HELP


@click.group(epilog=EXIT_CODES_HELP)
def segment() -> None:
    """Saved segments of an account: referred to with `in_segment "NAME"`, exported
    and counted with `--segment NAME`. Names are unique per account, in any case. They
    are stored beside the contact index, in <index>-segments."""


@segment.command(epilog=EPILOG)
@click.argument("name")
@click.option("--expr", "expr", required=True, help="The segment's expression.")
@click.option("--description", help="What the segment is for.")
@segment_options(require_account=True)
@INDEX_OPTION
@guarded
def create(name: str, expr: str, description: str | None, account: str,
           now: datetime | None, timezone: ZoneInfo, index: str | None) -> None:
    """Save a new segment; its expression is checked with the account's catalog and
    saved segments (unknown references and cycles are refused)."""
    text = read_expression(expr)
    check_offline(text, account, now, timezone)  # before any cluster is asked
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    saved = api.segment_store(es, index).create(ctx, name, text, description)
    click.echo(f"created segment {saved.name!r}")
    warn_if_unknown(es, account, index)


@segment.command(epilog=EPILOG)
@click.argument("name")
@click.option("--expr", "expr", help="The new expression.")
@click.option("--description", help="The new description (\"\" removes it).")
@segment_options(require_account=True)
@INDEX_OPTION
@guarded
def edit(name: str, expr: str | None, description: str | None, account: str,
         now: datetime | None, timezone: ZoneInfo, index: str | None) -> None:
    """Change a segment's expression and/or description (checked like on create: an edit
    can't create a cycle)."""
    if expr is None and description is None:
        raise click.UsageError("nothing to change: give --expr and/or --description")
    text = None if expr is None else read_expression(expr)
    if text is not None:
        check_offline(text, account, now, timezone)
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    saved = api.segment_store(es, index).edit(ctx, name, expression=text,
                                              description=description)
    click.echo(f"changed segment {saved.name!r}")


@segment.command(epilog=EXIT_CODES_HELP)
@click.argument("name")
@segment_options(require_account=True)
@INDEX_OPTION
@guarded
def delete(name: str, account: str, now: datetime | None, timezone: ZoneInfo,
           index: str | None) -> None:
    """Delete a segment; refused while other segments refer to it (they are listed)."""
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    api.segment_store(es, index).delete(ctx, name)
    click.echo(f"deleted segment {name!r}")


@segment.command(epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1),
              help="Which page of members to show.")
@click.option("--size", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Members per page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@segment_options(require_account=True)
@INDEX_OPTION
@guarded
def show(name: str, page: int, size: int, as_json: bool, account: str,
         now: datetime | None, timezone: ZoneInfo, index: str | None) -> None:
    """A segment's definition, its live count and one page of its members' ids. A segment
    that does not check (or that Elasticsearch fails to count) shows its definition and
    its error instead, and exits with the error's code."""
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    saved = api.segment_store(es, index).get(account, name)
    exit_code, found = 0, None
    try:
        found = api.members(es, saved.expression, ctx, index=index, page=page, size=size)
    except SegmentError as error:
        exit_code, problem = error.exit_code, api.CountError.of(error)
    except ApiError as error:
        exit_code, problem = 1, api.CountError.of_api(error)
    if as_json:
        shown: dict[str, Any] = {"name": saved.name, "description": saved.description,
                                 "expression": saved.expression}
        shown.update({"error": problem.to_json()} if found is None else
                     {"count": found.total, "page": page, "size": size,
                      "members": found.ids})
        click.echo(json.dumps(shown, ensure_ascii=False))
    else:
        click.echo(f"name:        {saved.name}")
        if saved.description:
            click.echo(f"description: {saved.description}")
        click.echo(f"count:       {found.total}" if found is not None else
                   f"count:       error[{problem.code}]: {problem.message}")
        click.echo("expression:\n  " + saved.expression.replace("\n", "\n  "))
        if found is not None:
            first = (page - 1) * size
            click.echo(f"members {first + 1}-{first + len(found.ids)} of {found.total}:"
                       if found.ids else f"no members on page {page}")
            for contact_id in found.ids:
                click.echo(f"  {contact_id}")
        elif problem.hint:
            click.echo(f"hint: {problem.hint}")
    if exit_code:
        sys.exit(exit_code)


@segment.command(name="list", epilog=EXIT_CODES_HELP)
@click.option("--search", help="Only segments whose name contains this (any case).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@segment_options(require_account=True)
@INDEX_OPTION
@guarded
def list_segments(search: str | None, as_json: bool, account: str, now: datetime | None,
                  timezone: ZoneInfo, index: str | None) -> None:
    """The account's segments with their description and live count (one request for
    all the counts). A segment that does not check, or that Elasticsearch fails to count,
    shows its error (code and message) instead of a count; the others are counted all the
    same, a note on stderr says how many have none, and the exit code stays 0."""
    es = connect()
    index = api.contact_index(es, index)
    ctx = api.context(es, account, index=index, now=now, timezone=timezone)
    saved = api.segment_store(es, index).list(account, search)
    if not saved:
        warn_if_unknown(es, account, index)
    counts = api.count_many(es, [s.expression for s in saved], ctx, index)
    rows: list[dict[str, Any]] = [{"name": s.name, "description": s.description,
                                   "expression": s.expression,
                                   **({"error": n.to_json()} if isinstance(n, api.CountError)
                                      else {"count": n})}
                                  for s, n in zip(saved, counts, strict=True)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        width = max((len(r["name"]) for r in rows), default=4)
        for row in rows:
            shown = (row["count"] if "count" in row else
                     f"error[{row['error']['code']}]: {row['error']['message']}")
            click.echo(f"{row['name']:<{width}}  {shown:>8}  "
                       f"{row['description'] or ''}".rstrip())
    failed = sum("error" in row for row in rows)
    if failed:
        click.echo(f"note: {failed} of {len(rows)} segments could not be counted; each "
                   "shows its error in place of the count", err=True)
