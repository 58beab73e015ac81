"""Ingestion: the account's own systems (a CRM, a shop) post records (LANGUAGE.md §8),
applied with exactly the fold and idempotency of `segql index`; the reply says what
became of each record."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from segql.indexer.ingest import TooManyRecords, ingest
from segql.service.auth import allow, settings_of
from segql.service.problems import Problem

router = APIRouter(prefix="/v1/accounts/{account}", tags=["ingestion"])


class Outcome(BaseModel):
    index: int
    status: Literal["applied", "duplicate", "rejected"]
    reason: str | None = None
    contact_id: str | None = None


class IngestReply(BaseModel):
    applied: int
    duplicates: int
    rejected: int
    outcomes: list[Outcome]


_BODY = {
    "required": True,
    "content": {
        # any JSON values: each item that is not a valid record is rejected with its index
        "application/json": {"schema": {"type": "array", "items": {}}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes even when sent without a length."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "too-large", "Request too large",
                          f"bodies are limited to {limit:,} bytes: send fewer records")
        chunks.append(chunk)
    return b"".join(chunks)


def _records(body: bytes, content_type: str) -> list[Any]:
    """A JSON array of records, or JSON Lines (one record a line, blank lines skipped; each
    line is read by `segql index`'s own reader, so a bad line gets its exact reason)."""
    if "ndjson" in content_type or "jsonl" in content_type:
        return [line for line in body.split(b"\n") if line.strip()]
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Problem(400, "bad-request", "The body is not valid JSON",
                      "send a JSON array of records, or JSON Lines as "
                      "application/x-ndjson") from None
    if not isinstance(data, list):
        raise Problem(400, "bad-request", "The body is not a list of records",
                      "send a JSON array of records, or JSON Lines as "
                      "application/x-ndjson")
    return data


@router.post("/records", response_model=IngestReply, openapi_extra={"requestBody": _BODY},
             summary="Apply records (contacts, events, visits, deletes)")
async def post_records(account: str, request: Request,
                       refresh: Literal["false", "wait_for"] = Query(default="false")
                       ) -> Response:
    """Apply the records as `segql index` does (same validation, fold and idempotency: a
    re-delivered record is a `duplicate`, never applied twice); each record's outcome is
    in `outcomes`, with its index in the request. `refresh=wait_for`: the changes are
    visible to counts and exports when the reply comes (read-your-writes)."""
    allow(request, account, "write")
    settings = settings_of(request)
    records = _records(await _body(request, settings.max_body),
                       request.headers.get("content-type", ""))
    try:
        result = await run_in_threadpool(ingest, settings.es, settings.index, records,
                                         account=account, refresh=refresh == "wait_for")
    except TooManyRecords as error:
        raise Problem(413, "too-many-records", "Too many records", str(error)) from None
    if result.applied:
        settings.forget(account)  # the catalog may have learned something
    # up to MAX_RECORDS outcomes: encoded directly (the shape is IngestReply's, documented)
    return Response(orjson.dumps(result.to_json()), media_type="application/json")
