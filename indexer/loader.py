"""Loading records from memory: the incremental indexer (`apply.py`) over a list of lines.

What existing callers (tests, the demo) use: each record is applied to the stored contacts
exactly as `segql index` applies it, and the types seen are learned into the catalog index
(see `stores/catalogs.py`); values that don't fit a type are reported as conflicts. The lines
are in memory anyway, so by default they are one batch: every contact is read and written
once (the fast initial load).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from segql.compiler.catalog import Conflict
from segql.contract.contact import MAX_EVENTS, MAX_VISITS
from segql.indexer.apply import Indexer, ensure_index
from segql.indexer.batch import batched
from segql.indexer.records import Reject

__all__ = ["LoadSummary", "ensure_index", "load"]


@dataclass
class LoadSummary:
    records: int = 0
    #: Distinct contacts whose document was written (and not deleted after), and deleted.
    contacts: int = 0
    deleted: int = 0
    rejected: list[Reject] = field(default_factory=list)
    #: Elasticsearch's reasons for documents it refused (their records are in `rejected`).
    failed: list[str] = field(default_factory=list)
    #: Per account, the values of this load that don't fit their catalog type.
    conflicts: dict[str, list[Conflict]] = field(default_factory=dict)


def load(
    es: Elasticsearch, index: str, lines: Iterable[str | bytes], *,
    batch_size: int | None = None, catalog_index: str | None = None,
    max_events: int = MAX_EVENTS, max_visits: int = MAX_VISITS,
) -> LoadSummary:
    """Apply records to the index (created if needed), refresh it, and learn the catalog
    (into `catalog_index`, default `<index>-catalog`)."""
    indexer = Indexer(es, index, catalog_index=catalog_index, max_events=max_events,
                      max_visits=max_visits)
    summary = LoadSummary()
    last_write: dict[tuple[str, str], bool] = {}
    for batch in batched(lines, batch_size):
        result = indexer.apply(batch)
        summary.rejected.extend(result.rejects)
        last_write.update({contact.key: True for contact in result.written})
        last_write.update(dict.fromkeys(result.deleted, False))
    indexer.refresh()
    summary.records = indexer.stats.records
    summary.contacts = sum(last_write.values())
    summary.deleted = len(last_write) - summary.contacts
    summary.failed = indexer.stats.failed
    summary.conflicts = indexer.stats.conflicts
    return summary
