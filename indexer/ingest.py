"""Applying the records an account's own systems send (a CRM, a shop: the HTTP API's
`POST /v1/accounts/{account}/records`), with each record's outcome.

`ingest` is `segql index` for a list of already-decoded JSON values: they go, as one batch,
through the same Indexer (`apply.py`: `Indexer.apply`, the fold of `records.ContactStore`,
optimistic concurrency with re-reads on 409, retries, catalog learning and merging), whose
validation is the only one (`records.py`). It takes decoded values, not lines, because an
Indexer batch is made of `batch.Line`s holding a decoded record: encoding the values again
to lines only for `batch.parse_line` to decode them would add nothing but the chance to
re-encode differently. An item that is `bytes` (no JSON value is) is taken as one raw
JSON Lines line and decoded by `batch.parse_line`, as `segql index` decodes its lines, so
a line that is not UTF-8 or not JSON is rejected with `segql index`'s reason; a blank one
is rejected too (every item gets an outcome). What the Indexer does not know, `ingest`
adds:

* **The account binding.** The account is the request's (the path's, the token's): a record
  that names another account (or `account: null`) is rejected before anything reads it, so
  a token for account A never writes into account B. A record may omit `account`: it then
  gets the request's. Nothing else of a record is looked at here.
* **Each record's outcome**, in request order, `index` being the record's 0-based position:
  `rejected` with the reason `segql index` would write to its rejects file, else `applied`
  or `duplicate` as the fold counted it (`ContactStore.changed`: `duplicate` is what the
  indexer counts `unchanged` — an event or visit id already held with the same content, a
  field set to the value it had, a delete of a contact that does not exist).
* **A limit**: at most MAX_RECORDS records a call (`TooManyRecords`, for HTTP 413). Each
  record is held to the indexer's limits on its parts (ids, names, texts: `records.py`);
  there is no limit on a record's size as a whole beyond those: the HTTP layer caps the
  request body.

How the outcomes are exact: the Indexer counts `applied`/`unchanged` per contact
(`writer.Outcome`), and it rejects by record (`BatchResult.rejects`, keyed by the line's
number, here the record's index). `_Tracking._fold` takes the Indexer's fold of a contact
as it is; when its records are all applied or all unchanged, the counts say which record
is which. Only when a contact has both does it fold the same records again on the same
stored document (the fold is deterministic: the same `ContactStore.apply` calls on the same
state) and read `ContactStore.changed` after each, checking the counts agree. A contact
written by someone else in between is folded again by the Indexer (409, re-read), and the
flags of that last fold — the one written — replace the earlier ones.

`refresh=True` refreshes the contact index once the batch is written (the Indexer's bulk
requests are not changed to `refresh=wait_for`): the documents are searchable when
`ingest` returns. It is a forced refresh of the whole index, so the HTTP layer should ask
for it only when the client does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import Elasticsearch

from segql.errors import InputError
from segql.indexer.apply import Indexer, copy_contact
from segql.indexer.batch import Key, Line, contact_key, parse_line
from segql.indexer.records import ACCOUNT_ID, ContactStore
from segql.indexer.run import DEFAULT_BATCH_SIZE
from segql.indexer.writer import DEFAULT_MAX_WAIT, Outcome, Stored

__all__ = ["MAX_RECORDS", "IngestError", "IngestResult", "RecordOutcome", "Status",
           "TooManyRecords", "ingest"]

#: Records one call applies at most: one Indexer batch, held in memory with its contacts.
MAX_RECORDS = DEFAULT_BATCH_SIZE

Status = Literal["applied", "duplicate", "rejected"]


class IngestError(InputError):
    """A request `ingest` refuses as a whole (nothing of it is applied)."""


class TooManyRecords(IngestError):
    """More records in one call than MAX_RECORDS (the HTTP layer answers 413)."""

    def __init__(self, count: int, limit: int = MAX_RECORDS) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} records in one request; at most {limit} are accepted: "
                         "send them in several requests")


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record: `index` is its 0-based position in the request."""

    index: int
    status: Status
    #: Why it was rejected, as `segql index` writes it to its rejects file.
    reason: str | None = None
    #: The contact it is about, when it names one of the request's account.
    contact_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "status": self.status, "reason": self.reason,
                "contact_id": self.contact_id}


@dataclass(frozen=True)
class IngestResult:
    """The counts, and each record's outcome in request order."""

    applied: int
    duplicates: int
    rejected: int
    outcomes: list[RecordOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "duplicates": self.duplicates,
                "rejected": self.rejected, "outcomes": [o.to_json() for o in self.outcomes]}


class _Tracking(Indexer):
    """The Indexer, remembering for every record it folded whether the fold changed
    something (see the module doc); the last fold of a contact wins, as in the index."""

    def __init__(self, es: Elasticsearch, index: str, *, max_wait: float) -> None:
        super().__init__(es, index, max_wait=max_wait)
        self.changed: dict[int, bool] = {}

    def _fold(self, key: Key, stored: Stored | None, lines: list[Line]) -> Outcome:
        outcome = super()._fold(key, stored, lines)
        rejected = {reject.line for reject in outcome.rejects}
        folded = [line for line in lines if line.number not in rejected]
        if outcome.applied and outcome.unchanged:
            flags = self._changes(key, stored, folded)
        else:
            flags = [outcome.applied > 0] * len(folded)
        if sum(flags) != outcome.applied or len(flags) != outcome.applied + outcome.unchanged:
            raise AssertionError(f"the fold of {key} counted otherwise the second time")
        self.changed.update((line.number, flag) for line, flag in zip(folded, flags,
                                                                      strict=True))
        return outcome

    def _changes(self, key: Key, stored: Stored | None, folded: list[Line]) -> list[bool]:
        """The fold of a contact's records that it accepted, again, record by record."""
        store = ContactStore(self.max_events, self.max_visits)
        if stored is not None:
            store.contacts[key] = copy_contact(stored.contact)
        flags = []
        for line in folded:
            store.apply(line.record)
            flags.append(store.changed)
        return flags


def _bind(number: int, item: Any, account: str) -> Line | str:
    """The item as the Indexer gets it (a raw line decoded; the request's account when the
    record names none), or the reason it is rejected before: a blank line, another
    account."""
    record = parse_line(number, item) if isinstance(item, bytes) else item
    if record is None:
        return "a blank line is not a record"
    if not isinstance(record, dict):
        return Line(number, record)  # the Indexer rejects it, with its reason
    if "account" not in record:
        return Line(number, {"account": account, **record})
    named = record["account"]
    if named == account:
        return Line(number, record)
    shown = repr(named if not isinstance(named, str) else named[:80])
    return (f"`account` is {shown}, but this request writes to account {account!r} only "
            "(a record may leave `account` out)")


def ingest(
    es: Elasticsearch, index: str, records: Sequence[Any], *, account: str,
    refresh: bool = False, max_wait: float = DEFAULT_MAX_WAIT,
) -> IngestResult:
    """Apply `records` (decoded JSON values, or raw lines as `bytes`) of `account` to the
    contact index `index` as `segql index` would, and say what became of each (see the
    module doc). The contact index is created if missing, the catalog index
    `<index>-catalog` when there is first something to learn. `max_wait`: seconds of
    continuous Elasticsearch failure before giving up (`IndexerError`; applying the same
    records again is then safe)."""
    if not isinstance(account, str) or not ACCOUNT_ID.match(account):
        raise IngestError(f"bad account id {account!r}: 1-64 characters of "
                          "A-Z a-z 0-9 _ - .")
    if isinstance(records, str | bytes | bytearray | Mapping):
        raise IngestError("records must be a list of JSON values")
    if len(records) > MAX_RECORDS:
        raise TooManyRecords(len(records), MAX_RECORDS)
    reasons: dict[int, str] = {}
    lines: list[Line] = []
    for number, item in enumerate(records):
        bound = _bind(number, item, account)
        if isinstance(bound, Line):
            lines.append(bound)
        else:
            reasons[number] = bound
    indexer = _Tracking(es, index, max_wait=max_wait)
    result = indexer.apply(lines)
    reasons |= {reject.line: reject.reason for reject in result.rejects}
    if refresh:
        indexer.refresh()
    keys = {line.number: contact_key(line.record) for line in lines}
    outcomes = []
    for number in range(len(records)):
        key = keys.get(number)
        reason = reasons.get(number)
        status: Status = ("rejected" if reason is not None
                          else "applied" if indexer.changed[number] else "duplicate")
        outcomes.append(RecordOutcome(number, status, reason, key[1] if key else None))
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("applied", "duplicate", "rejected")}
    return IngestResult(counts["applied"], counts["duplicate"], counts["rejected"], outcomes)
