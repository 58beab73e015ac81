"""`segql index`: apply record files to the contact index, incrementally (docs/indexer.md)."""

from __future__ import annotations

import itertools
import json
import signal
import sys
from contextlib import ExitStack
from types import FrameType
from typing import Any

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, EXIT_FAILURE, guarded
from segql.contract.contact import MAX_EVENTS, MAX_VISITS
from segql.errors import InputError
from segql.indexer.apply import Indexer
from segql.indexer.files import open_records
from segql.indexer.progress import stderr_progress
from segql.indexer.records import fold_records
from segql.indexer.rejects import RejectsFile
from segql.indexer.run import DEFAULT_BATCH_SIZE, Run, RunOptions
from segql.indexer.writer import DEFAULT_MAX_WAIT
from segql.indexer.written import WrittenContacts, default_contacts, default_megabytes
from segql.stores.connection import connect


def _dry_run(files: tuple[str, ...], rejects_path: str) -> dict[str, Any]:
    with ExitStack() as stack:
        lines = itertools.chain.from_iterable(stack.enter_context(open_records(p))
                                              for p in files)
        store, rejects = fold_records(lines)
    summary: dict[str, Any] = {"contacts": len(store.contacts), "deleted": len(store.deleted),
                               "rejected": len(rejects)}
    if rejects:
        with open(rejects_path, "w", encoding="utf-8") as out:
            out.writelines(reject.to_json() + "\n" for reject in rejects)
        summary["rejects_file"] = rejects_path
    return summary


class _Stop:
    """Set by SIGTERM/SIGINT: the run stops after the batch it is writing (which is then
    checkpointed), instead of dying in the middle of it."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@click.command(epilog="FILE is JSON Lines (LANGUAGE.md §8), .gz allowed, or `-` for stdin. "
               + EXIT_CODES_HELP + " Rejected records do not change the exit code; "
               "they are counted and written to --rejects.")
@click.argument("files", nargs=-1, required=True)
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@click.option("--rejects", "rejects_path", default="rejects.jsonl", show_default=True,
              help="Where malformed records go, each with its file, line number and reason.")
@click.option("--dry-run", is_flag=True, help="Validate the records; write nothing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Records per batch: each contact a batch mentions is "
              "read and written once.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="Apply at most this many records per second.")
@click.option("--follow", "-f", is_flag=True,
              help="Keep applying what is appended to FILE (like tail -F) until stopped.")
@click.option("--from-start", is_flag=True,
              help="Ignore the checkpoints: apply every FILE from its first line.")
@click.option("--incremental", is_flag=True,
              help="Apply in batches even on an empty index (by default a whole input "
              "going to an index with no contact is loaded partition by partition, each "
              "contact written once: docs/indexer.md).")
@click.option("--max-wait", type=click.FloatRange(min=0), default=DEFAULT_MAX_WAIT,
              show_default=True, help="Seconds to keep retrying while Elasticsearch is "
              "unreachable or overloaded before failing.")
@click.option("--max-events", type=click.IntRange(min=1), default=MAX_EVENTS,
              show_default=True, help="Events a contact keeps (its newest).")
@click.option("--max-visits", type=click.IntRange(min=1), default=MAX_VISITS,
              show_default=True, help="Visits a contact keeps (its newest).")
@click.option("--cache-contacts", type=click.IntRange(min=0), default=None,
              help="Contacts written last kept in memory, so the next batch that touches "
              "one does not read it back (default: $SEGQL_CACHE_CONTACTS or 100000; "
              "0: none). Also bounded by $SEGQL_CACHE_MB (default 256) estimated MB.")
@guarded
def index(files: tuple[str, ...], index: str | None, rejects_path: str, dry_run: bool,
          batch_size: int, rate: float | None, follow: bool, from_start: bool,
          incremental: bool, max_wait: float, max_events: int, max_visits: int,
          cache_contacts: int | None) -> None:
    """Apply contact, event, visit and delete records to the contact documents.

    Incremental and idempotent: records merge into what is stored, and applying a record
    twice changes nothing. After every batch a checkpoint is stored, so running the same
    command again (after a crash, or on a grown file) continues where it stopped. The
    summary (one JSON line) counts records applied, unchanged (e.g. repeated events),
    rejected and retried.
    """
    if dry_run:
        click.echo(json.dumps(_dry_run(files, rejects_path)))
        return
    if follow and (len(files) != 1 or files[0] == "-" or files[0].endswith(".gz")):
        raise InputError("--follow takes exactly one plain file")
    stop = _Stop()
    previous = {signum: signal.signal(signum, stop.handle)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        cache = WrittenContacts(default_contacts() if cache_contacts is None
                                else cache_contacts, default_megabytes())
        indexer = Indexer(connect(), index or api.index_name(), max_wait=max_wait,
                          max_events=max_events, max_visits=max_visits, cache=cache)
        run = Run(indexer, RejectsFile(rejects_path),
                  RunOptions(batch_size=batch_size, rate=rate, follow=follow,
                             from_start=from_start, incremental=incremental),
                  progress=stderr_progress(), stop=stop)
        totals = run.run(files)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    summary: dict[str, Any] = {
        **totals.counts(), "written": totals.written, "deleted": totals.deleted,
        "failed": len(totals.failed),
        "catalog_conflicts": sum(map(len, totals.conflicts.values())),
    }
    if run.resumed_lines:
        summary["resumed_after_line"] = run.resumed_lines
    if totals.rejected:
        summary["rejects_file"] = rejects_path
    click.echo(json.dumps(summary))
    if totals.failed:
        click.echo("error: some documents were not written (their records are in the "
                   "rejects file): " + totals.failed[0], err=True)
        raise SystemExit(EXIT_FAILURE)
    if stop.requested and not follow:
        click.echo("interrupted: run the same command again to continue", err=True)
        sys.exit(EXIT_FAILURE)
