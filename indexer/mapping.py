"""Index settings and mapping for contact documents (shape: see `document.py`)."""

from __future__ import annotations

from typing import Any

_KEYWORD_MATCH = {"type": "keyword"}
_KEYWORD_SEARCH_ONLY = {"type": "keyword", "doc_values": False}


def _activity_properties(named: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "keyword"},
        "ts": {"type": "date"},
        "props": {"type": "object", "enabled": False},
        "pf": _KEYWORD_SEARCH_ONLY,
        "pr": _KEYWORD_SEARCH_ONLY,
        "ps": _KEYWORD_SEARCH_ONLY,
        "pn": _KEYWORD_SEARCH_ONLY,
        "pd": _KEYWORD_SEARCH_ONLY,
        "pb": _KEYWORD_SEARCH_ONLY,
    }
    if named:
        props["name"] = {"type": "keyword"}
    return props


def _slot_template(slot: str, mapping: dict[str, Any]) -> dict[str, Any]:
    return {
        f"field_{slot}": {"path_match": f"fields.*.{slot}", "mapping": mapping}
    }


def index_body(shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Settings and mappings for a new contact index."""
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            # a contact's events and visits are nested documents; the retention policy
            # of the indexer bounds them per contact
            "mapping.nested_objects.limit": 200_000,
            "mapping.total_fields.limit": 20_000,
            # `contains` with a needle longer than the suffix slot is a regexp of the
            # escaped needle: up to 4 KiB (LANGUAGE.md §6), doubled by escapes, plus a name
            "max_regex_length": 16_384,
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "account": {"type": "keyword"},
                "contact_id": {"type": "keyword"},
                "raw": {"type": "object", "enabled": False},
                "fields": {"type": "object", "dynamic": True},
                "events": {"type": "nested", "properties": _activity_properties(True)},
                "visits": {"type": "nested", "properties": _activity_properties(False)},
            },
            "dynamic_templates": [
                _slot_template("v", {"type": "keyword", "index": False}),
                _slot_template("f", _KEYWORD_MATCH),
                _slot_template("r", _KEYWORD_SEARCH_ONLY),
                _slot_template("s", _KEYWORD_SEARCH_ONLY),
                _slot_template("n", {"type": "double"}),
                _slot_template("d", {"type": "date"}),
                _slot_template("b", {"type": "boolean"}),
                {"field_object": {"path_match": "fields.*", "match_mapping_type": "object",
                                  "mapping": {"type": "object"}}},
            ],
        },
    }
