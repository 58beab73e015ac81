"""The contacts an indexer wrote last (`WrittenContacts`), so that the next batch that
touches one of them (under `--follow`, a hot contact every few seconds) folds onto what it
wrote instead of reading it back with `mget` and encoding its events again.

An entry is a `writer.Stored`: the contact as written, the `_seq_no`/`_primary_term` that
Elasticsearch's bulk reply gave that write, and its encoded events and visits. Using it is
as safe as reading: the next write is guarded by that `_seq_no`/`_primary_term`, so when
anyone else wrote the contact since (another `segql index`, the HTTP ingestion, a restarted
node's new primary term), Elasticsearch answers 409, the entry is dropped, and the contact
is read, folded and written again (`writer.BulkWriter._settle`). An entry is dropped too
when its write failed in any way, or the contact was deleted.

The cache is bounded by a number of contacts and by an estimate of the memory it holds
(`BYTES_PER_DOCUMENT_BYTE` per byte of the contact's encoded document); the least recently
written or used contact goes first.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import TYPE_CHECKING

from segql.errors import InputError
from segql.indexer.batch import Key

if TYPE_CHECKING:
    from segql.indexer.writer import Stored

#: Default bounds: contacts, and megabytes (estimated).
DEFAULT_CONTACTS = 100_000
DEFAULT_MEGABYTES = 256
#: Memory of a cached contact (its Contact, activities and their encoded fragments) per
#: byte of its encoded document: 1.64 measured (tracemalloc) on the sample data, rounded up.
BYTES_PER_DOCUMENT_BYTE = 2
CONTACTS_ENV = "SEGQL_CACHE_CONTACTS"
MEGABYTES_ENV = "SEGQL_CACHE_MB"


def _env_bound(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise InputError(f"{name} must be 0 or more, got {raw!r}")
    return value


def default_contacts() -> int:
    """The bound in contacts: `$SEGQL_CACHE_CONTACTS`, else DEFAULT_CONTACTS (0: no cache)."""
    return _env_bound(CONTACTS_ENV, DEFAULT_CONTACTS)


def default_megabytes() -> int:
    """The bound in estimated megabytes: `$SEGQL_CACHE_MB`, else DEFAULT_MEGABYTES."""
    return _env_bound(MEGABYTES_ENV, DEFAULT_MEGABYTES)


class WrittenContacts:
    """A bounded LRU map of contact key → `Stored` (see the module doc)."""

    def __init__(self, contacts: int, megabytes: int = DEFAULT_MEGABYTES) -> None:
        self.limit = contacts
        self.byte_limit = megabytes << 20
        self.bytes = 0
        self.hits = 0
        self.evicted = 0
        self._entries: OrderedDict[Key, tuple[Stored, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def get(self, key: Key) -> Stored | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: Key, stored: Stored, document_bytes: int) -> None:
        """Remember a contact as written (or as read), `document_bytes` its encoded size."""
        if not self.limit:
            return
        self.drop(key)
        size = document_bytes * BYTES_PER_DOCUMENT_BYTE
        self._entries[key] = (stored, size)
        self.bytes += size
        while self._entries and (len(self._entries) > self.limit
                                 or self.bytes > self.byte_limit):
            _, (_, gone) = self._entries.popitem(last=False)
            self.bytes -= gone
            self.evicted += 1

    def clear(self) -> None:
        """Forget every contact (their `_seq_no`s belong to an index no longer written)."""
        self._entries.clear()
        self.bytes = 0

    def drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry[1]
