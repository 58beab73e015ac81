"""Where a condition's names are looked up: contact fields, or the properties of one
event or visit inside `where`. The checker types a condition through its scope and
records where its values live (`target`) in the checked tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from segql.compiler.catalog import Catalog, FieldType
from segql.compiler.targets import FieldTarget, PropertyTarget, Target


@dataclass(frozen=True)
class ContactScope:
    """Conditions on the contact's own fields."""

    def type_of(self, catalog: Catalog, name: str) -> FieldType | None:
        return catalog.field_type(name)

    def suggest(self, catalog: Catalog, name: str) -> str | None:
        return catalog.suggest_field(name)

    def target(self, name: str, type_: str) -> Target:
        return FieldTarget(name, type_)

    def describe(self, name: str) -> str:
        return f"field `{name}`"


@dataclass(frozen=True)
class ActivityScope:
    """Conditions inside `where`: properties of one event (of a name) or one visit."""

    kind: Literal["event", "visit"]
    event: str | None = None

    @property
    def path(self) -> str:
        return "events" if self.kind == "event" else "visits"

    def type_of(self, catalog: Catalog, name: str) -> FieldType | None:
        return catalog.property_type(self.kind, self.event, name)

    def suggest(self, catalog: Catalog, name: str) -> str | None:
        return catalog.suggest_property(self.kind, self.event, name)

    def target(self, name: str, type_: str) -> Target:
        return PropertyTarget(self.path, name, type_)

    def describe(self, name: str) -> str:
        owner = f"event `{self.event}`" if self.kind == "event" else "visits"
        return f"property `{name}` of {owner}"


Scope = ContactScope | ActivityScope
CONTACT = ContactScope()
