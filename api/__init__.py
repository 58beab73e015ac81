"""The library API: what the CLI and the HTTP service do, for other programs
(`from segql import api; api.count(...)`).

A segment is given as text or as an AST (the visual builder's JSON form,
`segql.grammar.jsonform`), checked on use; `context` loads what it is evaluated against
from the cluster. The modules: `resolve` (index, context, checking and compiling),
`counts` (count, count_many with an error per segment, members), `export` (snapshot
exports), `pages` (paging by an opaque cursor), `explain`.
"""

from segql.api.counts import (
    CountError,
    CountResult,
    Members,
    count,
    count_many,
    count_queries,
    members,
)
from segql.api.explain import explain
from segql.api.export import Export, Recipient, export, export_ids, merged, snapshot_pages
from segql.api.pages import CursorError, Page, cursor_now, page
from segql.api.resolve import (
    CHANNELS,
    DEFAULT_INDEX,
    DEFAULT_PAGE,
    DEFAULT_SLICES,
    KEEP_ALIVE,
    MAX_WINDOW,
    SLICE_ABOVE,
    ContactNotFoundError,
    Segment,
    address_path,
    checked,
    compile_text,
    context,
    index_name,
    prepare,
    saved_text,
    segment_store,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_INDEX",
    "DEFAULT_PAGE",
    "DEFAULT_SLICES",
    "KEEP_ALIVE",
    "MAX_WINDOW",
    "SLICE_ABOVE",
    "ContactNotFoundError",
    "CountError",
    "CountResult",
    "CursorError",
    "Export",
    "Members",
    "Page",
    "Recipient",
    "Segment",
    "address_path",
    "checked",
    "compile_text",
    "context",
    "count",
    "count_many",
    "count_queries",
    "cursor_now",
    "explain",
    "export",
    "export_ids",
    "index_name",
    "members",
    "merged",
    "page",
    "prepare",
    "saved_text",
    "segment_store",
    "snapshot_pages",
]
