"""Bearer tokens for the HTTP API (`segql serve`), in Elasticsearch, so every server process
of a deployment accepts the same tokens and a revocation reaches all of them.

A token is bound to one account and one scope, `read` or `write` (write implies read). Its
secret is shown once, when it is created:

```
segql_<id>_<random>     id     = 24 hex digits (96 random bits), the document `_id`
                        random = secrets.token_urlsafe(32): 256 random bits
```

One document per token in the token index, by default `<contact index>-tokens`:

```
_id = "<id>"
{"account": "acme", "id": "<id>", "scope": "read", "label": "mailer",
 "created": "2026-01-31T10:00:00.000Z", "revoked": false,
 "hash": sha256(secret) in hex}
```

Why these rules:

* Only the hash is stored, never the secret: whoever reads the index (a backup, a `read`
  role) can't use a token. The hash is a plain SHA-256, not a slow password hash (bcrypt,
  scrypt, argon2): those protect low-entropy, human-chosen passwords from guessing, and
  salts keep equal passwords apart. A secret of 256 random bits can't be guessed, equal
  secrets don't occur, and inverting SHA-256 is infeasible; a slow hash would only add
  tens of milliseconds to every API request.
* The id in the secret makes `verify` one `get` by `_id` (real-time, no refresh or search),
  and the hashes are compared with `hmac.compare_digest` (no timing signal).
* `verify` keeps what it found for TOKEN_CACHE_TTL seconds (in-process, at most
  TOKEN_CACHE_SIZE entries, keyed by the hash), so a busy API does not ask Elasticsearch
  on every request. Hence a revocation takes effect in other processes within the TTL;
  `revoke` in the same process drops its entry at once. Only secrets whose hash matched a
  stored token are cached, so guessing can't fill (or flush) the cache.
* Revocation is a flag, written over the version read (`if_seq_no`/`if_primary_term`);
  revoked tokens stay listed. Writes refresh the index, so `list` and `has_tokens` see them.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from elasticsearch import ConflictError, Elasticsearch

from segql.errors import SegqlError
from segql.stores import searches
from segql.stores.mapping import STORED_ONLY, account_store_body, create_index_once
from segql.values import iso_millis

TOKENS_SUFFIX = "-tokens"
Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
PREFIX = "segql_"
#: Random bytes of a secret (`secrets.token_urlsafe`): 256 bits.
SECRET_BYTES = 32
#: Random bytes of a token id (hex in the secret and as the `_id`).
ID_BYTES = 12
TOKEN_ID = re.compile(rf"[0-9a-f]{{{2 * ID_BYTES}}}")
#: What an issued secret looks like (group 1: the token id); anything else is refused
#: before hashing or asking Elasticsearch.
SECRET = re.compile(rf"{PREFIX}([0-9a-f]{{{2 * ID_BYTES}}})_[A-Za-z0-9_-]{{43,200}}")
MAX_LABEL_CHARS = 200
TOKEN_CACHE_TTL = 5.0
TOKEN_CACHE_SIZE = 1024
#: Tokens read per request when listing.
PAGE = 1000
#: Attempts to write a revocation over a token that keeps changing.
MAX_ATTEMPTS = 10


def token_index_name(contact_index: str) -> str:
    """The token index that goes with a contact index."""
    return contact_index + TOKENS_SUFFIX


def token_index_body() -> dict[str, Any]:
    return account_store_body({
        "id": {"type": "keyword"}, "scope": {"type": "keyword"}, "label": STORED_ONLY,
        "created": {"type": "date"}, "revoked": {"type": "boolean"},
        "revoked_at": {"type": "date"}, "hash": STORED_ONLY,
    })


class TokenError(SegqlError):
    """A token operation that is refused (exit 2: the input must change)."""

    exit_code = 2


class TokenNotFoundError(TokenError):
    """No token of that id (in the account, when one is given) (exit 1, like an unknown
    saved segment)."""

    exit_code = 1


@dataclass(frozen=True)
class ApiToken:
    """A token as stored, without its secret or hash."""

    id: str
    account: str
    scope: Scope
    label: str | None
    created: str
    revoked: bool

    def allows(self, account: str, scope: str) -> bool:
        """Whether this token may act on `account` with `scope` (write implies read)."""
        return (not self.revoked and account == self.account
                and scope in SCOPES and (scope == self.scope or self.scope == "write"))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account, "scope": self.scope,
                "label": self.label, "created": self.created, "revoked": self.revoked}


def hash_secret(secret: str) -> str:
    """What is stored of a secret: its SHA-256 in hex (see the module docstring)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_of(secret: str) -> str | None:
    """The token id a secret carries, or None when it is not shaped like a secret."""
    match = SECRET.fullmatch(secret)
    return match.group(1) if match else None


def _check_label(label: str | None) -> str | None:
    if label is None:
        return None
    label = unicodedata.normalize("NFC", label)
    if not 1 <= len(label) <= MAX_LABEL_CHARS:
        raise TokenError(f"a token label has 1-{MAX_LABEL_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise TokenError("a token label can't contain control characters")
    return label


def _from_source(source: dict[str, Any]) -> ApiToken:
    return ApiToken(id=source["id"], account=source["account"],
                    scope=cast(Scope, source["scope"]), label=source.get("label"),
                    created=source["created"], revoked=bool(source.get("revoked")))


class _Cache:
    """Verified tokens by hash for `ttl` seconds, at most `size` of them (oldest out).
    `generation` counts drops: an answer read before a drop is not cached after it."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self.generation = 0
        self._entries: dict[str, tuple[float, ApiToken | None]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, ApiToken | None]:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False, None
            if entry[0] <= self.clock():
                del self._entries[digest]
                return False, None
            return True, entry[1]

    def put(self, digest: str, token: ApiToken | None, generation: int) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        with self._lock:
            if generation != self.generation:  # a revocation ran meanwhile
                return
            now = self.clock()
            self._entries.pop(digest, None)
            if len(self._entries) >= self.size:
                for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                    del self._entries[key]
            while len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]
            self._entries[digest] = (now + self.ttl, token)

    def drop(self, digest: str) -> None:
        with self._lock:
            self.generation += 1
            self._entries.pop(digest, None)


class TokenStore:
    """Creates, verifies, lists and revokes API tokens in one token index."""

    def __init__(self, es: Elasticsearch, index: str, *, cache_ttl: float = TOKEN_CACHE_TTL,
                 cache_size: int = TOKEN_CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.es = es
        self.index = index
        self._cache = _Cache(cache_ttl, cache_size, clock)
        self._ready = False

    def create(self, account: str, scope: Scope, *,
               label: str | None = None) -> tuple[ApiToken, str]:
        """A new token of `account` with `scope`: the stored record and the secret, which
        is not stored and can't be shown again."""
        if not isinstance(account, str) or not account:
            raise TokenError("a token needs an account")
        if scope not in SCOPES:
            raise TokenError(f"a token's scope is 'read' or 'write', not {scope!r}")
        label = _check_label(label)
        self._ensure_index()
        for _ in range(MAX_ATTEMPTS):
            token_id = secrets.token_hex(ID_BYTES)
            secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
            token = ApiToken(id=token_id, account=account, scope=scope, label=label,
                             created=iso_millis(datetime.now(UTC)), revoked=False)
            document = {**token.to_json(), "hash": hash_secret(secret)}
            if label is None:
                del document["label"]
            try:
                self.es.create(index=self.index, id=token_id, document=document,
                               refresh=True)
            except ConflictError:  # 96 random bits met an existing id: draw again
                continue
            return token, secret
        raise TokenError("could not draw an unused token id; try again")  # pragma: no cover

    def verify(self, secret: str) -> ApiToken | None:
        """The token whose secret this is, or None (malformed, unknown, wrong or revoked).
        One `get` by id, or none while the answer is cached (TOKEN_CACHE_TTL)."""
        token_id = token_id_of(secret) if isinstance(secret, str) else None
        if token_id is None:
            return None
        digest = hash_secret(secret)
        hit, cached = self._cache.get(digest)
        if hit:
            return cached
        generation = self._cache.generation
        response = self.es.options(ignore_status=404).get(index=self.index, id=token_id).body
        if not response.get("found"):
            return None
        source = response["_source"]
        if not hmac.compare_digest(str(source.get("hash", "")).encode(), digest.encode()):
            return None
        token = _from_source(source)
        found = None if token.revoked else token
        self._cache.put(digest, found, generation)
        return found

    def get(self, token_id: str, *, account: str | None = None) -> ApiToken:
        """The token of that id; TokenNotFoundError if none (or not of `account`)."""
        return _from_source(self._read(token_id, account)[0])

    def revoke(self, token_id: str, *, account: str | None = None) -> ApiToken:
        """Revoke a token (of `account`, when given; a token of another account is refused
        as unknown, so ids of other accounts are not disclosed). Revoking a revoked token
        changes nothing. Other processes stop accepting it within TOKEN_CACHE_TTL."""
        for _ in range(MAX_ATTEMPTS):
            source, version = self._read(token_id, account)
            self._cache.drop(str(source.get("hash", "")))
            if source.get("revoked"):
                return _from_source(source)
            revoked = {**source, "revoked": True, "revoked_at": iso_millis(datetime.now(UTC))}
            try:
                self.es.index(index=self.index, id=token_id, document=revoked,
                              if_seq_no=version[0], if_primary_term=version[1], refresh=True)
            except ConflictError:  # written in between: read it again
                continue
            self._cache.drop(str(source.get("hash", "")))
            return _from_source(revoked)
        raise TokenError(f"token {token_id!r} kept changing during {MAX_ATTEMPTS} attempts "
                         "to revoke it; try again")

    def has_tokens(self) -> bool:
        """Whether any token is not revoked (a server without one refuses to start)."""
        response = searches.search_if_exists(
            self.es, index=self.index, size=0, track_total_hits=1,
            query={"term": {"revoked": False}})
        return response is not None and int(response["hits"]["total"]["value"]) > 0

    def list(self, account: str | None = None) -> builtins.list[ApiToken]:
        """Every token (of `account`, when given), oldest first, revoked ones too."""
        return builtins.list(self._scan(account))

    def _scan(self, account: str | None) -> Iterator[ApiToken]:
        query = {"term": {"account": account}} if account is not None else {"match_all": {}}
        after: builtins.list[Any] | None = None
        while True:
            response = searches.search_if_exists(
                self.es, index=self.index, size=PAGE, query=query, search_after=after,
                sort=[{"created": "asc"}, {"id": "asc"}],
                source_excludes=["hash"])
            if response is None:  # no token was ever created
                return
            hits = response["hits"]["hits"]
            yield from (_from_source(hit["_source"]) for hit in hits)
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def _read(self, token_id: str,
              account: str | None) -> tuple[dict[str, Any], tuple[int, int]]:
        unknown = TokenNotFoundError(
            f"no token {token_id!r}" + (f" in account {account!r}" if account else ""))
        if not isinstance(token_id, str) or not TOKEN_ID.fullmatch(token_id):
            raise unknown
        response = self.es.options(ignore_status=404).get(index=self.index, id=token_id).body
        if not response.get("found"):
            raise unknown
        source: dict[str, Any] = response["_source"]
        if account is not None and source.get("account") != account:
            raise unknown
        return source, (response["_seq_no"], response["_primary_term"])

    def _ensure_index(self) -> None:
        if not self._ready:
            create_index_once(self.es, self.index, token_index_body())
            self._ready = True
