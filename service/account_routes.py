"""One account's segments at send time: check against its catalog, compile, count with
per-channel reach, explain for one contact, page by cursor, and stream an export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from segql import api
from segql.compiler.check import check
from segql.compiler.to_es import compile_segment as to_body
from segql.errors import SegmentError
from segql.grammar.format import fmt
from segql.grammar.parser import parse
from segql.service.auth import allow, settings_of
from segql.service.inputs import evaluation
from segql.service.language_routes import diagnostics
from segql.service.models import (
    CheckResult,
    CountRequest,
    CountResult,
    Evaluation,
    ExplainRequest,
    ExportRequest,
    LeftOut,
    PageRequest,
    PageResult,
)
from segql.service.problems import to_problem

router = APIRouter(prefix="/v1/accounts/{account}", tags=["send time"])
#: Rows per chunk of a streamed export.
CHUNK_ROWS = 2000


@router.post("/check", response_model=CheckResult, summary="Check a segment fully")
def check_segment(account: str, body: Evaluation, request: Request) -> CheckResult:
    """Parse and type the segment against the account's catalog and saved segments."""
    allow(request, account, "read")
    settings = settings_of(request)
    try:
        ctx, segment = evaluation(settings, account, body)
        tree = parse(segment) if isinstance(segment, str) else segment
        to_body(check(tree, ctx, segment if isinstance(segment, str) else ""))  # its limits
        return CheckResult(valid=True, text=fmt(tree))
    except SegmentError as error:
        return CheckResult(valid=False, diagnostics=diagnostics(error, body))


@router.post("/compile", summary="The Elasticsearch request body of a segment")
def compile_segment(account: str, body: Evaluation, request: Request) -> dict[str, Any]:
    allow(request, account, "read")
    ctx, segment = evaluation(settings_of(request), account, body)
    return api.checked(segment, ctx)[1]


@router.post("/count", response_model=CountResult, summary="Count a segment")
def count_segment(account: str, body: CountRequest, request: Request) -> CountResult:
    """How many contacts are in the segment and, with `channels`, how many each channel
    reaches — in one request, on one snapshot."""
    allow(request, account, "read")
    settings = settings_of(request)
    ctx, segment = evaluation(settings, account, body)
    result = api.count(settings.es, segment, ctx, settings.index, channels=body.channels)
    left_out = None if result.left_out is None else {
        channel: LeftOut(**reasons.to_json()) for channel, reasons in result.left_out.items()}
    return CountResult(count=result.count, reach=result.reachable, left_out=left_out,
                       took_ms=result.took_ms)


@router.post("/explain", summary="Why one contact is or is not in a segment")
def explain_segment(account: str, body: ExplainRequest, request: Request) -> dict[str, Any]:
    allow(request, account, "read")
    settings = settings_of(request)
    ctx, segment = evaluation(settings, account, body)
    explanation = api.explain(settings.es, segment, ctx, body.contact_id,
                              index=settings.index)
    return explanation.to_json()


@router.post("/pages", response_model=PageResult, summary="Recipients, page by cursor")
def page_segment(account: str, body: PageRequest, request: Request) -> PageResult:
    """The first page (no cursor) or the page after `cursor`, over one snapshot: repeat a
    request whose answer was lost and get the same page again."""
    allow(request, account, "read")
    settings = settings_of(request)
    ctx, segment = evaluation(settings, account, body,
                              now=api.cursor_now(body.cursor, settings.cursor_key))
    result = api.page(settings.es, segment, ctx, key=settings.cursor_key, cursor=body.cursor,
                      channel=body.channel, size=body.size, index=settings.index)
    rows = [{"contact_id": cid, **({"address": address} if body.channel else {})}
            for cid, address in result.rows]
    left_out = None if result.left_out is None else LeftOut(**result.left_out.to_json())
    return PageResult(contacts=result.contacts, rows=rows, cursor=result.cursor,
                      left_out=left_out)


@router.post("/export", summary="Stream every recipient (NDJSON or CSV)",
             response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
def export_segment(account: str, body: ExportRequest, request: Request) -> StreamingResponse:
    """Every recipient over one point-in-time snapshot; with a channel, one row per address
    and contacts without one counted. NDJSON ends with a `{"complete": true, ...}` line;
    a stream that ends without it was cut off and is not the whole list."""
    allow(request, account, "read")
    settings = settings_of(request)
    ctx, segment = evaluation(settings, account, body)
    export = api.export(settings.es, segment, ctx, channel=body.channel, index=settings.index)
    contacts = export.open()
    media = "application/x-ndjson" if body.format == "ndjson" else "text/csv"
    headers = {"X-Segql-Contacts": str(contacts)}
    if export.expected_left_out is not None:  # with a channel: who it leaves out, by reason
        headers |= {f"X-Segql-Left-Out-{reason.replace('_', '-').title()}": str(count)
                    for reason, count in export.expected_left_out.to_json().items()}
    return StreamingResponse(_rows(export, body), media_type=media, headers=headers)


def _rows(export: api.Export, body: ExportRequest) -> Iterator[bytes]:
    """The export in chunks: CSV exactly as `segql export --format csv` writes it, or
    NDJSON as `--format jsonl` does, plus the completion line. A failure after the first
    rows were sent cannot change the status any more: NDJSON then ends with an error line
    (`{"complete": false, "error": {problem}}`), and the stream of either format is cut
    without its final chunk, which every HTTP client reports as an incomplete body."""
    try:
        yield from _chunks(export, body)
    except Exception as error:
        problem = orjson.loads(bytes(to_problem(error).body))  # logged there
        if body.format == "ndjson":
            yield orjson.dumps({"complete": False, "error": problem}) + b"\n"
        raise ExportCut from None


class ExportCut(Exception):
    """Raised to cut a streamed export short (its error is logged as an incident)."""


def _chunks(export: api.Export, body: ExportRequest) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with export:
        if body.format == "csv":
            writer.writerow(["contact_id", "address"] if body.channel else ["contact_id"])
        for rows, row in enumerate(export, 1):
            if body.format == "csv":
                writer.writerow([row.contact_id, row.address] if body.channel
                                else [row.contact_id])
            else:
                item = {"contact_id": row.contact_id}
                if body.channel and row.address is not None:
                    item["address"] = row.address
                buffer.write(orjson.dumps(item).decode() + "\n")
            if rows % CHUNK_ROWS == 0:
                yield _drain(buffer)
        if body.format == "ndjson":
            buffer.write(orjson.dumps({"complete": True, **export.summary()}).decode() + "\n")
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data
