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
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from elasticsearch import ApiError, Elasticsearch, TransportError

from segql.compiler.catalog import read_catalog
from segql.compiler.context import Context
from segql.errors import InputError, SegmentError, SegqlError
from segql.indexer.records import ACCOUNT_ID
from segql.localnode import LocalNodeError
from segql.stores.connection import NoClusterError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILURE, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 runtime failure (Elasticsearch unreachable or refusing); "
    "2 invalid input (usage, parse or check error); 3 internal fault."
)


def guarded(command: F) -> F:
    """Turn every failure into a clear message and an exit code, never a traceback
    (set SEGQL_DEBUG=1 to see one for an internal fault)."""

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
        except (LocalNodeError, NoClusterError) as error:  # runtime, never "invalid input"
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FAILURE)
        except SegqlError as error:
            if kwargs.get("as_json"):
                click.echo(json.dumps({"valid": False, "errors": [
                    {"code": "E_INPUT", "message": str(error)}]}, ensure_ascii=False))
            else:
                click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        except (ApiError, TransportError) as error:
            click.echo(f"error: Elasticsearch: {_describe(error)}", err=True)
            sys.exit(EXIT_FAILURE)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except OSError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FAILURE)
        except Exception as error:  # an internal fault: say so, without a traceback
            if os.environ.get("SEGQL_DEBUG"):
                traceback.print_exc()
            click.echo(f"internal error: {type(error).__name__}: {error} "
                       "(set SEGQL_DEBUG=1 for details)", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def _describe(error: Exception) -> str:
    if isinstance(error, ApiError):
        reason = ""
        if isinstance(error.body, dict) and isinstance(error.body.get("error"), dict):
            reason = str(error.body["error"].get("reason") or "")
        return f"{error.meta.status} {error.message}" + (f": {reason}" if reason else "")
    return str(error) or type(error).__name__


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
        with open(expr[1:], "rb") as handle:
            return _decode(handle.read(), expr[1:])
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
    when their answer came back empty (or when they have no answer to look at)."""
    from segql import api

    warning = api.account_known(es, account, index).warning()
    if warning:
        click.echo(f"warning: {warning}", err=True)
