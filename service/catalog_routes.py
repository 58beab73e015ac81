"""What a builder needs to render every dropdown and value editor: the account's catalog
(fields, events with their properties, visit properties, each typed) with each type's
operators, operand kinds and units; the same as react-querybuilder's `fields`; declaring
types; and importing the JSON of react-querybuilder and jQuery QueryBuilder."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel

from segql.compiler.builder_catalog import describe
from segql.compiler.catalog import Catalog
from segql.errors import SegmentError
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.grammar.jsonform import to_json
from segql.interop.jquery_querybuilder import from_jquery
from segql.interop.react_querybuilder import fields_config, from_rqb
from segql.service.auth import allow, settings_of
from segql.stores.catalogs import CatalogStore, catalog_index_name

router = APIRouter(prefix="/v1/accounts/{account}", tags=["catalog and builders"])
Declared = Annotated[dict[str, Any], Body(examples=[{
    "fields": {"age": "number"}, "events": {"Purchase": {"value": "number"}},
    "visit_properties": {"campaign": "text"}}])]
RqbQuery = Annotated[dict[str, Any], Body(examples=[{
    "combinator": "and", "rules": [{"field": "city", "operator": "beginsWith",
                                    "value": "War"}]}])]
JqueryQuery = Annotated[dict[str, Any], Body(examples=[{
    "condition": "AND", "rules": [{"id": "city", "field": "city", "type": "string",
                                   "operator": "begins_with", "value": "War"}]}])]


class Imported(BaseModel):
    """A builder's query as a segql segment: its JSON form and canonical text."""

    ast: dict[str, Any]
    text: str


def _catalog(request: Request, account: str) -> Catalog:
    return settings_of(request).context(account).catalog


@router.get("/catalog", summary="The account's catalog, with operators per type")
def get_catalog(account: str, request: Request) -> dict[str, Any]:
    allow(request, account, "read")
    return describe(_catalog(request, account))


@router.put("/catalog", summary="Declare the account's types")
def put_catalog(account: str, request: Request, declared: Declared) -> dict[str, Any]:
    """Replace what was declared before (types: text, number, date, boolean); the
    effective catalog is standard, then declared, then learned."""
    allow(request, account, "write")
    settings = settings_of(request)
    catalog = Catalog.from_json(declared)
    CatalogStore(settings.es, catalog_index_name(settings.index)).declare(account, catalog)
    settings.forget(account)
    return describe(_catalog(request, account))


@router.get("/catalog/react-querybuilder", summary="The catalog as react-querybuilder fields")
def get_rqb_fields(account: str, request: Request) -> list[dict[str, Any]]:
    allow(request, account, "read")
    return fields_config(_catalog(request, account))


def _imported(convert: Callable[[Any, Catalog], ast.Expr], query: Any, request: Request,
              account: str) -> Imported:
    allow(request, account, "read")
    try:
        tree = convert(query, _catalog(request, account))
    except SegmentError as error:
        error.pointer_prefix = ""  # type: ignore[attr-defined]
        raise
    return Imported(ast=json.loads(to_json(tree)), text=fmt(tree))


@router.post("/import/react-querybuilder", response_model=Imported,
             summary="Convert a react-querybuilder query")
def import_rqb(account: str, request: Request, query: RqbQuery) -> Imported:
    """A RuleGroupType (or its independent-combinators form) as segql's JSON form and text;
    anything with no segql meaning is a problem whose diagnostics point (JSON Pointer) at
    the offending member of the query."""
    return _imported(from_rqb, query, request, account)


@router.post("/import/jquery-querybuilder", response_model=Imported,
             summary="Convert a jQuery QueryBuilder query")
def import_jquery(account: str, request: Request, query: JqueryQuery) -> Imported:
    return _imported(from_jquery, query, request, account)
