"""The library API: what the CLI and the HTTP service do, for other programs
(`from segql import api; api.count(...)`).

A segment is given as text or as an AST (the visual builder's JSON form,
`segql.grammar.jsonform`), checked on use; `context` loads what it is evaluated against
from the cluster. The modules: `resolve` (index, context, checking and compiling),
`counts` (count, count_many with an error per segment, members), `export` (snapshot
exports), `pages` (paging by an opaque cursor), `reach` (who a channel reaches and
leaves out, by reason), `explain`, `segment_files` (saved
segments from a file, for offline evaluation), `contact_index` (which index, whether it
can be one, whether an account has anything in it).
"""

from segql.api.contact_index import (
    DEFAULT_INDEX,
    INDEX_ENV,
    AccountCheck,
    IndexTargetError,
    NoContactIndexError,
    account_known,
    cluster_url,
    contact_index,
    index_name,
    index_name_problem,
    index_setting,
)
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
from segql.api.reach import REASONS, LeftOut
from segql.api.resolve import (
    CHANNELS,
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
    prepare,
    saved_text,
    segment_store,
)
from segql.api.segment_files import parse_segments, read_segments, segment_text

__all__ = [
    "CHANNELS",
    "DEFAULT_INDEX",
    "DEFAULT_PAGE",
    "DEFAULT_SLICES",
    "INDEX_ENV",
    "KEEP_ALIVE",
    "MAX_WINDOW",
    "REASONS",
    "SLICE_ABOVE",
    "AccountCheck",
    "ContactNotFoundError",
    "CountError",
    "CountResult",
    "CursorError",
    "Export",
    "IndexTargetError",
    "LeftOut",
    "Members",
    "NoContactIndexError",
    "Page",
    "Recipient",
    "Segment",
    "account_known",
    "address_path",
    "checked",
    "cluster_url",
    "compile_text",
    "contact_index",
    "context",
    "count",
    "count_many",
    "count_queries",
    "cursor_now",
    "explain",
    "export",
    "export_ids",
    "index_name",
    "index_name_problem",
    "index_setting",
    "members",
    "merged",
    "page",
    "parse_segments",
    "prepare",
    "read_segments",
    "saved_text",
    "segment_store",
    "segment_text",
    "snapshot_pages",
]
