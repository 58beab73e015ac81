"""A secure managed node (TLS, authentication) and the least-privilege roles, for real.

One throwaway node started with `secure=True`; a write user loads records and declares a
catalog, a read user counts, exports and compiles through the CLI, and what must fail
(writing with the read role, a wrong API key, a wrong CA) fails with a clear message and
exit code 1, never a traceback and never an echoed secret.

The roles are exercised here as file-realm users (`LocalNode.add_user`) with exactly the
privileges API keys get (`ROLE_PRIVILEGES`); API keys themselves, which need segql's
analysis plugin on this distribution, are tested in tests/test_api_keys.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import certifi
import hard_data
import pytest
from click.testing import CliRunner, Result
from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch

from segql import api
from segql.cli.main import cli
from segql.compiler.context import Context
from segql.indexer.loader import load
from segql.localnode import ADMIN_USER, ROLE_PRIVILEGES, LocalNode, free_port
from segql.stores.catalogs import CatalogStore
from segql.stores.connection import connect

pytestmark = pytest.mark.es

SEED = 8
ACCOUNT = "acme"


@dataclass
class Secure:
    node: LocalNode
    url: str
    ca: Path
    read: tuple[str, str]
    write: tuple[str, str]
    index: str


@pytest.fixture(scope="module")
def secure() -> Iterator[Secure]:
    """A secure node on a free port with a read and a write user; removed afterwards."""
    node = LocalNode(name=f"secure-{os.getpid()}", secure=True)
    try:
        url = node.up(port=free_port(), heap="512m")
        yield Secure(node, url, node.ca_cert_file, node.add_user("read"),
                     node.add_user("write"), f"segql-sec-{uuid.uuid4().hex[:8]}")
    finally:
        node.remove()


def _env(sec: Secure, user: tuple[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = {"ELASTICSEARCH_URL": sec.url, "ELASTICSEARCH_CA_CERTS": str(sec.ca),
           "SEGQL_INDEX": sec.index, "ELASTICSEARCH_API_KEY": "",
           "ELASTICSEARCH_USERNAME": "", "ELASTICSEARCH_PASSWORD": ""}
    if user is not None:
        env.update(ELASTICSEARCH_USERNAME=user[0], ELASTICSEARCH_PASSWORD=user[1])
    env.update(extra)
    return env


def _client(sec: Secure, user: tuple[str, str]) -> Elasticsearch:
    return Elasticsearch(sec.url, ca_certs=str(sec.ca), basic_auth=user, request_timeout=30)


def _run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def _clean_failure(result: Result, *secrets: str) -> str:
    """The failure's stderr, after checking it is exit 1, one clear line, no traceback and
    no secret."""
    output = result.output + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    for secret in secrets:
        assert secret not in output
    return result.stderr


def _context(sec: Secure, user: tuple[str, str]) -> Context:
    return api.context(_client(sec, user), ACCOUNT, index=sec.index,
                       now=hard_data.parse_now(hard_data.NOWS[0]), timezone=ZoneInfo("UTC"))


def test_secure_node_layout(secure: Secure, monkeypatch: pytest.MonkeyPatch) -> None:
    status = secure.node.status()
    assert status["secure"] and status["reachable"] and status["health"] in ("yellow", "green")
    assert secure.url.startswith("https://127.0.0.1:")
    assert status["ca_certs"] == str(secure.ca) and secure.ca.read_text().startswith("-----")
    creds = secure.node.credentials_file
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    user, password = secure.node.credentials()
    assert user == ADMIN_USER and len(password) >= 24
    # The password is in no log, state or console file of the node.
    for path in (secure.node.logs_dir, secure.node.run_dir):
        for file in path.rglob("*"):
            if file.is_file() and file != creds:
                assert password.encode() not in file.read_bytes(), file
    # Anonymous HTTPS is refused.
    anonymous = Elasticsearch(secure.url, ca_certs=str(secure.ca))
    with pytest.raises(AuthenticationException):
        anonymous.cluster.health()
    # `segql es status` works against it with the stored superuser and CA.
    result = _run(["es", "status", "--name", secure.node.name, "--json"],
                  {"ELASTICSEARCH_URL": ""})
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["secure"] and info["url"] == secure.url and password not in result.output
    # ... and so does connect() to the managed node.
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.setenv("SEGQL_NODE", secure.node.name)
    assert connect().cluster.health()["status"] in ("yellow", "green")


def test_roles_are_the_documented_ones() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    for role, descriptor in ROLE_PRIVILEGES.items():
        assert json.dumps(descriptor) in doc, role


def test_write_role_loads_and_read_role_reads(secure: Secure) -> None:
    writer = _client(secure, secure.write)
    summary = load(writer, secure.index, hard_data.records(SEED, contacts=30))
    assert summary.failed == [] and summary.contacts > 0
    CatalogStore(writer, f"{secure.index}-catalog").declare(ACCOUNT, hard_data.CATALOG)

    reader = _client(secure, secure.read)
    ctx = _context(secure, secure.read)
    text = "email has_value"
    counted = api.count(reader, text, ctx, secure.index).count
    ids = sorted(api.export_ids(reader, text, ctx, secure.index, page=7))
    assert counted == len(ids) > 0

    env = _env(secure, secure.read)
    result = _run(["count", text, "-a", ACCOUNT], env)
    assert result.exit_code == 0, result.output + result.stderr
    assert int(result.output) == counted
    result = _run(["compile", text, "-a", ACCOUNT], env)
    assert result.exit_code == 0 and '"query"' in result.output, result.stderr
    result = _run(["check", text, "-a", ACCOUNT], env)
    assert (result.exit_code, result.output.strip()) == (0, "ok"), result.stderr

    # The read role cannot write: not through the library, not through the CLI.
    with pytest.raises(AuthorizationException):
        reader.index(index=secure.index, document={"account": ACCOUNT})
    records = Path(secure.node.tmp_dir.parent / "records.jsonl")
    records.write_text("\n".join(hard_data.records(SEED, contacts=3)) + "\n")
    result = _run(["index", str(records), "--rejects", os.devnull], env)
    message = _clean_failure(result, secure.read[1])
    assert "403" in message


def test_api_key_of_the_read_role_counts(secure: Secure) -> None:
    created = _run(["es", "api-key", "create", "--role", "read", "--name", secure.node.name],
                   {"ELASTICSEARCH_URL": "", "ELASTICSEARCH_API_KEY": ""})
    assert created.exit_code == 0, created.output + created.stderr
    key = created.stdout.strip()
    assert key not in created.stderr
    result = _run(["count", "email has_value", "-a", ACCOUNT],
                  _env(secure, ELASTICSEARCH_API_KEY=key))
    assert result.exit_code == 0, result.stderr
    assert int(result.stdout) >= 0


def test_wrong_api_key_is_a_clear_error(secure: Secure) -> None:
    wrong = base64.b64encode(b"not-a-key-id:not-a-key-secret-" + uuid.uuid4().hex.encode())
    result = _run(["count", "email has_value", "-a", ACCOUNT],
                  _env(secure, ELASTICSEARCH_API_KEY=wrong.decode()))
    message = _clean_failure(result, wrong.decode(), "not-a-key-secret")
    assert "401" in message


def test_wrong_password_is_a_clear_error(secure: Secure) -> None:
    wrong = (secure.read[0], "wrong-" + secure.read[1])
    result = _run(["count", "email has_value", "-a", ACCOUNT], _env(secure, wrong))
    assert "401" in _clean_failure(result, wrong[1], secure.read[1])


def test_wrong_ca_is_a_clear_tls_error(secure: Secure) -> None:
    result = _run(["count", "email has_value", "-a", ACCOUNT],
                  _env(secure, secure.read, ELASTICSEARCH_CA_CERTS=certifi.where()))
    message = _clean_failure(result, secure.read[1])
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate" in message.lower()
