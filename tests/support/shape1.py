"""Contact documents of shape 1, as segql wrote them before shape 2 (issue 15): every text
value also as its reversed fold (`r`, `pr`) and as its suffixes cut to 24 characters (`s`,
`ps`), and `v` on every field — in an index of shape 1's mapping (no `_meta`), so tests can
show that the compiler reads an index written before the change exactly."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, helpers

from segql.contract.contact import Contact
from segql.contract.document import SEP, contact_document, document_id, field_key
from segql.stores.mapping import index_body
from segql.values import present

SUFFIX_CUT = 24
_SEARCH_ONLY = {"type": "keyword", "doc_values": False}


def _suffixes(folded: str) -> list[str]:
    return sorted({folded[i : i + SUFFIX_CUT] for i in range(len(folded))})


def shape1_document(contact: Contact) -> dict[str, Any]:
    doc = contact_document(contact)
    for name, value in contact.fields.items():
        slots = doc["fields"].get(field_key(name))
        if slots and "f" in slots:
            slots["v"] = [v for v in present(value) if isinstance(v, str)]
            slots["r"] = [f[::-1] for f in slots["f"]]
            slots["s"] = sorted({s for f in slots["f"] for s in _suffixes(f)})
    for kind in ("events", "visits"):
        for activity in doc[kind]:
            pairs = [item.split(SEP, 1) for item in activity.get("pf", [])]
            if pairs:
                activity["pr"] = [n + SEP + f[::-1] for n, f in pairs]
                activity["ps"] = [n + SEP + s for n, f in pairs for s in _suffixes(f)]
    return doc


def shape1_body() -> dict[str, Any]:
    body = index_body()
    mappings = body["mappings"]
    del mappings["_meta"]
    for kind in ("events", "visits"):
        properties = mappings["properties"][kind]["properties"]
        properties.update(id={"type": "keyword"}, pr=_SEARCH_ONLY, ps=_SEARCH_ONLY)
    for slot in ("r", "s"):
        mappings["dynamic_templates"].insert(0, {f"field_{slot}": {
            "path_match": f"fields.*.{slot}", "mapping": _SEARCH_ONLY}})
    return body


def load_shape1(es: Elasticsearch, index: str, contacts: list[Contact]) -> None:
    """A new index of shape 1 holding `contacts`, refreshed."""
    es.indices.create(index=index, **shape1_body())
    helpers.bulk(es, ({"_index": index, "_id": document_id(c.account, c.id),
                       "_routing": c.account, "_source": shape1_document(c)}
                      for c in contacts), refresh=True)
