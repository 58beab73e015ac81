"""What every call of the API starts from: the account's context (catalog, saved
segments, time), and a segment — text or the JSON form's AST — checked and compiled
(`checked`). Which contact index, and whether it can be one: `contact_index`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from elasticsearch import ApiError, Elasticsearch

from segql.api.contact_index import index_name
from segql.compiler.check import check
from segql.compiler.checked import Checked
from segql.compiler.context import Context
from segql.compiler.definitions import definition
from segql.compiler.to_es import compile_segment
from segql.contract.document import field_path
from segql.errors import SegqlError
from segql.grammar import ast
from segql.grammar.parser import parse
from segql.stores.catalogs import CatalogStore, catalog_index_name
from segql.stores.failures import from_answer
from segql.stores.mapping import check_index_shape
from segql.stores.placement import Target, gone, resolve
from segql.stores.saved_segments import SegmentNotFoundError, SegmentStore, segment_index_name

#: A channel and the contact address field that reaches it.
CHANNELS = {"email": "email", "sms": "phone", "push": "push_tokens"}
#: Contacts per export page, and how long a snapshot lives between two pages.
DEFAULT_PAGE = 5000
KEEP_ALIVE = "2m"
#: Segments larger than this are exported in parallel slices of the snapshot.
SLICE_ABOVE = 50_000
DEFAULT_SLICES = 4
#: Deepest page `members` serves (Elasticsearch's `index.max_result_window`).
MAX_WINDOW = 10_000

Segment = str | ast.Expr
T = TypeVar("T")
#: Lookups of the concrete index a reader makes when the one it found was closed or
#: removed meanwhile (a reindex switched).
RESOLVES = 3


class IndexGoneError(Exception):
    """An msearch item said the concrete index searched is closed or gone."""


def on_target(es: Elasticsearch, index: str | None, request: Callable[[Target], T]) -> T:
    """Run a reader's `request` on the concrete index behind the contact index, with its
    routing (stores/placement.py: a search uses the routing of the index it searches,
    never another's); when that index was closed or removed meanwhile (a `segql
    reindex` switched), look it up again and run it again."""
    name = index or index_name()
    for attempt in range(RESOLVES):
        target = resolve(es, name)
        try:
            return request(target)
        except (ApiError, IndexGoneError) as error:
            if attempt == RESOLVES - 1 or not (isinstance(error, IndexGoneError)
                                               or gone(error)):
                raise
    raise AssertionError("unreachable")


class ContactNotFoundError(SegqlError):
    """The account has no contact of that id (exit 1)."""


def segment_store(es: Elasticsearch, index: str | None = None) -> SegmentStore:
    """The saved segments that go with a contact index."""
    return SegmentStore(es, segment_index_name(index or index_name()))


def context(
    es: Elasticsearch,
    account: str,
    *,
    index: str | None = None,
    now: datetime | None = None,
    timezone: ZoneInfo | None = None,
) -> Context:
    """Everything a segment of `account` is evaluated against, from the cluster: the
    account's catalog (declared over learned), its saved segments (for `in_segment`) and
    the evaluation time and zone. Refuses an index of a document shape newer than this
    segql reads (`mapping.check_index_shape`)."""
    contacts = index or index_name()
    check_index_shape(es, contacts)
    catalog = CatalogStore(es, catalog_index_name(contacts)).get(account)
    return Context(account=account, now=now or datetime.now(UTC),
                   timezone=timezone or ZoneInfo("UTC"), catalog=catalog,
                   segments=segment_store(es, contacts).definitions(account))


def prepare(text: str, ctx: Context) -> Checked:
    """Parse and check a segment's text: its checked tree; raises SegmentError with
    positions."""
    return check(parse(text), ctx, text)


def compile_text(text: str, ctx: Context) -> dict[str, Any]:
    """The Elasticsearch request body of a segment's text."""
    return compile_segment(prepare(text, ctx))


def checked(segment: Segment, ctx: Context) -> tuple[Checked, dict[str, Any]]:
    """A segment (text or AST) checked, and its request body."""
    checked = prepare(segment, ctx) if isinstance(segment, str) else check(segment, ctx)
    return checked, compile_segment(checked)


def saved_text(ctx: Context, name: str) -> str:
    """The expression of the account's saved segment `name` (loaded by `context`)."""
    found = definition(ctx, name)
    if found is None:
        raise SegmentNotFoundError.named(ctx.account, name, ctx.segments)
    return found[1]


def address_path(channel: str) -> str:
    """The raw (doc-values) field of a channel's addresses."""
    return field_path(CHANNELS[channel], "v")


def ok(response: dict[str, Any]) -> dict[str, Any]:
    """One response of an msearch, or what its error means raised (stores/failures.py)."""
    if "error" in response:
        raise from_answer(int(response.get("status") or 500), response["error"])
    return response


