"""The contact document: the contract between the indexer (writes it) and the compiler
(queries it). One document per contact, `_id` = `<account>:<contact id>`.

```
{
  "account": "acme",                  keyword   every query filters on it
  "contact_id": "c1",                 keyword   (doc values: the export reads ids from here)
  "raw": {"fields": {...},            object, not indexed: the contact's fields as applied
          "consent": {"email": "bounced"},  (addresses included), its consent by channel
          "dropped": {"events": {...}}},  and what retention dropped (`records.Dropped`):
                                      `document_contact` rebuilds the contact from it
  "events_dropped": 2500,             integer: events beyond the kept newest (retention,
  "visits_dropped": 12,               docs/semantics.md); absent when none were dropped
  "fields": {                         one object per contact field, addresses included
    "<key>": {                        key = the field name, or `~<hex>` for names that are
                                      not [A-Za-z_][A-Za-z0-9_]* (dots, spaces, ...)
      "v": ["Ann@example.com"],       keyword, not indexed: raw text, in address fields
                                      (ADDRESS_FIELDS) only: the export reads its doc values
      "f": ["warszawa"],              keyword: fold(value): equals, in, starts_with (prefix),
                                      has_value (exists), contains (wildcard *x*)
      "r": ["awazsraw"],              keyword: reversed fold: ends_with x = prefix reverse(x)
      "n": [31.0],                    double                       number operators
      "d": ["2024-05-01T10:00:00.000Z"],  date: text values that are ISO instants (UTC, ms)
      "c": [19900501],                integer: text values that are ISO dates (`YYYY-MM-DD`),
                                      as day numbers yyyymmdd: calendar dates, not instants
                                      (LANGUAGE.md §3.6: the start of that day in the
                                      evaluation zone, decided when a segment is compiled)
      "m": [501],                     integer: the month-day mmdd of each `c` (anniversaries)
      "b": [true]                     boolean
    },
    "@bucket": {"n": [4711.0]},       the computed standard fields (COMPUTED_FIELDS), under
    "@email_status": {"f": [...],     `@<name>`, a key no field name has: `bucket` always,
                      "r": [...]}     a channel's status (f and r) when its consent is set
  },
  "anniv": [ {                        nested: one per instant value of a field (`d`) whose
      "k": "signup",                  UTC year is 2-9998 (`ANNIVERSARY_YEARS`): the field key,
      "y": 2024, "l": true,           the instant's UTC year and whether it is a leap year,
      "p": 10800000                   and its milliseconds since that year began (UTC):
  } ],                                `anniversary` on instants, in any zone (compiler/
                                      anniversaries.py)
  "events": [ {                       nested: one per event (idempotent by id)
      "id": "e1", "name": "MailOpen", "ts": "2025-01-01T10:00:00.000Z",  (UTC, ms)
      "props": {...},                 object, not indexed: the raw properties
      "pf": ["campaign\\u0000spring"],  keyword: name NUL fold(value); contains and ends_with
                                      are wildcards `name NUL *x*`, `name NUL *x`
      "pn": [...], "pd": [...],       name NUL sortable hex of the number / instant
      "pc": ["at\\u000019900501"],    name NUL yyyymmdd of a calendar date (date-only value)
      "pb": ["flag\\u0000true"]
  } ],
  "visits": [ {...} ]                 nested, like events without `name`; url, path, title,
                                      referrer, product_id are properties
}
```

Only the slots a value fits are written: a text value fills f (and r in a contact field, v
in an address field, d when it is an ISO instant, c and m when it is an ISO date), a
number n, a boolean b. Which slot a
condition reads is the catalog type of the field, so a field's type can be decided after
its data arrived. Event and visit properties are encoded into a fixed set of keyword fields
(`name NUL value`; `has_value` is a prefix `name NUL`), so any number of distinct property
names adds no mapped field; contact fields add at most six per name.

This is document shape 3 (`SHAPE`; the mapping's `_meta` says which shape an index holds).
Shapes 1 and 2 wrote a date-only value as the instant midnight UTC in `d`/`pd` (no `c`,
`m`, `pc`, `anniv`) and had no computed slots (`@bucket`, `@<channel>_status`, issue 16):
such an index cannot be read exactly, and readers refuse it until `segql reindex` has
rebuilt its documents from their `raw` contact (docs/document.md).
Shape 1 also wrote every suffix of every folded text (`s`, `ps`), the reversed folds of
properties (`pr`) and `v` for every field (docs/document.md has the measurement).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from segql.contract.contact import (
    ADDRESS_FIELDS,
    BUCKET_FIELD,
    COMPUTED_FIELDS,
    Activity,
    Contact,
    Dropped,
    bucket,
    status_field,
)
from segql.values import (
    day_number,
    epoch_millis,
    fold,
    iso_millis,
    parse_calendar,
    parse_instant,
    present,
    reverse,
    sortable_instant,
    sortable_number,
)

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Separates a property name from its value in the encoded event/visit property fields.
SEP = "\x00"
#: The document shape this module writes (see the module doc); the mapping's `_meta`
#: carries it as `SHAPE_META`.
SHAPE = 3
SHAPE_META = "segql_document_shape"
#: The UTC years of the instants that have an anniversary (LANGUAGE.md §3.9): the local
#: date of an instant in years 1 or 9999 may lie outside the calendar in some zone.
ANNIVERSARY_YEARS = range(2, 9999)
_DAY_MS = 86_400_000
_ORDINAL_1970 = 719_163  # date(1970, 1, 1).toordinal()


def field_key(name: str) -> str:
    """The document key of a contact field: safe for Elasticsearch paths (no dots); a
    computed standard field's is `@<name>`, which no other name's key can be."""
    if name in COMPUTED_FIELDS:
        return "@" + name
    return name if _PLAIN_NAME.match(name) else "~" + name.encode("utf-8").hex()


def field_path(name: str, slot: str) -> str:
    """The indexed path of one slot of a contact field, e.g. `fields.city.f`."""
    return f"fields.{field_key(name)}.{slot}"


def value_slots(value: Any) -> dict[str, list[Any]]:
    """The slots (see the module doc) that a field or property value fills; `r` and `v`
    are not among them (`contact_document` adds them to contact fields)."""
    slots: dict[str, list[Any]] = {}
    for item in present(value):
        if isinstance(item, bool):
            slots.setdefault("b", []).append(item)
        elif isinstance(item, int | float):
            slots.setdefault("n", []).append(float(item) + 0.0)  # -0.0 is 0.0
        elif isinstance(item, str):
            folded, instant, day = _text_slots(item)
            slots.setdefault("f", []).append(folded)
            if instant is not None:
                slots.setdefault("d", []).append(instant)
            if day is not None:
                slots.setdefault("c", []).append(day)
    return slots


@lru_cache(maxsize=1 << 14)
def _text_slots(text: str) -> tuple[str, str | None, int | None]:
    """fold, ISO instant and calendar day number of a text: cached, because the same texts
    (cities, campaigns, URLs) recur across contacts."""
    folded = fold(text)
    day = parse_calendar(text)
    if day is not None:
        return folded, None, day_number(day)
    instant = parse_instant(text)
    return folded, None if instant is None else iso_millis(instant), None


def anniversary_point(ms: int) -> tuple[int, bool, int] | None:
    """Of an instant (epoch ms): its UTC year, whether that is a leap year, and the
    milliseconds since that year began; None when the instant has no anniversary."""
    ordinal, rest = divmod(ms, _DAY_MS)
    day = date.fromordinal(ordinal + _ORDINAL_1970) if 1 <= ordinal + _ORDINAL_1970 <= (
        date.max.toordinal()) else None
    if day is None or day.year not in ANNIVERSARY_YEARS:
        return None
    start = date(day.year, 1, 1).toordinal() - _ORDINAL_1970
    return day.year, calendar.isleap(day.year), (ordinal - start) * _DAY_MS + rest


def _encoded_prop(name: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """One property's encoded slots (`p<slot>`, `name NUL value` items); tuples, since
    the cache below hands the same result to every document."""
    encoded = []
    for slot, items in value_slots(value).items():
        if slot == "n":
            items = [sortable_number(n) for n in items]
        elif slot == "c":
            items = [f"{n:08d}" for n in items]
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


#: One contact field's part of a document (`field_entry`): its key, its slots (empty: it
#: fills none) and its anniversaries.
FieldEntry = tuple[str, Any, list[Any]]


def field_entry(name: str, value: Any) -> FieldEntry:
    """The slots (see the module doc) and anniversaries of one contact field; the indexer
    caches them, encoded, for values that recur (`indexer/codec.py`)."""
    slots = value_slots(value)
    key = field_key(name)
    if "f" in slots:
        slots["r"] = [reverse(folded) for folded in slots["f"]]
        if name in ADDRESS_FIELDS:
            slots["v"] = [item for item in present(value) if isinstance(item, str)]
    if "c" in slots:
        slots["m"] = [n % 10_000 for n in slots["c"]]
    anniversaries = []
    for text in slots.get("d", []):
        point = anniversary_point(epoch_millis(parse_instant(text)))  # type: ignore[arg-type]
        if point is not None:
            anniversaries.append({"k": key, "y": point[0], "l": point[1], "p": point[2]})
    return key, slots, anniversaries


def contact_document(contact: Contact, entry: Callable[[str, Any], FieldEntry] = field_entry,
                     ) -> dict[str, Any]:
    """The Elasticsearch document of a contact (its `_source`); `entry`: `field_entry`,
    or what gives the same parts encoded (the indexer's cache)."""
    fields: dict[str, Any] = {}
    anniversaries: list[Any] = []
    for name, value in contact.fields.items():
        if name in COMPUTED_FIELDS:  # records can't set one; the computed value is written
            continue
        key, slots, more = entry(name, value)
        anniversaries += more
        if slots:
            fields[key] = slots
    fields[field_key(BUCKET_FIELD)] = {"n": [float(bucket(contact.id))]}
    for channel, state in contact.consent.items():
        fields[field_key(status_field(channel))] = {"f": [state], "r": [reverse(state)]}
    raw: dict[str, Any] = {"fields": contact.fields}
    if contact.consent:
        raw["consent"] = contact.consent
    document: dict[str, Any] = {
        "account": contact.account,
        "contact_id": contact.id,
        "raw": raw,
        "fields": fields,
        "events": [activity_doc(e) for e in contact.events.values()],
        "visits": [activity_doc(v) for v in contact.visits.values()],
    }
    if anniversaries:
        document["anniv"] = anniversaries
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
        consent=dict(raw.get("consent", {})),
    )
