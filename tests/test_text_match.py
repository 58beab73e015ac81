"""`contains` and `ends_with` on the real node (document shape 2: `wildcard`/`regexp` on the
folded keyword, docs/document.md), as a table of hard needles and values: wildcard and
regexp syntax, NUL, Unicode case folding, needles either side of the wildcard/regexp
switch, values up to the longest the index takes. Each row is checked against its stated
answer, the reference evaluator, an index of the current shape and an index of shape 1
(written before shape 2, with suffix slots): the compiler reads both exactly. Also: the
shape each index declares, and the refusal of a newer one."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from housekeeping import admin
from shape1 import load_shape1

from segql import api
from segql.api.resolve import CHANNELS
from segql.cli.main import cli
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import ADDRESS_FIELDS
from segql.contract.document import SHAPE, SHAPE_META
from segql.errors import SegmentError
from segql.indexer.apply import ensure_index
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.stores.mapping import (
    IndexShapeError,
    check_index_shape,
    index_body,
    mark_shape,
    shape_of,
)
from segql.values import MAX_TEXT_BYTES, WILDCARD_CHARS

pytestmark = pytest.mark.es

ACCOUNT = "acme"
_RNG = random.Random(15)
#: The longest value the index takes (MAX_TEXT_BYTES of ASCII), not repetitive; of
#: characters no other value or needle holds.
LONGEST = "".join(_RNG.choice("0123456789-/") for _ in range(MAX_TEXT_BYTES))

VALUES: dict[str, Any] = {
    "star": "a*b", "plain": "axxb", "question": "a?c", "abc": "abc",
    "backslash": "back\\slash", "ends_backslash": "ends\\", "nul": "nul\x00byte",
    "regex": 'a.c|d[e]^f$(g)+{h}~i#j@k&l<m>n"o',
    "eszett": "Straße", "double_s": "STRASSE",
    "dotted_I": "İstanbul", "plain_I": "Istanbul",
    "sigma_upper": "ΟΔΟΣ", "sigma_final": "οδος",
    "combining": "e\u0301", "long": "x" * 40 + "needle",
    "longest": LONGEST, "stars": "*" * 30, "multi": ["multi", "valued*"],
}

#: (operator, needle, the contacts whose value matches).
ROWS: list[tuple[str, str, set[str]]] = [
    ("contains", "*", {"star", "stars", "multi"}),
    ("contains", "a*b", {"star"}),
    ("ends_with", "*", {"stars", "multi"}),
    ("contains", "?", {"question"}),
    ("contains", "a?c", {"question"}),
    ("ends_with", "?c", {"question"}),
    ("contains", "\\", {"backslash", "ends_backslash"}),
    ("ends_with", "\\", {"ends_backslash"}),
    ("contains", "k\\s", {"backslash"}),
    ("contains", "\\*", set()),
    ("contains", "\x00", {"nul"}),
    ("contains", "l\x00b", {"nul"}),
    ("ends_with", "\x00byte", {"nul"}),
    ("contains", "a.c", {"regex"}),
    ("contains", ".*", set()),
    ("contains", "[e]^f$(g)+{h}~i#j@k&l<m>n", {"regex"}),
    ("contains", "|", {"regex"}),
    ("ends_with", '<m>n"o', {"regex"}),
    ("contains", "SS", {"eszett", "double_s"}),
    ("contains", "ß", {"eszett", "double_s"}),
    ("ends_with", "SSE", {"eszett", "double_s"}),
    ("ends_with", "ße", {"eszett", "double_s"}),
    ("contains", "İ", {"dotted_I"}),  # folds to i + U+0307
    ("contains", "ist", {"plain_I"}),
    ("contains", "STANBUL", {"dotted_I", "plain_I"}),
    ("contains", "ς", {"sigma_upper", "sigma_final"}),  # final sigma folds to U+03C3
    ("ends_with", "ΟΣ", {"sigma_upper", "sigma_final"}),
    ("ends_with", "ος", {"sigma_upper", "sigma_final"}),
    ("contains", "\u00e9", {"combining"}),  # NFC of e + U+0301
    ("ends_with", "E\u0301", {"combining"}),
    ("contains", "needle", {"long"}),
    ("contains", "x" * WILDCARD_CHARS, {"long"}),  # the last wildcard
    ("contains", "x" * (WILDCARD_CHARS + 1), {"long"}),  # the first regexp
    ("ends_with", "x" * 30 + "needle", {"long"}),
    ("contains", "x" * 41, set()),
    ("contains", "*" * (WILDCARD_CHARS + 1), {"stars"}),
    ("ends_with", "*" * 30, {"stars"}),
    ("contains", "*" * 31, set()),
    ("contains", LONGEST[6000:10096], {"longest"}),  # a 4 KiB needle (LANGUAGE.md §6)
    ("ends_with", LONGEST[-4096:], {"longest"}),
    ("contains", LONGEST[-WILDCARD_CHARS:], {"longest"}),
    ("ends_with", LONGEST[-WILDCARD_CHARS:-1], set()),
    ("contains", "valued*", {"multi"}),
    ("ends_with", "ulti", {"multi"}),
]


def literal(text: str) -> str:
    """A segment string literal of `text` (JSON's escapes are the language's)."""
    return json.dumps(text, ensure_ascii=False)


def conditions(op: str, needle: str) -> list[str]:
    """The row as a contact field condition and as event and visit property conditions."""
    condition = f"{op} {literal(needle)}"
    return [f"note {condition}", f"event E where (p {condition}) occurred",
            f"visit where (title {condition}) occurred"]


def records() -> list[str]:
    lines = []
    for cid, value in VALUES.items():
        lines.append({"type": "contact", "account": ACCOUNT, "id": cid,
                      "fields": {"note": value}})
        lines.append({"type": "event", "account": ACCOUNT, "contact": cid, "id": "e-" + cid,
                      "name": "E", "ts": "2025-01-01T00:00:00Z", "props": {"p": value}})
        lines.append({"type": "visit", "account": ACCOUNT, "contact": cid, "id": "v-" + cid,
                      "ts": "2025-01-01T00:00:00Z", "props": {"title": value}})
    return [json.dumps(line) for line in lines]


@pytest.fixture(scope="module")
def indices(es: Elasticsearch) -> Iterator[dict[str, str]]:
    """The table's contacts in an index of the current shape and one of shape 1."""
    names = {shape: f"segql-test-{uuid.uuid4().hex[:12]}" for shape in ("current", "shape1")}
    try:
        summary = load(es, names["current"], records())
        assert summary.failed == [] and summary.rejected == []
        store, rejects = fold_records(records())
        assert rejects == []
        load_shape1(es, names["shape1"], list(store.contacts.values()))
        yield names
    finally:
        for name in names.values():
            admin(es).options(ignore_status=404).indices.delete(
                index=f"{name},{name}-catalog", ignore_unavailable=True)


@pytest.mark.parametrize(("op", "needle", "expected"), ROWS,
                         ids=[f"{op} {needle[:30]!r}" for op, needle, _ in ROWS])
def test_text_match(es: Elasticsearch, indices: dict[str, str], op: str, needle: str,
                    expected: set[str]) -> None:
    store, _ = fold_records(records())
    ctx = api.context(es, ACCOUNT, index=indices["current"])
    for text in conditions(op, needle):
        evaluated = set(matching_ids(api.prepare(text, ctx), store.contacts.values()))
        assert evaluated == expected, f"evaluator: {text[:80]}"
        for shape, index in indices.items():
            found = set(api.export_ids(es, text, ctx, index))
            assert found == expected, f"{shape}: {text[:80]}"


def test_an_empty_needle_is_refused(es: Elasticsearch, indices: dict[str, str]) -> None:
    ctx = api.context(es, ACCOUNT, index=indices["current"])
    for op in ("contains", "ends_with"):
        for text in conditions(op, ""):
            with pytest.raises(SegmentError) as raised:
                api.prepare(text, ctx)
            assert [d.code for d in raised.value.diagnostics] == ["E_EMPTY_OPERAND"]


def test_raw_values_are_kept_for_every_channel() -> None:
    """`v` (raw values with doc values) is written for address fields only: every field a
    channel exports from must be one."""
    assert set(CHANNELS.values()) <= set(ADDRESS_FIELDS)


# --- the shape an index declares ---------------------------------------------------------


def test_a_new_index_declares_its_shape(es: Elasticsearch, index_name: str) -> None:
    assert ensure_index(es, index_name)
    mappings = es.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mappings["_meta"] == {SHAPE_META: SHAPE} and shape_of(mappings) == SHAPE == 3
    check_index_shape(es, index_name)
    assert not ensure_index(es, index_name)


def test_an_older_index_is_refused_and_can_be_marked(es: Elasticsearch,
                                                     indices: dict[str, str]) -> None:
    """Shapes 1 and 2 stored date-only values as midnight UTC (issue 16): a reader refuses
    them and names `segql reindex` (text matching on them is still exact: the table above
    reads the shape-1 index directly). Marking is what a rewrite in place ends with."""
    index = indices["shape1"]
    assert shape_of(es.indices.get_mapping(index=index)[index]["mappings"]) == 1
    with pytest.raises(IndexShapeError) as raised:
        check_index_shape(es, index)
    assert "shape 1" in str(raised.value) and "segql reindex" in str(raised.value)
    mark_shape(es, index)
    assert shape_of(es.indices.get_mapping(index=index)[index]["mappings"]) == SHAPE
    check_index_shape(es, index)


def test_shape_of_reads_only_a_whole_number() -> None:
    assert shape_of({}) == shape_of({"_meta": {}}) == 1
    assert shape_of({"_meta": {SHAPE_META: True}}) == shape_of({"_meta": {SHAPE_META: "3"}}) == 1
    assert shape_of({"_meta": {SHAPE_META: 3}}) == 3


def test_an_index_of_a_newer_shape_is_refused(es: Elasticsearch, es_url: str,
                                              index_name: str) -> None:
    """A count must be exact or an error: a newer shape may lack what this version reads.
    Readers (the API, the CLI) and the indexer refuse it, in plain words, exit code 1."""
    body = index_body()
    body["mappings"]["_meta"] = {SHAPE_META: SHAPE + 1}
    es.indices.create(index=index_name, **body)
    with pytest.raises(IndexShapeError) as raised:
        api.context(es, ACCOUNT, index=index_name)
    assert raised.value.exit_code == 1
    assert f"shape {SHAPE + 1}" in str(raised.value) and "newer segql" in str(raised.value)
    with pytest.raises(IndexShapeError):
        ensure_index(es, index_name)
    result = CliRunner().invoke(cli, ["count", "note has_value", "--account", ACCOUNT,
                                      "--index", index_name],
                                env={"ELASTICSEARCH_URL": es_url})
    assert result.exit_code == 1, result.output
    assert "newer segql" in result.stderr and "Traceback" not in result.output
    check_index_shape(es, f"{index_name}-absent")  # no index yet: nothing to refuse
