"""The indexer's fast JSON (indexer/codec.py) gives exactly what the standard library
gives: documents byte for byte as `json.dumps(contract.document.contact_document(...))`
(whole, or assembled from cached activity fragments), records and rejects as `json.loads`
reads them, and stored timestamps as `iso_millis(parse_instant(...))`."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from hard_data import records as hard_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql import sample
from segql.compiler.catalog import learn
from segql.contract.contact import Activity, Contact, Dropped
from segql.contract.document import activity_doc, contact_document
from segql.indexer import codec
from segql.indexer.apply import copy_contact
from segql.indexer.batch import parse_line
from segql.indexer.codec import ActivityEncoder, document_bytes, fragments_of
from segql.indexer.loader import load
from segql.indexer.records import ContactStore, Reject, _stored_ts, fold_records
from segql.values import iso_millis, parse_instant


def slow(contact: Contact) -> bytes:
    """What the indexer sent before: the contract's document through `json.dumps`."""
    return json.dumps(contact_document(contact), ensure_ascii=False,
                      separators=(",", ":")).encode()


def fast(contact: Contact, known: tuple[codec.Fragments, codec.Fragments] | None = None
         ) -> tuple[bytes, codec.Fragments, codec.Fragments]:
    events = fragments_of(contact.events, known[0] if known else None)
    visits = fragments_of(contact.visits, known[1] if known else None)
    return document_bytes(contact, events, visits), events, visits


def sample_lines(contacts: int, seed: int = 7) -> list[str]:
    return [sample.dumps(record) for record in sample.generate(contacts=contacts, seed=seed)]


@pytest.mark.parametrize("source", ["sample", "hard"])
def test_documents_are_the_contracts_bytes_whole_and_from_fragments(source: str) -> None:
    """Every contact of a stream, encoded at once; then the stream folded in two halves,
    the second half onto copies of the first's contacts with the first's fragments (what a
    follow rewrite reuses): byte for byte the slow way, each time."""
    lines = (sample_lines(3000) if source == "sample"
             else [line for seed in range(4) for line in hard_records(seed)])
    whole, _ = fold_records(lines)
    assert len(whole.contacts) > (2500 if source == "sample" else 100)
    for contact in whole.contacts.values():
        assert fast(contact)[0] == slow(contact)

    half = len(lines) // 2
    first, _ = fold_records(lines[:half])
    encoded = {key: fast(contact) for key, contact in first.contacts.items()}
    second = ContactStore()
    second.contacts = {key: copy_contact(c) for key, c in first.contacts.items()}
    for line in lines[half:]:
        record = parse_line(0, line.encode())
        try:
            second.apply(record)
        except ValueError:
            continue
    reused = 0
    for key, contact in second.contacts.items():
        known = encoded.get(key)
        document, events, _ = fast(contact, (known[1], known[2]) if known else None)
        assert document == slow(contact)
        if known:
            reused += sum(events[i] is known[1].get(i) for i in events)
    assert reused > (1000 if source == "sample" else 10), "unchanged events were reused"


values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.sampled_from([1e-5, -2.5e-7, 1e16, 1e22, 5e-324, -0.0, 0.0001, 9.99e-05]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
props = st.dictionaries(st.text(min_size=1, max_size=8),
                        st.one_of(values, st.lists(values, max_size=3)), max_size=4)


@st.composite
def contacts(draw: st.DrawFn) -> Contact:
    def activities(prefix: str, named: bool) -> dict[str, Activity]:
        count = draw(st.integers(0, 4))
        return {f"{prefix}{i}": Activity(
            f"{prefix}{i}", draw(st.sampled_from(["2025-01-01T10:00:00.000Z",
                                                  "0999-12-31T23:59:59.999Z"])),
            {k: v for k, v in draw(props).items() if v is not None},
            draw(st.sampled_from(["MailOpen", "Login", "Zażółć \x00\x1f"])) if named else None,
        ) for i in range(count)}

    dropped = Dropped()
    for i in range(draw(st.integers(0, 3))):
        dropped.add(f"gone{i}", [])
    return Contact("acme", draw(st.text(min_size=1, max_size=10)),
                   fields=draw(props), events=activities("e", True),
                   visits=activities("v", False), dropped_events=dropped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contacts())
def test_any_document_is_the_contracts_bytes(contact: Contact) -> None:
    """Tiny floats (written otherwise by orjson), integers beyond 64 bits (refused by
    orjson), control characters, non-ASCII: the same bytes as `json.dumps`, and the same
    again through templates made by a fresh encoder from another contact."""
    assert fast(contact)[0] == slow(contact)
    encoder = ActivityEncoder()
    for activity in (*contact.events.values(), *contact.visits.values()):
        encoder.encode(replace(activity, id=activity.id + "-other", ts="2001-02-03T04:05:06.007Z"))
        expected = json.dumps(activity_doc(activity), ensure_ascii=False,
                              separators=(",", ":")).encode()
        assert encoder.encode(activity) == expected


def test_the_bulk_bodies_sent_are_the_contracts_bytes(
    es: Elasticsearch, index_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `load` sends to the real node: each document line is the slow encoding of the
    reference fold's contact for that `_id`."""
    lines = sample_lines(1500, seed=11)
    store, _ = fold_records(lines)
    bodies: list[bytes] = []
    bulk = Elasticsearch.bulk

    def recording(self: Elasticsearch, **kwargs: Any) -> Any:
        bodies.append(kwargs["operations"])
        return bulk(self, **kwargs)

    monkeypatch.setattr(Elasticsearch, "bulk", recording)
    load(es, index_name, lines)
    sent = {}
    for body in bodies:
        rows = body.split(b"\n")
        for action, document in zip(rows[0:-1:2], rows[1::2], strict=True):
            meta = next(iter(json.loads(action).values()))
            sent[meta["_id"]] = document
    assert len(sent) == len(store.contacts)
    for (account, contact_id), contact in store.contacts.items():
        assert sent[f"{account}:{contact_id}"] == slow(contact)


# --- records are read as `json` reads them ------------------------------------------------


def stdlib_parse(number: int, raw: bytes) -> Any:
    """`batch.parse_line` as it was: the standard library only (with nesting too deep
    for it a reject, not a RecursionError escaping as an internal fault)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
        return Reject(number, f"not UTF-8: {error.reason} at byte {error.start}", text)
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except ValueError as error:
        return Reject(number, f"not valid JSON: {error}", line.rstrip("\r\n"))
    except RecursionError:
        return Reject(number, "not valid JSON here: arrays and objects nested too deeply",
                      line.rstrip("\r\n")[:1000])


def same(a: Any, b: Any) -> bool:
    """Equal with their types (1 is not 1.0 nor True) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=10,
)
TRICKY = [b"", b"  \r\n", b"\x0c\n", b"\xef\xbb\xbf{}", b'{"a":1,"a":2}', b'{"a":1,"b":2,"a":3}',
          b'"\\ud800"', b'{"x":"\\udc00\\ud800"}', b'"\\ud83d\\ude00"', b"NaN", b"-Infinity",
          b"[1e400]", b"1e-400", b"123456789012345678901234567890", b"-9223372036854775809",
          b"18446744073709551615", b"18446744073709551616", b"0.1000000000000000055511151231",
          b"[1,]", b'{"a":1}x', b"\xff\xfe", b"\xed\xa0\x80", b'"\x00"', b"\x00", b"01",
          b'{"a":' * 1100 + b"1" + b"}" * 1100, b"[" * 1100 + b"]" * 1100, b'"\xc3\xa9"']


def outcome(parse: Any, raw: bytes) -> Any:
    """What parsing gives, or the class of what it raises."""
    try:
        return parse(3, raw)
    except RecursionError as error:  # nesting deeper than Python's recursion limit
        return type(error)


@pytest.mark.parametrize("raw", TRICKY)
def test_tricky_lines_read_as_json_reads_them(raw: bytes) -> None:
    assert same(outcome(parse_line, raw), outcome(stdlib_parse, raw))


@settings(max_examples=500, deadline=None)
@given(json_values, st.booleans(), st.binary(max_size=3), st.integers(0, 40))
def test_any_line_reads_as_json_reads_it(value: Any, ascii_only: bool, noise: bytes,
                                         cut: int) -> None:
    """Valid lines (NaN, infinities and huge integers included), and the same lines
    damaged: the same record, or the same reject with the same reason."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    for line in (raw, raw + b"\n", raw[:cut] + noise + raw[cut:], noise + raw):
        assert same(parse_line(1, line), stdlib_parse(1, line))
        text = line.decode("utf-8", errors="surrogateescape")
        found = list(codec_read(text))
        assert same(found, list(codec_read_stdlib(text)))


def codec_read(text: str) -> Any:
    from segql.indexer.records import read_records
    return read_records([text])


def codec_read_stdlib(text: str) -> Any:
    if not text.strip():
        return []
    try:
        return [(1, json.loads(text))]
    except ValueError as error:
        return [(1, Reject(1, f"not valid JSON: {error}", text.rstrip("\r\n")))]


@settings(max_examples=2000, deadline=None)
@given(st.one_of(
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                  r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?\Z"),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z"),
    st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds") + "Z"),
    st.text(max_size=30),
    st.sampled_from(["٢٠٢٥-01-01T10:00:00Z", "0000-01-01T00:00:00Z", "2024-02-29T23:59:59Z",
                     "2025-02-29T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T10:00:60Z",
                     "9999-12-31T23:59:59.999Z", "2025-01-01t10:00:00z", "2025-01-01T10:00:00.1Z"]),
))
def test_stored_timestamps_are_iso_millis_of_the_parse(ts: str) -> None:
    instant = parse_instant(ts)
    if instant is None:
        with pytest.raises(ValueError, match="not an ISO 8601"):
            _stored_ts(ts)
    else:
        assert _stored_ts(ts) == iso_millis(instant)


def test_learning_orders_stored_timestamps_as_their_instants() -> None:
    """The catalog learns activities in time order: read as text when every `ts` is in
    the stored form, else parsed; both give the same learning (and its first examples)."""
    store, _ = fold_records([line for seed in range(3) for line in hard_records(seed)])
    stored = list(store.contacts.values())

    def offset(ts: str) -> str:  # the same instant, not in the stored form
        return ts[:-1] + "+00:00"

    other = [replace(c, events={i: replace(e, ts=offset(e.ts)) for i, e in c.events.items()},
                     visits={i: replace(v, ts=offset(v.ts)) for i, v in c.visits.items()})
             for c in stored]
    assert learn(stored) == learn(other)


def test_the_template_cache_is_bounded() -> None:
    encoder = ActivityEncoder(limit=4)
    for i in range(10):
        activity = Activity(f"e{i}", "2025-01-01T10:00:00.000Z", {"n": i, "t": f"x{i}"}, "Buy")
        for _ in range(2):  # made, then used
            assert encoder.encode(activity) == json.dumps(
                activity_doc(activity), ensure_ascii=False, separators=(",", ":")).encode()
    assert len(encoder._cut) <= 4


@pytest.mark.parametrize("values", [
    [0.0, -0.0, 0.0],          # equal in Python, written "0.0" and "-0.0"
    [1, True, 1.0, False, 0],  # equal in Python, three types
    [["a", "b"], ("a", "b"), ["a", "b"]],
    ["2024-02-29", "2024-02-29T00:00:00Z", "2024-02-29"],
])
def test_a_cached_field_entry_is_the_bytes_of_its_own_value(values: list[Any]) -> None:
    """The encoded entries of field values are cached across contacts (`codec`): values
    equal in Python but written differently each get their own bytes."""
    for i, value in enumerate(values):
        contact = Contact("acme", f"c{i}", fields={"x": value})
        assert fast(contact)[0] == slow(contact), value
