"""The language, no account needed: check (syntax and shape), format, parse (text → JSON
form), render (JSON form → text) and the JSON Schema of the JSON form."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends

from segql.errors import SegmentError
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.grammar.jsonform import json_schema, to_json
from segql.grammar.parser import parse
from segql.service.auth import Caller, caller
from segql.service.inputs import segment_of
from segql.service.models import AstResult, CheckResult, Diagnostic, SegmentInput, TextResult

router = APIRouter(prefix="/v1", tags=["language"])
#: Any valid token (these endpoints read no account's data).
Authorized = Annotated[Caller, Depends(caller)]


def _tree(body: SegmentInput) -> ast.Expr:
    segment = segment_of(body)
    return parse(segment) if isinstance(segment, str) else segment


@router.post("/check", response_model=CheckResult, summary="Check a segment's syntax")
def check_syntax(body: SegmentInput, _: Authorized) -> CheckResult:
    """Whether the segment parses (text) or is a valid JSON form; with an account,
    `/v1/accounts/{account}/check` also types it against the account's catalog."""
    return syntax_result(body)


def syntax_result(body: SegmentInput) -> CheckResult:
    try:
        return CheckResult(valid=True, text=fmt(_tree(body)))
    except SegmentError as error:
        return CheckResult(valid=False, diagnostics=diagnostics(error, body))


def diagnostics(error: SegmentError, body: SegmentInput) -> list[Diagnostic]:
    """The error's diagnostics; a JSON form's pointers point into the request body."""
    prefix = "/ast" if body.ast is not None else ""
    out = []
    for found in error.diagnostics:
        item = Diagnostic.model_validate(found.to_json())
        if found.pointer is not None:
            item.pointer = prefix + found.pointer
        out.append(item)
    return out


@router.post("/format", response_model=TextResult, summary="Canonical text of a segment")
def format_segment(body: SegmentInput, _: Authorized) -> TextResult:
    return TextResult(text=fmt(_tree(body)))


@router.post("/parse", response_model=AstResult, summary="Text → JSON form")
def parse_segment(body: SegmentInput, _: Authorized) -> AstResult:
    data: dict[str, Any] = orjson.loads(to_json(_tree(body)))
    return AstResult(ast=data)


@router.post("/render", response_model=TextResult, summary="JSON form → text")
def render_segment(body: SegmentInput, _: Authorized) -> TextResult:
    return TextResult(text=fmt(_tree(body)))


@router.get("/schema", summary="The JSON Schema of the JSON form")
def schema() -> dict[str, Any]:
    return json_schema()
