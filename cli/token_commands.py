"""`segql token ...`: bearer tokens for the HTTP API (create, list, revoke). Stored in
`<contact index>-tokens` as hashes; a secret is printed once, by `create`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from segql import api
from segql.cli.common import EXIT_CODES_HELP, INDEX_HELP, check_account, guarded, warn_if_unknown
from segql.stores.connection import connect
from segql.stores.tokens import SCOPES, Scope, TokenStore, token_index_name

F = TypeVar("F", bound=Callable[..., Any])

_INDEX_HELP = INDEX_HELP + " The tokens are stored in `<index>-tokens`."


def _store(index: str | None, account: str | None = None) -> TokenStore:
    """The token store beside the contact index (checked by name; the contact index need
    not exist yet); with `account`, warn first if it is unknown there."""
    es = connect()
    target = api.contact_index(es, index, must_exist=False)
    if account is not None:
        warn_if_unknown(es, account, target)
    return TokenStore(es, token_index_name(target))


def _account_option(required: bool, text: str) -> Callable[[F], F]:
    return click.option("--account", "-a", required=required, callback=check_account,
                        help=text)


def _index_option(command: F) -> F:
    return click.option("--index", help=_INDEX_HELP)(command)


@click.group(epilog=EXIT_CODES_HELP)
def token() -> None:
    """Bearer tokens for the HTTP API (`segql serve`): each is bound to one account and
    one scope, `read` or `write` (write implies read). Only a hash of each secret is
    stored; the secret is printed once, by `token create`."""


@token.command(epilog="The secret is the only thing printed on stdout, e.g. "
               "TOKEN=$(segql token create -a acme --scope read). " + EXIT_CODES_HELP)
@_account_option(True, "The account the token may act on.")
@click.option("--scope", required=True, type=click.Choice(SCOPES),
              help="read: count, export, explain, list; write: also change (implies read).")
@click.option("--label", help="What the token is for (shown by `token list`).")
@_index_option
@guarded
def create(account: str, scope: str, label: str | None, index: str | None) -> None:
    """Create a token and print its secret once: it can't be shown again."""
    saved, secret = _store(index, account).create(account, cast(Scope, scope), label=label)
    click.echo(secret)
    click.echo(f"created token {saved.id} (account {saved.account!r}, scope {saved.scope}); "
               "store the secret now: it is not shown again", err=True)


@token.command(name="list", epilog=EXIT_CODES_HELP)
@_account_option(False, "Only the tokens of this account.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_index_option
@guarded
def list_tokens(account: str | None, as_json: bool, index: str | None) -> None:
    """The tokens (id, account, scope, created, revoked, label), oldest first; never a
    secret or a hash."""
    tokens = _store(index).list(account)
    if as_json:
        click.echo(json.dumps([t.to_json() for t in tokens], ensure_ascii=False))
        return
    width = max((len(t.account) for t in tokens), default=7)
    for t in tokens:
        state = "revoked" if t.revoked else "active"
        click.echo(f"{t.id}  {t.account:<{width}}  {t.scope:<5}  {t.created}  {state:<7}  "
                   f"{t.label or ''}".rstrip())


@token.command(epilog=EXIT_CODES_HELP)
@click.argument("token_id", metavar="ID")
@_account_option(False, "Refuse the token unless it belongs to this account.")
@_index_option
@guarded
def revoke(token_id: str, account: str | None, index: str | None) -> None:
    """Revoke a token: servers refuse it within seconds (their cache, 5 s); revoking a
    revoked token changes nothing."""
    revoked = _store(index).revoke(token_id, account=account)
    click.echo(f"revoked token {revoked.id} (account {revoked.account!r})")
