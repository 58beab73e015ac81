"""What every segql command shares: error reporting with exit codes, and segment options."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from elasticsearch import Elasticsearch

from segql.compiler.catalog import read_catalog
from segql.compiler.context import Context
from segql.errors import InputError, SegmentError, SegqlError
from segql.indexer.records import ACCOUNT_ID
from segql.localnode import LocalNodeError
from segql.stores.connection import cluster_failure

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILURE, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
#: The reader of stdout went away (`segql export ... | head -1`): 128 + SIGPIPE, what a
#: shell reports for a writer killed by a closed pipe; nothing is printed.
EXIT_PIPE = 141

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 runtime failure (Elasticsearch unreachable or refusing); "
    "2 invalid input (usage, parse or check error); 3 internal fault; "
    "4 `segql index` completed but rejected some records (they are in its rejects file); "
    "141 the output was closed early (e.g. piped into head)."
)


def guarded(command: F) -> F:
    """Turn every failure into a clear message and an exit code, never a traceback
    (set SEGQL_DEBUG=1 to see one for an internal fault). A closed stdout is let through:
    `cli.main` ends such a run quietly (exit 141)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SegmentError as error:
            if kwargs.get("as_json"):
                click.echo(json.dumps(
                    {"valid": False, "errors": [d.to_json() for d in error.diagnostics]},
                    ensure_ascii=False,
                ))
            else:
                click.echo(error.render(), err=True)
            sys.exit(EXIT_INVALID)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit,
                BrokenPipeError):
            raise
        except Exception as error:
            fail(error, as_json=bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


def fail(error: Exception, *, as_json: bool = False, prefix: str = "") -> NoReturn:
    """Report a failure other than a SegmentError on stderr (`prefix` before the message)
    and exit with its code: an Elasticsearch or network failure in plain words (exit 1,
    stores/failures.py), a segql error by its own code, an unreadable file 1, anything else
    an internal fault (3)."""
    cluster = cluster_failure(error)
    if cluster is not None:
        message, code = str(cluster), EXIT_FAILURE
    elif isinstance(error, LocalNodeError):  # runtime, never "invalid input"
        message, code = str(error), EXIT_FAILURE
    elif isinstance(error, SegqlError):
        if as_json and error.exit_code == EXIT_INVALID:
            click.echo(json.dumps({"valid": False, "errors": [
                {"code": "E_INPUT", "message": str(error)}]}, ensure_ascii=False))
            sys.exit(EXIT_INVALID)
        message, code = str(error), error.exit_code
    elif isinstance(error, OSError):
        message, code = _os_error(error), EXIT_FAILURE
    else:  # an internal fault: say so, without a traceback
        if os.environ.get("SEGQL_DEBUG"):
            traceback.print_exc()
        click.echo(f"internal error: {error or 'no detail'} (a fault in segql: please "
                   "report it; SEGQL_DEBUG=1 shows where it happened)", err=True)
        sys.exit(EXIT_INTERNAL)
    click.echo(f"error: {prefix}{message}", err=True)
    sys.exit(code)


def _os_error(error: OSError) -> str:
    """A file or system failure without Python's `[Errno n]`."""
    what = error.strerror or str(error)
    return f"{error.filename}: {what}" if error.filename else what


def check_account(
    _: click.Context, __: click.Parameter, value: str | None
) -> str | None:
    """A click callback: account ids as the records accept them."""
    if value is not None and not ACCOUNT_ID.match(value):
        raise click.BadParameter("1-64 characters of A-Z a-z 0-9 _ - .")
    return value


def _now(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("an ISO 8601 instant, e.g. 2026-01-31T10:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _zone(_: click.Context, __: click.Parameter, value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {value!r}, e.g. Europe/Warsaw") from None


INDEX_HELP = ("The contact index (default: $SEGQL_INDEX, else `index` in the configuration "
              "file that `segql demo` writes, else segql-contacts). One index: not a list, "
              "a wildcard or an alias of several.")


def segment_options(require_account: bool) -> Callable[[F], F]:
    """--account, --now and --timezone: what a segment is evaluated against. --account is
    never defaulted: without `require_account` it is None when not given (the command says
    what it does without one)."""

    def decorate(command: F) -> F:
        command = click.option(
            "--timezone", default="UTC", show_default=True, callback=_zone,
            help="Time zone of date-only values and calendar days.",
        )(command)
        command = click.option(
            "--now", callback=_now,
            help="The evaluation instant (ISO 8601); default: the current time.",
        )(command)
        return click.option(
            "--account", "-a", required=require_account, callback=check_account,
            help="The account whose contacts are segmented (case-sensitive).",
        )(command)

    return decorate


def make_context(account: str, now: datetime | None, timezone: ZoneInfo) -> Context:
    return Context(account=account, now=now or datetime.now(UTC), timezone=timezone)


#: What Python makes of bytes in argv that are not UTF-8 (PEP 383).
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{where} is not UTF-8 text ({error.reason} at byte "
                         f"{error.start})") from None


def read_expression(expr: str) -> str:
    """The expression argument: its text, `-` for standard input, or `@FILE`; input that
    is not UTF-8 is an input error (exit 2)."""
    if expr == "-":
        return _decode(sys.stdin.buffer.read(), "standard input")
    if expr.startswith("@"):
        try:
            with open(expr[1:], "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise InputError(f"cannot read the expression from {expr[1:] or '(no file name)'}"
                             f": {(error.strerror or str(error)).lower()}") from None
        return _decode(data, expr[1:])
    if _UNDECODABLE.search(expr):
        raise InputError("the expression is not UTF-8 text")
    return expr


def resolve_context(account: str, now: datetime | None, timezone: ZoneInfo,
                    catalog_file: str | None, index: str | None) -> Context:
    """The evaluation context: the catalog from --catalog (no cluster), else the account's
    catalog stored beside the contact index (checked: `api.contact_index`), with a warning
    when the account is unknown there."""
    if catalog_file:
        return replace(make_context(account, now, timezone), catalog=read_catalog(catalog_file))
    from segql import api
    from segql.stores.connection import connect

    es = connect()
    target = api.contact_index(es, index)
    ctx = api.context(es, account, index=target, now=now, timezone=timezone)
    warn_if_unknown(es, account, target)
    return ctx


def warn_if_unknown(es: Elasticsearch, account: str, index: str) -> None:
    """Warn on stderr when the account has no contacts and no catalog in the index (a
    misspelt account: accounts are case-sensitive). One cheap request; commands ask only
    when their answer came back empty (or when they have no answer to look at). The
    warning is advice: when the cluster can't answer the probe, the command's own result
    stands and nothing is said."""
    from segql import api

    try:
        warning = api.account_known(es, account, index).warning()
    except Exception as error:
        if cluster_failure(error) is None:
            raise
        return
    if warning:
        click.echo(f"warning: {warning}", err=True)
