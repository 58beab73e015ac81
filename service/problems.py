"""Errors as RFC 9457 problem details (`application/problem+json`): every failure a client
sees has a status, a stable `type`, a plain `title` and `detail`, and for a segment its
diagnostics (code, message, hint, and line/column for text or a JSON Pointer for the JSON
form). No traceback, exception class name or raw Elasticsearch message reaches a client;
an unexpected fault is logged on the server with an id the client is given.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from segql.api import ContactNotFoundError, CursorError
from segql.errors import InputError, SegmentError, SegqlError
from segql.stores.connection import cluster_failure
from segql.stores.failures import ClusterError, ShardsUnavailableError
from segql.stores.saved_segments import (
    DuplicateSegmentError,
    SegmentConflictError,
    SegmentInUseError,
    SegmentNotFoundError,
    SegmentStoreError,
)

log = logging.getLogger("segql.service")
PROBLEM = "application/problem+json"
_TYPES = "https://segql.dev/problems/"
#: Seconds a client is asked to wait when Elasticsearch is overloaded and did not say.
BUSY_RETRY_AFTER = 5


class Problem(Exception):
    """A client-facing failure with its HTTP status."""

    def __init__(self, status: int, kind: str, title: str, detail: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail, self.extra = (status, kind, title,
                                                                       detail, extra)


def problem(status: int, kind: str, title: str, detail: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": _TYPES + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM,
                    headers=headers)


def _segment_problem(error: SegmentError, prefix: str = "") -> Response:
    diagnostics = []
    for diagnostic in error.diagnostics:
        item = diagnostic.to_json()
        if diagnostic.pointer is not None:
            item["pointer"] = prefix + diagnostic.pointer
            for key in ("line", "column", "end_line", "end_column"):
                item.pop(key, None)
        diagnostics.append(item)
    first = error.diagnostics[0].message if error.diagnostics else "invalid segment"
    return problem(422, "invalid-segment", "The segment is not valid", first,
                   diagnostics=diagnostics)


def to_problem(error: Exception) -> Response:
    """The problem response for any exception (the one place that decides)."""
    if isinstance(error, Problem):
        return problem(error.status, error.kind, error.title, error.detail, **error.extra)
    if isinstance(error, SegmentError):
        return _segment_problem(error, getattr(error, "pointer_prefix", ""))
    if isinstance(error, SegmentNotFoundError | ContactNotFoundError):
        return problem(404, "not-found", "Not found", str(error))
    if isinstance(error, DuplicateSegmentError | SegmentInUseError | SegmentConflictError):
        return problem(409, "conflict", "Conflict", str(error))
    if isinstance(error, SegmentStoreError):  # a name or description that can't be saved
        return problem(422, "invalid-request", "The saved segment is not valid", str(error))
    if isinstance(error, CursorError):
        return problem(400, "bad-cursor", "The cursor cannot be used", str(error))
    if isinstance(error, InputError):
        return problem(400, "bad-request", "Bad request", str(error))
    cluster = cluster_failure(error)
    if cluster is None and isinstance(error.__cause__, ClusterError):
        cluster = error.__cause__  # e.g. the indexer gave up on a failing cluster
    if cluster is not None:
        return cluster_problem(cluster)
    if isinstance(error, SegqlError):  # by its exit code: input, runtime, internal
        status = {2: 400, 3: 500}.get(error.exit_code, 503)
        return problem(status, "bad-request" if status == 400 else "failed",
                       "Bad request" if status == 400 else "The request failed", str(error))
    incident = _log(error)
    return problem(500, "internal", "Internal error",
                   f"the fault is logged on the server as incident {incident}",
                   incident=incident)


def cluster_problem(error: ClusterError) -> Response:
    """What a client is told when Elasticsearch fails (stores/failures.py's kinds). The
    operator's sentence (the cluster's URL, the next step) goes to the server log, never
    to the client; failures the operator must look into get an incident id."""
    kind = error.kind
    if kind == "unknown-index":
        log.warning("%s", error)
        return problem(404, "no-contact-index", "No contact index",
                       "the service's contact index does not exist yet: no records were "
                       "ever sent; send records to the account's /records first")
    if kind == "timeout":
        log.warning("%s", error)
        return problem(504, "search-timeout", "Elasticsearch did not answer in time",
                       "try again; if it persists, the cluster is overloaded")
    if kind == "overloaded":
        log.warning("%s", error)
        return problem(503, "search-busy", "Elasticsearch is overloaded", "try again later",
                       headers={"Retry-After": str(error.retry_after or BUSY_RETRY_AFTER)})
    if isinstance(error, ShardsUnavailableError):
        log.warning("%s", error)
        return problem(503, "search-incomplete", "Part of the contact index is unavailable",
                       "Elasticsearch could not read every shard, and no partial answer is "
                       "given: try again once the cluster has recovered")
    if kind == "unreachable" or (kind == "server-error" and error.status == 503):
        log.warning("%s", error)
        return problem(503, "search-unavailable", "Elasticsearch is unreachable",
                       "the service cannot reach its cluster; try again later")
    incident = _log(error)
    if kind in ("tls", "authentication", "forbidden", "not-elasticsearch"):
        return problem(502, "search-misconfigured", "The service cannot use its cluster",
                       f"its connection to Elasticsearch is misconfigured; the operator "
                       f"finds incident {incident} in the server log", incident=incident)
    return problem(502, "search-failed", "Elasticsearch refused the request",
                   f"incident {incident}", incident=incident)


def _log(error: Exception) -> str:
    incident = uuid.uuid4().hex[:12]
    if isinstance(error, ClusterError):  # the sentence, and what Elasticsearch said
        log.error("incident %s: %s", incident, error, exc_info=error.__cause__)
    else:
        log.error("incident %s", incident, exc_info=error)
    return incident


def _validation_detail(error: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for item in error.errors()[:20]:
        where = [str(part) for part in item.get("loc", ()) if part != "body"]
        out.append({"pointer": "/" + "/".join(where) if where else "",
                    "message": _plain(item)})
    return out


def _plain(item: Any) -> str:
    kind = str(item.get("type", ""))
    words = {
        "missing": "this member is required",
        "extra_forbidden": "this member is not allowed here",
        "string_type": "a string is expected",
        "int_type": "a whole number is expected",
        "int_parsing": "a whole number is expected",
        "bool_type": "true or false is expected",
        "dict_type": "an object is expected",
        "list_type": "a list is expected",
        "model_type": "an object is expected",
        "json_invalid": "the body is not valid JSON",
        "literal_error": "not one of the allowed values",
        "greater_than_equal": "the number is too small",
        "less_than_equal": "the number is too large",
        "string_too_long": "the string is too long",
        "string_too_short": "the string is too short",
        "too_short": "too few items",
        "too_long": "too many items",
        "value_error": "not a valid value",
    }
    return words.get(kind, "not a valid value")


async def on_exception(request: Request, error: Exception) -> Response:
    return to_problem(error)


async def on_validation(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return problem(422, "invalid-request", "The request is not valid",
                   "see `errors`", errors=_validation_detail(error))


async def on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:  # every method of the path, not only one route's
        headers["Allow"] = ", ".join(sorted(allowed_methods(request)))
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
    return problem(error.status_code, "http-" + str(error.status_code),
                   titles.get(error.status_code, "Request failed"),
                   error.detail if isinstance(error.detail, str) else None,
                   headers=headers)


def allowed_methods(request: Request) -> set[str]:
    """The methods some route of the app serves at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return methods
