"""The OpenAPI 3.1 document as clients see it: every operation's failures are RFC 9457
problem details (`application/problem+json`, the `Problem` schema) — FastAPI's own
validation-error shape is never sent, so it is not described either."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["pointer", "message"],
            "properties": {"pointer": {"type": "string"}, "message": {"type": "string"}}}},
        "incident": {"type": "string"},
    },
}
_DEFAULT = {
    "description": "A problem (RFC 9457): status, title, detail; a segment's diagnostics",
    "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}},
}


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every error response described as a problem."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["default"] = _DEFAULT
    app.openapi_schema = document
    return document
