"""The HTTP service (`segql serve`): FastAPI over the library, versioned under /v1, with
its OpenAPI 3.1 document at /openapi.json and an API reference at /docs that needs no
internet access (Swagger UI's files ship with the package)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from elasticsearch import ApiError, TransportError
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from segql.errors import SegqlError
from segql.service import (
    account_routes,
    catalog_routes,
    ingest_routes,
    language_routes,
    page_routes,
    segment_routes,
)
from segql.service.auth import tokens_of
from segql.service.openapi import problem_openapi
from segql.service.problems import Problem, on_exception, on_http, on_validation, problem
from segql.service.settings import Settings

_STATIC = Path(fastapi_offline.__file__).parent / "static"


class BodyLimit:
    """413 for a body over `limit` bytes by its Content-Length, before anything reads it
    (a plain ASGI middleware: no per-request cost beyond a header look-up; a chunked body
    is bounded where it is read)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit()
                                                  or int(value) > self.limit):
                    response = problem(413, "too-large", "Request too large",
                                       f"bodies are limited to {self.limit:,} bytes")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.tokens = tokens_of(settings)
        yield

    app = FastAPI(
        title="segql", version=version("segql"), lifespan=lifespan,
        description="Dynamic segments for e-mail, SMS and push: the segment language, "
                    "counts, recipients and ingestion over HTTP. Errors are RFC 9457 "
                    "problem details. See docs/api.md.",
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.tokens = tokens_of(settings)
    app.mount("/static-docs", StaticFiles(directory=_STATIC), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="segql API",
                                   swagger_js_url="/static-docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static-docs/swagger-ui.css",
                                   swagger_favicon_url="/static-docs/favicon.png")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, limit=settings.max_body)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    # the failures a client can cause or a cluster can have: answered, not logged as faults
    for kind in (Problem, SegqlError, ApiError, TransportError):
        app.add_exception_handler(kind, on_exception)
    app.add_exception_handler(Exception, on_exception)  # a fault: logged with an incident id
    for module in (language_routes, account_routes, segment_routes, catalog_routes,
                   ingest_routes):
        app.include_router(module.router)
    page_routes.mount(app)
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    return app
