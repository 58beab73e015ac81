"""The contact model: what one contact is after its records are applied — its fields, its
events and visits (LANGUAGE.md §8), and the counters of what retention dropped.

It is the common ground of the two sides of segql: the indexer folds records into these
contacts and writes them as documents (`contract.document`); the reference evaluator and
the catalog read them. It imports nothing of either side.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Events, and visits, a contact keeps by default: its newest, by (ts, id). Bounds a
#: document to ~2,000 nested documents (each update rewrites them all) and covers years of
#: a heavy user's activity; the reference evaluator uses the same numbers.
MAX_EVENTS = 1_000
MAX_VISITS = 1_000
#: Contact addresses: top-level keys of a contact record, standard text fields in segments;
#: the document keeps their raw values searchable by the export (`document.py`).
ADDRESS_FIELDS = ("email", "phone", "push_tokens")
#: Consent (LANGUAGE.md §8): a channel's state, set by a contact record's `consent`.
CONSENT_CHANNELS = ("email", "sms", "push")
CONSENT_STATES = ("subscribed", "unsubscribed", "bounced", "complained")
#: The states that keep a contact out of a channel's export and reach, in report order.
BLOCKING_STATES = ("unsubscribed", "bounced", "complained")
#: Standard fields no record sets: computed from the contact (`Contact.value`).
BUCKET_FIELD = "bucket"
BUCKETS = 10_000


def status_field(channel: str) -> str:
    """The standard text field that reads a channel's consent: `email_status`, ..."""
    return f"{channel}_status"


#: The status field of each channel, and back.
STATUS_FIELDS = {status_field(channel): channel for channel in CONSENT_CHANNELS}
COMPUTED_FIELDS = (BUCKET_FIELD, *STATUS_FIELDS)


def bucket(contact_id: str) -> int:
    """The contact's `bucket` (LANGUAGE.md §3): the first 8 bytes of SHA-256 of the id's
    UTF-8 bytes, as a big-endian unsigned integer, modulo 10,000. The one computation of
    it: the indexer writes it, the reference evaluator reads it."""
    digest = hashlib.sha256(contact_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass
class Activity:
    """One event or visit, as the contact holds it: `ts` in UTC at millisecond precision
    (so the same instant written two ways is the same content), props including a visit's
    url etc."""

    id: str
    ts: str
    props: dict[str, Any]
    name: str | None = None


def _id_hash(activity_id: str) -> int:
    """A 64-bit hash of an activity id: what `Dropped` remembers of a dropped activity."""
    return int.from_bytes(hashlib.blake2b(activity_id.encode(), digest_size=8).digest(), "big")


@dataclass
class Dropped:
    """The activities a contact dropped, counted in bounded space, as a function of the
    *set* of ids seen (so re-delivery, order and replay never change it).

    Up to `EXACT_LIMIT` dropped activities it holds their id hashes: the count is exact and
    a re-delivered dropped activity is recognised. Beyond that it switches to a HyperLogLog
    of every id the contact has seen (kept ones included; ~0.8% error): an exact count of
    distinct ids needs memory proportional to it, which is what retention avoids.
    """

    EXACT_LIMIT = 2048
    _P = 14  # HyperLogLog: 2**14 one-byte registers, ~0.8% standard error

    hashes: set[int] = field(default_factory=set)
    registers: bytearray | None = None

    def __bool__(self) -> bool:
        return bool(self.hashes) or self.registers is not None

    def add(self, activity_id: str, kept_ids: Iterable[str]) -> bool:
        """Remember one dropped id (`kept_ids`: the ids the contact keeps, which the
        HyperLogLog must also hold when it starts); False if that changed nothing (the id
        was dropped before)."""
        hashed = _id_hash(activity_id)
        if self.registers is not None:
            return self._register(hashed)
        if hashed in self.hashes:
            return False
        self.hashes.add(hashed)
        if len(self.hashes) > self.EXACT_LIMIT:
            self.registers = bytearray(1 << self._P)
            for known in (*self.hashes, *map(_id_hash, kept_ids)):
                self._register(known)
            self.hashes = set()
        return True

    def seen(self, activity_id: str) -> None:
        """A newly kept id: the HyperLogLog (if any) counts every id seen."""
        if self.registers is not None:
            self._register(_id_hash(activity_id))

    def _register(self, hashed: int) -> bool:
        assert self.registers is not None
        rest_bits = 64 - self._P
        rest = hashed & ((1 << rest_bits) - 1)
        rank = rest_bits - rest.bit_length() + 1
        slot = hashed >> rest_bits
        if rank <= self.registers[slot]:
            return False
        self.registers[slot] = rank
        return True

    def count(self, kept: int) -> int:
        """How many activities were dropped, for a contact that keeps `kept`."""
        if self.registers is None:
            return len(self.hashes)
        m = len(self.registers)
        estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum(2.0 ** -r for r in self.registers)
        zeros = self.registers.count(0)
        if estimate <= 2.5 * m and zeros:
            estimate = m * math.log(m / zeros)
        return max(self.EXACT_LIMIT + 1, round(estimate) - kept)

    def to_json(self) -> dict[str, str]:
        """The stored form (in the document's unindexed `raw`)."""
        if self.registers is not None:
            return {"hll": base64.b64encode(bytes(self.registers)).decode()}
        packed = b"".join(h.to_bytes(8, "big") for h in sorted(self.hashes))
        return {"exact": base64.b64encode(packed).decode()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Dropped:
        if "hll" in data:
            return cls(registers=bytearray(base64.b64decode(data["hll"])))
        packed = base64.b64decode(data.get("exact", ""))
        return cls(hashes={int.from_bytes(packed[i:i + 8], "big")
                           for i in range(0, len(packed), 8)})


@dataclass
class Contact:
    """The current state of one contact: what a document is built from."""

    account: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Activity] = field(default_factory=dict)
    visits: dict[str, Activity] = field(default_factory=dict)
    #: What retention dropped: the events and visits beyond the newest kept ones.
    dropped_events: Dropped = field(default_factory=Dropped)
    dropped_visits: Dropped = field(default_factory=Dropped)
    #: Consent by channel (CONSENT_CHANNELS → one of CONSENT_STATES); unset channels absent.
    consent: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.account, self.id)

    def value(self, name: str) -> Any:
        """The value of a contact field as segments read it: `bucket` and the channels'
        status fields are computed (COMPUTED_FIELDS), every other field is as applied."""
        if name == BUCKET_FIELD:
            return bucket(self.id)
        channel = STATUS_FIELDS.get(name)
        if channel is not None:
            return self.consent.get(channel)
        return self.fields.get(name)

    @property
    def events_dropped(self) -> int:
        return self.dropped_events.count(len(self.events))

    @property
    def visits_dropped(self) -> int:
        return self.dropped_visits.count(len(self.visits))
