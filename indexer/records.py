"""Input records (LANGUAGE.md §8): validation, and folding a stream of them into contacts.

The fold is the one meaning of a record stream: the loader indexes what it produces and the
reference evaluator evaluates segments over it, so both see the same contacts.

Choices where LANGUAGE.md is silent (documented in docs/records.md):
* Events and visits are immutable facts identified by `id`: the first record with an id
  wins; a repeat with the same content changes nothing; a repeat with *different* content
  is rejected (kept aside with its reason), so no silent overwrite happens either way.
* A `delete` removes the contact with its events and visits; records for that id that come
  later create it again, as new.
* Account ids: 1-64 of `A-Z a-z 0-9 _ - .`; contact, event and visit ids: non-empty strings
  of at most 400 UTF-8 bytes; field and property names at most 256 bytes; text values at
  most 16 KiB (raw and case-folded).
* Retention (docs/semantics.md, "Retention"): a contact keeps its newest `MAX_EVENTS`
  events and `MAX_VISITS` visits by (ts, id); the others are dropped and counted. The kept
  set and the count depend only on the *set* of activities seen, never on their order or
  repetition, so a replayed, resumed or shuffled stream folds to the same contacts.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from segql.contract.contact import (
    ADDRESS_FIELDS,
    BUCKET_FIELD,
    CONSENT_CHANNELS,
    CONSENT_STATES,
    MAX_EVENTS,
    MAX_VISITS,
    STATUS_FIELDS,
    Activity,
    Contact,
)
from segql.errors import InputError
from segql.indexer.codec import SLOW, fast_loads
from segql.values import MAX_TEXT_BYTES, finite, fold, iso_millis, parse_instant

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Ids in UTF-8 bytes: `_id` is `<account>:<contact id>` and Elasticsearch allows 512.
MAX_ID_BYTES = 400
#: Field and property names in UTF-8 bytes.
MAX_NAME_BYTES = 256
#: Visit attributes that may stand at the top level of a visit record (all are props).
VISIT_ATTRIBUTES = ("url", "path", "title", "referrer", "product_id")


class RecordError(InputError, ValueError):
    """A record that can't be applied; the message is the reason kept with the reject."""


@dataclass
class Reject:
    """A record set aside: where it was, why, and the record itself (as read)."""

    line: int
    reason: str
    record: Any

    def to_json(self) -> str:
        return json.dumps(
            {"line": self.line, "reason": self.reason, "record": self.record}, ensure_ascii=False
        )


def _text(record: dict[str, Any], key: str, *, limit: int = MAX_ID_BYTES) -> str:
    value = record.get(key)
    if type(value) is str and value and value.isascii() and len(value) <= limit:
        return value  # the common case, decided without encoding
    if not isinstance(value, str) or not value:
        raise RecordError(f"`{key}` must be a non-empty string")
    if _utf8_len(value) > limit:
        raise RecordError(f"`{key}` is longer than {limit} bytes (UTF-8)")
    return value


def _utf8_len(text: str) -> int:
    """The UTF-8 length of a text; a lone surrogate (JSON allows `\ud800`) is no text."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise RecordError("text with a lone UTF-16 surrogate is not valid Unicode") from None


def _check_value(name: str, value: Any) -> None:
    """Field and property values: text, number, boolean, null, or a flat list of those."""
    for item in value if isinstance(value, list) else (value,):
        kind = type(item)  # the types JSON decodes to first, then the general rule
        if kind is str:
            if not (item.isascii() and len(item) <= MAX_TEXT_BYTES):
                _check_item(name, item)
        elif kind is int:
            if not -_SURELY_FINITE < item < _SURELY_FINITE:
                _check_item(name, item)
        elif kind is float:
            if item - item != 0.0:  # NaN or infinite
                _check_item(name, item)
        elif kind is not bool and item is not None:
            _check_item(name, item)


#: Integers of fewer bits are finite as doubles.
_SURELY_FINITE = 1 << 1000


def _check_item(name: str, item: Any) -> None:
    """One value of a field or property (`_check_value`)."""
    if isinstance(item, list | dict):
        raise RecordError(f"`{name}`: nested objects and lists are not supported")
    if isinstance(item, int | float) and not isinstance(item, bool) and not finite(item):
        raise RecordError(f"`{name}`: number out of range (finite doubles only)")
    if isinstance(item, str) and _text_bytes(item) > MAX_TEXT_BYTES:
        raise RecordError(f"`{name}`: text longer than {MAX_TEXT_BYTES} bytes (UTF-8)")


@lru_cache(maxsize=1 << 14)
def _text_bytes(text: str) -> int:
    """The UTF-8 length of a text or of its fold, whichever is longer (the fold is what is
    indexed). ASCII, the common case, folds to as many bytes and has no surrogate. Cached:
    the same texts (product titles, categories) recur (one that raises is not cached)."""
    if text.isascii():
        return len(text)
    return max(_utf8_len(text), _utf8_len(fold(text)))


@lru_cache(maxsize=1 << 12)
def _check_name(name: str) -> None:
    """Cached: the same few names recur on every record (a bad one raises, not cached)."""
    if not name or _utf8_len(name) > MAX_NAME_BYTES or any(ord(ch) < 32 for ch in name):
        raise RecordError(f"bad field or property name {name[:80]!r}: 1-{MAX_NAME_BYTES} "
                          "bytes, no control characters")


def _props(record: dict[str, Any], key: str = "props") -> dict[str, Any]:
    props = record.get(key, {})
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise RecordError(f"`{key}` must be an object")
    kept = {}
    for name, value in props.items():
        _check_name(name)
        if not (type(value) is str and value.isascii() and len(value) <= MAX_TEXT_BYTES):
            _check_value(name, value)  # all but the common case: a short ASCII text
            if value is None:
                continue
        kept[name] = value
    return kept


#: An instant already in the stored form but for its milliseconds (`iso_millis`), whose
#: day is checked apart (`_real_day`): the common case, decided without `parse_instant`.
_STORED_TS = re.compile(r"(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3})?Z",
                        re.ASCII)


@lru_cache(maxsize=1 << 12)
def _real_day(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _stored_ts(ts: str) -> str:
    """`ts` in the stored form: `iso_millis(parse_instant(ts))`."""
    match = _STORED_TS.fullmatch(ts)
    if match is not None and _real_day(match[1]):
        return ts if match[2] else ts[:-1] + ".000Z"
    instant = parse_instant(ts)
    if instant is None:
        raise RecordError(f"`ts` is not an ISO 8601 date or instant: {ts!r}")
    return iso_millis(instant)


def _activity(record: dict[str, Any], *, named: bool) -> Activity:
    # the common case of each text (`_text`: short ASCII) decided inline, in `_text`'s order
    ts = record.get("ts")
    if not (type(ts) is str and ts and ts.isascii() and len(ts) <= 64):
        ts = _text(record, "ts", limit=64)
    ts = _stored_ts(ts)
    props = _props(record)
    if not named:
        for attribute in VISIT_ATTRIBUTES:
            if attribute in record:
                _check_value(attribute, record[attribute])
                if record[attribute] is not None:
                    props.setdefault(attribute, record[attribute])
    activity_id = record.get("id")
    if not (type(activity_id) is str and activity_id and activity_id.isascii()
            and len(activity_id) <= MAX_ID_BYTES):
        activity_id = _text(record, "id")
    name = None
    if named:
        name = record.get("name")
        if not (type(name) is str and name and name.isascii() and len(name) <= MAX_ID_BYTES):
            name = _text(record, "name")
    return Activity(activity_id, ts, props, name)


def _contact_changes(record: dict[str, Any]) -> dict[str, Any]:
    fields = record.get("fields", {})
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise RecordError("`fields` must be an object")
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ADDRESS_FIELDS:
            raise RecordError(f"`{name}` is an address: put it at the top level of the record")
        if name == BUCKET_FIELD:
            raise RecordError("`bucket` is computed from the contact id; a record can't set it")
        if name in STATUS_FIELDS:
            raise RecordError(f"`{name}` is the {STATUS_FIELDS[name]} consent: set it with "
                              f'`"consent": {{"{STATUS_FIELDS[name]}": ...}}`')
        _check_name(name)
        _check_value(name, value)
        changes[name] = value
    for name in ADDRESS_FIELDS:
        if name in record:
            value = record[name]
            _check_value(name, value)
            if name == "push_tokens" and value is not None and not isinstance(value, list):
                raise RecordError("`push_tokens` must be a list of strings")
            if value is not None and not all(isinstance(v, str) for v in
                                              (value if isinstance(value, list) else [value])):
                raise RecordError(f"`{name}` must be text")
            changes[name] = value
    return changes


_STATES = ", ".join(CONSENT_STATES)


def _consent_changes(record: dict[str, Any]) -> dict[str, str | None]:
    """A contact record's `consent`: channel → state, or None to clear it."""
    if "consent" not in record or record["consent"] is None:
        return {}
    consent = record["consent"]
    if not isinstance(consent, dict):
        raise RecordError('`consent` must be an object: {"email": S, "sms": S, "push": S}')
    for channel, state in consent.items():
        if channel not in CONSENT_CHANNELS:
            raise RecordError(f"`consent` has unknown channel {channel[:80]!r}: "
                              f"one of {', '.join(CONSENT_CHANNELS)}")
        if state is not None and state not in CONSENT_STATES:
            shown = json.dumps(state, ensure_ascii=False)[:80]
            raise RecordError(f"`consent.{channel}` is {shown}: one of {_STATES} "
                              "(exactly), or null to clear it")
    return dict(consent)


@lru_cache(maxsize=1 << 10)
def good_account(account: str) -> bool:
    """Cached: a stream names few accounts."""
    return ACCOUNT_ID.match(account) is not None


class ContactStore:
    """Applies records in stream order to an in-memory map of contacts.

    Each contact keeps at most `max_events` events and `max_visits` visits: the newest by
    (ts, id); the rest are dropped and counted (`Contact.dropped_events`). The kept set is
    always the top of everything seen, so a re-delivered dropped activity stays dropped.
    """

    def __init__(self, max_events: int = MAX_EVENTS, max_visits: int = MAX_VISITS) -> None:
        if max_events < 1 or max_visits < 1:
            raise ValueError("a contact must keep at least one event and one visit")
        self.max_events = max_events
        self.max_visits = max_visits
        self.contacts: dict[tuple[str, str], Contact] = {}
        #: Contacts deleted by the stream and not created again after their delete.
        self.deleted: set[tuple[str, str]] = set()
        #: Whether the last `apply` changed anything (False for a repeated event, a field
        #: set to the value it had, a delete of a contact that does not exist).
        self.changed = False
        #: Min-heaps of (ts, id) of the kept activities of full contacts, by (key, kind):
        #: the oldest kept one is the next to drop. Built when a contact first fills up.
        self._oldest: dict[tuple[str, str, str], list[tuple[str, str]]] = {}

    def _contact(self, account: str, contact_id: str) -> Contact:
        key = (account, contact_id)
        found = self.contacts.get(key)
        if found is None:
            found = self.contacts[key] = Contact(account=account, id=contact_id)
            self.deleted.discard(key)
        return found

    def apply(self, record: Any) -> tuple[str, str]:
        """Apply one parsed JSON record; returns the contact key it touched.

        Raises RecordError (and changes nothing) when the record is malformed.
        """
        self.changed = False
        if not isinstance(record, dict):
            raise RecordError("a record must be a JSON object")
        kind = record.get("type")
        account = record.get("account")
        if not (isinstance(account, str) and good_account(account)):
            raise RecordError("`account` must be 1-64 characters of A-Z a-z 0-9 _ - .")
        if kind == "contact":
            contact_id = _text(record, "id")
            changes = _contact_changes(record)
            consent = _consent_changes(record)
            self.changed = (account, contact_id) not in self.contacts
            contact = self._contact(account, contact_id)
            before = (dict(contact.fields), dict(contact.consent))
            for name, value in changes.items():
                if value is None:
                    contact.fields.pop(name, None)
                else:
                    contact.fields[name] = value
            for channel, state in consent.items():
                if state is None:
                    contact.consent.pop(channel, None)
                else:
                    contact.consent[channel] = state
            self.changed = self.changed or (contact.fields, contact.consent) != before
            return contact.key
        if kind == "delete":
            contact_id = _text(record, "id")
            self.changed = self.contacts.pop((account, contact_id), None) is not None
            for activity_kind in ("event", "visit"):
                self._oldest.pop((account, contact_id, activity_kind), None)
            self.deleted.add((account, contact_id))
            return (account, contact_id)
        if kind in ("event", "visit"):
            contact_id = _text(record, "contact")
            activity = _activity(record, named=kind == "event")
            key = (account, contact_id)
            existing = self.contacts.get(key)
            held = existing.events if existing and kind == "event" else (
                existing.visits if existing else {}
            )
            if activity.id in held:
                if held[activity.id] != activity:
                    raise RecordError(
                        f"{kind} id {activity.id!r} was already applied with other content"
                    )
                return key
            self.changed = existing is None
            self._keep(self._contact(account, contact_id) if existing is None else existing,
                       kind, activity)
            return key
        raise RecordError("`type` must be one of contact, event, visit, delete")

    def _keep(self, contact: Contact, kind: str, activity: Activity) -> None:
        """Add a new activity under retention: it joins the kept ones unless the contact is
        full and it is older than all of them; whatever falls out is counted as dropped."""
        held, dropped, limit = (
            (contact.events, contact.dropped_events, self.max_events) if kind == "event"
            else (contact.visits, contact.dropped_visits, self.max_visits)
        )
        heap_key = (contact.account, contact.id, kind)
        oldest = self._oldest.get(heap_key) if self._oldest else None
        if oldest is None and len(held) < limit:
            held[activity.id] = activity
            if dropped.registers is not None:  # `Dropped.seen`: only a HyperLogLog counts
                dropped.seen(activity.id)
            self.changed = True
            return
        if oldest is None:
            oldest = self._oldest[heap_key] = [(a.ts, a.id) for a in held.values()]
            heapq.heapify(oldest)
        heapq.heappush(oldest, (activity.ts, activity.id))
        held[activity.id] = activity
        dropped_more = False
        while len(held) > limit:
            _, gone = heapq.heappop(oldest)
            del held[gone]
            dropped_more = dropped.add(gone, held) or dropped_more
        if activity.id in held:
            dropped.seen(activity.id)
            self.changed = True
        else:
            self.changed = self.changed or dropped_more


def read_records(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Any | Reject]]:
    """Parse JSON Lines: (line number, record), or (line number, Reject) for a line that is
    not UTF-8 or not JSON; blank lines are skipped. orjson reads what it reads as `json`
    does (`codec.fast_loads`); the rest, rejects included, is `json`'s."""
    for number, raw in enumerate(lines, start=1):
        fast = fast_loads(raw)
        if fast is not SLOW:
            yield number, fast
            continue
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
                yield number, Reject(number, f"not UTF-8: {error.reason} at byte "
                                             f"{error.start}", text)
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as error:
            yield number, Reject(number, f"not valid JSON: {error}", line.rstrip("\r\n"))
        except RecursionError:
            yield number, Reject(number, "not valid JSON here: arrays and objects nested too "
                                 "deeply", line.rstrip("\r\n")[:1000])


def fold_records(
    lines: Iterable[str | bytes], *, max_events: int = MAX_EVENTS, max_visits: int = MAX_VISITS,
) -> tuple[ContactStore, list[Reject]]:
    """Fold a whole stream of JSON Lines into contacts, keeping every bad record aside."""
    store = ContactStore(max_events, max_visits)
    rejects: list[Reject] = []
    for number, record in read_records(lines):
        if isinstance(record, Reject):
            rejects.append(record)
            continue
        try:
            store.apply(record)
        except RecordError as error:
            rejects.append(Reject(number, str(error), record))
    return store, rejects
