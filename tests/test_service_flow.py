"""What a new integrator does, end to end over HTTP (the token comes from the operator's
`segql token create`, as docs/api.md says); concurrent use; and account isolation as a
property over two accounts with the same contact ids and segment names."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.indexer.files import open_records
from segql.sample import SAMPLE_PATH
from service import SEGQL, Service, running_service

pytestmark = pytest.mark.es

NOW = "2026-11-20T12:00:00Z"


def sample_records() -> list[dict[str, object]]:
    with open_records(str(SAMPLE_PATH)) as lines:
        return [json.loads(line) for line in lines]


def post_all(client: httpx.Client, account: str, records: list[dict[str, object]],
             chunk: int = 5000) -> int:
    applied = 0
    for start in range(0, len(records), chunk):
        reply = client.post(f"/v1/accounts/{account}/records",
                            json=records[start:start + chunk], params={"refresh": "wait_for"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["rejected"] == 0, [o for o in body["outcomes"] if o["reason"]][:3]
        applied += body["applied"]
    return applied


def test_a_new_integrator_end_to_end(es: Elasticsearch, es_url: str) -> None:
    with running_service(es, es_url) as service:
        env = {**os.environ, "ELASTICSEARCH_URL": es_url}
        made = subprocess.run([SEGQL, "token", "create", "-a", "demo", "--scope", "write",
                               "--index", service.index, "--label", "integrator"],
                              capture_output=True, text=True, env=env, check=True)
        token = made.stdout.strip()
        assert token.startswith("segql_") and token not in made.stderr
        client = httpx.Client(base_url=service.url, timeout=120,
                              headers={"Authorization": f"Bearer {token}"})
        with client:
            assert post_all(client, "demo", sample_records()) > 0
            declared = client.put("/v1/accounts/demo/catalog",
                                  json={"fields": {"age": "number", "city": "text"}})
            assert declared.status_code == 200, declared.text
            catalog = client.get("/v1/accounts/demo/catalog").json()
            ages = [f for f in catalog["fields"] if f["name"] == "age"]
            assert ages and ages[0]["type"] == "number"
            fields = client.get("/v1/accounts/demo/catalog/react-querybuilder").json()
            assert {f["name"] for f in fields} >= {"city", "age", "email"}
            query = {"combinator": "and", "rules": [
                {"field": "city", "operator": "beginsWith", "value": "War"},
                {"field": "age", "operator": "between", "value": "25,40"}]}
            wrong = {**query, "rules": [query["rules"][0],
                                        {"field": "age", "operator": "beginsWith",
                                         "value": "4"}]}
            refused = client.post("/v1/accounts/demo/import/react-querybuilder", json=wrong)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            pointers = [d["pointer"] for d in refused.json()["diagnostics"]]
            assert pointers == ["/rules/1/operator"], refused.text
            converted = client.post("/v1/accounts/demo/import/react-querybuilder",
                                    json=query).json()
            assert converted["text"] == 'all(city starts_with "War", age between 25 and 40)'
            saved = client.post("/v1/accounts/demo/segments",
                                json={"name": "Warsaw 25-40", "ast": converted["ast"]})
            assert saved.status_code == 201, saved.text
            counted = client.post("/v1/accounts/demo/count",
                                  json={"saved": "Warsaw 25-40"}).json()
            assert counted["count"] > 0 and counted["reach"]["email"] > 0
            exported = client.post("/v1/accounts/demo/export",
                                   json={"saved": "Warsaw 25-40", "channel": "email",
                                         "format": "csv"})
            assert exported.status_code == 200
            over_http = list(csv.reader(io.StringIO(exported.text)))
        cli = subprocess.run([SEGQL, "export", "--segment", "Warsaw 25-40", "-a", "demo",
                              "--channel", "email", "--format", "csv", "--index",
                              service.index], capture_output=True, text=True, env=env,
                             check=True)
        by_cli = list(csv.reader(io.StringIO(cli.stdout)))
        assert over_http[0] == by_cli[0] == ["contact_id", "address"]
        assert sorted(over_http[1:]) == sorted(by_cli[1:])
        assert len(over_http) - 1 == json.loads(cli.stderr.strip().splitlines()[-1])[
            "exported"] > 0


def test_concurrent_counts_exports_and_ingestion(es: Elasticsearch, es_url: str) -> None:
    """Two worker processes; counts and exports of a segment that the concurrent writes
    don't touch stay exact while new contacts stream in; every new contact lands."""
    with running_service(es, es_url, workers=2) as service:
        with service.client("demo", "write") as client:
            post_all(client, "demo", sample_records())
            segment = {"text": 'all(city starts_with "War", event MailOpen occurred)',
                       "now": NOW}
            expected = client.post("/v1/accounts/demo/count", json=segment).json()["count"]
            ids = sorted(json.loads(line)["contact_id"] for line in client.post(
                "/v1/accounts/demo/export", json=segment).text.splitlines()[:-1])
        assert expected == len(ids) > 0

        def count(_: int) -> int:
            with service.client("demo", "read") as c:
                return int(c.post("/v1/accounts/demo/count", json=segment).json()["count"])

        def export(_: int) -> list[str]:
            with service.client("demo", "read") as c:
                lines = c.post("/v1/accounts/demo/export", json=segment).text.splitlines()
                assert json.loads(lines[-1])["complete"] is True
                return sorted(json.loads(line)["contact_id"] for line in lines[:-1])

        def ingest(batch: int) -> int:
            records = [{"type": "contact", "id": f"conc-{batch}-{i}",
                        "fields": {"city": "Concurrency"}} for i in range(200)]
            with service.client("demo", "write") as c:
                reply = c.post("/v1/accounts/demo/records", json=records).json()
                return int(reply["applied"])

        with ThreadPoolExecutor(max_workers=12) as pool:
            counts = pool.map(count, range(24))
            exports = pool.map(export, range(8))
            applied = pool.map(ingest, range(10))
            assert set(counts) == {expected}
            assert all(found == ids for found in exports)
            assert sum(applied) == 2000
        with service.client("demo", "read") as client:
            es.indices.refresh(index=service.index)
            total = client.post("/v1/accounts/demo/count",
                                json={"text": 'city = "Concurrency"'}).json()["count"]
            assert total == 2000


# --- isolation -----------------------------------------------------------------------------

ACCOUNTS = ("alpha", "beta")
SHARED_SEGMENT = "Shared name"


def twin_records(account: str) -> list[dict[str, object]]:
    """The same contact ids in both accounts, with addresses and values that name the
    account, so any leak shows in a response."""
    out: list[dict[str, object]] = []
    for i in range(60):
        cid = f"c{i}"
        out.append({"type": "contact", "id": cid, "email": f"{cid}@{account}.example",
                    "fields": {"city": f"{account}-city", "n": i, "tag": account}})
        out.append({"type": "event", "contact": cid, "id": f"e{i}", "name": "Open",
                    "ts": "2026-11-01T10:00:00Z", "props": {"who": account}})
    return out


@pytest.fixture(scope="module")
def twins(es: Elasticsearch, es_url: str) -> Iterator[Service]:
    with running_service(es, es_url) as service:
        for account in ACCOUNTS:
            with service.client(account, "write") as client:
                post_all(client, account, twin_records(account))
                made = client.post(f"/v1/accounts/{account}/segments",
                                   json={"name": SHARED_SEGMENT,
                                         "text": f'n >= {10 if account == "alpha" else 30}',
                                         "description": f"{account} only"})
                assert made.status_code == 201, made.text
        yield service


REQUESTS = st.sampled_from([
    ("POST", "count", {"text": "n >= 0"}),
    ("POST", "count", {"saved": SHARED_SEGMENT}),
    ("POST", "export", {"text": "event Open occurred", "channel": "email"}),
    ("POST", "export", {"saved": SHARED_SEGMENT, "format": "csv", "channel": "email"}),
    ("POST", "pages", {"text": "n < 50", "channel": "email", "size": 7}),
    ("POST", "explain", {"text": "n >= 3 and event Open occurred", "contact_id": "c3"}),
    ("POST", "explain", {"saved": SHARED_SEGMENT, "contact_id": "c40"}),
    ("POST", "check", {"text": 'in_segment "Shared name"'}),
    ("GET", "segments", None),
    ("GET", "segments/Shared name", None),
    ("GET", "segments/Shared name/members", None),
    ("GET", "catalog", None),
])


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=REQUESTS, holder=st.sampled_from(ACCOUNTS), path=st.sampled_from(ACCOUNTS))
def test_no_response_carries_the_other_accounts_data(
        twins: Service, request: tuple[str, str, dict[str, object] | None], holder: str,
        path: str) -> None:
    method, endpoint, body = request
    with twins.client(holder, "read") as client:
        reply = client.request(method, f"/v1/accounts/{path}/{endpoint}", json=body)
        if holder != path:
            assert reply.status_code == 403, reply.text
            assert "@" not in reply.text and "only" not in reply.text
            return
        assert reply.status_code == 200, reply.text
        other = next(a for a in ACCOUNTS if a != holder)
        assert other not in reply.text, (endpoint, reply.text[:500])
        if endpoint.startswith("export") or endpoint == "pages":
            assert f"@{holder}.example" in reply.text


def test_a_cursor_cannot_cross_accounts(twins: Service) -> None:
    rng = random.Random(3)
    with twins.client("alpha", "read") as alpha:
        page = alpha.post("/v1/accounts/alpha/pages", json={"text": "n < 50", "size": 5,
                                                            "channel": "email"}).json()
    with twins.client("beta", "read") as beta:
        for _ in range(3):
            size = rng.choice([5, 6])
            reply = beta.post("/v1/accounts/beta/pages",
                              json={"text": "n < 50", "size": size, "channel": "email",
                                    "cursor": page["cursor"]})
            assert reply.status_code == 400, reply.text
            assert "alpha" not in reply.text
