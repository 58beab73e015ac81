"""Where a condition's values live in the index: a contact field (`fields.<key>.<slot>`) or
an event/visit property (encoded as `name NUL value` in fixed keyword fields).

Operators build their queries through a Target, so each operator is written once for both.
Values reach a Target already normalised (text folded, numbers as floats, instants as
epoch milliseconds). A date lives in two slots (document.py): instants (`d`, `pd`) and
calendar dates (`c`, `pc`); a date condition is a `bool` over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segql.compiler.boolean import Query
from segql.contract.document import SEP, field_key, field_path
from segql.values import WILDCARD_CHARS, reverse, sortable_millis, sortable_number

if TYPE_CHECKING:
    from segql.compiler.anniversaries import Anniversary
    from segql.compiler.dates import Bounds, DateRange

#: The slot (see contract/document.py) that holds a catalog type's values.
TYPE_SLOTS = {"text": "f", "number": "n", "date": "d", "boolean": "b"}


#: Lucene determinises `.*needle.*` with work that grows with the square of the needle;
#: this bounds it above what a 4 KiB needle (LANGUAGE.md §6) takes.
MAX_DETERMINIZED_STATES = 10_000_000


def literal_regexp(text: str) -> str:
    """`text` as a Lucene regular expression that matches exactly it: every character
    that is not an ASCII letter or digit is escaped, so none has a meaning."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "\\" + ch for ch in text)


def literal_wildcard(text: str) -> str:
    """`text` as a Lucene wildcard pattern that matches exactly it: `*`, `?` and the
    escape `\\` itself escaped; every other character is literal."""
    return "".join("\\" + ch if ch in "*?\\" else ch for ch in text)


def _inside(path: str, head: str, needle: str, *, at_end: bool) -> Query:
    """Values of `path` that are `head` followed by text that contains `needle` (at its
    end, with `at_end`): `head*needle*` or `head*needle`.

    A `wildcard` for a needle up to WILDCARD_CHARS: Elasticsearch determinises it within a
    fixed budget (10,000 steps) that a longer self-overlapping needle can exceed (314 times
    "a" does; no needle of 100 characters tried did), so a longer needle is a literal
    `regexp` with a raised budget. Both are exact: every value is indexed whole (no
    `ignore_above`; MAX_TEXT_BYTES keeps terms under Lucene's limit)."""
    if len(needle) <= WILDCARD_CHARS:
        tail = "" if at_end else "*"
        pattern = literal_wildcard(head) + "*" + literal_wildcard(needle) + tail
        return {"wildcard": {path: {"value": pattern}}}
    tail = "" if at_end else ".*"
    return {"regexp": {path: {"value": literal_regexp(head) + ".*" + literal_regexp(needle)
                              + tail, "flags": "NONE",
                              "max_determinized_states": MAX_DETERMINIZED_STATES}}}


def _range_keys(bounds: Bounds) -> list[tuple[str, Any]]:
    keys: list[tuple[str, Any]] = []
    if bounds.lo is not None:
        keys.append(("gte" if bounds.lo_inclusive else "gt", bounds.lo))
    if bounds.hi is not None:
        keys.append(("lte" if bounds.hi_inclusive else "lt", bounds.hi))
    return keys


def _either(first: Query, second: Query) -> Query:
    return {"bool": {"should": [first, second], "minimum_should_match": 1}}


def time_range(path: str, bounds: Bounds) -> Query:
    """Documents whose instant at `path` lies within `bounds` (epoch milliseconds)."""
    spec: dict[str, Any] = {"format": "epoch_millis"}
    for key, value in _range_keys(bounds):
        spec[key] = int(value)
    return {"range": {path: spec}}


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

    def contains(self, needle: str) -> Query:
        """Text values that contain `needle`: `*needle*` on the folded keyword."""
        return _inside(self.path("f"), "", needle, at_end=False)

    def ends_with(self, needle: str) -> Query:
        """Text values that end with `needle`: a prefix of the reversed folds (`r`)."""
        return self.prefix("r", reverse(needle))

    def range(self, bounds: Bounds) -> Query:
        return {"range": {self.path(self.slot): dict(_range_keys(bounds))}}

    def date_range(self, dates: DateRange) -> Query:
        """Instants in the interval, or calendar dates whose start is."""
        return _either(time_range(self.path("d"), dates.instants),
                       {"range": {self.path("c"): {k: int(v) for k, v
                                                   in _range_keys(dates.days)}}})

    def anniversary(self, anniversary: Anniversary) -> Query:
        """Calendar dates by their month-day (`m`), instants through `anniv`."""
        return _either({"terms": {self.path("m"): anniversary.day_numbers()}},
                       anniversary.instant_query(field_key(self.name)))

    def exists(self) -> Query:
        if self.type == "date":
            return _either({"exists": {"field": self.path("d")}},
                           {"exists": {"field": self.path("c")}})
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

    def _encode(self, slot: str, value: Any) -> str:
        if slot == "n":
            value = sortable_number(value)
        elif slot == "d":
            value = sortable_millis(int(value))
        elif slot == "c":
            value = f"{int(value):08d}"
        elif slot == "b":
            value = "true" if value else "false"
        return self.name + SEP + str(value)

    def term(self, slot: str, value: Any) -> Query:
        return {"term": {self._path(slot): self._encode(slot, value)}}

    def terms(self, slot: str, values: list[Any]) -> Query:
        return {"terms": {self._path(slot): [self._encode(slot, v) for v in values]}}

    def prefix(self, slot: str, value: str) -> Query:
        return {"prefix": {self._path(slot): self._encode(slot, value)}}

    def contains(self, needle: str) -> Query:
        """`name NUL *needle*` on the folded encoding."""
        return _inside(self._path("f"), self.name + SEP, needle, at_end=False)

    def ends_with(self, needle: str) -> Query:
        """`name NUL *needle` on the folded encoding (properties have no reversed slot)."""
        return _inside(self._path("f"), self.name + SEP, needle, at_end=True)

    def range(self, bounds: Bounds, slot: str | None = None) -> Query:
        # encoded values are hex or decimal digits after `name NUL`: "g" sorts after them
        slot = slot or self.slot
        spec: dict[str, Any] = {"gte": self.name + SEP, "lt": self.name + SEP + "g"}
        for key, value in _range_keys(bounds):
            spec.pop("gte" if key.startswith("g") else "lt", None)
            spec[key] = self._encode(slot, value)
        return {"range": {self._path(slot): spec}}

    def date_range(self, dates: DateRange) -> Query:
        """Instants in the interval, or calendar dates whose start is."""
        return _either(self.range(dates.instants, "d"), self.range(dates.days, "c"))

    def anniversary(self, anniversary: Anniversary) -> Query:
        raise AssertionError("the checker allows anniversaries on contact fields only")

    def exists(self) -> Query:
        if self.type == "date":
            return _either({"prefix": {self._path("d"): self.name + SEP}},
                           {"prefix": {self._path("c"): self.name + SEP}})
        return {"prefix": {self._path(self.slot): self.name + SEP}}


Target = FieldTarget | PropertyTarget
