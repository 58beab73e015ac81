"""A real `segql serve` for the HTTP tests: the command started as a subprocess on a free
port (uvicorn, real HTTP), over its own contact index on the test node, with tokens made
through the token store. Nothing is mocked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch
from housekeeping import admin

from segql.localnode import free_port
from segql.stores.tokens import TokenStore, token_index_name

SEGQL = str(Path(sys.executable).with_name("segql"))


@dataclass
class Service:
    url: str
    index: str
    es: Elasticsearch
    #: (account, scope) → secret
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def client(self, account: str | None = None, scope: str = "write",
               timeout: float = 60.0) -> httpx.Client:
        """An HTTP client with the bearer token of (account, scope), or none."""
        headers = {}
        if account is not None:
            headers["Authorization"] = f"Bearer {self.token(account, scope)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def token(self, account: str, scope: str = "write") -> str:
        key = (account, scope)
        if key not in self.tokens:
            _, secret = TokenStore(self.es, token_index_name(self.index)).create(account, scope)
            self.tokens[key] = secret
        return self.tokens[key]


def indices(index: str) -> str:
    return ",".join(f"{index}{suffix}" for suffix in ("", "-catalog", "-segments", "-tokens",
                                                        "-checkpoints"))


@contextmanager
def running_service(es: Elasticsearch, es_url: str, *, workers: int = 1,
                    no_auth: bool = False, index: str | None = None,
                    cleanup: bool = True) -> Iterator[Service]:
    """`segql serve` on a free loopback port until the block ends; its indices go after
    (unless `cleanup` is False: for a given index that outlives the service)."""
    index = index or f"segql-http-{uuid.uuid4().hex[:10]}"
    service = Service(url="", index=index, es=es)
    if not no_auth:
        service.token("bootstrap", "read")  # serve refuses to start without a token
    port = free_port()
    env = {**os.environ, "ELASTICSEARCH_URL": es_url}
    argv = [SEGQL, "serve", "--host", "127.0.0.1", "--port", str(port), "--index", index,
            "--workers", str(workers), *(["--no-auth"] if no_auth else [])]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    service.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"segql serve exited {process.returncode}: {output}")
            try:
                if httpx.get(service.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("segql serve did not answer within 60 s")
            time.sleep(0.1)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if cleanup:
            admin(es).options(ignore_status=404).indices.delete(index=indices(index),
                                                         ignore_unavailable=True)
