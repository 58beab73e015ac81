"""Where a condition's values live in the index: a contact field (`fields.<key>.<slot>`) or
an event/visit property (encoded as `name NUL value` in fixed keyword fields).

Operators build their queries through a Target, so each operator is written once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segql.indexer.document import SEP, field_path

Query = dict[str, Any]

#: The slot (see indexer/document.py) that holds a catalog type's values.
TYPE_SLOTS = {"text": "f", "number": "n", "date": "d", "boolean": "b"}


def escape_wildcard(text: str) -> str:
    """A literal for a `wildcard` pattern: `*`, `?` and `\\` lose their meaning."""
    return "".join("\\" + ch if ch in "*?\\" else ch for ch in text)


@dataclass(frozen=True)
class FieldTarget:
    """A contact field: one indexed field per slot."""

    name: str
    type: str = "text"

    @property
    def slot(self) -> str:
        return TYPE_SLOTS[self.type]

    def path(self, slot: str) -> str:
        return field_path(self.name, slot)

    def term(self, slot: str, value: Any) -> Query:
        return {"term": {self.path(slot): value}}

    def terms(self, slot: str, values: list[Any]) -> Query:
        return {"terms": {self.path(slot): values}}

    def prefix(self, slot: str, value: str) -> Query:
        return {"prefix": {self.path(slot): value}}

    def wildcard(self, slot: str, pattern: str) -> Query:
        return {"wildcard": {self.path(slot): {"value": pattern}}}

    def exists(self) -> Query:
        return {"exists": {"field": self.path(self.slot)}}


@dataclass(frozen=True)
class PropertyTarget:
    """A property of an event or visit: `<activity path>.p<slot>` holding `name NUL value`."""

    activity: str  # "events" or "visits"
    name: str
    type: str = "text"

    @property
    def slot(self) -> str:
        return TYPE_SLOTS[self.type]

    def _path(self, slot: str) -> str:
        return f"{self.activity}.p{slot}"

    def _encode(self, value: Any) -> str:
        return self.name + SEP + str(value)

    def term(self, slot: str, value: Any) -> Query:
        return {"term": {self._path(slot): self._encode(value)}}

    def terms(self, slot: str, values: list[Any]) -> Query:
        return {"terms": {self._path(slot): [self._encode(v) for v in values]}}

    def prefix(self, slot: str, value: str) -> Query:
        return {"prefix": {self._path(slot): self._encode(value)}}

    def wildcard(self, slot: str, pattern: str) -> Query:
        literal_name = escape_wildcard(self.name + SEP)
        return {"wildcard": {self._path(slot): {"value": literal_name + pattern}}}

    def exists(self) -> Query:
        return self.prefix(self.slot, "")


Target = FieldTarget | PropertyTarget
