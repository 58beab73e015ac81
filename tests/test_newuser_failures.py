"""What a new user met when something failed (issue 14), each replayed with the real
`segql` command in a subprocess: the message they get now and its exit code.

Elasticsearch is the real node, or an address nothing listens on (port 1). Loopback
servers (tests/support/fake_cluster.py) stand in only where a real node can't fail that
way on demand: a TLS port, and a server that is not Elasticsearch.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from fake_cluster import LEAKS, SUFFIXES, UNREACHABLE, A, answering, tls_port
from housekeeping import admin

from segql.cli.main import cli
from segql.stores.mapping import index_body
from service import SEGQL

pytestmark = pytest.mark.es


def segql(*args: str, url: str = UNREACHABLE, **env: str) -> subprocess.CompletedProcess[str]:
    """`segql ARGS` as a user runs it, against `url`."""
    environment = {**os.environ, "ELASTICSEARCH_URL": url, "SEGQL_TIMEOUT": "5", **env}
    if url != os.environ.get("ELASTICSEARCH_URL"):  # the test node keeps its credentials
        environment.update({"ELASTICSEARCH_API_KEY": "", "ELASTICSEARCH_USERNAME": "",
                            "ELASTICSEARCH_CA_CERTS": "", **env})
    return subprocess.run([SEGQL, *args], env=environment, capture_output=True, text=True,
                          timeout=120, check=False)


def clean(result: subprocess.CompletedProcess[str]) -> str:
    """stderr, after checking nothing leaks into stdout or stderr."""
    said = result.stdout + result.stderr
    assert not [leak for leak in LEAKS if leak in said], said
    return result.stderr


@pytest.fixture
def indices(es: Elasticsearch) -> Iterator[str]:
    """A fresh index name; every index of that name is deleted afterwards."""
    index = f"segql-test-{uuid.uuid4().hex[:12]}"
    yield index
    admin(es).options(ignore_status=404).indices.delete(
        index=",".join(index + suffix for suffix in SUFFIXES), ignore_unavailable=True)


def foreign(es: Elasticsearch, index: str) -> None:
    """An index of another shape under that name: its `account` is a number (and it has
    a document, so searches reach its mapping rather than an empty shard)."""
    es.indices.create(index=index, mappings={"properties": {"account": {"type": "long"}}})
    es.index(index=index, document={"account": 1}, refresh=True)


def load(es_url: str, index: str, tmp: Path, contacts: int) -> None:
    records = tmp / "contacts.jsonl"
    records.write_text("".join(json.dumps({
        "type": "contact", "account": A, "id": f"c{i:05d}", "email": f"c{i:05d}@example.com",
        "fields": {"city": "Warszawa"}}) + "\n" for i in range(contacts)))
    loaded = CliRunner().invoke(cli, ["index", str(records), "--index", index, "--rejects",
                                      str(tmp / "rejects.jsonl")],
                                env={"ELASTICSEARCH_URL": es_url})
    assert loaded.exit_code == 0, loaded.output + loaded.stderr


# --- an unreachable cluster never hides an input error -------------------------------------


def test_check_reports_a_missing_value_without_the_cluster() -> None:
    result = segql("check", "city = ", "-a", "demo")
    assert result.returncode == 2, result.stderr
    said = clean(result)
    assert "E_MISSING_VALUE" in said and "^" in said
    assert "cannot reach" not in said and "127.0.0.1" not in said


def test_check_says_the_syntax_is_fine_when_types_need_the_cluster() -> None:
    result = segql("check", "age > 3", "-a", "demo")
    assert result.returncode == 1
    assert clean(result).strip() == (
        "error: the segment's syntax is fine, but its names and types could not be "
        "checked: cannot reach Elasticsearch at http://127.0.0.1:1 (connection refused): "
        "start it with `segql es up` or set ELASTICSEARCH_URL")


def test_count_reports_syntax_before_the_cluster() -> None:
    result = segql("count", "(city has_value", "-a", A)
    assert result.returncode == 2 and "E_UNEXPECTED_END" in clean(result)


def test_credentials_in_the_url_are_never_shown() -> None:
    result = segql("count", "city has_value", "-a", A, url="http://elastic:s3cret@127.0.0.1:1")
    assert result.returncode == 1
    said = clean(result)
    assert "s3cret" not in said and "http://***@127.0.0.1:1" in said


# --- what reaches Elasticsearch and fails is said in plain words ----------------------------


def test_a_nonexistent_index(es_url: str, indices: str) -> None:
    result = segql("count", "city has_value", "-a", A, "--index", indices, url=es_url)
    assert result.returncode == 1
    assert clean(result).strip() == (
        f"error: no contact index `{indices}` on {es_url}: load contacts with "
        f"`segql index FILE --index {indices}`")


def test_an_index_that_is_not_a_contact_index(es: Elasticsearch, es_url: str,
                                              indices: str) -> None:
    """Elasticsearch answers 400 to segql's query on an index of another shape."""
    foreign(es, indices)
    result = segql("count", "not city has_value", "-a", A, "--index", indices, url=es_url)
    assert result.returncode == 1
    assert clean(result).strip() == (
        f"error: Elasticsearch at {es_url} rejected the request (400: the query does not "
        "fit the index's fields: is it a segql contact index?)")


def test_an_msearch_item_error_is_said_plainly(es: Elasticsearch, es_url: str,
                                               indices: str, tmp_path: Path) -> None:
    """`segment list` counts every segment in one msearch: an item's error is translated
    like any other answer."""
    foreign(es, indices)
    made = segql("segment", "create", "vip", "--expr", "not city has_value", "-a", A,
                 "--index", indices, url=es_url)
    assert made.returncode == 0, made.stderr
    result = segql("segment", "list", "-a", A, "--index", indices, url=es_url)
    # one segment's failure is its row's error, never the whole list's (exit 0)
    assert result.returncode == 0, result.stderr
    assert "rejected the request (400: the query does not fit" in result.stdout
    assert "1 of 1 segments could not be counted" in result.stderr


def test_plain_http_to_a_tls_port_and_an_untrusted_certificate(tmp_path: Path) -> None:
    with tls_port(tmp_path) as port:
        plain = segql("count", "city has_value", "-a", A, url=f"http://127.0.0.1:{port}")
        untrusted = segql("count", "city has_value", "-a", A, url=f"https://localhost:{port}")
    assert plain.returncode == 1 and "use an https:// URL" in clean(plain)
    assert untrusted.returncode == 1
    assert "its certificate is not trusted: set ELASTICSEARCH_CA_CERTS" in clean(untrusted)


def test_a_server_that_is_not_elasticsearch() -> None:
    with answering(200, product=False) as url:
        result = segql("count", "city has_value", "-a", A, url=url)
    assert result.returncode == 1
    assert clean(result).strip() == (f"error: the server at {url} does not answer like "
                                     "Elasticsearch: check ELASTICSEARCH_URL")


def test_es_status_names_no_exception_class() -> None:
    result = segql("es", "status")
    assert result.returncode == 1
    assert "cannot reach Elasticsearch at http://127.0.0.1:1 (connection refused)" in clean(
        result) + result.stdout


# --- exit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check"], ["count", "-a", A], ["fmt"]])
def test_a_missing_expression_file_is_a_usage_error(command: list[str],
                                                    tmp_path: Path) -> None:
    missing = tmp_path / "nope.segql"
    result = segql(command[0], f"@{missing}", *command[1:])
    assert result.returncode == 2
    assert clean(result).strip() == (f"error: cannot read the expression from {missing}: "
                                     "no such file or directory")


def test_an_unknown_saved_segment_is_invalid_input(es_url: str, indices: str,
                                                   tmp_path: Path) -> None:
    load(es_url, indices, tmp_path, 3)
    made = segql("segment", "create", "vip-warsaw", "--expr", 'city = "Warszawa"', "-a", A,
                 "--index", indices, url=es_url)
    assert made.returncode == 0, made.stderr
    on = ["-a", A, "--index", indices]
    for args in (["count", "--segment", "vip-warsow", *on],
                 ["export", "--segment", "vip-warsow", *on],
                 ["explain", "--segment", "vip-warsow", "--contact", "c00001", *on],
                 ["segment", "show", "vip-warsow", *on]):
        result = segql(*args, url=es_url)
        assert result.returncode == 2, (args, result.stderr)
        assert clean(result).strip() == (f"error: account {A!r} has no saved segment "
                                         "'vip-warsow'; did you mean 'vip-warsaw'?"), args
    checked = segql("check", 'in_segment "vip-warsow"', *on, url=es_url)
    assert checked.returncode == 2 and "did you mean" in checked.stderr


# --- a closed pipe ends quietly ------------------------------------------------------------


def test_export_into_head_ends_quietly(es_url: str, indices: str, tmp_path: Path) -> None:
    """`segql export ... | head -1`: the shell's exit status of segql is 141 (128 +
    SIGPIPE), nothing on stderr. 3,000 rows of JSON are more than a pipe holds, so the
    export is still writing when head has gone."""
    load(es_url, indices, tmp_path, 3000)
    script = (f'"$SEGQL" export "city has_value" -a {A} --index {indices} --format jsonl '
              '--channel email 2>"$ERR" | head -1; echo "status=${PIPESTATUS[0]}"')
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            timeout=120, check=False,
                            env={**os.environ, "SEGQL": SEGQL, "ELASTICSEARCH_URL": es_url,
                                 "ERR": str(tmp_path / "stderr")})
    first, status = result.stdout.splitlines()
    assert json.loads(first)["contact_id"].startswith("c")
    assert status == "status=141"
    assert (tmp_path / "stderr").read_text() == ""


@pytest.mark.parametrize("args", [["fmt", "city has_value"], ["json-schema"],
                                  ["segment", "list", "-a", A, "--json"]])
def test_any_command_with_a_closed_stdout_ends_quietly(args: list[str], es: Elasticsearch,
                                                      es_url: str, indices: str) -> None:
    """stdout closed before the command writes: exit 141, nothing on stderr."""
    es.indices.create(index=indices, **index_body())  # with a contact: a known account
    es.index(index=indices, id=f"{A}:c1", routing=A, refresh=True,
             document={"account": A, "contact_id": "c1"})
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([SEGQL, *args], stdout=write, stderr=subprocess.PIPE,
                                text=True, timeout=60, check=False,
                                env={**os.environ, "ELASTICSEARCH_URL": es_url,
                                     "SEGQL_INDEX": indices})
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")
