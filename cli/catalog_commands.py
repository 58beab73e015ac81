"""`segql catalog`: declare an account's field types, see the effective catalog, learn it
from record files. Stored in `<contact index>-catalog`, shared by every client."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, INDEX_HELP, check_account, guarded, warn_if_unknown
from segql.compiler.catalog import learn, read_catalog
from segql.indexer.files import open_records
from segql.indexer.records import fold_records
from segql.stores.catalogs import CatalogStore, StoredCatalog, catalog_index_name
from segql.stores.connection import connect

F = TypeVar("F", bound=Callable[..., Any])

_INDEX_HELP = INDEX_HELP + " The catalog is stored in `<index>-catalog`."


def _store(index: str | None, account: str | None = None) -> CatalogStore:
    """The catalog store beside the contact index (checked by name; the contact index
    need not exist yet); with `account`, warn first if it is unknown there."""
    es = connect()
    target = api.contact_index(es, index, must_exist=False)
    if account is not None:
        warn_if_unknown(es, account, target)
    return CatalogStore(es, catalog_index_name(target))


def _options(command: F) -> F:
    """--account (required) and --index, shared by every catalog command."""
    command = click.option("--index", help=_INDEX_HELP)(command)
    return click.option("--account", "-a", required=True, callback=check_account,
                         help="The account whose catalog this is.")(command)


@click.group(epilog=EXIT_CODES_HELP)
def catalog() -> None:
    """The account's field catalog: which fields, events and properties exist, typed.

    Types come from, in this order: the fixed standard fields, what was declared with
    `catalog set`, and what was learned from indexed data (the first type seen).
    """


@catalog.command(name="set", epilog="FILE is JSON (`-` for stdin), e.g. "
                 '{"fields": {"age": "number"}, "events": {"Purchase": {"value": "number"}}, '
                 '"visit_properties": {"campaign": "text"}}; types: text, number, date, '
                 "boolean. " + EXIT_CODES_HELP)
@click.argument("file")
@_options
@guarded
def set_catalog(file: str, account: str, index: str | None) -> None:
    """Declare the account's types, replacing what was declared before."""
    declared = read_catalog(file)
    _store(index, account).declare(account, declared)
    click.echo(json.dumps({
        "account": account,
        "fields": len(declared.fields),
        "events": len(declared.events),
        "visit_properties": len(declared.visit_properties),
    }))


@catalog.command(name="show", epilog=EXIT_CODES_HELP)
@_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@guarded
def show_catalog(account: str, index: str | None, as_json: bool) -> None:
    """Print the effective catalog, each type with its origin, and recent conflicts.

    Origins: standard, declared, learned (events: also system). Conflicts are values that
    don't fit their type, the most recent 100."""
    stored = _store(index, account).read(account)
    if as_json:
        click.echo(json.dumps({"account": account, **stored.describe()}, ensure_ascii=False,
                              indent=2))
    else:
        click.echo(_table(account, stored))


def _row(indent: str, name: str, entry: dict[str, Any]) -> str:
    learned = f" (learned: {entry['learned']})" if "learned" in entry else ""
    return f"{indent}{name:<24} {entry['type']:<8} {entry['source']}{learned}"


def _table(account: str, stored: StoredCatalog) -> str:
    described = stored.describe()
    lines = [f"account {account}", "fields:"]
    lines += [_row("  ", n, e) for n, e in described["fields"].items()]
    lines.append("events:")
    for name, event in described["events"].items():
        lines.append(f"  {name:<24} {'':<8} {event['source']}")
        lines += [_row("    ", n, e) for n, e in event["properties"].items()]
    lines.append("visit properties:")
    lines += [_row("  ", n, e) for n, e in described["visit_properties"].items()]
    lines.append(f"conflicts: {len(stored.conflicts) or 'none'}")
    lines += ["  " + c.describe() for c in stored.conflicts]
    return "\n".join(lines)


@catalog.command(name="learn", epilog="FILE is JSON Lines (LANGUAGE.md §8), .gz allowed, or "
                 "`-` for stdin. " + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True)
@_options
@guarded
def learn_catalog(files: tuple[str, ...], account: str, index: str | None) -> None:
    """Learn the account's types from record files without indexing them."""
    with ExitStack() as stack:
        lines = itertools.chain.from_iterable(
            stack.enter_context(open_records(path)) for path in files
        )
        folded, rejects = fold_records(lines)
    result = learn(folded.contacts.values(), account=account)
    merged = _store(index).merge_learned(account, result)
    click.echo(json.dumps({
        "account": account,
        "contacts": sum(1 for a, _ in folded.contacts if a == account),
        "rejected": len(rejects),
        "conflicts": [c.to_json() for c in merged.conflicts],
    }, ensure_ascii=False))
