"""What one service process runs with: the Elasticsearch client, the contact index, the
token store, the cursor key, the limits — and a short cache of each account's context."""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from segql import api
from segql.compiler.context import Context

#: Largest request body accepted (bytes); larger gets 413.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: How long an account's catalog and saved segments are reused between requests (s).
CONTEXT_TTL = 2.0
CURSOR_KEY_ENV = "SEGQL_CURSOR_KEY"


@dataclass
class Settings:
    es: Elasticsearch
    index: str
    #: False only for `--no-auth` on a loopback address.
    auth: bool = True
    cursor_key: bytes = field(default_factory=lambda: cursor_key())
    max_body: int = DEFAULT_MAX_BODY
    _contexts: dict[str, tuple[float, Context]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def context(self, account: str, *, now: datetime | None = None,
                timezone: ZoneInfo | None = None) -> Context:
        """The account's context (catalog, saved segments), at most CONTEXT_TTL old, with
        this request's `now` and zone."""
        key = account
        with self._lock:
            cached = self._contexts.get(key)
        if cached is None or time.monotonic() - cached[0] > CONTEXT_TTL:
            fresh = api.context(self.es, account, index=self.index)
            cached = (time.monotonic(), fresh)
            with self._lock:
                self._contexts[key] = cached
                if len(self._contexts) > 10_000:
                    self._contexts.clear()
        base = cached[1]
        return Context(account=account, now=now or datetime.now(UTC),
                       timezone=timezone or ZoneInfo("UTC"), catalog=base.catalog,
                       segments=base.segments)

    def forget(self, account: str) -> None:
        """Drop the cached context after this process changed the account's catalog or
        saved segments (other processes see the change within CONTEXT_TTL)."""
        with self._lock:
            self._contexts.pop(account, None)


def cursor_key() -> bytes:
    """The key that signs cursors: `$SEGQL_CURSOR_KEY` (set once by `segql serve` for all
    its workers, so a cursor works on any of them), else a new random key."""
    value = os.environ.get(CURSOR_KEY_ENV)
    return value.encode() if value else secrets.token_bytes(32)
