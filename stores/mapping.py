"""Index settings and mapping for contact documents (shape: see `document.py`)."""

from __future__ import annotations

from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from segql.contract.document import SHAPE, SHAPE_META
from segql.errors import SegqlError
from segql.stores.index_settings import (
    Replicas,
    contact_index_settings,
    shards_setting,
    store_index_settings,
)
from segql.stores.placement import (
    PLACEMENT_META,
    ROUTING_MAPPING,
    Routes,
    placement,
    placement_settings,
)

_KEYWORD_MATCH = {"type": "keyword"}
_KEYWORD_SEARCH_ONLY = {"type": "keyword", "doc_values": False}
#: A field that is kept in `_source` only: never searched, sorted or aggregated.
STORED_ONLY: dict[str, Any] = {"type": "keyword", "index": False, "doc_values": False}


def _activity_properties(named: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        # read back from `_source` only (idempotence by id: `document_contact`)
        "id": STORED_ONLY,
        "ts": {"type": "date"},
        "props": {"type": "object", "enabled": False},
        "pf": _KEYWORD_SEARCH_ONLY,
        "pn": _KEYWORD_SEARCH_ONLY,
        "pd": _KEYWORD_SEARCH_ONLY,
        "pc": _KEYWORD_SEARCH_ONLY,
        "pb": _KEYWORD_SEARCH_ONLY,
    }
    if named:
        props["name"] = {"type": "keyword"}
    return props


def _slot_template(slot: str, mapping: dict[str, Any]) -> dict[str, Any]:
    return {
        f"field_{slot}": {"path_match": f"fields.*.{slot}", "mapping": mapping}
    }


def index_body(shards: int | None = None, replicas: Replicas | None = None,
               partition: int | None = None) -> dict[str, Any]:
    """Settings and mappings for a new contact index: shards and replicas given, else the
    environment's, else the defaults (`index_settings`); an account's routing value
    spreads over `partition` of its shards (default 1; stores/placement.py). Spread
    accounts' routing keys are added by `put_routes` once the index exists."""
    return {
        "settings": {
            **contact_index_settings(shards, replicas),
            **placement_settings(placement(shards_setting(shards), partition)),
            # a contact's events and visits are nested documents; retention bounds them
            # per contact (records.MAX_EVENTS + MAX_VISITS by default); this leaves room
            # for an account configured to keep many more
            "mapping.nested_objects.limit": 200_000,
            "mapping.total_fields.limit": 20_000,
            # `contains`/`ends_with` with a long needle is a regexp of the escaped needle:
            # up to 4 KiB (LANGUAGE.md §6), doubled by escapes, plus a name
            "max_regex_length": 16_384,
        },
        "mappings": {
            "dynamic": "strict",
            "_routing": dict(ROUTING_MAPPING),
            # which document shape the index holds (`document.SHAPE`; absent: shape 1)
            "_meta": {SHAPE_META: SHAPE},
            "properties": {
                "account": {"type": "keyword"},
                "contact_id": {"type": "keyword"},
                "raw": {"type": "object", "enabled": False},
                # retention (docs/semantics.md): how many events and visits were dropped
                "events_dropped": {"type": "integer"},
                "visits_dropped": {"type": "integer"},
                "fields": {"type": "object", "dynamic": True},
                "events": {"type": "nested", "properties": _activity_properties(True)},
                "visits": {"type": "nested", "properties": _activity_properties(False)},
                # the instants of date fields, for `anniversary` (document.py)
                "anniv": {"type": "nested", "properties": {
                    "k": {"type": "keyword"}, "y": {"type": "short"},
                    "l": {"type": "boolean"}, "p": {"type": "long"}}},
            },
            "dynamic_templates": [
                _slot_template("v", {"type": "keyword", "index": False}),
                _slot_template("f", _KEYWORD_MATCH),
                _slot_template("r", _KEYWORD_SEARCH_ONLY),
                _slot_template("n", {"type": "double"}),
                _slot_template("d", {"type": "date"}),
                _slot_template("c", {"type": "integer"}),
                _slot_template("m", {"type": "short"}),
                _slot_template("b", {"type": "boolean"}),
                {"field_object": {"path_match": "fields.*", "match_mapping_type": "object",
                                  "mapping": {"type": "object"}}},
            ],
        },
    }


def account_store_body(properties: dict[str, Any], replicas: Replicas | None = None
                       ) -> dict[str, Any]:
    """The index of a small per-account store (catalogs, saved segments, tokens): one
    shard, replicas as `index_settings` says, and a strict mapping, so a document of
    another shape is refused, not silently mapped."""
    return {
        "settings": store_index_settings(replicas),
        "mappings": {"dynamic": "strict",
                     "properties": {"account": {"type": "keyword"}, **properties}},
    }


def create_index_once(es: Elasticsearch, index: str, body: dict[str, Any]) -> bool:
    """Create `index` unless it exists (another client may create it at the same moment),
    then wait until its shard is active: a just-created index answers 503 until then,
    even to a client that saw it exist. True if this call created it."""
    created = False
    if not es.indices.exists(index=index):
        try:
            es.indices.create(index=index, **body)
            created = True
        except BadRequestError as error:
            if error.message != "resource_already_exists_exception":
                raise
    es.cluster.health(index=index, wait_for_active_shards=1, timeout="30s")
    return created


class IndexShapeError(SegqlError):
    """The contact index holds documents of a shape this segql does not know."""


def shape_of(mappings: dict[str, Any]) -> int:
    """The document shape an index's mappings declare; 1 when they declare none (an index
    created before shapes were recorded)."""
    shape = mappings.get("_meta", {}).get(SHAPE_META, 1)
    return shape if isinstance(shape, int) and not isinstance(shape, bool) else 1


def refuse_newer_shape(index: str, mappings: dict[str, Any]) -> None:
    """Refuse an index written by a newer segql: its documents may lack what this
    version's queries read, and a count must be exact or an error. (The indexer writes into
    an older one: `segql reindex` rebuilds what it wrote before.)"""
    shape = shape_of(mappings)
    if shape > SHAPE:
        raise IndexShapeError(
            f"index {index!r} holds contact documents of shape {shape}, written by a newer "
            f"segql; this one reads shape {SHAPE}: use a newer segql")


#: The oldest shape a query reads exactly: shapes 1 and 2 wrote a date-only value as
#: midnight UTC and no anniversary slots (document.py).
READABLE_SHAPE = 3


def refuse_unreadable_shape(index: str, mappings: dict[str, Any],
                            named: str | None = None) -> None:
    """Refuse to query an index whose documents are not of the shape this segql reads:
    a newer one, or one older than READABLE_SHAPE (then: `segql reindex` rebuilds it;
    `named` is the contact index's name as given, an alias of `index` maybe)."""
    refuse_newer_shape(index, mappings)
    shape = shape_of(mappings)
    if shape < READABLE_SHAPE:
        raise IndexShapeError(
            f"index {index!r} holds contact documents of shape {shape}, written by an older "
            f"segql that stored date-only values as midnight UTC; this one reads shape "
            f"{SHAPE}: run `segql reindex --index {named or index}` to rebuild them (the contacts "
            "are kept), then query again")


def check_index_shape(es: Elasticsearch, index: str) -> None:
    """`refuse_unreadable_shape` for every index `index` names (an alias may name
    several); nothing when there is none yet."""
    # `dynamic` too: an index without `_meta` (shape 1) must still be in the answer
    response = es.options(ignore_status=404).indices.get_mapping(
        index=index, filter_path=["*.mappings._meta", "*.mappings.dynamic"])
    if response.meta.status == 404:
        return
    for name, body in response.body.items():
        refuse_unreadable_shape(name, body.get("mappings", {}), index)


def _put_meta(es: Elasticsearch, index: str, entries: dict[str, Any]) -> None:
    """Set entries of the concrete index's mapping `_meta`, keeping the others (a
    `put_mapping` with `_meta` replaces all of it: the placement must never be dropped)."""
    found: dict[str, Any] = es.indices.get_mapping(
        index=index, filter_path=["*.mappings._meta"]).body
    first: dict[str, Any] = next(iter(found.values()), {})
    meta = dict(first.get("mappings", {}).get("_meta", {}))
    es.indices.put_mapping(index=index, meta={**meta, **entries})


def mark_shape(es: Elasticsearch, index: str) -> None:
    """Record in the index's mapping that every document in it has this version's shape
    (after `segql reindex` rewrote them all; needs the `write` privilege, `manage` from
    Elasticsearch 10). The placement in `_meta` is kept."""
    _put_meta(es, index, {SHAPE_META: SHAPE})


def put_routes(es: Elasticsearch, index: str, routes: Routes) -> None:
    """Record a new concrete index's spread accounts' routing keys (stores/placement.py),
    before anything is written to it or anyone can address it."""
    _put_meta(es, index, {PLACEMENT_META: routes.to_meta()})
