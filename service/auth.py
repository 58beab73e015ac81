"""Who is asking: a bearer token bound to one account and one scope (`read`, or `write`
which includes read). An account endpoint answers only a token of that account — any
other gets 403 whatever the path, body, cursor or saved-segment chain — and a write
endpoint only a write token. With `--no-auth` (loopback only) every request is let in."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from segql.service.problems import Problem
from segql.service.settings import Settings
from segql.stores.tokens import TokenStore, token_index_name


@dataclass(frozen=True)
class Caller:
    account: str | None  # None: --no-auth
    scope: str


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def tokens_of(settings: Settings) -> TokenStore:
    return TokenStore(settings.es, token_index_name(settings.index))


def caller(request: Request) -> Caller:
    """The token's account and scope; 401 without a valid token."""
    settings = settings_of(request)
    if not settings.auth:
        return Caller(None, "write")
    header = request.headers.get("authorization", "")
    kind, _, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        raise Problem(401, "unauthorized", "A bearer token is required",
                      "send `Authorization: Bearer <token>` (see `segql token create`)")
    token = request.app.state.tokens.verify(secret.strip())
    if token is None:
        raise Problem(401, "unauthorized", "The token is not valid",
                      "it is unknown, revoked or mistyped")
    return Caller(token.account, token.scope)


def allow(request: Request, account: str, scope: str) -> Caller:
    """The caller, if its token may use `account` with `scope`; else 401/403."""
    who = caller(request)
    if who.account is not None and who.account != account:
        raise Problem(403, "forbidden", "This token is for another account")
    if scope == "write" and who.scope != "write":
        raise Problem(403, "forbidden", "This token may only read",
                      "create a token with `--scope write` to change data")
    return who
