"""The field catalog per account: the declared format, learning from data, the store in
Elasticsearch (with concurrent writers), the loader hook and `segql catalog`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql.cli.catalog_commands import catalog
from segql.compiler.catalog import (
    STANDARD,
    Catalog,
    Conflict,
    Entry,
    FieldType,
    learn,
    read_catalog,
)
from segql.contract.contact import Activity, Contact
from segql.errors import InputError
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.stores.catalogs import (
    MAX_CONFLICTS,
    CatalogStore,
    StoredCatalog,
    catalog_index_name,
)

# -- helpers ---------------------------------------------------------------------------


def contact(cid: str, account: str = "acme", /, **fields: Any) -> Contact:
    return Contact(account=account, id=cid, fields=fields)


def event(eid: str, name: str, ts: str = "2025-01-01T10:00:00Z", **props: Any) -> Activity:
    return Activity(id=eid, ts=ts, props=props, name=name)


def visit(vid: str, ts: str = "2025-01-01T10:00:00Z", **props: Any) -> Activity:
    return Activity(id=vid, ts=ts, props=props)


def with_activities(c: Contact, events: Sequence[Activity] = (),
                    visits: Sequence[Activity] = ()) -> Contact:
    c.events = {e.id: e for e in events}
    c.visits = {v.id: v for v in visits}
    return c


def conflicts_of(contacts: list[Contact]) -> list[tuple[Any, ...]]:
    return [(c.entry, c.expected, c.found, c.example, c.contact, c.count)
            for c in learn(contacts).conflicts]


# -- learning: the type of a value -----------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (True, "boolean"),
    (False, "boolean"),
    (31, "number"),
    (0, "number"),
    (-3.5, "number"),
    ("2024-05-01", "date"),
    ("2025-01-01T10:00:00Z", "date"),
    ("2025-01-01T10:00:00+02:00", "date"),
    ("2024-02-30", "text"),  # not a real day
    ("Warszawa", "text"),
    ("31", "text"),
    (["b2b", "vip"], "text"),
    ([1, 2.5], "number"),
    ([True], "boolean"),
    (["2024-05-01", "2024-06-01"], "date"),
    ([None, "", 7], "number"),  # nulls and empty strings say nothing
    ([], None),
    ("", None),
    (None, None),
])
def test_the_type_of_a_value(value: Any, expected: FieldType | None) -> None:
    result = learn([contact("c1", custom=value)])
    assert result.catalog.fields.get("custom") == expected
    assert result.conflicts == []


def test_first_type_seen_wins_and_later_types_are_conflicts_with_examples() -> None:
    contacts = [
        contact("c3", age="thirty"),
        contact("c1", age=31),
        contact("c2", age="forty"),
        contact("c4", age=True),
    ]
    result = learn(contacts)
    assert result.catalog.fields == {"age": "number"}  # c1 is first by id
    assert conflicts_of(contacts) == [
        (Entry("field", "age"), "number", "text", "forty", "c2", 2),
        (Entry("field", "age"), "number", "boolean", True, "c4", 1),
    ]
    assert learn(list(reversed(contacts))) == result, "the input order does not matter"


def test_a_list_with_mixed_types_conflicts_within_itself() -> None:
    assert conflicts_of([contact("c1", codes=[1, "a", 2])]) == [
        (Entry("field", "codes"), "number", "text", "a", "c1", 1),
    ]


def test_date_strings_fit_text_but_text_does_not_fit_date() -> None:
    texts = learn([contact("c1", note="hello"), contact("c2", note="2024-05-01")])
    assert texts.catalog.fields == {"note": "text"}
    assert texts.conflicts == []
    dates = learn([contact("c1", signup="2024-05-01"), contact("c2", signup="soon")])
    assert dates.catalog.fields == {"signup": "date"}
    assert [(c.expected, c.found, c.example) for c in dates.conflicts] == [
        ("date", "text", "soon")
    ]


def test_long_examples_are_cut() -> None:
    [found] = learn([contact("c1", n=1), contact("c2", n="x" * 500)]).conflicts
    assert found.example == "x" * 100 + "…"


@pytest.mark.parametrize(("name", "value", "fixed", "found"), [
    ("city", 5, "text", "number"),
    ("tags", ["a", True], "text", "boolean"),
    ("created_at", "yesterday", "date", "text"),
    ("email", 1, "text", "number"),
])
def test_standard_fields_keep_their_type_and_a_misfit_is_a_conflict(
    name: str, value: Any, fixed: str, found: str
) -> None:
    result = learn([contact("c1", **{name: value})])
    assert name not in result.catalog.fields, "standard types are fixed, not learned"
    assert result.catalog.field_type(name) == fixed
    assert [(c.entry, c.expected, c.found) for c in result.conflicts] == [
        (Entry("field", name), fixed, found)
    ]


def test_standard_fields_with_fitting_values_are_quiet() -> None:
    result = learn([contact("c1", city="2024-05-01", tags=["a"], created_at="2024-05-01")])
    assert result.catalog == STANDARD
    assert result.conflicts == []


def test_event_properties_per_event_in_time_order() -> None:
    c1 = with_activities(contact("c1"), events=[
        event("e1", "Purchase", "2025-03-01T00:00:00Z", value=10, currency="PLN"),
        event("e0", "Purchase", "2025-01-01T00:00:00Z", value="ten"),  # earlier: its type wins
        event("e2", "Refund", value=True),
        event("e3", "Login"),
        event("e4", "MailOpen", campaign="spring"),
    ])
    result = learn([c1])
    assert result.catalog.events == {
        "Purchase": {"value": "text", "currency": "text"},
        "Refund": {"value": "boolean"},
        "Login": {},
        "MailOpen": {"campaign": "text"},
    }
    assert result.catalog.known_event("Login")
    assert result.catalog.property_type("event", "Refund", "value") == "boolean"
    assert [(c.entry, c.expected, c.found, c.example) for c in result.conflicts] == [
        (Entry("event", "value", "Purchase"), "text", "number", 10),
    ]


def test_events_with_the_same_time_go_by_id() -> None:
    c1 = with_activities(contact("c1"), events=[
        event("b", "Purchase", value="x"), event("a", "Purchase", value=1),
    ])
    assert learn([c1]).catalog.events == {"Purchase": {"value": "number"}}


def test_visit_properties_standard_and_custom() -> None:
    c1 = with_activities(contact("c1"), visits=[
        visit("v1", url="https://shop.example/p/42", campaign="spring", depth=3),
        visit("v2", "2025-02-01T00:00:00Z", url=42, product_id="42"),
    ])
    result = learn([c1])
    assert result.catalog.visit_properties == {"campaign": "text", "depth": "number"}
    assert result.catalog.property_type("visit", None, "url") == "text"
    assert [(c.entry, c.expected, c.found) for c in result.conflicts] == [
        (Entry("visit", "url"), "text", "number"),
    ]


def test_learning_one_account() -> None:
    contacts = [contact("c1", "acme", age=1), contact("c2", "other", vip=True)]
    assert learn(contacts, account="acme").catalog.fields == {"age": "number"}
    assert learn(contacts, account="other").catalog.fields == {"vip": "boolean"}


def test_learning_from_folded_records() -> None:
    store, rejects = fold_records([
        json.dumps({"type": "contact", "account": "acme", "id": "c1",
                    "fields": {"age": 31, "signup_date": "2024-05-01"}}),
        json.dumps({"type": "event", "account": "acme", "contact": "c1", "id": "e1",
                    "name": "Purchase", "ts": "2025-01-01T10:00:00Z",
                    "props": {"value": 9.5}}),
        json.dumps({"type": "visit", "account": "acme", "contact": "c1", "id": "v1",
                    "ts": "2025-01-02T08:00:00Z", "url": "https://x", "props": {"ab": "B"}}),
    ])
    assert rejects == []
    assert learn(store.contacts.values(), account="acme").catalog == Catalog(
        fields={"age": "number", "signup_date": "date"},
        events={"Purchase": {"value": "number"}},
        visit_properties={"ab": "text"},
    )


def test_against_a_known_catalog_keeps_its_types() -> None:
    result = learn([contact("c1", age="old", score=1)])
    rebased = result.against(Catalog(fields={"age": "number"}))
    assert rebased.catalog.fields == {"age": "number", "score": "number"}
    assert [(c.entry.name, c.expected, c.found) for c in rebased.conflicts] == [
        ("age", "number", "text")
    ]


# -- precedence and the JSON form ------------------------------------------------------


def test_declared_over_learned_over_nothing_and_standard_over_all() -> None:
    declared = Catalog(fields={"age": "number"}, events={"Purchase": {"value": "number"}})
    learned = Catalog(fields={"age": "text", "vip": "boolean", "city": "number"},
                      events={"Purchase": {"value": "text", "currency": "text"}})
    effective = declared.over(learned)
    assert effective.field_type("age") == "number"
    assert effective.field_type("vip") == "boolean"
    assert effective.field_type("city") == "text"
    assert effective.events["Purchase"] == {"value": "number", "currency": "text"}


def test_json_round_trip() -> None:
    original = Catalog(
        fields={"age": "number", "order.total": "number", "Data urodzenia": "date"},
        events={"Purchase": {"value": "number"}, "Login": {}},
        visit_properties={"campaign": "text", "url": "text"},
    )
    assert Catalog.from_json(original.to_json()) == original
    assert Catalog.from_json(json.loads(json.dumps(original.to_json()))) == original
    assert Catalog.from_json({}) == STANDARD


@pytest.mark.parametrize(("data", "message"), [
    ([], "a catalog must be a JSON object"),
    ({"field": {}}, 'unknown key "field" in the catalog'),
    ({"fields": ["age"]}, "`fields` must be an object"),
    ({"fields": {"age": "int"}}, 'field "age": unknown type "int"; use text, number'),
    ({"fields": {"age": "Number"}}, 'field "age": unknown type "Number"'),
    ({"fields": {"age": 1}}, 'field "age": unknown type 1'),
    ({"fields": {"age": None}}, 'field "age": unknown type null'),
    ({"fields": {"": "text"}}, "empty field name"),
    ({"fields": {"a\nb": "text"}}, "control characters are not allowed"),
    ({"fields": {"a\x7fb": "text"}}, "control characters are not allowed"),
    ({"fields": {"x" * 257: "text"}}, "name longer than 256 characters"),
    ({"fields": {"city": "number"}}, 'field "city" is standard and always text; it can\'t'),
    ({"fields": {"created_at": "text"}}, 'field "created_at" is standard and always date'),
    ({"visit_properties": {"url": "number"}}, 'visit property "url" is standard'),
    ({"visit_properties": {"": "text"}}, "empty visit property name"),
    ({"visit_properties": "text"}, "`visit_properties` must be an object"),
    ({"events": []}, "`events` must be an object"),
    ({"events": {"Purchase": "number"}}, 'event "Purchase" must be an object'),
    ({"events": {"": {}}}, "empty event name"),
    ({"events": {"Purchase": {"value": "money"}}},
     'event "Purchase" property "value": unknown type "money"'),
    ({"events": {"Purchase": {"\t": "text"}}},
     'event "Purchase" property "\\t": control characters'),
])
def test_declared_catalog_validation(data: Any, message: str) -> None:
    with pytest.raises(InputError) as raised:
        Catalog.from_json(data)
    assert message in str(raised.value)
    assert raised.value.exit_code == 2


def test_a_standard_name_with_its_own_type_may_be_declared() -> None:
    declared = Catalog.from_json({"fields": {"city": "text"}, "visit_properties": {"url": "text"}})
    assert declared.field_type("city") == "text"


def test_stored_catalogs_are_read_leniently() -> None:
    stored = Catalog.from_json({"fields": {"city": "number", "a\x7f": "text"}}, strict=False)
    assert stored.field_type("city") == "text", "the standard type still wins"
    with pytest.raises(InputError, match="unknown type"):
        Catalog.from_json({"fields": {"a": "int"}}, strict=False)


@pytest.mark.parametrize(("content", "message"), [
    (b'{"fields": {"age": "number", "age": "text"}}', '"age" appears twice'),
    (b'{"fields": ', "not valid JSON"),
    (b'{"fields": {"\xff": "text"}}', "not UTF-8 text"),
    (b'{"fields": {"age": "int"}}', 'field "age": unknown type "int"'),
])
def test_declared_file_errors_name_the_file(tmp_path: Path, content: bytes,
                                            message: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        read_catalog(str(path))
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_missing_declared_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        read_catalog(str(tmp_path / "nope.json"))


def test_conflict_json_round_trip_and_description() -> None:
    conflict = Conflict(Entry("event", "value", "Purchase"), "number", "text", "ten", "c9", 3)
    assert Conflict.from_json(json.loads(json.dumps(conflict.to_json()))) == conflict
    assert conflict.describe() == ('property "value" of event "Purchase" is number but '
                                   'contact "c9" has text "ten" (3 values)')


# -- the store in Elasticsearch --------------------------------------------------------

es_only = pytest.mark.es


def test_the_catalog_index_goes_with_the_contact_index() -> None:
    assert catalog_index_name("segql-contacts") == "segql-contacts-catalog"


@pytest.fixture
def catalogs(es: Elasticsearch, index_name: str) -> Iterator[CatalogStore]:
    """The store of the test's contact index; its catalog index is deleted afterwards."""
    store = CatalogStore(es, catalog_index_name(index_name))
    yield store
    admin(es).options(ignore_status=404).indices.delete(index=store.index)


@es_only
def test_nothing_stored_is_the_empty_catalog(catalogs: CatalogStore) -> None:
    assert catalogs.get("acme") == STANDARD
    assert catalogs.conflicts("acme") == []
    assert catalogs.read("acme") == StoredCatalog()


@es_only
def test_declare_replaces_the_declared_part(es: Elasticsearch, catalogs: CatalogStore) -> None:
    catalogs.declare("acme", Catalog(fields={"age": "number", "order.total": "number"}))
    assert catalogs.get("acme").fields == {"age": "number", "order.total": "number"}
    catalogs.declare("acme", Catalog(fields={"vip": "boolean"}))
    assert catalogs.get("acme").fields == {"vip": "boolean"}
    assert catalogs.get("other") == STANDARD, "accounts are apart"
    raw = es.get(index=catalogs.index, id="acme")["_source"]
    assert raw["account"] == "acme"
    assert raw["declared"]["fields"] == {"vip": "boolean"}
    assert raw["learned"]["fields"] == {}


@es_only
def test_merge_keeps_first_types_and_appends_conflicts(catalogs: CatalogStore) -> None:
    first = catalogs.merge_learned("acme", learn([contact("c1", score=1, plan="gold")]))
    assert first.conflicts == []
    second = catalogs.merge_learned("acme", learn([contact("c2", score="high", vip=True)]))
    assert catalogs.read("acme").learned.fields == {
        "score": "number", "plan": "text", "vip": "boolean"
    }
    assert [(c.entry.name, c.expected, c.found, c.example, c.contact)
            for c in second.conflicts] == [("score", "number", "text", "high", "c2")]
    assert catalogs.conflicts("acme") == second.conflicts
    catalogs.merge_learned("acme", learn([contact("c3", score="low")]))
    [again] = catalogs.conflicts("acme")
    assert again.example == "low", "the same conflict reported again replaces the old one"


@es_only
def test_declared_overrides_learned_and_show_says_where_from(catalogs: CatalogStore) -> None:
    catalogs.merge_learned("acme", learn([with_activities(
        contact("c1", age="31", vip=True),
        events=[event("e1", "Purchase", value=1)], visits=[visit("v1", campaign="x")],
    )]))
    catalogs.declare("acme", Catalog(fields={"age": "number"},
                                     events={"Purchase": {"currency": "text"}}))
    effective = catalogs.get("acme")
    assert effective.field_type("age") == "number"
    assert effective.field_type("vip") == "boolean"
    assert effective.events["Purchase"] == {"currency": "text", "value": "number"}
    described = catalogs.read("acme").describe()
    assert described["fields"]["age"] == {"type": "number", "source": "declared",
                                          "learned": "text"}
    assert described["fields"]["vip"] == {"type": "boolean", "source": "learned"}
    assert described["fields"]["city"] == {"type": "text", "source": "standard"}
    assert described["events"]["Purchase"] == {"source": "declared", "properties": {
        "currency": {"type": "text", "source": "declared"},
        "value": {"type": "number", "source": "learned"},
    }}
    assert described["events"]["MailOpen"] == {"source": "system", "properties": {}}
    assert described["visit_properties"]["campaign"] == {"type": "text", "source": "learned"}
    assert described["visit_properties"]["url"] == {"type": "text", "source": "standard"}


@es_only
def test_conflicts_are_against_the_declared_type(catalogs: CatalogStore) -> None:
    catalogs.declare("acme", Catalog(fields={"zip": "text"}))
    result = catalogs.merge_learned("acme", learn([contact("c1", zip=12345)]))
    assert [(c.entry.name, c.expected, c.found) for c in result.conflicts] == [
        ("zip", "text", "number")
    ]
    assert catalogs.read("acme").learned.fields == {"zip": "number"}
    catalogs.declare("acme", Catalog(fields={"zip": "number"}))
    assert catalogs.conflicts("acme") == [], "a declaration drops conflicts it resolves"


@es_only
def test_conflicts_are_bounded_to_the_most_recent(catalogs: CatalogStore) -> None:
    contacts = [contact("c0", **{f"f{i:03d}": 1 for i in range(150)})]
    contacts += [contact("c1", **{f"f{i:03d}": "x" for i in range(150)})]
    catalogs.merge_learned("acme", learn(contacts))
    kept = catalogs.conflicts("acme")
    assert len(kept) == MAX_CONFLICTS
    assert kept[0].entry.name == "f050"
    assert kept[-1].entry.name == "f149"


@es_only
def test_racing_merges_lose_no_field(catalogs: CatalogStore) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def merge(n: int) -> None:
        try:
            barrier.wait()
            catalogs.merge_learned("acme", learn([contact(f"c{n}", **{f"f{n}": n})]))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=merge, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert catalogs.read("acme").learned.fields == {f"f{n}": "number" for n in range(writers)}


@es_only
def test_a_write_in_between_makes_the_update_start_over(catalogs: CatalogStore) -> None:
    catalogs.declare("acme", Catalog(fields={"a": "text"}))
    calls: list[StoredCatalog] = []

    def change(stored: StoredCatalog) -> StoredCatalog:
        calls.append(stored)
        if len(calls) == 1:  # another client writes between this read and its write
            catalogs.merge_learned("acme", learn([contact("c1", other=1)]))
        return StoredCatalog(declared=stored.declared.over(Catalog(fields={"b": "date"})),
                             learned=stored.learned, conflicts=stored.conflicts)

    catalogs.update("acme", change)
    assert len(calls) == 2
    stored = catalogs.read("acme")
    assert stored.declared.fields == {"a": "text", "b": "date"}
    assert stored.learned.fields == {"other": "number"}, "the other writer's learning stays"


# -- the loader hook -------------------------------------------------------------------

RECORDS = [
    {"type": "contact", "account": "acme", "id": "c1",
     "fields": {"age": 31, "vip": True, "signup_date": "2024-05-01", "plan": "gold"}},
    {"type": "contact", "account": "acme", "id": "c2", "fields": {"age": "old"}},
    {"type": "event", "account": "acme", "contact": "c1", "id": "e1", "name": "Purchase",
     "ts": "2025-01-01T10:00:00Z", "props": {"value": 9.5, "currency": "PLN"}},
    {"type": "visit", "account": "acme", "contact": "c2", "id": "v1",
     "ts": "2025-01-02T08:00:00Z", "url": "https://shop.example", "props": {"campaign": "x"}},
    {"type": "contact", "account": "other", "id": "c1", "fields": {"age": "young"}},
]


def record_lines() -> list[str]:
    return [json.dumps(r) for r in RECORDS]


@es_only
def test_the_loader_learns_each_account(es: Elasticsearch, index_name: str,
                                        catalogs: CatalogStore) -> None:
    summary = load(es, index_name, record_lines())
    assert summary.contacts == 3
    assert catalogs.get("acme") == Catalog(
        fields={"age": "number", "vip": "boolean", "signup_date": "date", "plan": "text"},
        events={"Purchase": {"value": "number", "currency": "text"}},
        visit_properties={"campaign": "text"},
    )
    assert catalogs.get("other").fields == {"age": "text"}
    assert list(summary.conflicts) == ["acme"]
    [conflict] = summary.conflicts["acme"]
    assert (conflict.entry.name, conflict.expected, conflict.found, conflict.contact) == (
        "age", "number", "text", "c2")
    assert catalogs.conflicts("acme") == [conflict]
    again = load(es, index_name, [json.dumps(RECORDS[-1] | {"fields": {"age": 40}})])
    assert again.conflicts["other"][0].found == "number"
    assert catalogs.get("other").fields == {"age": "text"}, "the first type stays"


@es_only
def test_the_loader_takes_another_catalog_index(es: Elasticsearch, index_name: str) -> None:
    elsewhere = f"{index_name}-elsewhere"
    try:
        load(es, index_name, record_lines(), catalog_index=elsewhere)
        assert CatalogStore(es, elsewhere).get("acme").field_type("age") == "number"
        assert not es.indices.exists(index=catalog_index_name(index_name))
    finally:
        admin(es).options(ignore_status=404).indices.delete(index=elsewhere)


# -- the CLI ---------------------------------------------------------------------------


@pytest.fixture
def run(es_url: str, index_name: str, catalogs: CatalogStore) -> Any:
    """Invoke `segql catalog ...` against the test's index."""

    def invoke(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(catalog, [*args, "--index", index_name], input=stdin,
                                  env={"ELASTICSEARCH_URL": es_url, "SEGQL_INDEX": None})

    return invoke


@es_only
def test_cli_set_and_show(run: Any, tmp_path: Path, catalogs: CatalogStore) -> None:
    declared = tmp_path / "catalog.json"
    declared.write_text(json.dumps({
        "fields": {"age": "number", "Data urodzenia": "date"},
        "events": {"Purchase": {"value": "number"}},
        "visit_properties": {"campaign": "text"},
    }))
    result = run("set", str(declared), "--account", "acme")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"account": "acme", "fields": 2, "events": 1,
                                         "visit_properties": 1}
    assert catalogs.get("acme").field_type("Data urodzenia") == "date"

    shown = run("show", "--account", "acme", "--json")
    assert shown.exit_code == 0, shown.output
    described = json.loads(shown.stdout)
    assert described["account"] == "acme"
    assert described["fields"]["age"] == {"type": "number", "source": "declared"}
    assert described["events"]["Purchase"]["properties"]["value"]["source"] == "declared"
    assert described["conflicts"] == []

    table = run("show", "--account", "acme")
    assert table.exit_code == 0, table.output
    assert "fields:" in table.stdout
    assert any(line.split() == ["age", "number", "declared"]
               for line in table.stdout.splitlines())
    assert "conflicts: none" in table.stdout


@es_only
def test_cli_set_from_stdin(run: Any, catalogs: CatalogStore) -> None:
    result = run("set", "-", "--account", "acme", stdin='{"fields": {"vip": "boolean"}}')
    assert result.exit_code == 0, result.output
    assert catalogs.get("acme").field_type("vip") == "boolean"


@es_only
def test_cli_rejects_a_bad_declaration(run: Any, tmp_path: Path,
                                       catalogs: CatalogStore) -> None:
    declared = tmp_path / "bad.json"
    declared.write_text('{"fields": {"city": "number"}}')
    result = run("set", str(declared), "--account", "acme")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {declared}: field \"city\" is standard")
    assert catalogs.read("acme") == StoredCatalog(), "nothing was written"
    assert run("set", str(declared), "--account", "bad account!").exit_code == 2


@es_only
def test_cli_learn_and_show_conflicts(run: Any, tmp_path: Path,
                                      catalogs: CatalogStore) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join([*record_lines(), "not json"]) + "\n")
    result = run("learn", str(records), "--account", "acme")
    assert result.exit_code == 0, result.output
    learned = json.loads(result.stdout)
    assert (learned["contacts"], learned["rejected"]) == (2, 1)
    assert [(c["name"], c["expected"], c["found"]) for c in learned["conflicts"]] == [
        ("age", "number", "text")
    ]
    assert catalogs.get("acme").field_type("signup_date") == "date"
    assert catalogs.get("other") == STANDARD, "only the account asked for"
    table = run("show", "--account", "acme").stdout
    assert 'conflicts: 1\n  field "age" is number but contact "c2" has text "old"' in table
