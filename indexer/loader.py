"""The first loader: fold a whole record stream into contacts, then bulk-index them.

A full load: each contact the input mentions is written once, from the state the input
folds to (replacing what the index had for it); contacts it deletes are deleted. Merging
into existing documents is the incremental indexer's job. Bad records never stop the
load: they go to the rejects. After indexing, the types of each account's fields, events
and visit properties are learned from the loaded contacts into the catalog index (see
`catalog_store.py`); values that don't fit a type are reported as conflicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, helpers

from segql.compiler.catalog import Conflict, learn
from segql.indexer.catalog_store import CatalogStore, catalog_index_name
from segql.indexer.document import contact_document, document_id
from segql.indexer.mapping import index_body
from segql.indexer.records import Contact, ContactStore, Reject, fold_records


@dataclass
class LoadSummary:
    records: int = 0
    contacts: int = 0
    deleted: int = 0
    rejected: list[Reject] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: Per account, the values of this load that don't fit their catalog type.
    conflicts: dict[str, list[Conflict]] = field(default_factory=dict)


def ensure_index(es: Elasticsearch, index: str) -> bool:
    """Create the contact index with segql's mapping unless it exists; True if created."""
    if es.indices.exists(index=index):
        return False
    es.indices.create(index=index, **index_body())
    return True


def _actions(index: str, store: ContactStore) -> Iterator[dict[str, Any]]:
    for account, contact_id in store.deleted:
        yield {
            "_op_type": "delete",
            "_index": index,
            "_id": document_id(account, contact_id),
            "_routing": account,
        }
    for contact in store.contacts.values():
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": document_id(contact.account, contact.id),
            "_routing": contact.account,
            "_source": contact_document(contact),
        }


def load(
    es: Elasticsearch, index: str, lines: Iterable[str | bytes], *, chunk_size: int = 500,
    catalog_index: str | None = None,
) -> LoadSummary:
    """Apply a full stream of records: fold, create the index if needed, bulk, refresh,
    then learn the catalog (into `catalog_index`, default `<index>-catalog`)."""
    counted = _Counted(lines)
    store, rejects = fold_records(counted)
    summary = LoadSummary(records=counted.count, rejected=rejects)
    ensure_index(es, index)
    for ok, item in helpers.streaming_bulk(
        es, _actions(index, store), chunk_size=chunk_size,
        raise_on_error=False, max_retries=5,
    ):
        action, result = next(iter(item.items()))
        if action == "delete":
            summary.deleted += 1  # a delete of a contact never indexed is a 404: fine
        elif ok:
            summary.contacts += 1
        else:
            summary.failed.append(str(result))
    es.indices.refresh(index=index)
    catalogs = CatalogStore(es, catalog_index or catalog_index_name(index))
    by_account: dict[str, list[Contact]] = {}
    for contact in store.contacts.values():
        by_account.setdefault(contact.account, []).append(contact)
    for account, contacts in sorted(by_account.items()):
        learned = catalogs.merge_learned(account, learn(contacts))
        if learned.conflicts:
            summary.conflicts[account] = learned.conflicts
    return summary


class _Counted:
    """Counts the non-blank lines read through it."""

    def __init__(self, lines: Iterable[str | bytes]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[str | bytes]:
        for line in self._lines:
            if line.strip():
                self.count += 1
            yield line
