"""Running the service: `serve` checks what it may start with (tokens, or `--no-auth` on a
loopback address only), fixes one cursor key for every worker, and runs uvicorn."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys

import uvicorn
from fastapi import FastAPI

from segql import api
from segql.errors import InputError
from segql.service.app import create_app
from segql.service.auth import tokens_of
from segql.service.settings import CURSOR_KEY_ENV, Settings
from segql.stores.connection import connect

NO_AUTH_ENV = "SEGQL_SERVE_NO_AUTH"
INDEX_ENV = "SEGQL_INDEX"


def loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def app_from_environment() -> FastAPI:
    """The app of one worker process, configured by `serve` through the environment."""
    es = connect()
    return create_app(Settings(es=es, index=api.index_name(),
                               auth=os.environ.get(NO_AUTH_ENV) != "1"))


def serve(host: str, port: int, *, workers: int = 1, no_auth: bool = False,
          index: str | None = None) -> None:
    if no_auth and not loopback(host):
        raise InputError(f"--no-auth serves anyone who can connect: only on a loopback "
                         f"address (127.0.0.1, ::1), not {host!r}")
    es = connect()
    # one contact index, checked once, for every worker (they read it from the environment);
    # it may not exist yet: records sent to the service create it
    target = api.contact_index(es, index, must_exist=False)
    os.environ[INDEX_ENV] = target
    if not es.indices.exists(index=target):
        print(f"warning: no contact index `{target}` on {api.cluster_url(es)} yet: counts "
              f"and exports fail until records are loaded (`segql index FILE --index "
              f"{target}`, or POST /v1/accounts/ACCOUNT/records)", file=sys.stderr)
    if not no_auth:
        settings = Settings(es=es, index=api.index_name())
        if not tokens_of(settings).has_tokens():
            raise InputError("no API token exists: create one with `segql token create "
                             "--account A --scope read|write` (or use --no-auth on a "
                             "loopback address for local use)")
    os.environ[NO_AUTH_ENV] = "1" if no_auth else "0"
    os.environ.setdefault(CURSOR_KEY_ENV, secrets.token_hex(32))
    uvicorn.run("segql.service.server:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10)
