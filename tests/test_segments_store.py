"""Saved segments in Elasticsearch (stores/saved_segments.py): names unique per account in
any case, definitions checked on save (unknown references and cycles refused, also by
edits), referenced segments not deletable, optimistic edits; and `in_segment` resolving
them everywhere through `api.context` (library and CLI)."""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql import (
    DuplicateSegmentError,
    SegmentConflictError,
    SegmentInUseError,
    SegmentNotFoundError,
    SegmentStore,
    SegmentStoreError,
    api,
)
from segql.cli.main import cli
from segql.compiler.context import Context
from segql.errors import SegmentError, SegqlError
from segql.indexer.loader import load

pytestmark = pytest.mark.es

RECORDS = [
    {"type": "contact", "account": "acme", "id": "c1", "email": "a@x.pl",
     "fields": {"city": "Warszawa", "vip": True}},
    {"type": "contact", "account": "acme", "id": "c2", "fields": {"city": "Łódź"}},
    {"type": "contact", "account": "acme", "id": "c3", "fields": {"city": "Warka", "vip": False}},
    {"type": "contact", "account": "other", "id": "c1", "fields": {"city": "Warszawa"}},
]


@pytest.fixture
def loaded(es: Elasticsearch, index_name: str) -> Iterator[str]:
    """The contacts above, loaded (with a learned catalog); the segment index is dropped
    after the test."""
    load(es, index_name, [json.dumps(r, ensure_ascii=False) for r in RECORDS])
    yield index_name
    admin(es).options(ignore_status=404).indices.delete(index=f"{index_name}-segments")


def _store(es: Elasticsearch, index: str) -> tuple[SegmentStore, Context]:
    return api.segment_store(es, index), api.context(es, "acme", index=index)


def test_names_are_unique_per_account_in_any_case(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "Warsaw VIPs", 'city starts_with "War" and vip is_true', "for promos")
    for taken in ("Warsaw VIPs", "WARSAW vips", "warsaw vips"):
        with pytest.raises(DuplicateSegmentError, match="Warsaw VIPs"):
            store.create(ctx, taken, "city has_value")
    other = api.context(es, "other", index=loaded)
    store.create(other, "warsaw vips", "city has_value")  # another account: its own names
    assert list(store.definitions("acme")) == ["Warsaw VIPs"]
    assert store.get("acme", "WARSAW VIPS").description == "for promos"


@pytest.mark.parametrize("name", ["", "x" * 201, "tab\there", "new\nline", " lead", "trail "])
def test_bad_names_are_refused(es: Elasticsearch, loaded: str, name: str) -> None:
    store, ctx = _store(es, loaded)
    with pytest.raises(SegmentStoreError):
        store.create(ctx, name, "city has_value")


def test_long_names_that_fold_long_still_get_an_id(es: Elasticsearch, loaded: str) -> None:
    """200 characters that case-fold to 600 (ΐ → 3 code points) exceed the 512 bytes of
    an `_id`: they are stored under a hash, and still unique (the same name in NFD is
    the same name)."""
    store, ctx = _store(es, loaded)
    name = "ΐ" * 200
    store.create(ctx, name, "city has_value")
    with pytest.raises(DuplicateSegmentError):
        store.create(ctx, unicodedata.normalize("NFD", name), "city has_value")
    assert store.get("acme", name).name == name


def test_expressions_are_checked_on_save(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    with pytest.raises(SegmentError) as unknown:
        store.create(ctx, "a", 'in_segment "nope"')
    assert [d.code for d in unknown.value.diagnostics] == ["E_UNKNOWN_SEGMENT"]
    with pytest.raises(SegmentError) as bad_field:
        store.create(ctx, "a", 'citty = "x"')
    assert bad_field.value.diagnostics[0].hint == "did you mean `city`?"
    with pytest.raises(SegmentError) as itself:
        store.create(ctx, "self", 'in_segment "SELF"')
    assert [d.code for d in itself.value.diagnostics] == ["E_SEGMENT_CYCLE"]
    assert store.definitions("acme") == {}


def test_cycles_are_refused_on_create_and_on_edit(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "base", 'city starts_with "War"')
    store.create(ctx, "middle", 'in_segment "base" and vip is_true')
    store.create(ctx, "top", 'in_segment "Middle" or city = "Łódź"')
    with pytest.raises(SegmentError) as edited:
        store.edit(ctx, "base", expression='in_segment "top"')
    assert [d.code for d in edited.value.diagnostics] == ["E_SEGMENT_CYCLE"]
    assert "top → middle → base → top" in str(edited.value)
    assert store.get("acme", "base").expression == 'city starts_with "War"'
    store.edit(ctx, "base", expression='city starts_with "Wa"', description="wider")
    assert store.get("acme", "base").description == "wider"
    store.edit(ctx, "base", description="")
    assert store.get("acme", "base").description is None


def test_referenced_segments_cannot_be_deleted(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "base", "vip is_true")
    store.create(ctx, "uses base", 'not in_segment "BASE"')
    store.create(ctx, "also", 'any(in_segment "base", event MailOpen occurred)')
    with pytest.raises(SegmentInUseError) as refused:
        store.delete(ctx, "base")
    assert refused.value.referrers == ["also", "uses base"]
    store.delete(ctx, "uses base")
    store.delete(ctx, "also")
    store.delete(ctx, "Base")
    assert store.definitions("acme") == {}
    with pytest.raises(SegmentNotFoundError):
        store.delete(ctx, "base")


def test_edits_and_deletes_are_optimistic(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    read = store.create(ctx, "s", "vip is_true")
    store.edit(ctx, "s", expression="vip is_false", version=read.version)
    with pytest.raises(SegmentConflictError):  # what the user saw is no longer there
        store.edit(ctx, "s", expression="vip has_value", version=read.version)
    with pytest.raises(SegmentConflictError):
        store.delete(ctx, "s", version=read.version)
    assert store.get("acme", "s").expression == "vip is_false"


def test_list_searches_names_in_any_case(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    for name in ("Łódź buyers", "ŁÓDŹ vip", "Warsaw", "a*b?"):
        store.create(ctx, name, "city has_value")
    assert [s.name for s in store.list("acme")] == ["a*b?", "Warsaw", "Łódź buyers",
                                                    "ŁÓDŹ vip"]
    assert [s.name for s in store.list("acme", "łóDŹ")] == ["Łódź buyers", "ŁÓDŹ vip"]
    assert [s.name for s in store.list("acme", "*")] == ["a*b?"]
    assert store.list("other") == []


def test_in_segment_works_through_the_api(es: Elasticsearch, loaded: str) -> None:
    store, ctx = _store(es, loaded)
    store.create(ctx, "War", 'city starts_with "war"')
    ctx = api.context(es, "acme", index=loaded)
    assert api.count(es, 'in_segment "war"', ctx, loaded).count == 2
    assert sorted(api.export_ids(es, 'in_segment "WAR" and vip is_true', ctx, loaded)) == ["c1"]
    assert api.count(es, api.saved_text(ctx, "war"), ctx, loaded).count == 2


def test_segment_cli(es_url: str, loaded: str) -> None:
    runner = CliRunner()
    env = {"ELASTICSEARCH_URL": es_url}

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, [*args, "-a", "acme", "--index", loaded], env=env)
        return result.exit_code, result.stdout, result.stderr

    assert run("segment", "create", "War", "--expr", 'city starts_with "War"',
               "--description", "Warsaw and Warka")[0] == 0
    assert run("segment", "create", "vip war", "--expr", 'in_segment "war" and vip is_true'
               )[0] == 0
    code, _, err = run("segment", "create", "WAR", "--expr", "city has_value")
    assert code == 2 and "already has a segment called 'War'" in err
    code, _, err = run("segment", "create", "x", "--expr", 'in_segment "nope"')
    assert code == 2 and "E_UNKNOWN_SEGMENT" in err and "^" in err
    code, _, err = run("segment", "edit", "war", "--expr", 'in_segment "vip war"')
    assert code == 2 and "E_SEGMENT_CYCLE" in err
    code, _, err = run("segment", "delete", "war")
    assert code == 2 and "'vip war'" in err
    code, out, _ = run("segment", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "vip war", "description": None,
         "expression": 'in_segment "war" and vip is_true', "count": 1},
        {"name": "War", "description": "Warsaw and Warka",
         "expression": 'city starts_with "War"', "count": 2},
    ]
    code, out, _ = run("segment", "list", "--search", "VIP")
    assert code == 0 and out.split() == ["vip", "war", "1"]
    code, out, _ = run("segment", "show", "war", "--size", "1", "--page", "2")
    assert code == 0 and "count:       2" in out and "members 2-2 of 2:\n  c3" in out
    code, out, _ = run("count", "--segment", "WAR")
    assert (code, out.strip()) == (0, "2")
    code, out, _ = run("count", 'in_segment "vip war"')
    assert (code, out.strip()) == (0, "1")
    code, out, _ = run("explain", "--segment", "vip war", "--contact", "c3")
    assert code == 0 and out.splitlines() == [
        "contact 'c3' of account 'acme' is not in the segment",
        "[false] ... and ...",
        '  [true ] in_segment "war"',
        '    [true ] city starts_with "War"',
        "  [false] vip is_true",
    ]
    code, out, _ = run("export", "--segment", "war", "--format", "csv")
    assert code == 0 and sorted(out.split()) == ["c1", "c3", "contact_id"]
    code, _, err = run("count", "--segment", "missing")
    assert code == 2 and "no saved segment 'missing'" in err  # invalid input
    code, _, err = run("count", "city has_value", "--segment", "war")
    assert code == 2 and "one of them" in err
    assert run("segment", "delete", "vip war")[0] == 0
    assert run("segment", "delete", "war")[0] == 0
    code, _, err = run("segment", "show", "war")
    assert code == 2 and "no saved segment" in err


def test_segment_commands_document_exit_codes() -> None:
    for command in ("segment", "segment create", "segment edit", "segment delete",
                    "segment show", "segment list", "explain"):
        result = CliRunner().invoke(cli, [*command.split(), "--help"])
        assert result.exit_code == 0
        assert "Exit codes" in " ".join(result.output.split()), command


def _race(*actions: Callable[[], object]) -> list[BaseException | None]:
    """Run the actions at the same moment, each in its own thread; what each raised."""
    start = threading.Barrier(len(actions))
    outcomes: list[BaseException | None] = [None] * len(actions)

    def run(i: int) -> None:
        start.wait()
        try:
            actions[i]()
        except SegqlError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_writes_never_leave_a_dangling_reference_or_a_cycle(
    es: Elasticsearch, loaded: str
) -> None:
    """A delete racing a new reference to the deleted segment, and two edits that only
    together close a cycle: each write is verified after it lands and undone if the
    other made it invalid, so the stored segments always check."""
    store, ctx = _store(es, loaded)
    for round_ in range(6):
        store.create(ctx, "target", "vip is_true")
        _race(lambda: store.delete(ctx, "target"),
              lambda: store.create(ctx, "user", 'in_segment "target" or city has_value'))
        names = set(store.definitions("acme"))
        # any serial order is fine (delete first: the reference is refused, nothing is
        # left); a reference to a deleted segment never is
        assert names in (set(), {"target"}, {"target", "user"}), (round_, names)
        for name in sorted(names, reverse=True):  # "user" first
            store.delete(ctx, name)
    store.create(ctx, "a", "vip is_true")
    store.create(ctx, "b", "vip is_false")
    for _ in range(6):
        _race(lambda: store.edit(ctx, "a", expression='in_segment "b"'),
              lambda: store.edit(ctx, "b", expression='in_segment "a"'))
        now = api.context(es, "acme", index=loaded)
        for text in store.definitions("acme").values():
            api.prepare(text, now)  # no cycle: every definition still checks
        store.edit(ctx, "a", expression="vip is_true")
        store.edit(ctx, "b", expression="vip is_false")
