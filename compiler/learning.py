"""Learning types from contacts (`catalog.learn`): the sightings of every field, event
property and visit property, counted, and the first of each in a fixed order (contacts by
id, their events and visits by time), so the same contacts always give the same catalog.
Apart from `catalog.py` for its size; `catalog.learn` is the way in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from segql.compiler.catalog import (
    STANDARD,
    Catalog,
    Entry,
    FieldType,
    Sighting,
    _example,
    _text_type,
    value_type,
)
from segql.values import parse_instant

if TYPE_CHECKING:
    from segql.contract.contact import Activity, Contact


#: The stored form of an instant (`values.iso_millis`): as text, it sorts as its time.
_STORED_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def _in_time_order(activities: Iterable[Activity]) -> list[Activity]:
    """By (time, id); as text when every `ts` is in the stored form (as the fold and the
    documents hold them), which spares parsing each one."""
    listed = list(activities)
    if all(_STORED_INSTANT.fullmatch(activity.ts) for activity in listed):
        return sorted(listed, key=lambda activity: (activity.ts, activity.id))
    return sorted(listed, key=lambda activity: (parse_instant(activity.ts), activity.id))


class Learner:
    """Collects sightings in a fixed order; the first type seen of a name is its type.

    The counts don't depend on the order, only which sighting is first does: a contact's
    values are counted as they come, and only a contact that shows a name or type not seen
    before (few do) is walked again in time order to find its first sightings."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str, str | None], FieldType] = {}
        self.event_names: list[str] = []
        self._event_names: set[str] = set()
        #: Per (entry, type): how many values, and the first one (example, contact).
        self.counts: dict[tuple[tuple[str, str, str | None], FieldType], int] = {}
        self.firsts: dict[tuple[tuple[str, str, str | None], FieldType], tuple[Any, str]] = {}

    def _count(self, entry: tuple[str, str, str | None], value: Any,
                new: list[tuple[tuple[str, str, str | None], FieldType]]) -> None:
        counts = self.counts
        for item in value if isinstance(value, list) else (value,):
            kind = type(item)  # `value_type`, its common cases first
            if kind is str:
                if not item:  # `present`: "" says nothing
                    continue
                type_: FieldType = _text_type(item)
            elif kind is int or kind is float:
                type_ = "number"
            elif item is None:
                continue
            else:
                type_ = value_type(item)
            key = (entry, type_)
            count = counts.get(key)
            if count is None:
                counts[key] = 1
                new.append(key)
            else:
                counts[key] = count + 1

    def seen(self) -> dict[Entry, dict[FieldType, Sighting]]:
        """By entry in the order first seen, and by type in the order first seen."""
        out: dict[Entry, dict[FieldType, Sighting]] = {}
        for (entry, type_), first in self.firsts.items():
            out.setdefault(Entry(*entry), {})[type_] = Sighting(  # type: ignore[arg-type]
                type_, *first, self.counts[(entry, type_)])
        return out

    def contact(self, contact: Contact) -> None:
        new: list[tuple[tuple[str, str, str | None], FieldType]] = []
        count = self._count
        for name, value in contact.fields.items():
            count(("field", name, None), value, new)
        names = self._event_names
        fresh = False
        for event in contact.events.values():
            name = event.name or ""
            if name not in names:
                fresh = True
            for prop, value in event.props.items():
                count(("event", prop, name), value, new)
        for visit in contact.visits.values():
            for prop, value in visit.props.items():
                count(("visit", prop, None), value, new)
        if new or fresh:
            self._firsts(contact, set(new))

    def _firsts(self, contact: Contact,
                new: set[tuple[tuple[str, str, str | None], FieldType]]) -> None:
        """The contact's first sightings of what it showed first, in the fixed order."""
        def sight(entry: tuple[str, str, str | None], value: Any) -> None:
            for item in value if isinstance(value, list) else (value,):
                if item is None or item == "":
                    continue
                key = (entry, value_type(item))
                if key in new:
                    new.discard(key)
                    self.firsts[key] = (_example(item), contact.id)
                    self.first.setdefault(entry, key[1])

        for name, value in contact.fields.items():
            sight(("field", name, None), value)
        for event in _in_time_order(contact.events.values()):
            name = event.name or ""
            if name not in self._event_names:
                self._event_names.add(name)
                self.event_names.append(name)
            for prop, value in event.props.items():
                sight(("event", prop, name), value)
        for visit in _in_time_order(contact.visits.values()):
            for prop, value in visit.props.items():
                sight(("visit", prop, None), value)

    def catalog(self) -> Catalog:
        """The first types, without the standard names (their types are fixed)."""
        fields: dict[str, FieldType] = {}
        events: dict[str, dict[str, FieldType]] = {name: {} for name in self.event_names}
        visit_properties: dict[str, FieldType] = {}
        for key, type_ in self.first.items():
            entry = Entry(*key)  # type: ignore[arg-type]
            if STANDARD.entry_type(entry) is not None:
                continue
            if entry.kind == "field":
                fields[entry.name] = type_
            elif entry.kind == "visit":
                visit_properties[entry.name] = type_
            else:
                events[entry.event or ""][entry.name] = type_
        return Catalog(fields, events, visit_properties)
