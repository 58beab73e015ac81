"""Loopback servers that stand in for a failing Elasticsearch — used ONLY for failures a
real node can't be made to give on demand: an answer of 401, 403, 429 or 500 (each with
the `X-Elastic-Product: Elasticsearch` header and the JSON error body a real node sends),
a cluster that accepts connections and never answers (a timeout), and a TLS port that
speaks no plain HTTP. Everything else in the tests talks to the real node."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: What the failure tests share: an account, a port nothing listens on, the indices a
#: contact index name stands for, and what must never reach a user.
A = "acme"
UNREACHABLE = "http://127.0.0.1:1"
SUFFIXES = ("", "-catalog", "-segments", "-tokens", "-checkpoints")
LEAKS = ("Error(", "Exception", "exception", "Traceback", "ConnectionError", "ApiError",
         "TransportError", "HTTPConnection", "urllib3", "Errno", "NotFoundError",
         "BadRequestError", "object at 0x", 'File "', "index_not_found", "query_shard",
         "[400]", "[404]")


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


#: What a real node answers, by status (bodies as Elasticsearch 9 words them).
ANSWERS: dict[int, dict[str, Any]] = {
    401: _error(401, "security_exception",
                "missing authentication credentials for REST request [/segql/_search]"),
    403: _error(403, "security_exception",
                "action [indices:data/read/search] is unauthorized for user [segql_read] "
                "with effective roles [segql_read] on indices [other], this action is "
                "granted by the index privileges [read,all]"),
    429: _error(429, "es_rejected_execution_exception",
                "rejected execution of TimedRunnable on TaskExecutionTimeTrackingEsThread"
                "PoolExecutor[name = node/search, queue capacity = 1000]"),
    500: _error(500, "null_pointer_exception", "Cannot invoke \"Object.toString()\""),
    503: _error(503, "search_phase_execution_exception", "all shards failed"),
}


@contextmanager
def answering(status: int, retry_after: str | None = None,
              product: bool = True) -> Iterator[str]:
    """A loopback HTTP server that answers every request with `status` and the body of
    ANSWERS (`{}` for another status), like a real node would — or, with `product`
    False, like a server that is not Elasticsearch (no `X-Elastic-Product`). Yields its
    URL."""
    body = json.dumps(ANSWERS.get(status, {})).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            if product:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", "application/json")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="security"')
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def _accepting(wrap: Any = None) -> Iterator[int]:
    """A loopback socket that accepts every connection (through `wrap`, if given) and
    then holds it without a word; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection = listener.accept()[0]
            except OSError:
                continue
            if wrap is not None:
                try:
                    connection.settimeout(2)
                    connection = wrap(connection)
                except (OSError, ssl.SSLError):
                    connection.close()
                    continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@contextmanager
def silent() -> Iterator[str]:
    """A cluster that accepts connections and never answers: every request times out.
    Yields its URL."""
    with _accepting() as port:
        yield f"http://127.0.0.1:{port}"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost and its key, made by `openssl`."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@contextmanager
def tls_port(directory: Path) -> Iterator[int]:
    """A port that speaks only TLS (a self-signed certificate) and never answers over it,
    as a secure node's HTTP port looks to a client that expects something else. Yields
    the port: use it with http:// (plain text to a TLS port) or https:// (a certificate
    nobody trusts)."""
    cert, key = self_signed(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def wrap(connection: socket.socket) -> ssl.SSLSocket:
        return context.wrap_socket(connection, server_side=True)

    with _accepting(wrap) as port:
        yield port
