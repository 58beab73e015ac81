"""Folding a record stream into contacts (LANGUAGE.md §8), and the rejects."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from segql.contract.document import contact_document
from segql.indexer.records import fold_records


def lines(*records: Any) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r) for r in records]


def contact(cid: str = "c1", **kw: Any) -> dict[str, Any]:
    return {"type": "contact", "account": "acme", "id": cid, **kw}


def event(eid: str, cid: str = "c1", name: str = "MailOpen", **kw: Any) -> dict[str, Any]:
    return {"type": "event", "account": "acme", "contact": cid, "id": eid, "name": name,
            "ts": "2025-01-01T10:00:00Z", **kw}


def test_contact_fields_merge_and_null_removes() -> None:
    store, rejects = fold_records(lines(
        contact(email="a@x.pl", fields={"city": "Warszawa", "age": 31}),
        contact(fields={"city": None, "vip": True}),
        contact(email=None),
    ))
    assert rejects == []
    assert store.contacts[("acme", "c1")].fields == {"age": 31, "vip": True}


def test_events_are_idempotent_and_may_come_first() -> None:
    store, rejects = fold_records(lines(
        event("e1"), event("e1"), contact(fields={"city": "Kraków"}),
    ))
    assert rejects == []
    found = store.contacts[("acme", "c1")]
    assert list(found.events) == ["e1"]
    assert found.fields == {"city": "Kraków"}


def test_conflicting_event_is_rejected_not_applied() -> None:
    store, rejects = fold_records(lines(event("e1"), event("e1", name="MailClick")))
    assert store.contacts[("acme", "c1")].events["e1"].name == "MailOpen"
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "event id 'e1' was already applied with other content")
    ]


def test_delete_removes_everything_and_later_records_recreate() -> None:
    store, _ = fold_records(lines(
        contact(fields={"city": "X"}), event("e1"),
        {"type": "delete", "account": "acme", "id": "c1"},
    ))
    assert store.contacts == {}
    assert store.deleted == {("acme", "c1")}
    store, _ = fold_records(lines(
        contact(fields={"city": "X"}), {"type": "delete", "account": "acme", "id": "c1"},
        event("e2"),
    ))
    assert store.deleted == set()
    assert store.contacts[("acme", "c1")].fields == {}


def test_visit_attributes_become_properties() -> None:
    store, rejects = fold_records(lines({
        "type": "visit", "account": "acme", "contact": "c1", "id": "v1",
        "ts": "2025-01-02T08:00:00Z", "url": "https://shop.example/p/42",
        "props": {"product_id": "42"},
    }))
    assert rejects == []
    visit = store.contacts[("acme", "c1")].visits["v1"]
    assert visit.props == {"product_id": "42", "url": "https://shop.example/p/42"}


BAD = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "a record must be a JSON object"),
    (json.dumps({"type": "contact", "id": "c1"}), "`account` must be"),
    (json.dumps({"type": "contact", "account": "a b", "id": "c1"}), "`account` must be"),
    (json.dumps({"type": "contact", "account": "acme"}), "`id` must be a non-empty string"),
    (json.dumps({"type": "nope", "account": "acme", "id": "x"}), "`type` must be one of"),
    (json.dumps(event("e1", ts="yesterday")), "`ts` is not an ISO 8601"),
    (json.dumps(contact(fields={"a": {"b": 1}})), "nested objects"),
    (json.dumps(contact(fields={"email": "x@y"})), "is an address"),
    (json.dumps(contact(push_tokens="tok")), "must be a list"),
    (json.dumps(contact(fields="x")), "`fields` must be an object"),
    (json.dumps(contact(fields={"t": "x" * 17000})), "longer than"),
    (json.dumps(contact(fields={"t": "ß" * 9000})), "longer than"),
    (json.dumps(contact("Ł" * 201)), "longer than 400 bytes"),
    ('{"type": "contact", "account": "acme", "id": "c", "fields": {"t": "\\ud800"}}',
     "surrogate"),
    ('{"type": "contact", "account": "acme", "id": "\\udfff"}', "surrogate"),
    ('{"type": "contact", "account": "acme", "id": "c", "fields": {"n": 1e400}}', "out of range"),
    ('{"type": "contact", "account": "acme", "id": "c", "fields": {"n": 1' + "0" * 400 + "}}",
     "out of range"),
]


@pytest.mark.parametrize(("line", "reason"), BAD, ids=[b[1] for b in BAD])
def test_bad_records_are_rejected_with_reason(line: str, reason: str) -> None:
    store, rejects = fold_records([json.dumps(contact("ok")), line, json.dumps(contact("ok2"))])
    assert len(store.contacts) == 2, "the records around a bad one are applied"
    assert len(rejects) == 1
    assert rejects[0].line == 2
    assert reason in rejects[0].reason


def test_invalid_utf8_line_is_rejected() -> None:
    store, rejects = fold_records([json.dumps(contact()).encode(), b'{"type": "\xff"}\n'])
    assert len(store.contacts) == 1
    assert rejects[0].reason.startswith("not UTF-8")


def test_document_slots() -> None:
    store, _ = fold_records(lines(
        contact(email="A@X.pl", push_tokens=["t1", "t2"],
                fields={"city": "Łódź", "age": 31, "vip": False, "signup": "2024-05-01",
                        "tags": ["b2b", "", None], "empty": "", "my field": "x"}),
        event("e1", props={"campaign": "Spring", "value": 12.5}),
    ))
    doc = contact_document(store.contacts[("acme", "c1")])
    assert doc["fields"] == {
        # raw values (`v`) only where the export reads them: the address fields
        "email": {"v": ["A@X.pl"], "f": ["a@x.pl"], "r": ["lp.x@a"]},
        "push_tokens": {"v": ["t1", "t2"], "f": ["t1", "t2"], "r": ["1t", "2t"]},
        "city": {"f": ["łódź"], "r": ["źdół"]},
        "age": {"n": [31.0]},
        "vip": {"b": [False]},
        # a date-only value is a calendar date (yyyymmdd) and its month-day (issue 16)
        "signup": {"f": ["2024-05-01"], "r": ["10-50-4202"], "c": [20240501], "m": [501]},
        "tags": {"f": ["b2b"], "r": ["b2b"]},
        "~6d79206669656c64": {"f": ["x"], "r": ["x"]},
        # computed for every contact: sha256("c1")[:8] big-endian % 10000
        "@bucket": {"n": [float(int.from_bytes(
            hashlib.sha256(b"c1").digest()[:8], "big") % 10000)]},
    }
    (e1,) = doc["events"]
    assert e1 == {"id": "e1", "ts": "2025-01-01T10:00:00.000Z", "name": "MailOpen",
                  "props": {"campaign": "Spring", "value": 12.5},
                  "pf": ["campaign\x00spring"], "pn": ["value\x00c029000000000000"]}
    assert "anniv" not in doc  # no instant in any field


def test_instants_get_an_anniversary_point() -> None:
    store, _ = fold_records(lines(contact(fields={
        "seen": ["2024-02-29T23:30:00+01:00", "0001-06-01T00:00:00Z", "1990-05-01"]})))
    doc = contact_document(store.contacts[("acme", "c1")])
    assert doc["fields"]["seen"]["c"] == [19900501]
    # UTC 2024-02-29T22:30: a leap year, day 59 of it; year 1 has none (LANGUAGE.md §3.9)
    assert doc["anniv"] == [{"k": "seen", "y": 2024, "l": True,
                             "p": 59 * 86_400_000 + (22 * 60 + 30) * 60_000}]


def test_a_document_gives_back_its_contact() -> None:
    from segql.contract.document import document_contact

    store, _ = fold_records(lines(
        contact(email="A@x.pl", push_tokens=["t"], fields={"city": "Łódź", "age": 3.5,
                                                            "tags": ["a", ""], "d": "2024-05-01"}),
        event("e1", props={"v": [1, 2], "c": "x"}),
        {"type": "visit", "account": "acme", "contact": "c1", "id": "v1",
         "ts": "2025-01-02T09:00:00+01:00", "url": "/p/1"},
    ))
    original = store.contacts[("acme", "c1")]
    assert document_contact(contact_document(original)) == original


def test_the_same_instant_written_two_ways_is_the_same_event() -> None:
    store, rejects = fold_records(lines(
        event("e1", ts="2025-01-01T10:00:00Z"), event("e1", ts="2025-01-01T11:00:00+01:00"),
    ))
    assert rejects == []
    assert store.contacts[("acme", "c1")].events["e1"].ts == "2025-01-01T10:00:00.000Z"
