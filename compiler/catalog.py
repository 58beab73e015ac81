"""The field catalog of one account: which fields, events and properties exist, typed.

The checker types every condition through it; the compiler picks the document slot of
the type. Standard fields and visit properties have fixed types; custom fields, events
and their properties are declared (`segql catalog set`) or learned from indexed data.

This module is the model, with no I/O but reading a declared file: the JSON form and its
strict validation, learning types from contacts, and the precedence of the parts
(standard, then declared, then learned). `stores/catalogs.py` keeps it in
Elasticsearch; docs/catalog.md is the user's view.
"""

from __future__ import annotations

import difflib
import json
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from segql.compiler.standard import FIELD_TYPES as FIELD_TYPES
from segql.compiler.standard import STANDARD_FIELDS as STANDARD_FIELDS
from segql.compiler.standard import STANDARD_VISIT_PROPERTIES as STANDARD_VISIT_PROPERTIES
from segql.compiler.standard import SYSTEM_EVENTS as SYSTEM_EVENTS
from segql.compiler.standard import FieldType as FieldType
from segql.errors import InputError
from segql.values import parse_instant

if TYPE_CHECKING:
    from segql.contract.contact import Contact


def _closest(name: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not found:
        lowered = {c.lower(): c for c in candidates}
        return lowered.get(name.lower())
    return found[0]


@dataclass(frozen=True)
class Catalog:
    """Field name → type, event name → property → type, visit property → type."""

    fields: dict[str, FieldType] = field(default_factory=dict)
    events: dict[str, dict[str, FieldType]] = field(default_factory=dict)
    visit_properties: dict[str, FieldType] = field(default_factory=dict)

    def field_type(self, name: str) -> FieldType | None:
        return STANDARD_FIELDS.get(name) or self.fields.get(name)

    def property_type(self, activity: str, event: str | None, name: str) -> FieldType | None:
        """The type of a property inside `where`: of visits, or of events called `event`."""
        if activity == "visit":
            return STANDARD_VISIT_PROPERTIES.get(name) or self.visit_properties.get(name)
        return self.events.get(event or "", {}).get(name)

    def known_event(self, name: str) -> bool:
        return name in SYSTEM_EVENTS or name in self.events

    def suggest_field(self, name: str) -> str | None:
        return _closest(name, sorted({*STANDARD_FIELDS, *self.fields}))

    def suggest_property(self, activity: str, event: str | None, name: str) -> str | None:
        names = (
            {*STANDARD_VISIT_PROPERTIES, *self.visit_properties}
            if activity == "visit"
            else set(self.events.get(event or "", {}))
        )
        return _closest(name, sorted(names))

    def suggest_event(self, name: str) -> str | None:
        return _closest(name, sorted({*SYSTEM_EVENTS, *self.events}))

    def entry_type(self, entry: Entry) -> FieldType | None:
        """The type an entry has here, the fixed standard types included."""
        if entry.kind == "field":
            return self.field_type(entry.name)
        return self.property_type(entry.kind, entry.event, entry.name)

    def over(self, other: Catalog) -> Catalog:
        """This catalog's types, and `other`'s for the names this one lacks (so
        `declared.over(learned)` is the effective catalog; events merge by property)."""
        events = {
            name: {**other.events.get(name, {}), **self.events.get(name, {})}
            for name in sorted({*other.events, *self.events})
        }
        return Catalog(
            fields={**other.fields, **self.fields},
            events=events,
            visit_properties={**other.visit_properties, **self.visit_properties},
        )

    def to_json(self) -> dict[str, Any]:
        """The declared-file form, names sorted so equal catalogs serialise equally."""
        return {
            "fields": dict(sorted(self.fields.items())),
            "events": {
                name: dict(sorted(props.items())) for name, props in sorted(self.events.items())
            },
            "visit_properties": dict(sorted(self.visit_properties.items())),
        }

    @classmethod
    def from_json(cls, data: Any, *, strict: bool = True) -> Catalog:
        """A catalog from its JSON form; raises InputError naming the offending entry.

        `strict` (for what a user declares) also checks names and forbids giving a standard
        field or visit property another type; what segql stored itself is read with
        `strict=False`, so a later standard name can't make a stored catalog unreadable.
        """
        if not isinstance(data, dict):
            raise InputError("a catalog must be a JSON object with `fields`, `events` "
                             "and `visit_properties`")
        unknown = sorted(set(data) - set(_SECTIONS))
        if unknown:
            raise InputError(f"unknown key {_quote(unknown[0])} in the catalog; expected "
                             + ", ".join(f"`{s}`" for s in _SECTIONS))
        fields = _typed_names(data.get("fields", {}), "`fields`", "field", strict)
        visit_properties = _typed_names(data.get("visit_properties", {}),
                                        "`visit_properties`", "visit property", strict)
        if strict:
            _keep_standard(fields, STANDARD_FIELDS, "field")
            _keep_standard(visit_properties, STANDARD_VISIT_PROPERTIES, "visit property")
        events_data = data.get("events", {})
        if not isinstance(events_data, dict):
            raise InputError("`events` must be an object: event name → {property: type}")
        events: dict[str, dict[str, FieldType]] = {}
        for name, props in events_data.items():
            if strict:
                _check_name(name, "event")
            events[name] = _typed_names(props, f"event {_quote(name)}",
                                        f"event {_quote(name)} property", strict)
        return cls(fields=fields, events=events, visit_properties=visit_properties)


#: The empty catalog: only the standard fields, system events and visit properties.
STANDARD = Catalog()
_SECTIONS = ("fields", "events", "visit_properties")
#: Longest name a catalog accepts, as for the names in records.
MAX_NAME_CHARS = 256


def _quote(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _check_name(name: str, what: str) -> None:
    if not name:
        raise InputError(f"empty {what} name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"{what} {_quote(name)}: name longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InputError(f"{what} {_quote(name)}: control characters are not allowed in names")


def _typed_names(data: Any, section: str, what: str, strict: bool) -> dict[str, FieldType]:
    if not isinstance(data, dict):
        raise InputError(f"{section} must be an object: name → type")
    typed: dict[str, FieldType] = {}
    for name, type_ in data.items():
        if strict:
            _check_name(name, what)
        if type_ not in FIELD_TYPES:
            raise InputError(
                f"{what} {_quote(name)}: unknown type {json.dumps(type_, ensure_ascii=False)}; "
                "use text, number, date or boolean"
            )
        typed[name] = type_
    return typed


def _keep_standard(typed: dict[str, FieldType], standard: dict[str, FieldType], what: str) -> None:
    for name, type_ in typed.items():
        fixed = standard.get(name)
        if fixed is not None and fixed != type_:
            raise InputError(f"{what} {_quote(name)} is standard and always {fixed}; "
                             f"it can't be declared {type_}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise InputError(f"{_quote(key)} appears twice in the same object")
        seen[key] = value
    return seen


def read_catalog(path: str) -> Catalog:
    """A declared catalog file (`-` is standard input), validated strictly; every problem
    is an InputError that starts with the path."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
                         ) from None
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from None
    try:
        return Catalog.from_json(json.loads(text, object_pairs_hook=_no_duplicates))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


Kind = Literal["field", "event", "visit"]


class Entry(NamedTuple):
    """One typed name: a contact field, a property of the events called `event`, or a
    visit property."""

    kind: Kind
    name: str
    event: str | None = None

    def describe(self) -> str:
        if self.kind == "field":
            return f"field {_quote(self.name)}"
        if self.kind == "visit":
            return f"visit property {_quote(self.name)}"
        return f"property {_quote(self.name)} of event {_quote(self.event or '')}"


#: Example values kept with a conflict are cut to this many characters.
EXAMPLE_CHARS = 100


def value_type(value: Any) -> FieldType:
    """The type one (non-list) value shows: a text that parses as a date is a date."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _text_type(value) if isinstance(value, str) else "text"


@lru_cache(maxsize=1 << 14)
def _text_type(text: str) -> FieldType:
    """Cached: learning sees the same texts (cities, campaigns) over and over."""
    return "date" if parse_instant(text) is not None else "text"


def fits(found: FieldType, expected: FieldType) -> bool:
    """Whether a value of type `found` is usable as `expected`: every date string is also
    text, so a date-like value in a text field is no conflict (the reverse is)."""
    return found == expected or (found, expected) == ("date", "text")


@dataclass(frozen=True)
class Sighting:
    """The first value of one type seen for an entry, and how many values had that type."""

    type: FieldType
    example: Any
    contact: str
    count: int = 1


@dataclass(frozen=True)
class Conflict:
    """Values of an entry that do not fit its type: they are indexed, but the entry's
    operators don't see them. Reported, never fatal."""

    entry: Entry
    expected: FieldType
    found: FieldType
    example: Any
    contact: str
    count: int = 1

    @property
    def key(self) -> tuple[Entry, FieldType, FieldType]:
        """What makes two reports the same conflict (the example may differ)."""
        return (self.entry, self.expected, self.found)

    def describe(self) -> str:
        values = "1 value" if self.count == 1 else f"{self.count} values"
        return (f"{self.entry.describe()} is {self.expected} but contact {_quote(self.contact)}"
                f" has {self.found} {json.dumps(self.example, ensure_ascii=False)} ({values})")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.entry.kind, "name": self.entry.name}
        if self.entry.event is not None:
            data["event"] = self.entry.event
        data.update(expected=self.expected, found=self.found, example=self.example,
                    contact=self.contact, count=self.count)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conflict:
        return cls(
            entry=Entry(data["kind"], data["name"], data.get("event")),
            expected=data["expected"], found=data["found"], example=data["example"],
            contact=data["contact"], count=data["count"],
        )


@dataclass(frozen=True)
class LearnResult:
    """What learning found: the catalog, the values that don't fit it, and the sightings
    both came from (kept so the result can be re-based on an already stored catalog)."""

    catalog: Catalog
    conflicts: list[Conflict]
    seen: dict[Entry, dict[FieldType, Sighting]]

    def against(self, known: Catalog) -> LearnResult:
        """This learning as if it had started from `known`: its types stay, new names get
        their first type seen here, and the conflicts are counted against that."""
        return _resolved(known.over(self.catalog), self.seen)


def _resolved(catalog: Catalog, seen: dict[Entry, dict[FieldType, Sighting]]) -> LearnResult:
    conflicts: list[Conflict] = []
    for entry, sightings in seen.items():
        expected = catalog.entry_type(entry)
        assert expected is not None, "every sighted entry is standard or in the catalog"
        conflicts.extend(
            Conflict(entry, expected, s.type, s.example, s.contact, s.count)
            for s in sightings.values() if not fits(s.type, expected)
        )
    return LearnResult(catalog, conflicts, seen)


def _example(value: Any) -> Any:
    if isinstance(value, str) and len(value) > EXAMPLE_CHARS:
        return value[:EXAMPLE_CHARS] + "…"
    return value


def learn(contacts: Iterable[Contact], *, account: str | None = None) -> LearnResult:
    """Types learned from contacts (those of `account` only, when given).

    A value's type: bool → boolean, int/float → number, a string → date when it parses as
    an ISO date or instant, else text; a list by each element; null, "" and [] say nothing.
    The first type seen wins; a value of another type is a conflict. Standard fields and
    visit properties keep their fixed types. Contacts are visited by id and their events
    and visits by (time, id), so the same contacts always give the same result.
    """
    from segql.compiler.learning import Learner  # it builds on this module

    learner = Learner()
    chosen = (c for c in contacts if account is None or c.account == account)
    for contact in sorted(chosen, key=lambda c: (c.id, c.account)):
        learner.contact(contact)
    return _resolved(learner.catalog(), learner.seen())
