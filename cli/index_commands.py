"""`segql index`: apply record files to the contact index, incrementally (docs/indexer.md);
a summary on stderr at the end, and exit code 4 when records were rejected."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from types import FrameType
from typing import Any

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, EXIT_FAILURE, INDEX_HELP, guarded
from segql.contract.contact import MAX_EVENTS, MAX_VISITS
from segql.errors import InputError
from segql.indexer.apply import Indexer
from segql.indexer.batch import Stats
from segql.indexer.files import check_readable, open_records
from segql.indexer.progress import clock, stderr_progress
from segql.indexer.records import ContactStore, RecordError, Reject, read_records
from segql.indexer.rejects import RejectsFile
from segql.indexer.run import DEFAULT_BATCH_SIZE, Run, RunOptions
from segql.indexer.writer import DEFAULT_MAX_WAIT
from segql.indexer.written import WrittenContacts, default_contacts, default_megabytes
from segql.stores.connection import connect
from segql.stores.index_settings import (
    parse_replicas,
    parse_shards,
    replicas_setting,
    shards_setting,
)

#: `segql index` completed, but some records were rejected (they are in the rejects file).
EXIT_REJECTED = 4
#: Reasons of rejects the summary names; the others are counted together.
TOP_REASONS = 5


def _dry_run(files: tuple[str, ...], rejects: RejectsFile, max_events: int,
             max_visits: int) -> dict[str, Any]:
    """The records validated and folded in memory, as `segql index` would; the rejects
    (if any) replace the rejects file, in its format."""
    store = ContactStore(max_events, max_visits)
    records = 0

    def reject(path: str, found: Reject) -> None:
        if not rejects.count:
            rejects.truncate(0)
        rejects.write(path, found)

    for path in files:
        with open_records(path) as lines:
            for number, record in read_records(lines):
                records += 1
                if isinstance(record, Reject):
                    reject(path, record)
                    continue
                try:
                    store.apply(record)
                except RecordError as error:
                    reject(path, Reject(number, str(error), record))
    rejects.close()
    summary: dict[str, Any] = {"records": records, "contacts": len(store.contacts),
                               "deleted": len(store.deleted), "rejected": rejects.count}
    if rejects.count:
        summary["rejects_file"] = rejects.path
    return summary


def _reasons(rejects: RejectsFile, rejected: int | None) -> list[str]:
    """Where the rejects are and their most frequent reasons; `rejected`: how many the
    input has in all (None: the run did not complete, only those written so far)."""
    if not (rejected or rejects.count):
        return []
    by_reason = ", by reason:" if rejects.count else ""
    if rejected is None:
        lines = [f"  {rejects.count:,} rejected records written so far to {rejects.path}"
                 + by_reason]
    else:
        earlier = rejected - rejects.count
        lines = [f"  the {rejected:,} rejected records are in {rejects.path}"
                 + (f" ({earlier:,} of them from an earlier run)" if earlier > 0 else "")
                 + by_reason]
    top = rejects.reasons.most_common(TOP_REASONS)
    width = len(f"{top[0][1]:,}") if top else 0
    lines += [f"    {count:>{width},}  {reason}" for reason, count in top]
    rest = Counter(rejects.reasons)
    rest.subtract(dict(top))
    if rest.total():
        lines.append(f"    and {len(+rest)} other reasons ({rest.total():,} records)")
    return lines


def _summary(how: str, seconds: float, totals: Stats, resumed_lines: int,
             rejects: RejectsFile, *, complete: bool = True) -> str:
    """What a run did, for people (the JSON line on stdout is for programs)."""
    text = (f"segql index: {how} in {clock(seconds)}: {totals.records:,} records read"
            + (f" (counting {resumed_lines:,} lines applied by an earlier run)"
               if resumed_lines else "")
            + f"; {totals.applied:,} applied ({totals.written:,} contacts written, "
            f"{totals.deleted:,} deleted), {totals.unchanged:,} duplicates skipped "
            f"(records that changed nothing), {totals.rejected:,} rejected")
    if totals.retried:
        text += f", {totals.retried:,} retried"
    conflicts = sum(map(len, totals.conflicts.values()))
    if conflicts:
        text += f"; {conflicts:,} values did not fit their catalog type"
    return "\n".join([text, *_reasons(rejects, totals.rejected if complete else None)])


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
               + EXIT_CODES_HELP + " Rejected records are counted, written to --rejects "
               "and make the exit code 4 (also with --dry-run).")
@click.argument("files", nargs=-1, required=True)
@click.option("--index", help=INDEX_HELP)
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
@click.option("--shards", default=None, metavar="N",
              help="Primary shards of the contact index when this run creates it "
              "(default: $SEGQL_SHARDS or 1; docs/elasticsearch.md).")
@click.option("--replicas", default=None, metavar="N|auto",
              help="Replicas of the indices this run creates (contacts, catalog, "
              "checkpoints): a number, or auto: 1 once the cluster has a second node, else "
              "0 (default: $SEGQL_REPLICAS or auto).")
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
          incremental: bool, max_wait: float, shards: str | None, replicas: str | None,
          max_events: int, max_visits: int, cache_contacts: int | None) -> None:
    """Apply contact, event, visit and delete records to the contact documents.

    Incremental and idempotent: records merge into what is stored, and applying a record
    twice changes nothing. After every batch a checkpoint is stored, so running the same
    command again (after a crash, or on a grown file) continues where it stopped. The
    summary (one JSON line on stdout; in words on stderr) counts records applied,
    unchanged (e.g. repeated events), rejected (with their top reasons) and retried.
    Progress goes to stderr by phase: bars on a terminal, plain lines otherwise.
    """
    check_readable(files)  # a mistyped name before any cluster is asked
    primaries = shards_setting(None if shards is None else parse_shards(shards))
    copies = replicas_setting(None if replicas is None else parse_replicas(replicas))
    started = time.monotonic()
    rejects = RejectsFile(rejects_path)
    if dry_run:
        checked = _dry_run(files, rejects, max_events, max_visits)
        click.echo(json.dumps(checked))
        click.echo(f"segql index --dry-run: checked in {clock(time.monotonic() - started)}: "
                   f"{checked['records']:,} records read: {checked['contacts']:,} contacts, "
                   f"{checked['deleted']:,} deleted, {checked['rejected']:,} rejected; "
                   "nothing written", err=True)
        for line in _reasons(rejects, rejects.count):
            click.echo(line, err=True)
        if rejects.count:
            sys.exit(EXIT_REJECTED)
        return
    if follow and (len(files) != 1 or files[0] == "-" or files[0].endswith(".gz")):
        raise InputError("--follow takes exactly one plain file")
    stop = _Stop()
    previous = {signum: signal.signal(signum, stop.handle)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        es = connect()
        cache = WrittenContacts(default_contacts() if cache_contacts is None
                                else cache_contacts, default_megabytes())
        indexer = Indexer(es, api.contact_index(es, index, must_exist=False), max_wait=max_wait,
                          max_events=max_events, max_visits=max_visits, cache=cache,
                          shards=primaries, replicas=copies)
        run = Run(indexer, rejects,
                  RunOptions(batch_size=batch_size, rate=rate, follow=follow,
                             from_start=from_start, incremental=incremental),
                  progress=stderr_progress(), stop=stop)
        try:
            totals = run.run(files)
        except Exception:
            click.echo(_summary("stopped by the error below", time.monotonic() - started,
                                indexer.stats, 0, rejects, complete=False), err=True)
            raise
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
    how = ("stopped" if follow and stop.requested else "interrupted" if run.interrupted
           and not follow else "finished")
    click.echo(_summary(how, time.monotonic() - started, totals, run.resumed_lines, rejects,
                        complete=how != "interrupted"), err=True)
    if totals.failed:
        click.echo("error: some documents were not written (their records are in the "
                   "rejects file): " + totals.failed[0], err=True)
        raise SystemExit(EXIT_FAILURE)
    if how == "interrupted":
        click.echo("interrupted: run the same command again to continue", err=True)
        sys.exit(EXIT_FAILURE)
    if totals.rejected:
        sys.exit(EXIT_REJECTED)
