"""The contact document: the contract between the indexer (writes it) and the compiler
(queries it). One document per contact, `_id` = `<account>:<contact id>`.

```
{
  "account": "acme",                  keyword   every query filters on it
  "contact_id": "c1",                 keyword   (doc values: the export reads ids from here)
  "raw": {"fields": {...},            object, not indexed: the contact's fields as applied
          "dropped": {"events": {...}}},  (addresses included) and what retention dropped
                                      (`records.Dropped`): `document_contact` rebuilds the
                                      contact from the document
  "events_dropped": 2500,             integer: events beyond the kept newest (retention,
  "visits_dropped": 12,               docs/semantics.md); absent when none were dropped
  "fields": {                         one object per contact field, addresses included
    "<key>": {                        key = the field name, or `~<hex>` for names that are
                                      not [A-Za-z_][A-Za-z0-9_]* (dots, spaces, ...)
      "v": ["Warszawa"],              keyword, not indexed: the raw text values (export)
      "f": ["warszawa"],              keyword: fold(value)        equals, in, starts_with
      "r": ["awazsraw"],              keyword: reversed fold       ends_with (as a prefix)
      "s": ["awa", "arszawa", ...],   keyword: suffixes of fold, cut to SUFFIX_CHARS; contains
      "n": [31.0],                    double                       number operators
      "d": ["2024-05-01T00:00:00.000Z"],  date: text values that are ISO dates/instants
      "b": [true]                     boolean
    }
  },
  "events": [ {                       nested: one per event (idempotent by id)
      "id": "e1", "name": "MailOpen", "ts": "2025-01-01T10:00:00.000Z",  (UTC, ms)
      "props": {...},                 object, not indexed: the raw properties
      "pf": ["campaign\\u0000spring"],  keyword: name NUL fold(value)
      "pr": [...], "ps": [...],       name NUL reversed fold / name NUL suffix
      "pn": [...], "pd": [...],       name NUL sortable hex of the number / instant
      "pb": ["flag\\u0000true"]
  } ],
  "visits": [ {...} ]                 nested, like events without `name`; url, path, title,
                                      referrer, product_id are properties
}
```

Only the slots a value fits are written: a text value fills v/f/r/s (and d when it is an ISO
date), a number n, a boolean b. Which slot a condition reads is the catalog type of the
field, so a field's type can be decided after its data arrived. Event and visit properties
are encoded into a fixed set of keyword fields (`name NUL value`; `has_value` is a prefix
`name NUL`), so any number of distinct property names adds no mapped field; contact fields
add at most seven per name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from segql.contract.contact import Activity, Contact, Dropped
from segql.values import (
    fold,
    iso_millis,
    parse_instant,
    present,
    reverse,
    sortable_instant,
    sortable_number,
    suffixes,
)

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Separates a property name from its value in the encoded event/visit property fields.
SEP = "\x00"


def field_key(name: str) -> str:
    """The document key of a contact field: safe for Elasticsearch paths (no dots)."""
    return name if _PLAIN_NAME.match(name) else "~" + name.encode("utf-8").hex()


def field_path(name: str, slot: str) -> str:
    """The indexed path of one slot of a contact field, e.g. `fields.city.f`."""
    return f"fields.{field_key(name)}.{slot}"


def value_slots(value: Any) -> dict[str, list[Any]]:
    """The slots (see the module doc) that a field or property value fills."""
    slots: dict[str, list[Any]] = {}
    for item in present(value):
        if isinstance(item, bool):
            slots.setdefault("b", []).append(item)
        elif isinstance(item, int | float):
            slots.setdefault("n", []).append(float(item) + 0.0)  # -0.0 is 0.0
        elif isinstance(item, str):
            folded, reversed_, suffix_list, instant = _text_slots(item)
            slots.setdefault("v", []).append(item)
            slots.setdefault("f", []).append(folded)
            slots.setdefault("r", []).append(reversed_)
            slots.setdefault("s", []).extend(suffix_list)
            if instant is not None:
                slots.setdefault("d", []).append(instant)
    if "s" in slots:
        slots["s"] = sorted(set(slots["s"]))
    return slots


@lru_cache(maxsize=1 << 14)
def _text_slots(text: str) -> tuple[str, str, tuple[str, ...], str | None]:
    """fold, reversed fold, suffixes and ISO instant of a text: cached, because the same
    texts (cities, campaigns, URLs) recur across contacts and suffixes are the costly part
    of building a document."""
    folded = fold(text)
    instant = parse_instant(text)
    return (folded, reverse(folded), tuple(suffixes(folded)),
            None if instant is None else iso_millis(instant))


def _encoded_prop(name: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """One property's encoded slots (`p<slot>`, `name NUL value` items); tuples, since
    the cache below hands the same result to every document."""
    encoded = []
    for slot, items in value_slots(value).items():
        if slot == "v":
            continue
        if slot == "n":
            items = [sortable_number(n) for n in items]
        elif slot == "d":
            items = [sortable_instant(parse_instant(d)) for d in items]  # type: ignore[arg-type]
        elif slot == "b":
            items = ["true" if b else "false" for b in items]
        encoded.append(("p" + slot, tuple(name + SEP + str(i) for i in items)))
    return tuple(encoded)


#: Scalar properties recur (campaign, device, url): their encoding is cached. `typed`, so
#: that True, 1 and 1.0 (equal in Python) are encoded apart.
_encoded_scalar_prop = lru_cache(maxsize=1 << 14, typed=True)(_encoded_prop)


def _encoded_props(props: dict[str, Any]) -> dict[str, list[str]]:
    encoded: dict[str, list[str]] = {}
    for name, value in props.items():
        pairs = (_encoded_prop(name, value) if isinstance(value, list | dict)
                 else _encoded_scalar_prop(name, value))
        for key, items in pairs:
            encoded.setdefault(key, []).extend(items)
    return {key: items for key, items in encoded.items() if items}


def activity_doc(activity: Activity) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": activity.id, "ts": activity.ts, "props": activity.props}
    if activity.name is not None:
        doc["name"] = activity.name
    doc.update(_encoded_props(activity.props))
    return doc


def document_id(account: str, contact_id: str) -> str:
    return f"{account}:{contact_id}"


def contact_document(contact: Contact) -> dict[str, Any]:
    """The Elasticsearch document of a contact (its `_source`)."""
    fields = {}
    for name, value in contact.fields.items():
        slots = value_slots(value)
        if slots:
            fields[field_key(name)] = slots
    raw: dict[str, Any] = {"fields": contact.fields}
    document: dict[str, Any] = {
        "account": contact.account,
        "contact_id": contact.id,
        "raw": raw,
        "fields": fields,
        "events": [activity_doc(e) for e in contact.events.values()],
        "visits": [activity_doc(v) for v in contact.visits.values()],
    }
    for kind, dropped, count in (("events", contact.dropped_events, contact.events_dropped),
                                 ("visits", contact.dropped_visits, contact.visits_dropped)):
        if dropped:
            raw.setdefault("dropped", {})[kind] = dropped.to_json()
            document[f"{kind}_dropped"] = count
    return document


def _activity(doc: dict[str, Any]) -> Activity:
    return Activity(id=doc["id"], ts=doc["ts"], props=doc.get("props", {}),
                    name=doc.get("name"))


def document_contact(source: dict[str, Any]) -> Contact:
    """The contact a document was built from (its exact inverse), so that incremental
    updates merge into stored state and explain can evaluate the stored contact."""
    raw = source.get("raw", {})
    dropped = raw.get("dropped", {})
    return Contact(
        account=source["account"],
        id=source["contact_id"],
        fields=dict(raw.get("fields", {})),
        events={e["id"]: _activity(e) for e in source.get("events", [])},
        visits={v["id"]: _activity(v) for v in source.get("visits", [])},
        dropped_events=Dropped.from_json(dropped.get("events", {})),
        dropped_visits=Dropped.from_json(dropped.get("visits", {})),
    )
