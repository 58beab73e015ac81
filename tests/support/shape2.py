"""Contact documents of shape 2, as segql wrote them before shape 3 (issue 16): a date-only
value as the instant midnight UTC in `d` (`pd` for a property), no calendar slots (`c`,
`m`, `pc`) and no `anniv` — in an index of shape 2's mapping, so tests can show that such
an index is refused until `segql reindex` rebuilt it, and read exactly after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from segql.contract.contact import Contact
from segql.contract.document import SEP, SHAPE_META, contact_document, document_id
from segql.stores.mapping import index_body
from segql.values import number_day, sortable_instant


def _midnight_utc(number: int) -> str:
    return number_day(number).isoformat() + "T00:00:00.000Z"


def shape2_document(contact: Contact) -> dict[str, Any]:
    doc = contact_document(contact)
    doc.pop("anniv", None)
    for slots in doc["fields"].values():
        days = slots.pop("c", [])
        slots.pop("m", None)
        if days:
            slots["d"] = [*slots.get("d", []), *(_midnight_utc(n) for n in days)]
    for kind in ("events", "visits"):
        for activity in doc[kind]:
            for item in activity.pop("pc", []):
                name, number = item.split(SEP, 1)
                day = number_day(int(number))
                instant = datetime(day.year, day.month, day.day, tzinfo=UTC)
                activity.setdefault("pd", []).append(name + SEP + sortable_instant(instant))
    return doc


def shape2_body() -> dict[str, Any]:
    body = index_body()
    mappings = body["mappings"]
    mappings["_meta"] = {SHAPE_META: 2}
    del mappings["properties"]["anniv"]
    for kind in ("events", "visits"):
        del mappings["properties"][kind]["properties"]["pc"]
    mappings["dynamic_templates"] = [t for t in mappings["dynamic_templates"]
                                     if not ({"field_c", "field_m"} & set(t))]
    return body


def load_shape2(es: Elasticsearch, index: str, contacts: list[Contact]) -> None:
    """A new index of shape 2 holding `contacts`, refreshed."""
    es.indices.create(index=index, **shape2_body())
    helpers.bulk(es, ({"_index": index, "_id": document_id(c.account, c.id),
                       "_routing": c.account, "_source": shape2_document(c)}
                      for c in contacts), refresh=True)
