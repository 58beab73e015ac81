"""Batches of records and what became of them: the input lines of a batch (`Line`,
`parse_line`, `batched`), the contact a record is about (`contact_key`), what a batch did
(`BatchResult`) and what a run did (`Stats`). Shared by the writer (`writer.py`), the
Indexer (`apply.py`) and the runs over files (`run.py`, `partition.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from segql.compiler.catalog import Conflict
from segql.contract.contact import Contact
from segql.indexer.codec import SLOW, fast_loads
from segql.indexer.records import Reject, good_account, read_records

Key = tuple[str, str]


@dataclass
class Line:
    """One non-blank input line: its number and what it parsed to (a Reject when it is not
    UTF-8 JSON)."""

    number: int
    record: Any


@dataclass
class Stats:
    """What a run did. `applied` + `unchanged` + `rejected` = `records`."""

    records: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    #: Requests or contacts tried again (429/5xx/unreachable, or 409 on a contact).
    retried: int = 0
    #: Documents written (index/create) and deleted.
    written: int = 0
    deleted: int = 0
    #: Elasticsearch's reasons for documents it refused.
    failed: list[str] = field(default_factory=list)
    #: Per account, catalog conflicts (values that don't fit their learned type).
    conflicts: dict[str, list[Conflict]] = field(default_factory=dict)

    COUNTED = ("records", "applied", "unchanged", "rejected", "retried")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTED}

    def add_counts(self, counts: dict[str, int]) -> None:
        for name in self.COUNTED:
            setattr(self, name, getattr(self, name) + counts.get(name, 0))


@dataclass
class BatchResult:
    """A batch once written: the rejects (by line) and the contacts it wrote or deleted."""

    rejects: list[Reject] = field(default_factory=list)
    written: list[Contact] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    #: What the written contacts got in this batch (fields, new events and visits).
    news: list[Contact] = field(default_factory=list)


def parse_line(number: int, raw: bytes) -> Any | None:
    """A record, a Reject (not UTF-8, not JSON) or None (a blank line)."""
    fast = fast_loads(raw)
    if fast is not SLOW:
        return fast
    for _, parsed in read_records([raw]):
        return replace(parsed, line=number) if isinstance(parsed, Reject) else parsed
    return None


def contact_key(record: Any) -> Key | None:
    """The contact a record is about, when it names one validly."""
    if not isinstance(record, dict):
        return None
    account = record.get("account")
    contact_id = record.get("contact" if record.get("type") in ("event", "visit") else "id")
    if isinstance(account, str) and good_account(account) and isinstance(contact_id, str):
        return (account, contact_id)
    return None


def batched(lines: Iterable[str | bytes], size: int | None) -> Iterator[list[Line]]:
    """In-memory lines as batches of `size` (None: one batch), line numbers from 1."""
    batch: list[Line] = []
    for number, raw in enumerate(lines, start=1):
        record = parse_line(number, raw if isinstance(raw, bytes) else raw.encode())
        if record is not None:
            batch.append(Line(number, record))
        if size is not None and len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
