"""Limits on combined saved segments (issue 14, item 2), as a new user meets them.

The finding: a saved segment of 900 conditions was accepted, then one of 200 times `in_segment
"A900"` was "created"; counting it failed with Elasticsearch's `400
search_phase_execution_exception` (too many clauses on a 16 MB body) and `segment list`
failed for the whole account. Now the limits hold for a segment with its saved segments
expanded (compiler/limits.py), at save, at edit (for the segments referring to the edited
one too) and before every request, and one segment's error stays in its own row.

Everything runs against the real node; the clause counter is held to what Elasticsearch
actually accepts on it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import SegmentStore, api
from segql.cli.main import cli
from segql.compiler.boolean import conjoin, disjoin
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.compiler.limits import MAX_BODY_BYTES, MAX_CLAUSES, body_bytes, clauses
from segql.errors import SegmentError
from segql.indexer.loader import load
from segql.stores.saved_segments import _doc_id
from service import running_service

pytestmark = pytest.mark.es

A = "acme"
RECORDS = [
    {"type": "contact", "account": A, "id": "c1", "fields": {"city": "c1", "age": 30}},
    {"type": "contact", "account": A, "id": "c2", "fields": {"city": "c2", "vip": True}},
    {"type": "contact", "account": A, "id": "c3", "fields": {"city": "Warszawa"}},
    {"type": "event", "account": A, "contact": "c1", "id": "e1", "name": "Buy",
     "ts": "2025-01-01T10:00:00Z", "props": {"sku": "x", "price": 3}},
    {"type": "visit", "account": A, "contact": "c2", "id": "v1",
     "ts": "2025-01-02T08:00:00Z", "url": "https://shop.example/p/42"},
]


def equals(n: int, start: int = 0) -> str:
    """n conditions of one clause each: `city = "c<i>"` or'd."""
    return " or ".join(f'city = "c{i}"' for i in range(start, start + n))


def not_equals(n: int, start: int = 0) -> str:
    """n conditions of two clauses each inside `or` (a `must_not` gets a match-all)."""
    return " or ".join(f'city != "n{i}"' for i in range(start, start + n))


def refs(name: str, n: int) -> str:
    return " or ".join([f'in_segment "{name}"'] * n)


@pytest.fixture
def loaded(es: Elasticsearch, index_name: str) -> Iterator[str]:
    load(es, index_name, [json.dumps(r) for r in RECORDS])
    yield index_name
    admin(es).options(ignore_status=404).indices.delete(index=f"{index_name}-segments")


def _cli(es_url: str, index: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "-a", A, "--index", index],
                                env={"ELASTICSEARCH_URL": es_url})
    return result.exit_code, result.stdout, result.stderr


def _store(es: Elasticsearch, index: str) -> tuple[SegmentStore, Context]:
    return api.segment_store(es, index), api.context(es, A, index=index)


# --- the finding -------------------------------------------------------------------------


def test_a900_then_r200_is_refused_at_create_with_a_clear_message(
        es: Elasticsearch, es_url: str, loaded: str) -> None:
    code, out, err = _cli(es_url, loaded, "segment", "create", "A900", "--expr", equals(900))
    assert (code, out.strip(), err) == (0, "created segment 'A900'", "")
    code, _, err = _cli(es_url, loaded, "segment", "create", "R200", "--expr",
                        refs("A900", 200))
    assert code == 2
    first = err.splitlines()[0]
    assert first == ("error[E_TOO_MANY_CONDITIONS] at line 1, column 1: with its saved "
                     "segments expanded the segment has 180,000 conditions; the limit is "
                     "1,000")
    hint = err.splitlines()[-1]
    assert hint.startswith('hint: in_segment "A900" (referred to 200 times) brings 180,000 '
                           "conditions")
    assert "splitting into more saved segments does not help" in hint
    assert "Traceback" not in err and "search_phase" not in err
    assert list(api.segment_store(es, loaded).definitions(A)) == ["A900"]
    # one level further down: the hint names the segment that holds the bulk
    code, out, err = _cli(es_url, loaded, "segment", "create", "R1", "--expr",
                          refs("A900", 1) + " or vip is_true")
    assert code == 0, err
    code, _, err = _cli(es_url, loaded, "count", " or ".join(['in_segment "R1"'] * 2))
    assert code == 2 and "1,802 conditions" in err
    assert ('hint: in_segment "R1" (referred to 2 times) brings 1,802 conditions, most through '
            'in_segment "A900" (once in "R1", 900 each)') in err
    assert 'refer to "A900" fewer times, or make it smaller' in err


def test_segments_near_the_limits_pass_and_count(es: Elasticsearch, es_url: str,
                                                 loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "A600", equals(600))
    ctx = api.context(es, A, index=loaded)
    # 1,000 conditions expanded, 1,001 clauses: the most there can be
    at_limit = 'in_segment "A600" or ' + equals(400, start=600)
    store.create(ctx, "near", at_limit)
    code, out, err = _cli(es_url, loaded, "count", "--segment", "near")
    assert (code, out.strip()) == (0, "2"), err  # c1 and c2
    with pytest.raises(SegmentError) as over:
        store.create(ctx, "over", at_limit + ' or city = "one more"')
    assert [d.code for d in over.value.diagnostics] == ["E_TOO_MANY_CONDITIONS"]
    assert "1,001 conditions" in str(over.value)
    # clauses bite first for conditions that cost two: 511 x 2 + 1 = 1,023 passes ...
    store.create(ctx, "N400", not_equals(400))
    ctx = api.context(es, A, index=loaded)
    within = 'in_segment "N400" or ' + not_equals(111, start=400)
    store.create(ctx, "near clauses", within)
    assert api.count(es, 'in_segment "near clauses"', api.context(es, A, index=loaded),
                     loaded).count == 3
    # ... and 1,025 does not, naming the saved segment that brings most of them
    with pytest.raises(SegmentError) as complex_:
        store.create(ctx, "over clauses", within + ' or city != "x"')
    diagnostic = complex_.value.diagnostics[0]
    assert diagnostic.code == "E_TOO_COMPLEX"
    assert diagnostic.message == ("the segment compiles to 1,025 Elasticsearch clauses; the "
                                  f"limit is {MAX_CLAUSES:,}")
    assert diagnostic.hint is not None and diagnostic.hint.startswith(
        'in_segment "N400" (referred to once) brings 800 clauses')
    assert (diagnostic.column, diagnostic.end_column) == (1, 1 + len('in_segment "N400"'))


def test_an_edit_that_pushes_a_referring_segment_over_is_refused(
        es: Elasticsearch, es_url: str, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "base", equals(300))
    ctx = api.context(es, A, index=loaded)
    store.create(ctx, "middle", 'in_segment "base" and vip is_true')
    ctx = api.context(es, A, index=loaded)
    store.create(ctx, "top", 'in_segment "middle" or ' + equals(650, start=300))
    ctx = api.context(es, A, index=loaded)
    # top = 301 + 650 = 951 conditions; base at 350 makes it 1,001 (through middle)
    code, _, err = _cli(es_url, loaded, "segment", "edit", "base", "--expr", equals(350))
    assert code == 2
    assert err.startswith("error[E_TOO_MANY_CONDITIONS] at line 1, column 1: saved segment "
                          "'top' refers to 'base'; with this change: with its saved segments "
                          "expanded the segment has 1,001 conditions")
    assert "hint: make 'base' smaller, or change 'top' first" in err
    assert store.get(A, "base").expression == equals(300)
    # within the limit the edit goes through; so does one that changes the description
    assert _cli(es_url, loaded, "segment", "edit", "base", "--expr", equals(349))[0] == 0
    assert _cli(es_url, loaded, "segment", "edit", "base", "--description", "x")[0] == 0
    # a referrer that is over already (stored before these limits) does not block edits
    es.index(index=f"{loaded}-segments", id=_doc_id(A, "old"), refresh=True,
             document={"account": A, "key": "old", "name": "old",
                       "expression": refs("base", 3)})
    store.edit(api.context(es, A, index=loaded), "base", expression=equals(348))
    assert store.get(A, "base").expression == equals(348)


def test_depth_counts_through_references_and_long_chains_stop_early() -> None:
    """A reference opens a level and adds its segment's depth; a chain of 300 references
    (each saved before these limits) is refused at the 33rd level, never recursed into
    (it used to end in a RecursionError: an internal fault)."""
    ctx = Context(account=A, segments={"d": "all(" * 20 + "city has_value" + ")" * 20})
    api.compile_text("all(" * 11 + 'in_segment "d"' + ")" * 11, ctx)  # 11 + 1 + 20 = 32
    with pytest.raises(SegmentError) as deep:
        api.compile_text("all(" * 12 + 'in_segment "d"' + ")" * 12, ctx)
    diagnostic = deep.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.column) == ("E_TOO_DEEP", 49)
    assert diagnostic.message == ("with its saved segments expanded the segment nests more "
                                  'than 32 levels deep (through "d")')
    for nest in (0, 15):
        chain = {f"s{k}": "all(" * nest + (f'in_segment "s{k - 1}"' if k else 'city = "x"')
                 + ", city has_value" * bool(nest) + ")" * nest for k in range(300)}
        with pytest.raises(SegmentError) as long:
            api.compile_text('in_segment "s299"', Context(account=A, segments=chain))
        assert [d.code for d in long.value.diagnostics] == ["E_TOO_DEEP"]
        assert '(through "s299" → "s298"' in long.value.diagnostics[0].message


# --- one broken segment, the others still listed -------------------------------------------


def _broken(es: Elasticsearch, index: str) -> None:
    """A900, a small segment, and R200 written straight into the store (the API refuses
    it now), as an account saved before these limits would hold them."""
    store, ctx = _store(es, index)
    store.create(ctx, "A900", equals(900))
    store.create(ctx, "vips", "vip is_true")
    es.index(index=f"{index}-segments", id=_doc_id(A, "R200"), refresh=True,
             document={"account": A, "key": "r200", "name": "R200",
                       "expression": refs("A900", 200)})


def test_list_and_show_keep_one_broken_segment_to_its_row(es: Elasticsearch, es_url: str,
                                                          loaded: str) -> None:
    _broken(es, loaded)
    code, out, err = _cli(es_url, loaded, "segment", "list", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["A900"]["count"] == 2 and rows["vips"]["count"] == 1
    assert "count" not in rows["R200"]
    assert rows["R200"]["error"]["code"] == "E_TOO_MANY_CONDITIONS"
    assert "180,000 conditions" in rows["R200"]["error"]["message"]
    assert err == ("note: 1 of 3 segments could not be counted; each shows its error in "
                   "place of the count\n")
    code, out, _ = _cli(es_url, loaded, "segment", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["A900"].split()[1] == "2"
    assert "error[E_TOO_MANY_CONDITIONS]: with its saved segments expanded" in lines["R200"]
    # requests on it are refused before Elasticsearch sees them: exit 2, never a 400
    code, _, err = _cli(es_url, loaded, "count", "--segment", "R200")
    assert code == 2 and err.startswith("error[E_TOO_MANY_CONDITIONS]")
    code, out, err = _cli(es_url, loaded, "segment", "show", "R200", "--json")
    assert code == 2
    shown = json.loads(out)
    assert shown["expression"] == refs("A900", 200) and "members" not in shown
    assert shown["error"]["code"] == "E_TOO_MANY_CONDITIONS"
    code, out, _ = _cli(es_url, loaded, "segment", "show", "R200")
    assert code == 2
    assert "count:       error[E_TOO_MANY_CONDITIONS]: with its saved segments" in out
    assert 'hint: in_segment "A900" (referred to 200 times)' in out


def test_the_service_lists_and_shows_a_broken_segment_in_its_row(
        es: Elasticsearch, es_url: str, loaded: str) -> None:
    _broken(es, loaded)
    with (running_service(es, es_url, index=loaded, cleanup=False) as service,
          service.client(A, "write") as client):
        base = f"/v1/accounts/{A}/segments"
        listed = client.get(base)
        assert listed.status_code == 200, listed.text
        rows = {row["name"]: row for row in listed.json()}
        assert (rows["A900"]["count"], rows["vips"]["count"]) == (2, 1)
        assert rows["R200"]["count"] is None
        assert rows["R200"]["error"]["code"] == "E_TOO_MANY_CONDITIONS"
        assert rows["R200"]["error"]["hint"].startswith('in_segment "A900"')
        shown = client.get(f"{base}/R200").json()
        assert shown["error"]["code"] == "E_TOO_MANY_CONDITIONS"
        made = client.post(base, json={"name": "R2", "text": refs("A900", 2)})
        assert made.status_code == 422
        assert "1,800 conditions" in made.text and "search_phase" not in made.text


def test_per_item_errors_of_msearch_become_row_errors(es: Elasticsearch, loaded: str) -> None:
    """A query over this node's own clause limit (a smaller node refuses less), beside
    one it counts: the first gets its error, the second its count."""
    too_many = disjoin([{"term": {"contact_id": f"x{i}"}} for i in range(_node_limit(es) + 1)])
    fine = {"term": {"account": A}}
    counted = api.count_queries(es, [too_many, fine], loaded, A)
    assert counted[1] == 3
    error = counted[0]
    assert isinstance(error, api.CountError) and error.code == "E_TOO_COMPLEX"
    assert "maxClauseCount" not in error.message and "exception" not in error.message


# --- the clause counter, held to the node ---------------------------------------------------


_CATALOG = Catalog(fields={"age": "number", "vip": "boolean"},
                   events={"Buy": {"sku": "text", "price": "number"}})

COUNTED = [  # text → clauses of its whole query (the account's term included)
    ('city = "x"', 2),
    ('city != "x"', 2),
    ('city = "x" or city != "y"', 4),  # the must_not alone in its bool gets a match-all
    ('city in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", '
     '"p", "q", "r"]', 2),
    ('city contains "ar"', 2),
    ('city starts_with "W"', 2),
    ('city ends_with "a"', 2),
    ("city has_value", 2),
    ("age between 1 and 5", 3),  # points and doc values
    # the instant slot and the calendar-date slot (issue 16), each range points + doc values
    ('created_at after "2024-01-01"', 5),
    ("event Buy occurred", 2),
    ("event Buy occurred within 30d", 4),
    ('event Buy where (sku = "x") occurred', 3),
    ("event Buy where (price > 2) occurred", 3),  # a property range is a keyword range
    ("event Buy occurred at_least 2 times", 2),
    ("event Buy where (price > 2) occurred exactly 2 times", 5),
    ('event Buy where (sku = "y") not_occurred', 3),
    ('visit where (url contains "p") occurred', 3),  # + the `_nested_path` filter
    ("visit occurred", 3),
    ('not (city = "a" or city = "b")', 3),
]


@pytest.mark.parametrize(("text", "expected"), COUNTED, ids=[t[:40] for t, _ in COUNTED])
def test_the_counter_counts_as_lucene_does(text: str, expected: int) -> None:
    assert clauses(api.compile_text(text, Context(account=A, catalog=_CATALOG))["query"]) \
        == expected


def _node_limit(es: Elasticsearch) -> int:
    """This node's max clause count, as Elasticsearch derives it (SearchUtils):
    max(1,024, heap in MB * 64 / search threads)."""
    node = next(iter(es.nodes.stats(metric="jvm")["nodes"].values()))
    heap_mb = node["jvm"]["mem"]["heap_max_in_bytes"] // (1024 * 1024)
    threads = next(iter(es.nodes.info(metric="thread_pool")["nodes"].values())
                   )["thread_pool"]["search"]["size"]
    return max(1024, heap_mb * 64 // threads)


def _copies(text: str, n: int, ctx: Context) -> list[dict[str, Any]]:
    """The condition part of `text` compiled n times with distinct values (Lucene merges
    equal clauses)."""
    parts = []
    for i in range(n):
        query = api.compile_text(text.replace("@", str(i)), ctx)["query"]["bool"]
        rest = {k: [q for q in v if q != {"term": {"account": A}}] if isinstance(v, list)
                else v for k, v in query.items()}
        rest = {k: v for k, v in rest.items() if v != []}
        parts.append(rest["filter"][0] if set(rest) == {"filter"} and len(rest["filter"]) == 1
                     else {"bool": rest})
    return parts


SHAPES = ['city = "v@"', 'city != "v@"', 'city in ["a@", "b@"]', 'city contains "x@"',
          "age between 0 and @", "created_at after today-@d",
          "event Buy occurred within @d", 'event Buy where (sku = "s@") occurred',
          "event Buy where (price > @) occurred exactly 2 times",
          'visit where (url contains "u@") not_occurred', 'not (city = "a@" or age > @)']


def test_queries_at_the_node_limit_by_the_counter_run(es: Elasticsearch, loaded: str) -> None:
    """For each shape the compiler makes: 100 copies, padded with terms to exactly what
    Lucene lets through (limit + 1 clauses, no bool of `limit` clauses) by the counter,
    run; two more clauses do not (so the counter is neither below Lucene's count, nor far
    above it for plain terms). MAX_CLAUSES is 1,023: the same holds on the smallest node."""
    limit = _node_limit(es)
    ctx = api.context(es, A, index=loaded)

    def run(query: dict[str, Any]) -> bool:
        try:
            es.search(index=loaded, size=0, query=query)
        except Exception as error:  # only the clause limit may refuse
            assert "clause" in str(error).lower(), error
            return False
        return True

    def padded(parts: list[dict[str, Any]], extra: int = 0) -> dict[str, Any]:
        base = conjoin([{"term": {"account": A}}, disjoin(parts)])
        pads = limit + 1 - clauses(base) + extra
        query = conjoin([base, disjoin([{"term": {"contact_id": f"p{i}"}}
                                        for i in range(pads)])])
        assert clauses(query) == limit + 1 + extra
        return query

    for shape in SHAPES:
        assert run(padded(_copies(shape, 100, ctx))), shape
    assert not run(padded(_copies(SHAPES[0], 100, ctx), extra=1))
    assert MAX_CLAUSES < 1024 <= limit


# --- bytes ---------------------------------------------------------------------------------


#: A property name of 256 four-byte characters: the encoded property carries it with every
#: value, so an `in` list on it compiles to the largest query one text can make.
WIDE = "😀" * 256


def _wide_list(n: int) -> str:
    return (f"event Buy where (`{WIDE}` in [" + ", ".join(str(i) for i in range(n))
            + "]) occurred exactly 2 times")


def test_the_largest_single_text_fits_and_counts(es: Elasticsearch, loaded: str) -> None:
    """6,557 values is as many as fit the text limit in canonical form: 13.1 MiB of query,
    within MAX_BODY_BYTES, and the node answers it."""
    ctx = api.context(es, A, index=loaded)
    catalog = ctx.catalog.over(Catalog(events={"Buy": {WIDE: "number"}}))
    ctx = Context(account=A, catalog=catalog)
    with pytest.raises(SegmentError) as long:
        api.prepare(_wide_list(6558), ctx)
    assert long.value.diagnostics[0].code == "E_TOO_LONG"
    result = api.count(es, _wide_list(6557), ctx, loaded)
    assert result.count == 0 and 13_000_000 < body_bytes(result.body) < MAX_BODY_BYTES


def test_references_that_would_build_a_huge_query_are_refused_before_it_is_built() -> None:
    ctx = Context(account=A, catalog=Catalog(events={"Buy": {WIDE: "number"}}),
                  segments={"wide": _wide_list(6557)})
    ctx = replace(ctx, segments={**ctx.segments,
                                 "wider": " or ".join(['in_segment "wide"'] * 40)})
    started = time.monotonic()
    with pytest.raises(SegmentError) as large:
        api.compile_text('in_segment "wider" and city has_value', ctx)
    assert time.monotonic() - started < 5  # 40 x 13 MiB were never built
    diagnostic = large.value.diagnostics[0]
    assert diagnostic.code == "E_TOO_LARGE"
    assert diagnostic.message.startswith("with its saved segments expanded the segment would "
                                         "compile to a query of about 550,")
    assert diagnostic.hint is not None and ('most through in_segment "wide" (40 times in '
                                            '"wider"') in diagnostic.hint
