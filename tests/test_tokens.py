"""API tokens (stores/tokens.py, `segql token ...`) against a real Elasticsearch: secrets
shown once and stored only as hashes, `verify` refusing wrong, tampered, unknown and
revoked secrets (at once in the revoking process, within the cache TTL elsewhere), scopes
(write implies read), accounts kept apart, and the CLI's output and exit codes."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql.cli.main import cli
from segql.errors import SegqlError
from segql.stores.index_settings import replicas_of
from segql.stores.mapping import account_store_body
from segql.stores.tokens import (
    TOKEN_CACHE_TTL,
    ApiToken,
    TokenError,
    TokenNotFoundError,
    TokenStore,
    _Cache,
    token_id_of,
    token_index_body,
    token_index_name,
)

pytestmark = pytest.mark.es


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tokens_index(es: Elasticsearch, index_name: str) -> Iterator[str]:
    """The token index of the test's contact index; dropped afterwards."""
    name = token_index_name(index_name)
    yield name
    admin(es).options(ignore_status=404).indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def store(es: Elasticsearch, tokens_index: str) -> TokenStore:
    return TokenStore(es, tokens_index)


def _random_part(secret: str) -> str:
    return secret.split("_", 2)[2]


def _tampered(secret: str) -> str:
    """The same id with another random part of the same shape."""
    random = _random_part(secret)
    changed = ("A" if random[0] != "A" else "B") + random[1:]
    return secret[: len(secret) - len(random)] + changed


def test_index_is_named_next_to_the_contact_index() -> None:
    assert token_index_name("segql-contacts") == "segql-contacts-tokens"


def test_create_verify_list_revoke(store: TokenStore) -> None:
    reader, read_secret = store.create("acme", "read", label="mailer")
    writer, write_secret = store.create("other", "write")
    assert (reader.account, reader.scope, reader.label, reader.revoked) == (
        "acme", "read", "mailer", False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", reader.created)
    assert writer.label is None and reader.id != writer.id
    assert read_secret.startswith(f"segql_{reader.id}_") and token_id_of(read_secret) == reader.id
    assert len(_random_part(read_secret)) >= 43  # 32 bytes of token_urlsafe: 256 bits

    assert store.verify(read_secret) == reader
    assert store.verify(write_secret) == writer
    assert store.list() == [reader, writer]
    assert store.list("acme") == [reader]
    assert store.list("nobody") == []
    assert store.get(reader.id) == reader

    revoked = store.revoke(reader.id)
    assert revoked == ApiToken(reader.id, "acme", "read", "mailer", reader.created, True)
    assert store.verify(read_secret) is None  # at once in the revoking process
    assert store.list("acme") == [revoked]
    assert store.revoke(reader.id) == revoked  # revoking again changes nothing
    assert store.verify(write_secret) == writer


def test_wrong_tampered_and_unknown_secrets_are_refused(store: TokenStore) -> None:
    token, secret = store.create("acme", "write")
    unknown_id = "0" * 24 if token.id != "0" * 24 else "1" * 24
    refused = [
        "", "garbage", "segql_", f"segql_{token.id}", f"segql_{token.id}_",
        _tampered(secret),                              # same id, other random part
        secret[:-1],                                    # a character short
        secret + "x",                                   # a character more
        secret.replace("segql_", "SEGQL_"),
        f"segql_{token.id.upper()}_{_random_part(secret)}",
        f"segql_{unknown_id}_{_random_part(secret)}",   # an unknown id
        secret + "\n",
        secret[:-1] + "é",
        secret + "A" * 1000,
    ]
    for wrong in refused:
        assert store.verify(wrong) is None, wrong
    assert store.verify(secret) == token
    # only secrets that matched a stored hash are cached: guesses can't fill the cache
    assert len(store._cache._entries) == 1


def test_verify_without_a_token_index(es: Elasticsearch, tokens_index: str) -> None:
    store = TokenStore(es, tokens_index)
    assert store.verify("segql_" + "a" * 24 + "_" + "b" * 43) is None
    assert store.list() == [] and not store.has_tokens()
    with pytest.raises(TokenNotFoundError):
        store.revoke("a" * 24)


def test_the_stored_document_holds_only_a_hash(es: Elasticsearch, store: TokenStore) -> None:
    token, secret = store.create("acme", "read", label="ci")
    stored = es.get(index=store.index, id=token.id)["_source"]
    assert stored["hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert set(stored) == {"account", "id", "scope", "label", "created", "revoked", "hash"}
    text = json.dumps(stored)
    random = _random_part(secret)
    assert secret not in text
    pieces = {random[i:i + 8] for i in range(len(random) - 7)}
    assert not [p for p in pieces if p in text], "a piece of the secret is stored"
    # nor is the hash ever shown
    assert "hash" not in json.dumps([t.to_json() for t in store.list()])


def test_the_index_is_strict_with_the_store_settings(es: Elasticsearch,
                                                     store: TokenStore) -> None:
    store.create("acme", "read")
    settings = es.indices.get_settings(index=store.index)[store.index]["settings"]["index"]
    expected = account_store_body({})["settings"]
    # replicas as every store's: auto-expanded 0-1 by default (stores/index_settings.py)
    assert (int(settings["number_of_shards"]), replicas_of(settings)) == (
        expected["number_of_shards"], replicas_of(expected))
    mapping = es.indices.get_mapping(index=store.index)[store.index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == set(token_index_body()["mappings"]["properties"])


def test_revocation_reaches_other_processes_within_the_ttl(es: Elasticsearch,
                                                          tokens_index: str) -> None:
    clock = Clock()
    server = TokenStore(es, tokens_index, clock=clock)  # a serving process
    admin = TokenStore(es, tokens_index)                # `segql token revoke` elsewhere
    token, secret = admin.create("acme", "read")
    assert server.verify(secret) == token
    admin.revoke(token.id)
    clock.now += TOKEN_CACHE_TTL - 0.5
    assert server.verify(secret) == token               # still cached: the documented latency
    clock.now += 1
    assert server.verify(secret) is None                # refused once the TTL has passed


def test_the_cache_spares_elasticsearch(es: Elasticsearch, tokens_index: str) -> None:
    clock = Clock()
    store = TokenStore(es, tokens_index, clock=clock)
    token, secret = store.create("acme", "read")
    assert store.verify(secret) == token
    admin(es).indices.delete(index=tokens_index)             # no request could succeed now
    assert store.verify(secret) == token
    clock.now += TOKEN_CACHE_TTL + 0.1
    assert store.verify(secret) is None


def test_the_cache_is_bounded(es: Elasticsearch, tokens_index: str) -> None:
    store = TokenStore(es, tokens_index, cache_size=2)
    made = [store.create("acme", "read") for _ in range(3)]
    for token, secret in made:
        assert store.verify(secret) == token
    assert len(store._cache._entries) == 2
    assert store.verify(made[0][1]) == made[0][0]  # evicted, read again


def test_an_answer_read_before_a_revocation_is_not_cached() -> None:
    cache = _Cache(5.0, 10, Clock())
    token = ApiToken("a" * 24, "acme", "read", None, "2026-01-01T00:00:00.000Z", False)
    generation = cache.generation      # verify read the token ...
    cache.drop("digest")               # ... revoke ran meanwhile ...
    cache.put("digest", token, generation)
    assert cache.get("digest") == (False, None)  # ... so verify's answer is not kept


def test_revoke_refuses_unknown_ids_and_other_accounts(store: TokenStore) -> None:
    token, secret = store.create("acme", "write")
    for unknown in ("0" * 24, "nope", "", token.id.upper(), token.id + "\n"):
        with pytest.raises(TokenNotFoundError, match="no token"):
            store.revoke(unknown)
    with pytest.raises(TokenNotFoundError) as refused:
        store.revoke(token.id, account="other")
    assert str(refused.value) == f"no token {token.id!r} in account 'other'"
    assert refused.value.exit_code == 1 and isinstance(refused.value, SegqlError)
    assert store.verify(secret) == token  # untouched
    assert store.revoke(token.id, account="acme").revoked


def test_concurrent_revokes_both_succeed(store: TokenStore) -> None:
    token, secret = store.create("acme", "read")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        outcomes.append(store.revoke(token.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [getattr(o, "revoked", None) for o in outcomes] == [True, True]
    assert store.verify(secret) is None


def test_has_tokens(store: TokenStore) -> None:
    assert not store.has_tokens()
    first, _ = store.create("acme", "read")
    second, _ = store.create("other", "write")
    assert store.has_tokens()
    store.revoke(first.id)
    assert store.has_tokens()
    store.revoke(second.id)
    assert not store.has_tokens()


@pytest.mark.parametrize(("account", "scope", "label", "message"), [
    ("acme", "admin", None, "'read' or 'write'"),
    ("", "read", None, "needs an account"),
    ("acme", "read", "", "1-200 characters"),
    ("acme", "read", "x" * 201, "1-200 characters"),
    ("acme", "read", "new\nline", "control characters"),
])
def test_create_refuses_bad_input(store: TokenStore, account: str, scope: str,
                                  label: str | None, message: str) -> None:
    with pytest.raises(TokenError, match=message) as refused:
        store.create(account, scope, label=label)  # type: ignore[arg-type]
    assert refused.value.exit_code == 2


_CREATED = "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("scope", "revoked", "account", "asked", "allowed"), [
    ("read", False, "acme", "read", True),
    ("read", False, "acme", "write", False),
    ("write", False, "acme", "read", True),
    ("write", False, "acme", "write", True),
    ("write", False, "other", "read", False),
    ("read", False, "other", "read", False),
    ("write", False, "ACME", "write", False),
    ("write", False, "acme", "admin", False),
    ("write", False, "acme", "", False),
    ("write", True, "acme", "read", False),
    ("read", True, "acme", "read", False),
])
def test_allows(scope: str, revoked: bool, account: str, asked: str, allowed: bool) -> None:
    token = ApiToken("a" * 24, "acme", scope, None, _CREATED, revoked)  # type: ignore[arg-type]
    assert token.allows(account, asked) is allowed


# --- the command line ------------------------------------------------------------------


def test_token_cli(es_url: str, es: Elasticsearch, index_name: str,
                   tokens_index: str) -> None:
    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["token", *args, "--index", index_name], env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = run("create", "-a", "acme", "--scope", "read", "--label", "mailer")
    assert code == 0, err
    secret = out.strip()
    assert out == secret + "\n" and token_id_of(secret) is not None
    token_id = str(token_id_of(secret))
    assert f"created token {token_id}" in err and "not shown again" in err
    assert secret not in err
    store = TokenStore(es, tokens_index)
    assert store.verify(secret) == store.get(token_id)

    code, out, err = run("create", "--account", "other", "--scope", "write")
    assert code == 0, err
    other_secret = out.strip()
    other_id = str(token_id_of(other_secret))

    hashes = [es.get(index=tokens_index, id=i)["_source"]["hash"] for i in (token_id, other_id)]
    code, out, _ = run("list")
    assert code == 0 and [line.split()[:3] for line in out.splitlines()] == [
        [token_id, "acme", "read"], [other_id, "other", "write"]]
    assert "active" in out and "mailer" in out
    code, listed, _ = run("list", "--json", "-a", "acme")
    assert code == 0 and [t["id"] for t in json.loads(listed)] == [token_id]
    assert set(json.loads(listed)[0]) == {"id", "account", "scope", "label", "created",
                                          "revoked"}
    for shown in (out, listed):
        for hidden in (secret, _random_part(secret), other_secret, *hashes):
            assert hidden not in shown

    code, _, err = run("revoke", other_id, "--account", "acme")
    assert code == 1 and f"no token {other_id!r} in account 'acme'" in err
    code, _, err = run("revoke", "0" * 24)
    assert code == 1 and "no token" in err
    code, out, _ = run("revoke", token_id, "-a", "acme")
    assert code == 0 and out.strip() == f"revoked token {token_id} (account 'acme')"
    assert store.verify(secret) is not None  # this process cached it: refused within the TTL
    assert TokenStore(es, tokens_index).verify(secret) is None  # a process without the entry
    code, out, _ = run("list", "--json")
    assert code == 0 and [t["revoked"] for t in json.loads(out)] == [True, False]

    code, _, err = run("create", "-a", "acme", "--scope", "admin")
    assert code == 2 and "admin" in err
    code, _, err = run("create", "-a", "bad account!", "--scope", "read")
    assert code == 2 and "--account" in err
    code, _, err = run("create", "--scope", "read")
    assert code == 2 and "--account" in err
    code, _, err = run("create", "-a", "acme", "--scope", "read", "--label", "")
    assert code == 2 and "1-200 characters" in err


def test_token_cli_without_elasticsearch() -> None:
    result = CliRunner().invoke(cli, ["token", "list"], env={
        "ELASTICSEARCH_URL": "http://127.0.0.1:9", "SEGQL_TIMEOUT": "2"})
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_token_commands_document_exit_codes() -> None:
    for command in ("token", "token create", "token list", "token revoke"):
        result = CliRunner().invoke(cli, [*command.split(), "--help"])
        assert result.exit_code == 0
        assert "Exit codes" in " ".join(result.output.split()), command
