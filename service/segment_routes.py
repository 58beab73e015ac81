"""One account's saved segments: list with search and live counts, create, show with a
page of members, edit, delete (refused while other segments refer to it)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from segql import api
from segql.errors import SegmentError
from segql.grammar.format import fmt
from segql.grammar.jsonform import from_data
from segql.service.auth import allow, settings_of
from segql.service.models import (
    Members,
    SavedSegment,
    SavedSegmentChange,
    SavedSegmentInput,
    SegmentProblem,
)
from segql.service.problems import Problem
from segql.service.settings import Settings
from segql.stores.saved_segments import SavedSegment as StoredSegment
from segql.stores.saved_segments import SegmentStore

router = APIRouter(prefix="/v1/accounts/{account}/segments", tags=["saved segments"])


def _text(text: str | None, tree: dict[str, object] | None, required: bool) -> str | None:
    """A saved segment's expression from text or JSON form (stored as canonical text)."""
    if text is not None and tree is not None:
        raise Problem(422, "invalid-request", "Give the expression one way",
                      "`text` or `ast`, not both")
    if tree is not None:
        try:
            return fmt(from_data(tree))
        except SegmentError as error:
            error.pointer_prefix = "/ast"  # type: ignore[attr-defined]
            raise
    if text is None and required:
        raise Problem(422, "invalid-request", "The segment's expression is missing",
                      "give `text` or `ast`")
    return text


def _row(saved: StoredSegment, size: int | api.CountError | None) -> SavedSegment:
    """A saved segment with its count, or the error that took the count's place."""
    return SavedSegment(
        name=saved.name, text=saved.expression, description=saved.description,
        count=size if isinstance(size, int) else None,
        error=SegmentProblem(**size.to_json()) if isinstance(size, api.CountError) else None)


def _store(settings: Settings) -> SegmentStore:
    return api.segment_store(settings.es, settings.index)


@router.get("", response_model=list[SavedSegment], summary="List saved segments")
def list_segments(account: str, request: Request,
                  search: str | None = Query(default=None, max_length=200),
                  counts: bool = True) -> list[SavedSegment]:
    """Every saved segment (names containing `search`, any case) with its live count; a
    segment that does not check (e.g. over a limit with its saved segments expanded) or
    that Elasticsearch fails to count carries its `error` (code, message, hint) instead
    of a count, and never fails the list."""
    allow(request, account, "read")
    settings = settings_of(request)
    saved = _store(settings).list(account, search)
    ctx = settings.context(account)
    sizes = (api.count_many(settings.es, [s.expression for s in saved], ctx, settings.index)
             if counts else [None] * len(saved))
    return [_row(s, size) for s, size in zip(saved, sizes, strict=True)]


@router.post("", response_model=SavedSegment, status_code=201, summary="Save a segment")
def create_segment(account: str, body: SavedSegmentInput, request: Request) -> SavedSegment:
    allow(request, account, "write")
    settings = settings_of(request)
    text = _text(body.text, body.ast, required=True)
    assert text is not None
    saved = _store(settings).create(settings.context(account), body.name, text,
                                    body.description)
    settings.forget(account)
    return SavedSegment(name=saved.name, text=saved.expression, description=saved.description)


@router.get("/{name}", response_model=SavedSegment, summary="A saved segment and its count")
def show_segment(account: str, name: str, request: Request) -> SavedSegment:
    allow(request, account, "read")
    settings = settings_of(request)
    saved = _store(settings).get(account, name)
    size = api.count_many(settings.es, [saved.expression], settings.context(account),
                          settings.index)[0]
    return _row(saved, size)


@router.get("/{name}/members", response_model=Members, summary="A page of members")
def segment_members(account: str, name: str, request: Request,
                    page: int = Query(default=1, ge=1, le=10_000),
                    size: int = Query(default=20, ge=1, le=1000)) -> Members:
    """One page of the segment's contact ids, sorted (for all of them: `pages` or
    `export`)."""
    allow(request, account, "read")
    settings = settings_of(request)
    saved = _store(settings).get(account, name)
    found = api.members(settings.es, saved.expression, settings.context(account),
                        index=settings.index, page=page, size=size)
    return Members(total=found.total, page=page, size=size,
                   members=[{"contact_id": cid} for cid in found.ids])


@router.put("/{name}", response_model=SavedSegment, summary="Change a saved segment")
def edit_segment(account: str, name: str, body: SavedSegmentChange,
                 request: Request) -> SavedSegment:
    allow(request, account, "write")
    settings = settings_of(request)
    text = _text(body.text, body.ast, required=False)
    saved = _store(settings).edit(settings.context(account), name, expression=text,
                                  description=body.description)
    settings.forget(account)
    return SavedSegment(name=saved.name, text=saved.expression, description=saved.description)


@router.delete("/{name}", status_code=204, summary="Delete a saved segment")
def delete_segment(account: str, name: str, request: Request) -> Response:
    """Refused (409, with the names) while other saved segments refer to it."""
    allow(request, account, "write")
    settings = settings_of(request)
    _store(settings).delete(settings.context(account), name)
    settings.forget(account)
    return Response(status_code=204)
