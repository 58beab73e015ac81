"""What goes wrong between segql and Elasticsearch, said once in plain words.

`translate` turns whatever elasticsearch-py or elastic-transport raise (connection refused,
a TLS handshake that fails, a timeout, an HTTP error answer, an `msearch` item's error)
into a `ClusterError`: one class per kind of failure, whose message names the cluster (its
URL, never its credentials) and the next step, with no exception name, Python repr or raw
Elasticsearch text. The CLI prints it (exit 1, `cli/common.py`) and the HTTP service
answers it as a problem (`service/problems.py`); nothing else words these failures.

The kinds: unreachable, tls, authentication, forbidden, unknown-index, rejected (400, 409,
413 and other refusals), overloaded (429), timeout, server-error (5xx, and a search some
shards could not answer: `complete`, `ShardsUnavailableError`), not-elasticsearch.

Never a partial answer: every search segql sends goes through `segql.stores.searches`,
which asks with `allow_partial_search_results=false` and hands each answer (each `msearch`
item too) to `complete`, so an answer from part of the shards is an error, never a result.
"""

from __future__ import annotations

import builtins
import errno
import http.client
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from elastic_transport import NodeConfig
from elasticsearch import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    SerializationError,
    SSLError,
    TransportError,
    UnsupportedProductError,
)

from segql.errors import SegqlError
from segql.localnode.security import ROLE_PRIVILEGES

#: Why each Elasticsearch error type happens, in the user's words (types not listed are
#: shown as their words: `foo_bar_exception` → "foo bar").
_REASONS = {
    "invalid_index_name_exception": "the index name is not valid",
    "resource_already_exists_exception": "it already exists",
    "version_conflict_engine_exception": "a document changed meanwhile; run it again",
    "index_closed_exception": "the index is closed",
    "cluster_block_exception": "the index is blocked, e.g. read-only because the disk is "
                               "nearly full",
    "query_shard_exception": "the query does not fit the index's fields: is it a segql "
                             "contact index?",
    "illegal_argument_exception": "the request does not fit the index: is it a segql "
                                  "contact index?",
    "parsing_exception": "the request could not be parsed",
    "x_content_parse_exception": "the request could not be parsed",
    "mapper_parsing_exception": "a document does not fit the index's mapping",
    "document_parsing_exception": "a document does not fit the index's mapping",
    "strict_dynamic_mapping_exception": "a document does not fit the index's mapping",
    "too_many_nested_clauses": "the query has too many clauses",
    "too_many_clauses": "the query has too many clauses",
    "search_context_missing_exception": "the snapshot of the search expired; run it again",
    "action_request_validation_exception": "the request is not valid",
    "no_shard_available_action_exception": "no copy of the index is available",
    "circuit_breaking_exception": "it is short of memory",
    "es_rejected_execution_exception": "its queues are full",
    "request_entity_too_large": "the request is too large",
}
#: Signs in a TLS library's reason that the other end does not speak TLS at all.
_PLAIN_TEXT = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL",
               "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST")


class ClusterError(SegqlError):
    """Elasticsearch could not be used (exit 1). `url` is the cluster without credentials
    (None when unknown: `located` fills it in); `status` its HTTP answer, if any.

    Each kind's message is its `wording` (the classes below make one table of them),
    filled in with the `_PIECES` it names by the one builder, `sentence`."""

    exit_code = 1
    kind: ClassVar[str] = "failed"
    wording: ClassVar[str] = "{where} failed ({detail})"

    def __init__(self, detail: str = "", *, url: str | None = None,
                 status: int | None = None, index: str | None = None,
                 retry_after: int | None = None, timeout: float | None = None) -> None:
        super().__init__(detail)
        self.detail, self.url, self.status, self.index = detail, url, status, index
        self.retry_after, self.timeout = retry_after, timeout

    def located(self, url: str | None, timeout: float | None = None) -> ClusterError:
        """This error, with the cluster's URL and timeout where it did not know them."""
        self.url = self.url or url
        self.timeout = self.timeout or timeout
        return self

    @property
    def where(self) -> str:
        return f"Elasticsearch at {self.url}" if self.url else "Elasticsearch"

    def sentence(self) -> str:
        return self.wording.format(**{name: piece(self) for name, piece in _PIECES.items()})

    def __str__(self) -> str:
        return self.sentence()


#: The pieces a wording may name, each from the error: `{where}` the cluster, `{detail}`
#: what failed, and the optional parts each kind words in its own way.
_PIECES: dict[str, Callable[[ClusterError], str]] = {
    "where": lambda e: e.where,
    "detail": lambda e: e.detail,
    "connection": lambda e: e.detail or "the connection failed",
    "index": lambda e: f"`{e.index}`" if e.index else "of that name",
    "status": lambda e: f"{e.status}: " if e.status else "",
    "because": lambda e: f": {e.detail}" if e.detail else "",
    "aside": lambda e: _aside(e.detail),
    "why": lambda e: _aside(": ".join(str(part) for part in (e.status, e.detail) if part)),
    "within": lambda e: f"within {e.timeout:g} s " if e.timeout else "in time ",
    "server": lambda e: f"the server at {e.url}" if e.url else "the server",
}


def _aside(text: str) -> str:
    return f" ({text})" if text else ""


class UnreachableError(ClusterError):
    kind = "unreachable"
    wording = ("cannot reach {where} ({connection}): start it with `segql es up` or set "
               "ELASTICSEARCH_URL")


class NoClusterError(UnreachableError, builtins.ConnectionError):
    """No cluster is configured or running; the message says how to get one (exit 1)."""

    wording = "{detail}"


class TlsFailedError(ClusterError):
    kind = "tls"
    wording = "the TLS handshake with {where} failed: {detail}"


class PlainToTlsError(TlsFailedError):
    """Plain HTTP sent to what seems to be a TLS port: no handshake was even tried."""

    wording = ("{where} {detail}: use an https:// URL (ELASTICSEARCH_CA_CERTS names its "
               "CA)")


class CredentialsError(ClusterError):
    kind = "authentication"
    wording = ("{where} refused the credentials (401): check ELASTICSEARCH_API_KEY or "
               "ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD")


class ForbiddenError(ClusterError):
    kind = "forbidden"
    wording = ("{where} does not allow these credentials {detail} (403): use a user or API "
               "key with segql's read or write role (docs/security.md)")


class AdministrationForbiddenError(ForbiddenError):
    """Refused something that neither of segql's roles grants: an administrator's job
    (`segql reindex` needs `manage`), not a read key used to write."""

    wording = ("{where} does not allow these credentials {detail} (403): this is an "
               "administrator's job that segql's read and write roles do not cover (`segql "
               "reindex` needs `manage` on the indices, `segql es api-key` needs "
               "`manage_api_key`; docs/security.md)")


class MissingIndexError(ClusterError):
    kind = "unknown-index"
    wording = ("no index {index} on {where}: load contacts with `segql index` or choose "
               "another --index")


class RejectedError(ClusterError):
    kind = "rejected"
    wording = "{where} rejected the request ({status}{detail})"


class OverloadedError(ClusterError):
    kind = "overloaded"
    wording = "{where} is overloaded (429{because}): retry later"


class NoAnswerError(ClusterError):
    kind = "timeout"
    wording = ("{where} did not answer {within}(SEGQL_TIMEOUT): retry later, or raise "
               "SEGQL_TIMEOUT if the cluster is busy")


class ServerFailedError(ClusterError):
    kind = "server-error"
    wording = "{where} failed{why}: check its health with `segql es status` and retry"


class ShardsUnavailableError(ServerFailedError):
    """Part of the index could not be read (a shard unassigned, its node gone, a search
    that timed out): segql gives no partial answer. `detail` says how much failed."""

    wording = ("{where} failed (503) because part of the index is unavailable{aside}: "
               "segql gives no partial answer; check its health with `segql es status` "
               "and retry once the cluster is yellow or green")


#: Error types that mean a shard (or the snapshot over it) could not be read.
_SHARD_LOST = {"no_shard_available_action_exception", "shard_not_found_exception",
               "node_not_connected_exception", "node_disconnected_exception",
               "node_closed_exception", "connect_transport_exception",
               "unavailable_shards_exception", "search_phase_execution_exception",
               "node_not_available_exception"}


def complete(response: Mapping[str, Any], url: str | None = None) -> dict[str, Any]:
    """`response` (a search's answer, an `msearch` item's, a point in time's), if every
    shard answered in time; else the ShardsUnavailableError it stands for. The one check of
    `_shards.failed` and `timed_out` that every search of segql goes through."""
    body = dict(response)
    found = body.get("_shards")
    shards: dict[str, Any] = found if isinstance(found, dict) else {}
    failed = int(shards.get("failed") or 0)
    if failed:
        total = shards.get("total")
        of = f" of {total}" if isinstance(total, int) else ""
        raise ShardsUnavailableError(f"{failed}{of} shards failed", url=url, status=503)
    if body.get("timed_out"):
        raise ShardsUnavailableError("the search timed out on some shards", url=url,
                                     status=503)
    return body


class NotElasticsearchError(ClusterError):
    kind = "not-elasticsearch"
    wording = "{server} does not answer like Elasticsearch: check ELASTICSEARCH_URL"


def translate(error: BaseException, url: str | None = None,
              timeout: float | None = None) -> ClusterError | None:
    """The ClusterError that says what `error` means, or None if it is not a failure of
    Elasticsearch or of the way to it. `url` (without credentials) and `timeout` are what
    the client was configured with; an HTTP answer's own node is used when `url` is None."""
    found = _classify(error, url)
    if found is None:
        return None
    if found is not error and found.__cause__ is None:
        found.__cause__ = error  # what Elasticsearch said, for a server's log
    return found.located(url, timeout)


def _classify(error: BaseException, url: str | None) -> ClusterError | None:
    if isinstance(error, ClusterError):
        return error
    if isinstance(error, UnsupportedProductError | SerializationError):
        return NotElasticsearchError(url=url or _node_url(error))
    if isinstance(error, ApiError):
        return from_answer(error.meta.status, error.body, url or _node_url(error),
                           error.meta.headers)
    if isinstance(error, ConnectionTimeout):
        return NoAnswerError()
    if isinstance(error, SSLError):
        return _tls(error)
    if isinstance(error, ConnectionError):
        return _connection(error, url)
    if isinstance(error, TransportError):  # e.g. a shard that could not answer
        return ServerFailedError()
    return None


def from_answer(status: int, body: Any, url: str | None = None,
                headers: Mapping[str, str] | None = None) -> ClusterError:
    """The error an HTTP answer of Elasticsearch (or an `msearch` item's `error` with its
    `status`) stands for."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and "type" in body and error is None:
        error = body  # an msearch item's `error` object itself
    kind, index = _error_type(error)
    if status == 401:
        return CredentialsError(url=url, status=status)
    if status == 403:
        refused = AdministrationForbiddenError if _beyond_roles(error) else ForbiddenError
        return refused(_forbidden_action(error), url=url, status=status)
    if status == 404 and kind == "index_not_found_exception":
        return MissingIndexError(url=url, status=status, index=index)
    if status == 429:
        return OverloadedError(_REASONS.get(kind, ""), url=url, status=status,
                               retry_after=_retry_after(headers))
    if status == 503 and kind in _SHARD_LOST:
        return ShardsUnavailableError(_words(kind) if kind != "search_phase_execution_"
                                      "exception" else "", url=url, status=status)
    if status >= 500:
        return ServerFailedError(_REASONS.get(kind, ""), url=url, status=status)
    if status == 413:
        return RejectedError("the request is too large: send less at once", url=url,
                             status=status)
    return RejectedError(reason_of(error), url=url, status=status)


def _error_type(error: Any) -> tuple[str, str | None]:
    """The most telling error type (a root cause's, when there is one) and the index it
    names, if any."""
    if not isinstance(error, dict):
        return "", None
    causes = [c for c in error.get("root_cause") or [] if isinstance(c, dict)]
    for item in error.get("failed_shards") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), dict):
            causes.append(item["reason"])
    best = causes[0] if causes else error
    if error.get("type") == "index_not_found_exception":
        best = error
    index = best.get("index") or best.get("resource.id") or error.get("index")
    return str(best.get("type") or error.get("type") or ""), (
        str(index) if isinstance(index, str) else None)


def reason_of(error: Any) -> str:
    """An error object of Elasticsearch (e.g. a bulk item's `error`) in plain words."""
    kind, _ = _error_type(error)
    return _words(kind) if kind else "no reason given"


def _words(kind: str) -> str:
    return _REASONS.get(kind) or kind.removesuffix("_exception").replace("_", " ")


def _forbidden_action(error: Any) -> str:
    """What the refused credentials tried, from the refusal's action name."""
    reason = str(error.get("reason") or "") if isinstance(error, dict) else ""
    action = re.search(r"action \[([^\]]+)\]", reason)
    if action is None:
        return "to do this"
    name = action.group(1)
    what = ("to read" if name.startswith("indices:data/read") else
            "to write" if name.startswith("indices:data/write") else
            "to create or change indices" if name.startswith("indices:admin") else
            "to do this")
    index = re.search(r"on indices \[([^\],]+)", reason)
    return what + (f" index `{index.group(1)}`" if index and what in ("to read", "to write")
                   else "")


#: The index and the cluster privileges segql's roles hold.
_ROLES_HOLD = {
    "index": {p for role in ROLE_PRIVILEGES.values() for e in role["indices"]
              for p in e["privileges"]},
    "cluster": {p for role in ROLE_PRIVILEGES.values() for p in role["cluster"]},
}


def _beyond_roles(error: Any) -> bool:
    """Whether a refusal names the privileges that grant the action and none of them is
    held by segql's read or write role."""
    reason = str(error.get("reason") or "") if isinstance(error, dict) else ""
    granted = re.search(r"granted by the (index|cluster) privileges \[([^\]]*)\]", reason)
    return granted is not None and not _ROLES_HOLD[granted.group(1)] & {
        p.strip() for p in granted.group(2).split(",")}


def _retry_after(headers: Mapping[str, str] | None) -> int | None:
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    return int(value) if value and value.strip().isdigit() else None


def _node_url(error: ApiError | TransportError) -> str | None:
    meta = getattr(error, "meta", None)
    node = getattr(meta, "node", None)
    return node_url(node) if isinstance(node, NodeConfig) else None


def node_url(node: NodeConfig) -> str:
    host = f"[{node.host}]" if ":" in node.host else node.host
    return f"{node.scheme}://{host}:{node.port}{node.path_prefix}"


def url_of(es: Elasticsearch) -> str | None:
    """The URL (no credentials) of a client's first node, for messages."""
    nodes = list(es.transport.node_pool.all())
    return node_url(nodes[0].config) if nodes else None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and everything under it: wrapped errors, causes, urllib3's reasons."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [e for e in getattr(item, "errors", ()) or () if isinstance(e, BaseException)]
        todo += [e for e in (item.__cause__, item.__context__, getattr(item, "reason", None))
                 if isinstance(e, BaseException)]
        todo += [e for e in getattr(item, "args", ()) if isinstance(e, BaseException)]


def _tls(error: BaseException) -> TlsFailedError:
    text = " ".join(str(getattr(e, "reason", "") or "") + " " + type(e).__name__ + " " +
                    str(e) for e in _causes(error) if isinstance(e, ssl.SSLError))
    text = text.upper() or str(error).upper()
    if any(sign in text for sign in _PLAIN_TEXT):
        return TlsFailedError("it does not speak TLS on that port: use an http:// URL")
    if "HOSTNAME" in text or "IP ADDRESS MISMATCH" in text:
        return TlsFailedError("its certificate is for another host name: use the name in "
                              "its certificate in ELASTICSEARCH_URL")
    if "CERTIFICATE_VERIFY_FAILED" in text or "CERTIFICATE" in text:
        return TlsFailedError("its certificate is not trusted: set ELASTICSEARCH_CA_CERTS "
                              "to the CA file that signed it")
    return TlsFailedError("check the URL, and set ELASTICSEARCH_CA_CERTS to the CA file "
                          "of its certificate")


def _connection(error: ConnectionError, url: str | None) -> ClusterError:
    causes = list(_causes(error))
    if any(isinstance(e, ssl.SSLError) for e in causes):
        return _tls(error)
    if any(isinstance(e, socket.timeout | builtins.TimeoutError) for e in causes):
        return NoAnswerError()
    codes = {e.errno for e in causes if isinstance(e, OSError) and e.errno is not None}
    text = " ".join(str(e) for e in causes)
    if any(isinstance(e, socket.gaierror) for e in causes) or "resolve" in text:
        return UnreachableError("its host name is not known")
    if errno.ECONNREFUSED in codes or "refused" in text.lower():
        return UnreachableError("connection refused")
    if codes & {errno.EHOSTUNREACH, errno.ENETUNREACH}:
        return UnreachableError("no route to its host")
    tls_bytes = "\\x15\\x03" in text or "\x15\x03" in text
    closed = any(isinstance(e, http.client.RemoteDisconnected | ConnectionResetError)
                 for e in causes) or errno.ECONNRESET in codes
    if tls_bytes:
        return PlainToTlsError("answered in TLS, not plain HTTP")
    if closed and (url or "").startswith("http:"):
        return PlainToTlsError("closed the connection without answering, as a TLS port "
                               "does to plain HTTP")
    if closed:
        return UnreachableError("it closed the connection without answering")
    return UnreachableError()
