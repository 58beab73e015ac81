"""Every command against every kind of failure: the exit code, and a message in plain
words — no exception class name, no Python repr, no traceback, no raw Elasticsearch type.

Rows are kinds of failure, columns are commands (run in-process with click's CliRunner;
`segql serve`'s count endpoint through the app in-process). The real node gives what it
can: a nonexistent index, a request it rejects (indices whose `account` is a number, so
segql's queries and documents don't fit), and https:// to its plain-HTTP port. Loopback
servers (tests/support/fake_cluster.py) give only what a real node can't on demand: 401,
403, 429 and 500 answers, and silence (a timeout).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from fake_cluster import ANSWERS, LEAKS, SUFFIXES, UNREACHABLE, A, answering, silent
from fastapi.testclient import TestClient
from housekeeping import admin

from segql.cli.main import cli
from segql.service.app import create_app
from segql.service.settings import Settings
from segql.stores.connection import connect
from segql.stores.failures import from_answer, translate

pytestmark = pytest.mark.es


@dataclass
class Row:
    """One kind of failure: the cluster URL, the index, and what an exit-1 message says."""

    url: str
    index: str
    phrase: str
    env: dict[str, str] = field(default_factory=dict)
    bad_input: bool = False
    credentials: dict[str, str] = field(default_factory=dict)


def commands(index: str, tmp: Path, bad: bool) -> dict[str, list[str]]:
    """Each command's arguments; with `bad`, an input error it must find before asking
    the cluster (the row's cluster is unreachable then)."""
    records = tmp / "records.jsonl"
    records.write_text(json.dumps({"type": "contact", "account": A, "id": "c1",
                                   "email": "c1@example.com"}) + "\n")
    missing = str(tmp / "missing.jsonl")
    on = ["-a", A, "--index", index]
    someone = "bad account!" if bad else A
    text = "not city has_value"  # a query an index of another shape can't take
    return {
        "check": ["check", "city =" if bad else text, *on],
        "count": ["count", "(city has_value" if bad else text, *on],
        "export": ["export", "city =" if bad else text, *on],
        "explain": ["explain", f"@{missing}" if bad else text, "--contact", "c1", *on],
        "segment list": ["segment", "list", "-a", someone, "--index", index],
        "segment show": ["segment", "show", "vip", "-a", someone, "--index", index],
        "segment create": ["segment", "create", "vip", "--expr", "city =" if bad else text,
                           *on],
        "catalog show": ["catalog", "show", "-a", someone, "--index", index],
        "catalog learn": ["catalog", "learn", missing if bad else str(records), *on],
        "compile": ["compile", "city between 5 and" if bad else text, *on],
        "index": ["index", missing if bad else str(records), "--index", index,
                  "--max-wait", "0", "--rejects", str(tmp / "rejects.jsonl")],
        "token list": ["token", "list", "-a", someone, "--index", index],
    }


#: Cells that do not exit 1, and why.
EXPECTED: dict[tuple[str, str], int] = {
    # A nonexistent index: every command that segments contacts checks the contact index
    # first (api.contact_index) and stops; the stores read as empty (documented:
    # docs/catalog.md, the tokens), writers create their index.
    **{("unknown index", c): 0 for c in ("catalog show", "catalog learn", "index",
                                         "token list")},
    # The catalog is read by id, which a foreign mapping does not stop.
    ("rejected", "catalog show"): 0,
    # Only the contact index is of another shape: what does not search it works.
    **{("rejected search", c): 0 for c in ("check", "segment list", "segment create",
                                           "catalog show", "catalog learn", "compile",
                                           "token list")},
    ("rejected search", "segment show"): 2,
}
#: Cells whose exit-1 message words the row's failure its own way.
PHRASES = {("rejected", "index"): "does not fit the index's mapping",
           ("rejected search", "index"): "does not fit the index's mapping"}


@contextmanager
def _real(es: Elasticsearch, foreign: tuple[str, ...]) -> Iterator[str]:
    """A fresh index name on the real node; its indices with a `foreign` suffix exist
    with an `account` that is a number (and a document each, so searches reach the
    mapping rather than an empty shard). Every index of that name is deleted after."""
    index = f"segql-test-{uuid.uuid4().hex[:12]}"
    names = [index + suffix for suffix in SUFFIXES]
    for name in names:
        if name.removeprefix(index) in foreign:
            es.indices.create(index=name, mappings={"properties": {"account": {
                "type": "long"}}})
            es.index(index=name, document={"account": 1}, refresh=True)
    try:
        yield index
    finally:
        admin(es).options(ignore_status=404).indices.delete(index=",".join(names),
                                                     ignore_unavailable=True)


def _url(url: str) -> Callable[[], AbstractContextManager[str]]:
    return lambda: nullcontext(url)


#: Each row: how to get its cluster (a context manager giving a URL), the phrase an
#: exit-1 message carries, and whether the index is on the real node.
ROWS: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
    "unreachable": (_url(UNREACHABLE), "cannot reach Elasticsearch at http://127.0.0.1:1 "
                                       "(connection refused)"),
    "tls": (lambda: nullcontext(""), "the TLS handshake with Elasticsearch at https://"),
    "authentication": (lambda: answering(401), "refused the credentials (401)"),
    "forbidden": (lambda: answering(403), "does not allow these credentials"),
    "unknown index": (lambda: nullcontext(""), "no contact index `segql-test-"),
    "rejected": (lambda: nullcontext(""), "rejected the request (400: "),
    "rejected search": (lambda: nullcontext(""), "rejected the request (400: "),
    "overloaded": (lambda: answering(429), "is overloaded (429"),
    "timeout": (silent, "did not answer"),
    "server error": (lambda: answering(500), "failed (500)"),
    "bad input": (_url(UNREACHABLE), ""),
}


@pytest.fixture(params=list(ROWS))
def row(request: pytest.FixtureRequest, es: Elasticsearch, es_url: str) -> Iterator[Row]:
    kind: str = request.param
    server, phrase = ROWS[kind]
    foreign = {"rejected": SUFFIXES, "rejected search": ("",)}.get(kind, ())
    real = kind in ("unknown index", "rejected", "rejected search")
    with server() as url, (_real(es, foreign) if real
                           else nullcontext("segql-test-none")) as index:
        env = {"SEGQL_TIMEOUT": "0.1"} if kind == "timeout" else {}
        if kind == "tls":  # https to a plain node's port, or a secure node without its CA
            url = es_url.replace("http://", "https://")
            env["ELASTICSEARCH_CA_CERTS"] = ""
        # The real node's rows keep its credentials (CI's API-key run); none elsewhere.
        credentials = {var: os.environ.get(var, "") if real else "" for var in (
            "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")}
        yield Row(url=url if url else es_url, index=index, phrase=phrase, env=env,
                  bad_input=kind == "bad input", credentials=credentials)


def _clean(text: str) -> list[str]:
    return [leak for leak in LEAKS if leak in text]


def test_every_command_fails_clearly(row: Row, request: pytest.FixtureRequest,
                                     tmp_path: Path) -> None:
    kind = request.node.callspec.params["row"]
    env = {"ELASTICSEARCH_URL": row.url, "SEGQL_TIMEOUT": "5", **row.credentials, **row.env}
    wrong = []
    for name, argv in commands(row.index, tmp_path, row.bad_input).items():
        result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)
        said = result.stdout + result.stderr
        expected = 2 if row.bad_input else EXPECTED.get((kind, name), 1)
        problems = []
        if result.exit_code != expected:
            problems.append(f"exit {result.exit_code}, expected {expected}")
        if _clean(said):
            problems.append(f"leaks {_clean(said)}")
        phrase = PHRASES.get((kind, name), row.phrase)
        if expected == 1 and phrase not in result.stderr:
            problems.append(f"does not say {phrase!r}")
        if expected != 0 and not result.stderr.strip():
            problems.append("says nothing on stderr")
        if problems:
            wrong.append(f"{name}: {'; '.join(problems)}: {said.strip()[:400]!r}")
    assert not wrong, f"{kind}:\n" + "\n".join(wrong)


#: `POST /v1/accounts/acme/count` of `segql serve` per row: (status, problem type).
SERVICE: dict[str, tuple[int, str]] = {
    "unreachable": (503, "search-unavailable"),
    "tls": (502, "search-misconfigured"),
    "authentication": (502, "search-misconfigured"),
    "forbidden": (502, "search-misconfigured"),
    "unknown index": (404, "no-contact-index"),
    "rejected": (502, "search-failed"),
    "rejected search": (502, "search-failed"),
    "overloaded": (503, "search-busy"),
    "timeout": (504, "search-timeout"),
    "server error": (502, "search-failed"),
    "bad input": (422, "invalid-segment"),
}


def test_the_service_answers_each_failure_with_a_problem(
        row: Row, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The count endpoint, in process (the app `segql serve` runs), over the same rows."""
    kind = request.node.callspec.params["row"]
    for name, value in {"ELASTICSEARCH_URL": row.url, "SEGQL_TIMEOUT": "5",
                        **row.credentials, **row.env}.items():
        monkeypatch.setenv(name, value)
    app = create_app(Settings(es=connect(), index=row.index, auth=False))
    with TestClient(app) as client:
        reply = client.post(f"/v1/accounts/{A}/count",
                            json={"text": "(city has_value" if row.bad_input else
                                  "not city has_value"})
    status, problem_type = SERVICE[kind]
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["type"].endswith("/" + problem_type), body
    assert not _clean(reply.text), reply.text
    assert "127.0.0.1" not in reply.text  # the cluster's address is the operator's, not theirs
    if kind == "overloaded":
        assert reply.headers["retry-after"].isdigit()


# --- the translation itself, answer by answer (no cluster) ---------------------------------

def _answer(status: int, kind: str, **extra: str) -> dict[str, object]:
    cause = {"type": kind, "reason": "raw text of Elasticsearch", **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


@pytest.mark.parametrize(("status", "body", "kind", "says"), [
    (400, _answer(400, "query_shard_exception"), "rejected",
     "rejected the request (400: the query does not fit the index's fields"),
    (400, _answer(400, "some_new_exception"), "rejected",
     "rejected the request (400: some new)"),
    (401, _answer(401, "security_exception"), "authentication", "refused the credentials"),
    (403, ANSWERS[403], "forbidden",
     "does not allow these credentials to read index `other` (403)"),
    (404, _answer(404, "index_not_found_exception", index="nope"), "unknown-index",
     "no index `nope` on Elasticsearch at http://es:9200"),
    (404, _answer(404, "search_context_missing_exception"), "rejected",
     "(404: the snapshot of the search expired; run it again)"),
    (409, _answer(409, "version_conflict_engine_exception"), "rejected",
     "(409: a document changed meanwhile; run it again)"),
    (413, "", "rejected", "(413: the request is too large: send less at once)"),
    (429, ANSWERS[429], "overloaded", "is overloaded (429: its queues are full): retry"),
    (500, ANSWERS[500], "server-error", "failed (500): check its health"),
    (502, "<html>bad gateway</html>", "server-error", "failed (502)"),
    (503, ANSWERS[503], "server-error", "failed (503)"),
])
def test_each_answer_is_one_kind_in_plain_words(status: int, body: object, kind: str,
                                                says: str) -> None:
    error = from_answer(status, body, "http://es:9200")
    assert error.kind == kind and says in str(error), str(error)
    assert "raw text" not in str(error) and not _clean(str(error))
    assert error.exit_code == 1


def test_an_msearch_item_error_is_an_answer_too() -> None:
    item = {"type": "index_not_found_exception", "reason": "no such index [x]", "index": "x"}
    assert from_answer(404, item).kind == "unknown-index"
    assert str(from_answer(404, item).located("http://es:9200")) == (
        "no index `x` on Elasticsearch at http://es:9200: load contacts with `segql index` "
        "or choose another --index")


def test_what_is_not_a_cluster_failure_is_left_alone() -> None:
    assert translate(ValueError("x")) is None and translate(OSError(2, "gone")) is None
