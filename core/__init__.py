"""segql: dynamic marketing segments compiled to Elasticsearch queries.

The library API (the CLI is a thin shell over it): `context` loads what an account's
segments are evaluated against; `count`, `export` and `explain` resolve a segment in
Elasticsearch; `SegmentStore` keeps the account's saved segments.
"""

from segql.api import (
    CHANNELS,
    ContactNotFoundError,
    CountError,
    CountResult,
    Export,
    Members,
    Recipient,
    compile_text,
    context,
    count,
    count_many,
    explain,
    export,
    export_ids,
    members,
    prepare,
    segment_store,
)
from segql.compiler.explain import Explanation
from segql.stores.saved_segments import (
    DuplicateSegmentError,
    SavedSegment,
    SegmentConflictError,
    SegmentInUseError,
    SegmentNotFoundError,
    SegmentStore,
    SegmentStoreError,
)

__version__ = "0.1.0"

__all__ = [
    "CHANNELS",
    "ContactNotFoundError",
    "CountError",
    "CountResult",
    "DuplicateSegmentError",
    "Explanation",
    "Export",
    "Members",
    "Recipient",
    "SavedSegment",
    "SegmentConflictError",
    "SegmentInUseError",
    "SegmentNotFoundError",
    "SegmentStore",
    "SegmentStoreError",
    "compile_text",
    "context",
    "count",
    "count_many",
    "explain",
    "export",
    "export_ids",
    "members",
    "prepare",
    "segment_store",
]
