"""The account catalogs in Elasticsearch, so every client (CLI, API, loaders) types a
segment the same way.

One document per account (`_id` = the account) in the catalog index, by default
`<contact index>-catalog`:

```
{"account": "acme",
 "declared": {"fields": {...}, "events": {...}, "visit_properties": {...}},
 "learned":  {... same shape ...},
 "conflicts": [{"kind": "field", "name": "age", "expected": "number", "found": "text",
                "example": "abc", "contact": "c9", "count": 3}, ...]}
```

The declared part is what `segql catalog set` wrote, replaced as a whole; the learned part
only grows (a name keeps the first type seen). They are kept apart so that a declaration
never erases learning and learning never overrides a declaration. The effective catalog is
standard, then declared, then learned. Writes are read-modify-write guarded by
`if_seq_no`/`if_primary_term`, retried on 409, so concurrent loaders can't lose each
other's learning. The parts are stored unindexed (`enabled: false`): names are arbitrary
user text and must not become mapped fields.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from segql.compiler.catalog import (
    STANDARD_FIELDS,
    STANDARD_VISIT_PROPERTIES,
    SYSTEM_EVENTS,
    Catalog,
    Conflict,
    FieldType,
    LearnResult,
)
from segql.errors import SegqlError
from segql.stores.index_settings import Replicas
from segql.stores.mapping import account_store_body, create_index_once

CATALOG_SUFFIX = "-catalog"
#: The conflicts an account keeps: the most recent ones.
MAX_CONFLICTS = 100
#: Read-modify-write attempts before giving up on a catalog that keeps changing.
MAX_ATTEMPTS = 20


def catalog_index_name(contact_index: str) -> str:
    """The catalog index that goes with a contact index."""
    return contact_index + CATALOG_SUFFIX


def catalog_index_body(replicas: Replicas | None = None) -> dict[str, Any]:
    unindexed = {"type": "object", "enabled": False}
    return account_store_body(
        {"declared": unindexed, "learned": unindexed, "conflicts": unindexed}, replicas)


@dataclass(frozen=True)
class StoredCatalog:
    """One account's document: the declared and learned parts, and recent conflicts."""

    declared: Catalog = field(default_factory=Catalog)
    learned: Catalog = field(default_factory=Catalog)
    conflicts: tuple[Conflict, ...] = ()

    @property
    def effective(self) -> Catalog:
        """What segments are checked against: declared over learned (over standard)."""
        return self.declared.over(self.learned)

    def to_json(self) -> dict[str, Any]:
        return {
            "declared": self.declared.to_json(),
            "learned": self.learned.to_json(),
            "conflicts": [c.to_json() for c in self.conflicts],
        }

    @classmethod
    def from_json(cls, source: dict[str, Any]) -> StoredCatalog:
        return cls(
            declared=Catalog.from_json(source.get("declared", {}), strict=False),
            learned=Catalog.from_json(source.get("learned", {}), strict=False),
            conflicts=tuple(Conflict.from_json(c) for c in source.get("conflicts", [])),
        )

    def describe(self) -> dict[str, Any]:
        """The effective catalog, each name with its type and where that came from
        (`standard`, `declared`, `learned`; events also `system`); a declared name whose
        learned type differs also shows `learned`, so a mismatch is visible."""
        effective = self.effective
        fields = {
            name: _source_of(name, type_, STANDARD_FIELDS, self.declared.fields,
                             self.learned.fields)
            for name, type_ in sorted({**effective.fields, **STANDARD_FIELDS}.items())
        }
        visits = {
            name: _source_of(name, type_, STANDARD_VISIT_PROPERTIES,
                             self.declared.visit_properties, self.learned.visit_properties)
            for name, type_ in sorted(
                {**effective.visit_properties, **STANDARD_VISIT_PROPERTIES}.items()
            )
        }
        events = {}
        for name in sorted({*effective.events, *SYSTEM_EVENTS}):
            declared = self.declared.events.get(name)
            learned = self.learned.events.get(name, {})
            events[name] = {
                "source": ("system" if name in SYSTEM_EVENTS
                           else "declared" if declared is not None else "learned"),
                "properties": {
                    prop: _source_of(prop, type_, {}, declared or {}, learned)
                    for prop, type_ in sorted(effective.events.get(name, {}).items())
                },
            }
        return {
            "fields": fields,
            "events": events,
            "visit_properties": visits,
            "conflicts": [c.to_json() for c in self.conflicts],
        }


def _source_of(
    name: str, type_: FieldType, standard: dict[str, FieldType],
    declared: dict[str, FieldType], learned: dict[str, FieldType],
) -> dict[str, Any]:
    if name in standard:
        return {"type": standard[name], "source": "standard"}
    if name in declared:
        entry: dict[str, Any] = {"type": type_, "source": "declared"}
        if learned.get(name, type_) != type_:
            entry["learned"] = learned[name]
        return entry
    return {"type": type_, "source": "learned"}


def merge_conflicts(old: Iterable[Conflict], new: Iterable[Conflict]) -> tuple[Conflict, ...]:
    """Append new conflicts; one reported again replaces its older report (moving to the
    end), and only the last MAX_CONFLICTS are kept."""
    merged = {c.key: c for c in old}
    for conflict in new:
        merged.pop(conflict.key, None)
        merged[conflict.key] = conflict
    return tuple(list(merged.values())[-MAX_CONFLICTS:])


class CatalogBusyError(SegqlError):
    """The catalog kept changing under every attempt to write it (exit 1: try again)."""


class CatalogStore:
    """Reads and writes the account catalogs in one catalog index."""

    def __init__(self, es: Elasticsearch, index: str, replicas: Replicas | None = None
                 ) -> None:
        self.es = es
        self.index = index
        self.replicas = replicas  # of the index when this store creates it
        self._ready = False

    def read(self, account: str) -> StoredCatalog:
        """The account's stored parts; empty when nothing is stored (or no index yet)."""
        return self._read(account)[0]

    def get(self, account: str) -> Catalog:
        """The effective catalog of the account (declared over learned)."""
        return self.read(account).effective

    def conflicts(self, account: str) -> list[Conflict]:
        return list(self.read(account).conflicts)

    def declare(self, account: str, catalog: Catalog) -> StoredCatalog:
        """Replace the declared part. Conflicts whose entry changed type by it are dropped:
        they no longer describe what segments see."""

        def change(stored: StoredCatalog) -> StoredCatalog:
            effective = catalog.over(stored.learned)
            kept = tuple(c for c in stored.conflicts
                         if effective.entry_type(c.entry) == c.expected)
            return replace(stored, declared=catalog, conflicts=kept)

        return self.update(account, change)

    def merge_learned(self, account: str, result: LearnResult) -> LearnResult:
        """Add what was learned: names already learned keep their type, new ones get the
        type seen first. Returns the learning re-based on the effective catalog, whose
        conflicts (values that don't fit the type segments use) were appended."""
        rebased = result

        def change(stored: StoredCatalog) -> StoredCatalog:
            nonlocal rebased
            learned = stored.learned.over(result.catalog)
            rebased = result.against(stored.declared.over(learned))
            return replace(stored, learned=learned,
                           conflicts=merge_conflicts(stored.conflicts, rebased.conflicts))

        self.update(account, change)
        return rebased

    def update(
        self, account: str, change: Callable[[StoredCatalog], StoredCatalog]
    ) -> StoredCatalog:
        """Read, change, write back only if nobody wrote in between; else start over. A
        change that changes nothing is not written."""
        self._ensure_index()
        for attempt in range(MAX_ATTEMPTS):
            current, version = self._read(account)
            changed = change(current)
            if version is not None and changed == current:
                return changed  # nothing new (a --follow batch of known types): no write
            document = {"account": account, **changed.to_json()}
            try:
                if version is None:
                    self.es.create(index=self.index, id=account, document=document)
                else:
                    self.es.index(index=self.index, id=account, document=document,
                                  if_seq_no=version[0], if_primary_term=version[1])
            except ConflictError:
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # let the winner land
                continue
            return changed
        raise CatalogBusyError(f"the catalog of account {account!r} kept changing during "
                               f"{MAX_ATTEMPTS} attempts to write it; try again")

    def _read(self, account: str) -> tuple[StoredCatalog, tuple[int, int] | None]:
        response = self.es.options(ignore_status=404).get(index=self.index, id=account).body
        if not response.get("found"):
            return StoredCatalog(), None
        return (StoredCatalog.from_json(response["_source"]),
                (response["_seq_no"], response["_primary_term"]))

    def _ensure_index(self) -> None:
        if not self._ready:
            create_index_once(self.es, self.index, catalog_index_body(self.replicas))
            self._ready = True
