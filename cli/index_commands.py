"""`segql index`: load record files into the contact index."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import ExitStack

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, EXIT_FAILURE, guarded
from segql.connection import connect
from segql.indexer.files import open_records
from segql.indexer.loader import load
from segql.indexer.records import Reject, fold_records


def _chained(stack: ExitStack, paths: tuple[str, ...]) -> Iterator[bytes]:
    return itertools.chain.from_iterable(stack.enter_context(open_records(p)) for p in paths)


def _write_rejects(path: str, rejects: list[Reject]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for reject in rejects:
            out.write(reject.to_json() + "\n")


@click.command(epilog="FILE is JSON Lines (LANGUAGE.md §8), .gz allowed, or `-` for stdin. "
               + EXIT_CODES_HELP + " Rejected records do not change the exit code; "
               "they are counted and written to --rejects.")
@click.argument("files", nargs=-1, required=True)
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@click.option("--rejects", "rejects_path", default="rejects.jsonl", show_default=True,
              help="Where malformed records go, each with its line number and reason.")
@click.option("--dry-run", is_flag=True, help="Validate the records; write nothing.")
@guarded
def index(files: tuple[str, ...], index: str | None, rejects_path: str, dry_run: bool) -> None:
    """Load contact, event, visit and delete records into Elasticsearch (a full load)."""
    with ExitStack() as stack:
        lines = _chained(stack, files)
        if dry_run:
            store, rejects = fold_records(lines)
            summary = {"contacts": len(store.contacts), "deleted": len(store.deleted),
                       "rejected": len(rejects)}
        else:
            result = load(connect(), index or api.index_name(), lines)
            rejects = result.rejected
            summary = {"records": result.records, "contacts": result.contacts,
                       "deleted": result.deleted, "rejected": len(rejects),
                       "failed": len(result.failed),
                       "catalog_conflicts": sum(map(len, result.conflicts.values()))}
    if rejects:
        _write_rejects(rejects_path, rejects)
        summary["rejects_file"] = rejects_path  # type: ignore[assignment]
    click.echo(json.dumps(summary))
    if not dry_run and result.failed:
        click.echo("error: some documents were not written: " + result.failed[0], err=True)
        raise SystemExit(EXIT_FAILURE)
