"""The initial load's partitioning reads a line's contact from its head without decoding
it (`partition.line_key`) only when that is the contact `json.loads` reads: every line
of a contact lands in its partition, so each contact is still folded from all its records
in stream order."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segql import sample
from segql.contract.document import document_id
from segql.indexer.batch import contact_key
from segql.indexer.partition import line_key


def json_key(raw: bytes) -> bytes | None:
    """The contact `json` reads (None: not JSON, or no valid contact)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    key = contact_key(record)
    return None if key is None else document_id(*key).encode()


HEAD = b'{"type":"event","account":"a","contact":"c1","id":"e1"'
CASES: list[tuple[bytes, bytes | None]] = [
    (HEAD + b',"ts":"2024-01-01T00:00:00Z"}', b"a:c1"),
    ('{"type":"contact","account":"a.b-c_9","id":"ż 1","fields":{"x":1}}'.encode(),
     "a.b-c_9:ż 1".encode()),
    (b'{"type":"delete","account":"a","id":""}', b"a:"),
    (b'{"type":"visit","account":"a","contact":"c2","id":"v"}', b"a:c2"),
    # read by decoding: duplicate members, escapes, other orders, the wrong id member
    (HEAD + b',"contact":"c2"}', None),
    (HEAD + b',"type":"contact"}', None),
    (HEAD + b',"account":"b"}', None),
    (HEAD + b',"\\u0074ype":"contact"}', None),
    (HEAD + b',"props":{"contact":"x"}}', None),
    (b'{"type":"event","account":"a","id":"c1","contact":"c2"}', None),
    (b'{"type":"contact","account":"a","contact":"c1","id":"c2"}', None),
    (b'{"account":"a","type":"event","contact":"c1"}', None),
    (b'{"type":"event","account":"a","contact":"c\\"1"}', None),
    (b'{"type": "event","account":"a","contact":"c1"}', None),
    (b'{"type":"event","account":"bad account","contact":"c1"}', None),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_a_head_names_the_contact_or_the_line_is_decoded(raw: bytes,
                                                         expected: bytes | None) -> None:
    assert line_key(raw) == expected
    if expected is not None:
        assert json_key(raw) == expected


_names = st.sampled_from(["type", "account", "contact", "id", "props", "\\u0074ype", "x"])
_texts = st.sampled_from(["event", "visit", "contact", "delete", "a", "b", "c1", "c2",
                          "bad acc", "ü", "", "\\\"", "\\u0061"])


@st.composite
def lines(draw: Any) -> bytes:
    """A head as producers write it, then members that may repeat or hide its names."""
    kind = draw(st.sampled_from(["event", "visit", "contact", "delete"]))
    id_name = draw(st.sampled_from(["contact", "id"]))
    head = (f'{{"type":"{kind}","account":"{draw(_texts)}","{id_name}":'
            f'"{draw(_texts)}"')
    rest = "".join(f',"{draw(_names)}":"{draw(_texts)}"'
                   for _ in range(draw(st.integers(0, 4))))
    tail = draw(st.sampled_from(["}", "}}", "", ',"props":{"contact":"c9"}}']))
    return (head + rest + tail).encode()


@settings(max_examples=2000, deadline=None)
@given(lines())
def test_a_key_read_from_the_head_is_the_key_json_reads(raw: bytes) -> None:
    """Whenever the head gives a contact and the line is a record naming a valid
    contact, it is that contact (a line that is no record may land anywhere: it is
    rejected whichever partition reads it)."""
    fast, slow = line_key(raw), json_key(raw)
    assert fast is None or slow is None or fast == slow


def test_the_shipped_sample_is_partitioned_without_decoding() -> None:
    """Every line of the shipped sample stream is read from its head, as `json` reads it."""
    with gzip.open(sample.SAMPLE_PATH, "rb") as stream:
        raws = [raw for raw in stream if raw.strip()]
    assert len(raws) > 50_000
    assert [line_key(raw) for raw in raws] == [json_key(raw) for raw in raws]
