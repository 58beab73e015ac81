"""Consent per channel and the holdout `bucket` (LANGUAGE.md §3, §8), end to end.

* `bucket` equals an independent SHA-256 computation for 10,000 ids — in the contract, in
  the document written, in Elasticsearch's answers and in the reference evaluator — and it
  is uniform (a chi-square test at p > 0.01).
* `consent` in contact records: each channel merges on its own; anything but the four
  states (or null) is a reject with its reason (`segql index` exits 4, the HTTP ingest
  says so per record).
* A per-channel export, count and pages never include an unsubscribed, bounced or
  complained contact, and report how many they left out, by reason: the library, the
  CLI and the HTTP service.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch, helpers

from segql import api
from segql.cli.main import cli
from segql.compiler.context import Context
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact, bucket
from segql.contract.document import contact_document
from segql.indexer.loader import load
from segql.indexer.records import ContactStore, RecordError, fold_records
from service import SEGQL, running_service

# --- bucket --------------------------------------------------------------------------------


def sha_bucket(contact_id: str) -> int:
    """Written apart from `contract.contact.bucket`: the first 16 hex digits of the
    SHA-256 of the UTF-8 id are its first 8 bytes, big-endian."""
    return int(hashlib.sha256(contact_id.encode("utf-8")).hexdigest()[:16], 16) % 10_000


def ids(n: int) -> list[str]:
    """Ids of every kind: plain, numeric, e-mail-like, non-ASCII, long."""
    kinds = (lambda i: f"c{i}", lambda i: str(i), lambda i: f"user-{i}@example.com",
             lambda i: f"Łódź-{i}-żółw", lambda i: f"{i:08x}" * 5, lambda i: f"客户{i}")
    return [kinds[i % len(kinds)](i) for i in range(n)]


IDS = ids(10_000)


def test_bucket_is_the_sha256_of_the_id_for_10000_ids() -> None:
    for cid in IDS:
        expected = sha_bucket(cid)
        contact = Contact(account="acme", id=cid)
        assert bucket(cid) == contact.value("bucket") == expected, cid
        assert contact_document(contact)["fields"]["@bucket"] == {"n": [float(expected)]}
    # pinned values, from `printf %s ID | sha256sum` (its first 16 hex digits) and the rule
    for cid, head in (("c1", "d0f631ca1ddba8db"), ("Łódź-3-żółw", "19e9474a1a419d7c")):
        assert bucket(cid) == int(head, 16) % 10_000


#: Upper 1 % points of the chi-square distribution (statistical tables): above them, the
#: hypothesis "uniform" is rejected at p < 0.01.
CHI2_99 = {9: 21.666, 99: 134.642}


def chi_square(counts: list[int]) -> float:
    expected = sum(counts) / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


@pytest.mark.parametrize("bins", [10, 100])
def test_bucket_is_uniform_by_a_chi_square_test(bins: int) -> None:
    """100,000 ids into `bins` equal ranges of bucket (10: the 10 % holdouts): the
    statistic stays below the 1 % critical value of chi-square with bins - 1 degrees of
    freedom, i.e. p > 0.01."""
    width = 10_000 // bins
    counts = Counter(bucket(cid) // width for cid in ids(100_000))
    statistic = chi_square([counts[b] for b in range(bins)])
    critical = CHI2_99[bins - 1]
    # the table value agrees with the Wilson-Hilferty approximation (z = 2.3263)
    k = bins - 1
    assert critical == pytest.approx(k * (1 - 2 / (9 * k) + 2.3263 * math.sqrt(2 / (9 * k)))
                                     ** 3, rel=0.01)
    assert statistic < critical, (statistic, critical)
    # and the 10,000 single values are all reached by 100,000 ids far more evenly than a
    # broken hash (e.g. one that ignores the id's tail) would do
    assert len({bucket(cid) for cid in ids(100_000)}) > 9_900


HOLDOUTS = [
    "bucket < 1000", "bucket between 1000 and 1999", "bucket >= 9000", "bucket <= 0",
    "bucket != 5000", "bucket in [0, 1, 2, 3, 4, 9999]", "bucket not_in [7, 8]",
    "bucket has_value", "bucket has_no_value", "bucket > 4999.5",
    f"bucket = {sha_bucket(IDS[17])}",
]


def expected_count(text: str) -> int:
    """What the text means for IDS, by Python over the independent buckets."""
    tests = {
        "bucket < 1000": lambda b: b < 1000, "bucket between 1000 and 1999":
        lambda b: 1000 <= b <= 1999, "bucket >= 9000": lambda b: b >= 9000,
        "bucket <= 0": lambda b: b <= 0, "bucket != 5000": lambda b: b != 5000,
        "bucket in [0, 1, 2, 3, 4, 9999]": lambda b: b in (0, 1, 2, 3, 4, 9999),
        "bucket not_in [7, 8]": lambda b: b not in (7, 8), "bucket has_value": lambda b: True,
        "bucket has_no_value": lambda b: False, "bucket > 4999.5": lambda b: b > 4999.5,
    }
    test = tests.get(text, lambda b: b == sha_bucket(IDS[17]))
    return sum(1 for cid in IDS if test(sha_bucket(cid)))


@pytest.mark.es
def test_bucket_through_the_indexer_elasticsearch_and_the_evaluator(
    es: Elasticsearch, index_name: str
) -> None:
    lines = [json.dumps({"type": "contact", "account": "acme", "id": cid}, ensure_ascii=False)
             for cid in IDS]
    assert load(es, index_name, lines).failed == []
    es.indices.refresh(index=index_name)
    stored = {hit["_source"]["contact_id"]: hit["_source"]["fields"]["@bucket"]["n"][0]
              for hit in helpers.scan(es, index=index_name, query={"query": {"match_all": {}}})}
    assert stored == {cid: float(sha_bucket(cid)) for cid in IDS}
    store, _ = fold_records(lines)
    contacts = list(store.contacts.values())
    ctx = Context(account="acme")
    for text in HOLDOUTS:
        expected = expected_count(text)
        assert api.count(es, text, ctx, index_name).count == expected, text
        assert len(matching_ids(api.prepare(text, ctx), contacts)) == expected, text
    # the two 10 % holdouts are disjoint and about 10 % each
    first = set(api.export_ids(es, "bucket < 1000", ctx, index_name))
    second = set(api.export_ids(es, "bucket between 1000 and 1999", ctx, index_name))
    assert not first & second and 900 < len(first) < 1100 and 900 < len(second) < 1100


def test_records_can_not_set_a_computed_field() -> None:
    for name, part in (("bucket", "computed from the contact id"),
                       ("email_status", '"consent": {"email"'),
                       ("push_status", '"consent": {"push"')):
        with pytest.raises(RecordError, match=part.replace("{", r"\{")):
            ContactStore().apply({"type": "contact", "account": "acme", "id": "c1",
                                  "fields": {name: 1}})


# --- consent in records --------------------------------------------------------------------


def contact(cid: str, account: str = "acme", **kw: Any) -> dict[str, Any]:
    return {"type": "contact", "account": account, "id": cid, **kw}


#: (consent of the successive records, the consent that results)
MERGES = [
    ([{"email": "subscribed"}], {"email": "subscribed"}),
    ([{"email": "subscribed"}, {"email": "unsubscribed"}], {"email": "unsubscribed"}),
    ([{"email": "bounced", "sms": "complained"}, {"email": None}], {"sms": "complained"}),
    ([{"email": "bounced"}, {"push": "subscribed"}], {"email": "bounced", "push": "subscribed"}),
    ([{"sms": "complained"}, None], {"sms": "complained"}),  # `"consent": null`: no change
    ([{"sms": "complained"}, {}], {"sms": "complained"}),
    ([{"push": None}], {}),
    ([{"email": "unsubscribed", "sms": "unsubscribed", "push": "unsubscribed"},
      {"sms": "subscribed"}, {"push": None}], {"email": "unsubscribed", "sms": "subscribed"}),
]


@pytest.mark.parametrize(("consents", "expected"), MERGES)
def test_each_channel_merges_on_its_own(consents: list[Any], expected: dict[str, str]) -> None:
    store = ContactStore()
    for consent in consents:
        store.apply(contact("c1", consent=consent, fields={"city": "x"}))
    found = store.contacts[("acme", "c1")]
    assert found.consent == expected and found.fields == {"city": "x"}
    for channel in ("email", "sms", "push"):
        assert found.value(f"{channel}_status") == expected.get(channel)


#: malformed `consent` → a part of the reason
BAD = [
    ({"email": "Unsubscribed"}, "`consent.email` is \"Unsubscribed\": one of subscribed, "
                                "unsubscribed, bounced, complained (exactly)"),
    ({"email": "opted_out"}, "`consent.email` is \"opted_out\""),
    ({"sms": ""}, "`consent.sms` is \"\""),
    ({"push": True}, "`consent.push` is true"),
    ({"push": ["bounced"]}, "`consent.push` is [\"bounced\"]"),
    ({"fax": "subscribed"}, "unknown channel 'fax': one of email, sms, push"),
    ({"Email": "subscribed"}, "unknown channel 'Email'"),
    ("unsubscribed", "`consent` must be an object"),
    (["email"], "`consent` must be an object"),
    (1, "`consent` must be an object"),
]


@pytest.mark.parametrize(("consent", "reason"), BAD)
def test_malformed_consent_is_a_reject_that_changes_nothing(consent: Any, reason: str) -> None:
    store = ContactStore()
    store.apply(contact("c1", consent={"email": "subscribed"}, fields={"city": "x"}))
    with pytest.raises(RecordError) as raised:
        store.apply(contact("c1", consent=consent, fields={"city": "y"}))
    assert reason in str(raised.value)
    found = store.contacts[("acme", "c1")]
    assert (found.consent, found.fields) == ({"email": "subscribed"}, {"city": "x"})


def test_consent_survives_the_document_round_trip() -> None:
    from segql.contract.document import document_contact
    store = ContactStore()
    store.apply(contact("c1", consent={"email": "bounced", "push": "subscribed"}))
    found = store.contacts[("acme", "c1")]
    document = contact_document(found)
    assert document["raw"]["consent"] == {"email": "bounced", "push": "subscribed"}
    assert document["fields"]["@email_status"] == {"f": ["bounced"], "r": ["decnuob"]}
    assert document["fields"]["@push_status"] == {"f": ["subscribed"], "r": ["debircsbus"]}
    assert "@sms_status" not in document["fields"]
    assert document_contact(document) == found


@pytest.mark.es
def test_segql_index_rejects_malformed_consent_with_exit_4(
    es_url: str, index_name: str, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in (
        contact("c1", email="a@x.pl", consent={"email": "subscribed"}),
        contact("c2", email="b@x.pl", consent={"email": "opted_out"}),
        contact("c3", email="c@x.pl", consent={"whatsapp": "subscribed"}),
    )) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    done = subprocess.run([SEGQL, "index", str(feed), "--index", index_name, "--rejects",
                           str(rejects)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ELASTICSEARCH_URL": es_url})
    assert done.returncode == 4, done.stderr
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in written] == [
        (2, '`consent.email` is "opted_out": one of subscribed, unsubscribed, bounced, '
            "complained (exactly), or null to clear it"),
        (3, "`consent` has unknown channel 'whatsapp': one of email, sms, push"),
    ]
    assert "Traceback" not in done.stderr


# --- per-channel exports, counts and pages -------------------------------------------------

#: Consent set, changed and cleared over time; who each channel reaches is worked out by
#: hand in REACH below.
RECORDS = [
    contact("a1", email="a1@x.pl", phone="+481", push_tokens=["t1", "t2"],
            consent={"email": "subscribed", "push": "unsubscribed"}),
    contact("a2", email="a2@x.pl", phone="+482", consent={"email": "unsubscribed",
                                                          "sms": "subscribed"}),
    contact("a3", email="a3@x.pl", consent={"email": "bounced"}),
    contact("a4", email="a4@x.pl", push_tokens=["t4"], consent={"email": "complained"}),
    contact("a5", consent={"email": "unsubscribed"}),  # no address, and unsubscribed
    contact("a6"),
    contact("a7", email="a7@x.pl", consent={"sms": "bounced"}),
    contact("a8", email="a8@x.pl", consent={"email": "subscribed"}),
    contact("a9", email="a9@x.pl", phone="+489", consent={"email": "unsubscribed",
                                                          "sms": "complained"}),
    # later: a3's bounce is cleared, a8 bounces, a9 subscribes again
    contact("a3", consent={"email": None}),
    contact("a8", consent={"email": "bounced"}),
    contact("a9", consent={"email": "subscribed"}),
    # another account's unsubscribed contact counts nowhere here
    contact("a2", account="other", email="o@x.pl", consent={"email": "unsubscribed"}),
]
EVERYONE = "bucket has_value"
#: channel → (rows, left out by reason)
REACH: dict[str, tuple[list[tuple[str, str]], dict[str, int]]] = {
    "email": ([("a1", "a1@x.pl"), ("a3", "a3@x.pl"), ("a7", "a7@x.pl"), ("a9", "a9@x.pl")],
              {"no_address": 1, "unsubscribed": 2, "bounced": 1, "complained": 1}),
    "sms": ([("a1", "+481"), ("a2", "+482")],
            {"no_address": 5, "unsubscribed": 0, "bounced": 1, "complained": 1}),
    "push": ([("a4", "t4")],
             {"no_address": 7, "unsubscribed": 1, "bounced": 0, "complained": 0}),
}


@pytest.fixture
def consented(es: Elasticsearch, index_name: str) -> str:
    load(es, index_name, [json.dumps(r) for r in RECORDS])
    return index_name


@pytest.mark.es
def test_library_export_count_and_pages_leave_out_by_reason(
    es: Elasticsearch, consented: str
) -> None:
    ctx = api.context(es, "acme", index=consented)
    counted = api.count(es, EVERYONE, ctx, consented, channels=True)
    assert counted.count == 9
    for channel, (rows, left_out) in REACH.items():
        with api.export(es, EVERYONE, ctx, channel=channel, index=consented, page=2) as export:
            assert sorted((r.contact_id, r.address or "") for r in export) == rows
        assert export.left_out.to_json() == left_out
        assert export.without_address == left_out["no_address"]
        assert counted.reachable is not None and counted.left_out is not None
        assert counted.reachable[channel] == len({cid for cid, _ in rows})
        assert counted.left_out[channel].to_json() == left_out
        page = api.page(es, EVERYONE, ctx, key=b"k", channel=channel, size=2,
                        index=consented)
        paged = list(page.rows)
        while page.cursor is not None:
            page = api.page(es, EVERYONE, ctx, key=b"k", cursor=page.cursor,
                            channel=channel, size=2, index=consented)
            assert page.left_out is not None and page.left_out.to_json() == left_out
            paged.extend(page.rows)
        assert sorted(paged) == rows
    # the status fields read the consent (text operators; no value when unset)
    store, _ = fold_records([json.dumps(r) for r in RECORDS])
    contacts = list(store.contacts.values())
    for text, expected in (
        ('email_status = "UNSUBSCRIBED"', ["a2", "a5"]),
        ('email_status in ["bounced", "complained"]', ["a4", "a8"]),
        ("email_status has_no_value", ["a3", "a6", "a7"]),
        ('sms_status ends_with "ed"', ["a2", "a7", "a9"]),
        ('push_status != "unsubscribed"', ["a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"]),
        ('email_status starts_with "sub" and sms_status has_value', ["a9"]),
    ):
        assert sorted(api.export_ids(es, text, ctx, consented)) == expected, text
        assert matching_ids(api.prepare(text, ctx), contacts) == expected, text
    # explain answers the computed fields from Elasticsearch beside the evaluator
    text = f'email_status = "bounced" and bucket = {sha_bucket("a8")} and sms_status has_no_value'
    explained = api.explain(es, text, ctx, "a8", index=consented)
    assert explained.result is True and explained.agrees
    assert [child.result for child in explained.children] == [True, True, True]


@pytest.mark.es
def test_cli_export_and_count_report_who_was_left_out_and_why(
    es_url: str, consented: str
) -> None:
    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}
    for channel, (rows, left_out) in REACH.items():
        result = runner.invoke(cli, ["export", EVERYONE, "-a", "acme", "--index", consented,
                                     "--channel", channel, "--format", "csv"], env=env)
        assert result.exit_code == 0, result.output + result.stderr
        written = list(csv.reader(io.StringIO(result.stdout)))
        assert written[0] == ["contact_id", "address"]
        assert sorted(tuple(row) for row in written[1:]) == rows
        assert json.loads(result.stderr.strip().splitlines()[-1]) == {
            "exported": len(rows), "contacts": 9, "without_address": left_out["no_address"],
            "renewed": 0, "left_out": left_out}
    result = runner.invoke(cli, ["count", EVERYONE, "--channels", "-a", "acme", "--index",
                                 consented], env=env)
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(result.stdout) == {
        "total": 9, "email": 4, "sms": 2, "push": 1,
        "left_out": {channel: left_out for channel, (_, left_out) in REACH.items()}}


@pytest.mark.es
def test_http_count_pages_and_export_report_who_was_left_out_and_why(
    es: Elasticsearch, es_url: str
) -> None:
    with running_service(es, es_url) as service, service.client("acme", "write") as client:
        reply = client.post("/v1/accounts/acme/records", params={"refresh": "wait_for"},
                            json=[r for r in RECORDS if r["account"] == "acme"]
                            + [contact("bad", consent={"email": "gone"})])
        assert reply.status_code == 200, reply.text
        ingested = reply.json()
        assert ingested["rejected"] == 1
        assert ingested["outcomes"][-1]["status"] == "rejected"
        assert ingested["outcomes"][-1]["reason"].startswith('`consent.email` is "gone"')
        counted = client.post("/v1/accounts/acme/count", json={"text": EVERYONE}).json()
        assert counted["count"] == 9
        assert counted["reach"] == {"email": 4, "sms": 2, "push": 1}
        assert counted["left_out"] == {channel: left_out
                                       for channel, (_, left_out) in REACH.items()}
        for channel, (rows, left_out) in REACH.items():
            body = {"text": EVERYONE, "channel": channel}
            page = client.post("/v1/accounts/acme/pages", json={**body, "size": 3}).json()
            paged = list(page["rows"])
            assert page["left_out"] == left_out
            while page["cursor"]:
                page = client.post("/v1/accounts/acme/pages",
                                   json={**body, "size": 3, "cursor": page["cursor"]}).json()
                assert page["left_out"] == left_out
                paged.extend(page["rows"])
            assert sorted((r["contact_id"], r["address"]) for r in paged) == rows
            ndjson = client.post("/v1/accounts/acme/export", json=body)
            lines = [json.loads(line) for line in ndjson.text.splitlines()]
            assert lines[-1] == {"complete": True, "exported": len(rows), "contacts": 9,
                                 "without_address": left_out["no_address"], "renewed": 0,
                                 "left_out": left_out}
            assert sorted((r["contact_id"], r["address"]) for r in lines[:-1]) == rows
            exported = client.post("/v1/accounts/acme/export", json={**body, "format": "csv"})
            assert sorted(tuple(r) for r in list(csv.reader(io.StringIO(exported.text)))[1:]
                          ) == rows
            assert {reason: int(exported.headers[f"x-segql-left-out-{reason.replace('_', '-')}"])
                    for reason in left_out} == left_out
        without = client.post("/v1/accounts/acme/count", json={"text": EVERYONE,
                                                                "channels": False}).json()
        assert without["count"] == 9 and without["reach"] is None and without["left_out"] is None
        # the OpenAPI document describes the new fields
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert set(schemas["LeftOut"]["properties"]) == {"no_address", "unsubscribed",
                                                         "bounced", "complained"}
        assert "left_out" in schemas["CountResult"]["properties"]
        assert "left_out" in schemas["PageResult"]["properties"]
