"""The HTTP service over real HTTP: `segql serve` as a subprocess, a real node behind it.

Every endpoint is exercised; answers are compared with the library's (count, export,
explain) on the shipped sample data, loaded through the service's own ingestion endpoint.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from elasticsearch import Elasticsearch

from segql import api
from segql.compiler.context import Context
from segql.indexer.files import open_records
from segql.indexer.ingest import MAX_RECORDS
from segql.sample import SAMPLE_PATH
from service import SEGQL, Service, running_service

pytestmark = pytest.mark.es

ACCOUNT = "demo"
SEGMENTS = [
    'all(city starts_with "War", event MailOpen occurred)',
    'any(email ends_with "@gmail.com", city equals "KRAKÓW")',
    'all(tags contains "vip", not event Purchase occurred)',
    'all(age between 25 and 40, event Purchase where (value > 200 and currency = "PLN") '
    "occurred at_least 2 within 365d)",
]
NOW = "2026-11-20T12:00:00Z"


@pytest.fixture(scope="module")
def service(es: Elasticsearch, es_url: str) -> Iterator[Service]:
    with running_service(es, es_url) as running:
        with open_records(str(SAMPLE_PATH)) as lines:
            records = [json.loads(line) for line in lines]
        with running.client(ACCOUNT, "write") as client:
            for start in range(0, len(records), 5000):
                chunk = records[start:start + 5000]
                reply = client.post(f"/v1/accounts/{ACCOUNT}/records", json=chunk,
                                    params={"refresh": "wait_for"})
                assert reply.status_code == 200, reply.text
                assert reply.json()["rejected"] == 0
        yield running


def ctx_for(service: Service) -> Context:


    return api.context(service.es, ACCOUNT, index=service.index,
                       now=datetime.fromisoformat(NOW.replace("Z", "+00:00")))


def is_problem(reply: httpx.Response, status: int) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = reply.json()
    assert body["status"] == status and body["title"] and str(body["type"]).startswith("http")
    text = reply.text
    for leak in ("Traceback", "Error(", "ApiError", "elasticsearch.", "File \""):
        assert leak not in text, text
    return body


# --- the service itself --------------------------------------------------------------------


def test_openapi_and_an_offline_reference_page(service: Service) -> None:
    with service.client() as client:
        spec = client.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        assert all(path.startswith("/v1/") for path in spec["paths"])
        page = client.get("/docs")
        assert page.status_code == 200
        for url in [u for u in page.text.split('"') if u.startswith(("http:", "https:", "//"))]:
            pytest.fail(f"the reference page loads {url} from outside")
        assert client.get("/static-docs/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer nope"}, 401),
    ({"Authorization": "Basic abc"}, 401),
    ({"Authorization": "Bearer segql_0123456789abcdef01234567_x"}, 401),
])
def test_no_valid_token_no_answer(service: Service, headers: dict[str, str],
                                  status: int) -> None:
    reply = httpx.post(f"{service.url}/v1/accounts/{ACCOUNT}/count", headers=headers,
                       json={"text": "age > 1"})
    is_problem(reply, status)
    assert reply.headers.get("www-authenticate") == "Bearer"


def test_a_token_is_for_one_account_and_one_scope(service: Service) -> None:
    with service.client("other", "write") as other:
        is_problem(other.post(f"/v1/accounts/{ACCOUNT}/count", json={"text": "age > 1"}),
                   403)
        is_problem(other.get(f"/v1/accounts/{ACCOUNT}/segments"), 403)
    with service.client(ACCOUNT, "read") as reader:
        assert reader.post(f"/v1/accounts/{ACCOUNT}/count",
                           json={"text": "age > 1"}).status_code == 200
        is_problem(reader.post(f"/v1/accounts/{ACCOUNT}/records", json=[]), 403)
        is_problem(reader.post(f"/v1/accounts/{ACCOUNT}/segments",
                               json={"name": "x", "text": "age > 1"}), 403)


# --- the language ------------------------------------------------------------------------


def test_parse_render_format_round_trip(service: Service) -> None:
    text = 'all(city starts_with "War",event MailOpen occurred within 30d)'
    with service.client(ACCOUNT, "read") as client:
        tree = client.post("/v1/parse", json={"text": text}).json()["ast"]
        assert tree["type"] == "all"
        rendered = client.post("/v1/render", json={"ast": tree}).json()["text"]
        formatted = client.post("/v1/format", json={"text": text}).json()["text"]
        assert rendered == formatted
        assert client.post("/v1/parse", json={"text": rendered}).json()["ast"] == tree
        schema = client.get("/v1/schema").json()
        assert schema["$schema"].endswith("2020-12/schema")


def test_text_errors_have_positions_and_json_errors_pointers(service: Service) -> None:
    with service.client(ACCOUNT, "read") as client:
        bad = client.post("/v1/check", json={"text": 'all(city = "a" age > 1)'}).json()
        assert bad["valid"] is False
        first = bad["diagnostics"][0]
        assert first["line"] == 1 and first["column"] == 16 and first["code"]
        assert first.get("pointer") is None
        tree = {"type": "all", "items": [{"type": "field", "field": "city", "op": "equals",
                                          "value": {"type": "string", "value": "a"}},
                                         {"type": "field", "field": "age", "op": "bogus",
                                          "value": {"type": "number", "value": 1}}]}
        reply = client.post("/v1/check", json={"ast": tree}).json()
        assert reply["valid"] is False
        assert reply["diagnostics"][0]["pointer"].startswith("/ast/items/1")
        typed = client.post(f"/v1/accounts/{ACCOUNT}/check",
                            json={"text": 'all(city = "x", age > "old")'}).json()
        assert typed["valid"] is False
        assert [d["code"] for d in typed["diagnostics"]] == ["E_OPERAND_TYPE"]
        assert typed["diagnostics"][0]["column"] == 23


def test_give_a_segment_exactly_one_way(service: Service) -> None:
    with service.client(ACCOUNT, "read") as client:
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/count", json={}), 422)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/count",
                               json={"text": "age > 1", "saved": "x"}), 422)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/count", json={"text": "age >"}), 422)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/count",
                               json={"text": "age > 1", "timezone": "Mars/Base"}), 400)


# --- send time -----------------------------------------------------------------------------


def test_counts_equal_the_library(service: Service) -> None:
    ctx = ctx_for(service)
    with service.client(ACCOUNT, "read") as client:
        for text in SEGMENTS:
            reply = client.post(f"/v1/accounts/{ACCOUNT}/count", json={"text": text,
                                                                     "now": NOW}).json()
            expected = api.count(service.es, text, ctx, service.index, channels=True)
            assert reply["count"] == expected.count > 0, text
            assert reply["reach"] == expected.reachable, text
        compiled = client.post(f"/v1/accounts/{ACCOUNT}/compile",
                               json={"text": SEGMENTS[0], "now": NOW}).json()
        assert compiled == api.compile_text(SEGMENTS[0], ctx)


def test_export_ndjson_and_csv_equal_the_library(service: Service) -> None:
    ctx = ctx_for(service)
    text = SEGMENTS[1]
    expected = sorted(api.export_ids(service.es, text, ctx, service.index))
    with service.client(ACCOUNT, "read") as client:
        reply = client.post(f"/v1/accounts/{ACCOUNT}/export",
                            json={"text": text, "now": NOW})
        lines = [json.loads(line) for line in reply.text.splitlines()]
        assert lines[-1] == {"complete": True, "contacts": len(expected),
                             "exported": len(expected), "without_address": 0,
                             "renewed": 0}  # one snapshot throughout (issue 18)
        assert [row["contact_id"] for row in lines[:-1]] == expected  # contact id order
        assert reply.headers["x-segql-contacts"] == str(len(expected))
        email = client.post(f"/v1/accounts/{ACCOUNT}/export",
                            json={"text": text, "now": NOW, "channel": "email",
                                  "format": "csv"})
        rows = list(csv.reader(io.StringIO(email.text)))
        assert rows[0] == ["contact_id", "address"]
        library = api.export(service.es, text, ctx, channel="email", index=service.index)
        assert sorted(tuple(r) for r in rows[1:]) == sorted(
            (r.contact_id, r.address or "") for r in library)


def test_cursor_pages_interrupted_and_resumed_give_every_member_once(
        service: Service) -> None:
    ctx = ctx_for(service)
    text = SEGMENTS[1]
    expected = sorted(api.export_ids(service.es, text, ctx, service.index))
    rng = random.Random(7)
    with service.client(ACCOUNT, "read") as client:
        for size in (1, 37, 250, len(expected), 5000):
            seen: list[str] = []
            cursor = None
            requests = 0
            while True:
                body = {"text": text, "now": NOW, "size": size, "cursor": cursor}
                reply = client.post(f"/v1/accounts/{ACCOUNT}/pages", json=body)
                assert reply.status_code == 200, reply.text
                requests += 1
                if rng.random() < 0.3:  # the answer was lost: ask again, same cursor
                    again = client.post(f"/v1/accounts/{ACCOUNT}/pages", json=body)
                    assert again.json() == reply.json()
                page = reply.json()
                assert page["contacts"] == len(expected)
                seen += [row["contact_id"] for row in page["rows"]]
                cursor = page["cursor"]
                if cursor is None:
                    break
                assert requests < len(expected) + 3
            assert sorted(seen) == expected, size


def test_a_cursor_is_only_good_for_what_it_was_made_for(service: Service) -> None:
    with service.client(ACCOUNT, "read") as client:
        first = client.post(f"/v1/accounts/{ACCOUNT}/pages",
                            json={"text": SEGMENTS[1], "now": NOW, "size": 5}).json()
        cursor = first["cursor"]
        body, _, signature = cursor.partition(".")
        forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/pages",
                               json={"text": SEGMENTS[1], "now": NOW, "size": 5,
                                     "cursor": forged}), 400)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/pages",
                               json={"text": SEGMENTS[0], "now": NOW, "size": 5,
                                     "cursor": cursor}), 400)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/pages",
                               json={"text": SEGMENTS[1], "now": NOW, "size": 5,
                                     "channel": "sms", "cursor": cursor}), 400)
    with service.client("other", "read") as other:
        is_problem(other.post("/v1/accounts/other/pages",
                              json={"text": SEGMENTS[1], "now": NOW, "size": 5,
                                    "cursor": cursor}), 400)


def test_explain_one_contact(service: Service) -> None:
    ctx = ctx_for(service)
    member = next(iter(api.export_ids(service.es, SEGMENTS[0], ctx, service.index)))
    with service.client(ACCOUNT, "read") as client:
        tree = client.post(f"/v1/accounts/{ACCOUNT}/explain",
                           json={"text": SEGMENTS[0], "now": NOW,
                                 "contact_id": member}).json()
        assert tree["result"] is True and tree["kind"] == "all"
        assert [child["result"] for child in tree["children"]] == [True, True]
        assert tree["children"][1]["count"] >= 1
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/explain",
                               json={"text": SEGMENTS[0], "contact_id": "no-such"}), 404)


# --- saved segments ------------------------------------------------------------------------


def test_saved_segments_through_their_life(service: Service) -> None:
    with service.client(ACCOUNT, "write") as client:
        base = f"/v1/accounts/{ACCOUNT}/segments"
        made = client.post(base, json={"name": "Warsaw", "text": SEGMENTS[0],
                                       "description": "openers in Warsaw"})
        assert made.status_code == 201, made.text
        is_problem(client.post(base, json={"name": "WARSAW", "text": "age > 1"}), 409)
        tree = client.post("/v1/parse", json={"text": 'in_segment "Warsaw" and vip is_true'}
                           ).json()["ast"]
        assert client.post(base, json={"name": "Warsaw VIPs", "ast": tree}).status_code == 201
        listed = {s["name"]: s for s in client.get(base, params={"search": "warsaw"}).json()}
        assert set(listed) == {"Warsaw", "Warsaw VIPs"}
        count = client.post(f"/v1/accounts/{ACCOUNT}/count",
                            json={"saved": "Warsaw"}).json()["count"]
        assert listed["Warsaw"]["count"] == count > 0
        shown = client.get(f"{base}/Warsaw").json()
        assert shown["count"] == count and shown["description"] == "openers in Warsaw"
        members = client.get(f"{base}/Warsaw/members", params={"size": 7}).json()
        assert members["total"] == count and len(members["members"]) == 7
        refused = is_problem(client.delete(f"{base}/Warsaw"), 409)
        assert "Warsaw VIPs" in str(refused["detail"])
        changed = client.put(f"{base}/Warsaw VIPs", json={"text": "vip is_true"})
        assert changed.json()["text"] == "vip is_true"
        assert client.delete(f"{base}/Warsaw").status_code == 204
        is_problem(client.get(f"{base}/Warsaw"), 404)
        assert client.delete(f"{base}/Warsaw VIPs").status_code == 204


# --- ingestion -----------------------------------------------------------------------------


def test_ingestion_reports_each_record(service: Service) -> None:
    records = [
        {"type": "contact", "id": "http-1", "fields": {"city": "Gdańsk"}},
        {"type": "event", "id": "http-e1", "contact": "http-1", "name": "MailOpen",
         "ts": "2026-11-01T10:00:00Z"},
        {"type": "event", "id": "http-e1", "contact": "http-1", "name": "MailOpen",
         "ts": "2026-11-01T10:00:00Z"},
        {"type": "contact", "id": "http-2", "account": "other", "fields": {}},
        {"type": "nonsense"},
    ]
    with service.client(ACCOUNT, "write") as client:
        reply = client.post(f"/v1/accounts/{ACCOUNT}/records", json=records,
                            params={"refresh": "wait_for"}).json()
        assert [o["status"] for o in reply["outcomes"]] == [
            "applied", "applied", "duplicate", "rejected", "rejected"]
        assert "other" in reply["outcomes"][3]["reason"]
        assert reply["outcomes"][4]["index"] == 4 and reply["outcomes"][4]["reason"]
        count = client.post(f"/v1/accounts/{ACCOUNT}/count",
                            json={"text": 'city = "Gdańsk" and event MailOpen occurred'}
                            ).json()["count"]
        assert count >= 1
        lines = "\n".join(json.dumps(r) for r in records[:3]) + "\nnot json\n"
        again = client.post(f"/v1/accounts/{ACCOUNT}/records", content=lines,
                            headers={"content-type": "application/x-ndjson"}).json()
        assert [o["status"] for o in again["outcomes"]] == [
            "duplicate", "duplicate", "duplicate", "rejected"]
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/records", content=b"{",
                               headers={"content-type": "application/json"}), 400)
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/records",
                               content=b"[" + b"{}," * MAX_RECORDS + b"{}]",
                               headers={"content-type": "application/json"}), 413)
        big = b"[" + b" " * (17 * 1024 * 1024) + b"]"
        is_problem(client.post(f"/v1/accounts/{ACCOUNT}/records", content=big,
                               headers={"content-type": "application/json"}), 413)


# --- starting ------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "needs"), [
    (["--port", "1"], "no API token exists"),
    (["--no-auth", "--host", "0.0.0.0", "--port", "1"], "only on a loopback address"),
])
def test_serve_refuses_to_start_open_to_anyone(es_url: str, argv: list[str],
                                               needs: str) -> None:
    """No token yet (a new index): refused; --no-auth away from loopback: refused."""
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    done = subprocess.run([SEGQL, "serve", "--index", f"segql-empty-{uuid.uuid4().hex[:8]}",
                           *argv], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert needs in done.stderr and "Traceback" not in done.stderr
