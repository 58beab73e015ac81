"""`segql reindex`: rebuild the contact documents in the current shape and switch the
contact index to the new copy at once (docs/indexer.md, "Reindexing")."""

from __future__ import annotations

import json
import os

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, guarded
from segql.indexer.records import ACCOUNT_ID
from segql.indexer.reindex import DEFAULT_BATCH_SIZE
from segql.indexer.reindex import reindex as run_reindex
from segql.indexer.writer import DEFAULT_MAX_WAIT
from segql.stores.connection import connect
from segql.stores.placement import DEFAULT_SPREAD_ABOVE, SPREAD_ABOVE_ENV

#: Seconds to pause after every batch: only for tests that stop a reindex half-way.
PAUSE_ENV = "SEGQL_REINDEX_TEST_PAUSE"


def _accounts(_: click.Context, __: click.Parameter, value: tuple[str, ...]
              ) -> tuple[str, ...]:
    for account in value:
        if not ACCOUNT_ID.match(account):
            raise click.BadParameter(f"{account!r}: 1-64 characters of A-Z a-z 0-9 _ - .")
    return value


def _spread(_: click.Context, __: click.Parameter, value: tuple[str, ...]
            ) -> dict[str, int]:
    out = {}
    for item in value:
        account, _eq, over = item.rpartition("=")
        if not ACCOUNT_ID.match(account) or not over.isdigit():
            raise click.BadParameter(f"{item!r}: ACCOUNT=SHARDS, e.g. acme=4")
        out[account] = int(over)
    return out


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--index", help="Contact index (default: $SEGQL_INDEX or segql-contacts).")
@click.option("--account", "-a", "accounts", multiple=True, callback=_accounts,
              help="Copy only this account's contacts now (repeatable); the switch "
              "happens once every account is copied.")
@click.option("--force", is_flag=True,
              help="Rebuild even when the index is already in the current shape.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Contacts per bulk request and per checkpoint.")
@click.option("--shards", type=click.IntRange(min=1),
              help="Shards of the new index (default: those of the current one).")
@click.option("--routing-partition", "partition", type=click.IntRange(min=1),
              help="Over how many of the shards one account's contacts spread (fewer than "
              "the shards, or 1; default: half the shards; docs/scaling.md). A "
              "different placement from the current index's rebuilds it. Above 1, no "
              "account is spread.")
@click.option("--spread-above", type=click.IntRange(min=1), envvar=SPREAD_ABOVE_ENV,
              help=f"Spread every account of more than this many contacts over one shard "
              f"per this many (at most all shards) [env {SPREAD_ABOVE_ENV}; default "
              f"{DEFAULT_SPREAD_ABOVE:,}]. An account crossing it makes the index not "
              "current.")
@click.option("--spread", "spread", multiple=True, callback=_spread, metavar="ACCOUNT=S",
              help="Spread this account over S shards (repeatable), whatever its size.")
@click.option("--max-wait", type=click.FloatRange(min=0), default=DEFAULT_MAX_WAIT,
              show_default=True, help="Seconds to keep retrying while Elasticsearch is "
              "unreachable or overloaded before failing.")
@guarded
def reindex(index: str | None, accounts: tuple[str, ...], force: bool, batch_size: int,
            shards: int | None, partition: int | None, spread_above: int | None,
            spread: dict[str, int], max_wait: float) -> None:
    """Rebuild every contact document in the current shape, into a new index.

    The new index also gets the placement asked for (--shards, --routing-partition,
    --spread) or the default one: every account on one shard, accounts of more than
    --spread-above contacts spread over several (docs/scaling.md). The old index is
    closed after the switch, and deleted by the next reindex.

    Each document is rebuilt from the contact it stores, then the contact index's name
    becomes an alias of the new index in one step (the first time, the old index is
    replaced by the alias). Progress is checkpointed: after a crash, run the same command
    again to continue. `segql index` (also --follow) may keep writing: what it writes
    meanwhile is copied too; it pauses for the moment of the switch. The summary (one
    JSON line) gives the contacts per account, verified equal in both indices.
    """
    name = index or api.index_name()
    report = run_reindex(connect(), name, accounts=list(accounts) or None, force=force,
                         batch_size=batch_size, max_wait=max_wait, shards=shards,
                         partition=partition, spread_above=spread_above,
                         spread=spread or None,
                         pause=float(os.environ.get(PAUSE_ENV) or 0), log=_say)
    click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    if report.status == "current":
        _say(f"{name} is already in the current shape and placement: nothing to do "
             "(--force rebuilds)")
    elif report.status == "partial":
        _say(f"{len(report.remaining)} account(s) remain to copy; the switch happens once "
             "every account is copied (run segql reindex without --account)")
    else:
        _say(f"{name} now holds {sum(report.contacts.values()):,} contacts in the current "
             f"shape ({report.target})")
