"""JSON in and out of the indexer, fast and exactly as the standard library would do it.

The indexer decodes every input line and encodes every document it writes; with the
standard `json` module those were a third of its CPU. orjson does both several times
faster, but it does not always give what `json` gives, so it is used only where it does,
and the standard library everywhere else:

* **Decoding** (`fast_loads`). orjson refuses what `json` accepts beyond RFC 8259 (NaN,
  Infinity, lone UTF-16 surrogates such as `"\\ud800"`, numbers beyond a double) and is
  otherwise strict where `json` is: whatever it refuses goes to `json`, so every "not
  valid JSON" reject keeps `json`'s reason word for word. The one thing orjson accepts and
  reads differently is an integer beyond 64 bits (`json`: an exact int; orjson: a float):
  a line holding a run of 19 or more digits goes to `json` unread by orjson. Duplicate
  keys (the last wins, at the first's place), floats (correctly rounded) and everything
  else read the same (tested).
* **Encoding** (`dumps`, `activity_fragment`, `document_bytes`). The bytes are those of
  `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` in UTF-8. orjson writes
  the same except floats between 0 and 1e-4 (`1e-05` vs `0.00001`), and it refuses
  integers beyond 64 bits and lone surrogates: a value holding one of those is encoded by
  `json`. A document is assembled from its events' and visits' encoded fragments
  (`orjson.Fragment`), so an unchanged activity is encoded once (`writer.Stored` keeps
  the fragments of the contacts it wrote).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from segql.contract.contact import ADDRESS_FIELDS, Activity, Contact
from segql.contract.document import FieldEntry, activity_doc, contact_document, field_entry

#: `json.dumps` compactly: what a document's bytes are.
COMPACT = (",", ":")
#: Returned by `fast_loads` when only `json.loads` can say what the line is.
SLOW = object()
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
#: 19 digits in a row: possibly an integer beyond 64 bits (orjson reads it as a float).
_LONG_NUMBER = b"0" * 19
#: Floats orjson writes otherwise than `json` (`0.00001` for `1e-05`) are below this.
_SMALL = 1e-4


def fast_loads(raw: bytes | str) -> Any:
    """The JSON value `json.loads` gives for a line, or SLOW when orjson can't tell it
    (invalid for orjson, a long number, a str that is not UTF-8): then ask `json`."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:
            return SLOW
    if _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO):
        return SLOW
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return SLOW


def _plain_number(item: Any) -> bool:
    return type(item) is not float or not item or not -_SMALL < item < _SMALL


def plain_values(values: Iterable[Any]) -> bool:
    """Whether field or property values (scalars or flat lists) hold no float that orjson
    writes otherwise than `json` (big ints and surrogates make orjson raise instead)."""
    for value in values:
        if type(value) is list:
            if not all(_plain_number(item) for item in value):
                return False
        elif not _plain_number(value):
            return False
    return True


def slow_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=COMPACT).encode("utf-8")


def dumps(value: Any, *, plain: bool = True) -> bytes:
    """`json.dumps(value, ensure_ascii=False, separators=COMPACT)` as UTF-8 bytes; `plain`:
    the caller knows the value holds no float below 1e-4 (`plain_values`)."""
    if plain:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return slow_dumps(value)


def _encoded_activity(activity: Activity) -> bytes:
    return dumps(activity_doc(activity), plain=plain_values(activity.props.values()))


class ActivityEncoder:
    """Encodes events and visits (`contract.document.activity_doc`), fast for the common
    case of an event name and properties seen before (a login from the web, an opened
    campaign): the encoded document of those with stand-ins for `id` and `ts` is kept, cut
    around the stand-ins, and the activity's own `id` and `ts` are put in between.

    A cut template is used only once it gave, for the activity it was made for, exactly
    the bytes of encoding that activity whole; else (and when the props hold a float that
    orjson writes otherwise than `json`, `plain_values`) that name and props are always
    encoded whole. The same props encode to the same orjson bytes, so both checks are made
    once per template. At most `limit` templates are kept (the older half is dropped when
    full).
    """

    _ID = "\x00segql-id\x00"
    _TS = "\x00segql-ts\x00"

    def __init__(self, limit: int = 1 << 15) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._cut: dict[tuple[str | None, bytes], tuple[bytes, bytes, bytes] | None] = {}

    def fragment(self, activity: Activity) -> orjson.Fragment:
        return orjson.Fragment(self.encode(activity))

    def encode(self, activity: Activity) -> bytes:
        try:
            key = (activity.name, orjson.dumps(activity.props))
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
            return _encoded_activity(activity)
        parts = self._cut.get(key, _UNSEEN)
        if parts is _UNSEEN:
            whole = _encoded_activity(activity)
            self._remember(key, self._template(activity, whole))
            return whole
        if parts is not None:
            try:
                return b"".join((parts[0], orjson.dumps(activity.id), parts[1],
                                 orjson.dumps(activity.ts), parts[2]))
            except orjson.JSONEncodeError:
                pass
        return _encoded_activity(activity)

    def _template(self, activity: Activity, whole: bytes
                  ) -> tuple[bytes, bytes, bytes] | None:
        if not plain_values(activity.props.values()):
            return None
        try:
            template = _encoded_activity(Activity(self._ID, self._TS, activity.props,
                                                  activity.name))
            marks = (orjson.dumps(self._ID), orjson.dumps(self._TS))
        except (ValueError, TypeError):  # the contract reads id or ts: no template
            return None
        if any(template.count(mark) != 1 for mark in marks):
            return None
        before, rest = template.split(marks[0])
        if marks[1] not in rest:
            return None
        middle, after = rest.split(marks[1])
        parts = (before, middle, after)
        try:
            cut = b"".join((before, orjson.dumps(activity.id), middle,
                            orjson.dumps(activity.ts), after))
        except orjson.JSONEncodeError:
            return None
        return parts if cut == whole else None

    def _remember(self, key: tuple[str | None, bytes], parts: Any) -> None:
        with self._lock:  # the HTTP service encodes in several threads
            if len(self._cut) >= self.limit:
                for old in list(itertools.islice(self._cut, self.limit // 2)):
                    del self._cut[old]
            self._cut[key] = parts


_UNSEEN: Any = object()
#: The process's encoder (like the contract's own caches, shared by every indexer).
ACTIVITIES = ActivityEncoder()


def activity_fragment(activity: Activity) -> orjson.Fragment:
    """One event's or visit's nested document, encoded (`contract.document.activity_doc`)."""
    return ACTIVITIES.fragment(activity)


@dataclass
class _Shell(Contact):
    """A contact without its events and visits that still counts what retention dropped
    as the whole contact does: `contact_document` of it is the document around the
    activities."""

    kept_events: int = 0
    kept_visits: int = 0

    @property
    def events_dropped(self) -> int:
        return self.dropped_events.count(self.kept_events)

    @property
    def visits_dropped(self) -> int:
        return self.dropped_visits.count(self.kept_visits)


Fragments = dict[str, tuple[Activity, orjson.Fragment]]


def fragments_of(activities: dict[str, Activity], known: Fragments | None) -> Fragments:
    """The encoded activities, by id: those `known` (the same content) reused."""
    out: Fragments = {}
    encode = ACTIVITIES.encode
    for activity_id, activity in activities.items():
        held = known.get(activity_id) if known else None
        if held is not None and (held[0] is activity or held[0] == activity):
            out[activity_id] = held
        else:
            out[activity_id] = (activity, orjson.Fragment(encode(activity)))
    return out


def _encoded_entry(name: str, value: Any) -> FieldEntry:
    """`document.field_entry` with its slots and anniversaries encoded (the same bytes
    inside the document), or as it is when orjson refuses them."""
    key, slots, anniversaries = field_entry(name, value)
    try:
        return (key, orjson.Fragment(orjson.dumps(slots)) if slots else {},
                [orjson.Fragment(orjson.dumps(point)) for point in anniversaries])
    except orjson.JSONEncodeError:  # a lone surrogate: the whole document goes to `json`
        return key, slots, anniversaries


#: The same field values recur across contacts (a city, a plan, a tag list, a birthday):
#: their encoded entries are cached. `typed`, so that True, 1 and 1.0 (equal in Python)
#: are told apart; lists only when all their items are texts (as a tuple).
_scalar_entry = lru_cache(maxsize=1 << 15, typed=True)(_encoded_entry)


@lru_cache(maxsize=1 << 13)
def _texts_entry(name: str, texts: tuple[str, ...]) -> FieldEntry:
    return _encoded_entry(name, list(texts))


def _cached_entry(name: str, value: Any) -> FieldEntry:
    """`_encoded_entry`, cached but for addresses (unique to a contact) and lists that
    hold anything but texts."""
    if name in ADDRESS_FIELDS:
        return _encoded_entry(name, value)
    if type(value) is list:
        if all(type(item) is str for item in value):
            return _texts_entry(name, tuple(value))
        return _encoded_entry(name, value)
    return _scalar_entry(name, value)


def document_bytes(contact: Contact, events: Fragments, visits: Fragments) -> bytes:
    """`json.dumps(contract.document.contact_document(contact))` (compact, UTF-8), made of
    the encoded activities `events` and `visits` (`fragments_of` the contact's) and the
    encoded entries of its fields (cached)."""
    if not plain_values(contact.fields.values()):
        return slow_dumps(contact_document(contact))
    shell = _Shell(contact.account, contact.id, contact.fields, {}, {},
                   contact.dropped_events, contact.dropped_visits, contact.consent,
                   kept_events=len(contact.events), kept_visits=len(contact.visits))
    document = contact_document(shell, _cached_entry)
    if document.get("events") != [] or document.get("visits") != []:
        return slow_dumps(contact_document(contact))  # a document of another shape
    document["events"] = [events[i][1] for i in contact.events]
    document["visits"] = [visits[i][1] for i in contact.visits]
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        return slow_dumps(contact_document(contact))
