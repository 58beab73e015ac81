"""How segql gets an Elasticsearch client.

Why one place: every command and test must agree on which cluster they talk to.
An explicit ``ELASTICSEARCH_URL`` always wins (and nothing local is started);
otherwise segql talks to its managed local node (``SEGQL_NODE``, default
"default") started by ``segql es up`` — over TLS with the node's CA and its stored
superuser credentials when it was started with ``--secure`` (unless
``ELASTICSEARCH_API_KEY`` / ``ELASTICSEARCH_USERNAME`` name other credentials).

Environment:
    ELASTICSEARCH_URL        external cluster, e.g. https://es.example:9200 (several nodes
                             of it comma-separated: the client tries the next when one fails)
    ELASTICSEARCH_API_KEY    API key (encoded form) for it, or
    ELASTICSEARCH_USERNAME / ELASTICSEARCH_PASSWORD   basic auth
    ELASTICSEARCH_CA_CERTS   CA bundle to verify its TLS certificate
    SEGQL_NODE               managed node name (default "default")
    SEGQL_TIMEOUT            request timeout in seconds (default 30)
"""

from __future__ import annotations

import copy
import os
import urllib.parse
from typing import Any

from elasticsearch import Elasticsearch

from segql.localnode import ROLE_PRIVILEGES, LocalCluster, LocalNode, LocalNodeError
from segql.stores.failures import ClusterError, NoClusterError, translate

__all__ = ["NoClusterError", "cluster_failure", "connect", "create_api_key", "describe",
           "external_url", "invalidate_api_keys", "list_api_keys", "node_name", "redact",
           "request_timeout", "resolve_url", "role_descriptor"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3


def external_url() -> str | None:
    """`$ELASTICSEARCH_URL` if set (non-empty), else None."""
    url = os.environ.get("ELASTICSEARCH_URL", "").strip()
    return url or None


def node_name() -> str:
    """Managed node segql uses when no URL is given (`$SEGQL_NODE`)."""
    return os.environ.get("SEGQL_NODE", "").strip() or "default"


def request_timeout() -> float:
    """Per-request timeout from `$SEGQL_TIMEOUT` (seconds), default 30."""
    raw = os.environ.get("SEGQL_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"SEGQL_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"SEGQL_TIMEOUT must be positive, got {raw!r}")
    return value


def redact(url: str) -> str:
    """url without user:password, so it can be printed and logged (each of a
    comma-separated list of URLs)."""
    if "," in url:
        return ",".join(redact(one.strip()) for one in url.split(","))
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def configured_url() -> str | None:
    """The cluster segql talks to, without credentials, for messages; None if none is
    configured or running. Never raises."""
    try:
        url = external_url() or _managed_url(node_name())
    except Exception:  # a broken node state file: no URL to name
        return None
    return redact(url) if url else None


def cluster_failure(error: BaseException) -> ClusterError | None:
    """What `error` means as a failure of the configured cluster (`failures.translate`
    with its URL and timeout), or None if it is not such a failure."""
    try:
        timeout: float | None = request_timeout()
    except ValueError:
        timeout = None
    return translate(error, configured_url(), timeout)


def resolve_url() -> str:
    """The URL segql should use: `$ELASTICSEARCH_URL`, else the running managed node."""
    url = external_url()
    if url:
        return url
    name = node_name()
    running = _managed_url(name)
    if running is None:
        raise NoClusterError(
            f"no Elasticsearch: the managed node {name!r} is not running; "
            "run `segql es up` or set ELASTICSEARCH_URL"
        )
    return running


def _managed_url(name: str) -> str | None:
    """The running managed node's URL, or a local cluster's running nodes' URLs
    (comma-separated); None if none runs."""
    cluster = LocalCluster(name)
    if cluster.spec() is not None:
        return ",".join(cluster.urls()) or None
    return LocalNode(name).url


def _env_auth(kwargs: dict[str, Any]) -> bool:
    """Put the environment's API key or basic auth into `kwargs`; True if it had any."""
    api_key = os.environ.get("ELASTICSEARCH_API_KEY")
    username = os.environ.get("ELASTICSEARCH_USERNAME")
    if api_key:
        kwargs.pop("basic_auth", None)
        kwargs["api_key"] = api_key
    elif username:
        kwargs["basic_auth"] = (username, os.environ.get("ELASTICSEARCH_PASSWORD") or "")
    return bool(api_key or username)


def connect(url: str | None = None, *, superuser: bool = False) -> Elasticsearch:
    """A client for `url`, `$ELASTICSEARCH_URL` or the managed node (in that order).

    Credentials and CA come from the environment for an explicit or external URL.
    A secure managed node is verified with its own CA and, unless the environment names
    credentials (and `superuser` is false), reached with its stored superuser (never
    printed); `superuser` is for administering the managed node (`segql es api-key`).
    Never calls `info()`: `GET /` is 405 on the pinned distribution.
    """
    external = url is not None or external_url() is not None
    target = url or resolve_url()
    kwargs: dict[str, Any] = {
        "request_timeout": request_timeout(),
        "retry_on_timeout": True,
        "max_retries": DEFAULT_MAX_RETRIES,
    }
    hosts = []
    # several nodes of one cluster, comma-separated: the client goes on to the next when
    # one does not answer
    for one in (part.strip() for part in target.split(",")):
        parts = urllib.parse.urlsplit(one)
        if parts.username is not None:
            # Credentials embedded in the URL: basic auth, kept out of the hosts.
            kwargs["basic_auth"] = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
            one = urllib.parse.urlunsplit(
                parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        hosts.append(one)
    if external:
        _env_auth(kwargs)
        ca_certs = os.environ.get("ELASTICSEARCH_CA_CERTS")
        if ca_certs and target.startswith("https:"):  # no TLS to verify on http:
            kwargs["ca_certs"] = ca_certs
    elif target.startswith("https:"):
        node = LocalNode(node_name())
        kwargs["ca_certs"] = str(node.ca_cert_file)
        if superuser or not _env_auth(kwargs):
            kwargs.pop("api_key", None)
            try:
                kwargs["basic_auth"] = node.credentials()
            except LocalNodeError as exc:
                raise NoClusterError(str(exc)) from None
    return Elasticsearch(hosts if len(hosts) > 1 else hosts[0], **kwargs)


def role_descriptor(role: str, index: str | None = None) -> dict[str, Any]:
    """ROLE_PRIVILEGES[role], over `index` and its store indices (`<index>`, `<index>-*`:
    catalog, segments, checkpoints, tokens, reindex copies) instead of `segql-*` if given."""
    if role not in ROLE_PRIVILEGES:
        raise ValueError(f"unknown role {role!r}; use one of {sorted(ROLE_PRIVILEGES)}")
    descriptor = copy.deepcopy(ROLE_PRIVILEGES[role])
    if index is not None:
        for entry in descriptor["indices"]:
            entry["names"] = [index, f"{index}-*"]
    return descriptor


def create_api_key(
    client: Elasticsearch, role: str, name: str | None = None, expiration: str | None = None,
    index: str | None = None,
) -> dict[str, Any]:
    """An API key limited to `role` ("read" or "write", see ROLE_PRIVILEGES; over the
    indices `segql-*`, or `index` and `index-*`): its `id`, `name` and `encoded` form (the
    secret: give it to ELASTICSEARCH_API_KEY, never log it).

    The client must be allowed to manage API keys (e.g. the managed node's superuser)."""
    descriptor = role_descriptor(role, index)
    key_name = name or f"segql-{role}"
    extra: dict[str, Any] = {"expiration": expiration} if expiration else {}
    response = client.security.create_api_key(
        name=key_name,
        role_descriptors={f"segql_{role}": descriptor},
        metadata={"segql_role": role, "segql_indices": descriptor["indices"][0]["names"]},
        **extra,
    )
    return {"id": response["id"], "name": response["name"], "role": role,
            "encoded": response["encoded"], "expiration": response.get("expiration")}


def list_api_keys(client: Elasticsearch) -> list[dict[str, Any]]:
    """The API keys segql created (metadata `segql_role`), valid or not, oldest first:
    id, name, role, indices, creation, expiration, invalidated — never a secret."""
    response = client.security.query_api_keys(
        query={"exists": {"field": "metadata.segql_role"}}, size=1000,
        sort=[{"creation": {"order": "asc"}}])
    keys: list[dict[str, Any]] = []
    for key in response.get("api_keys", []):
        meta = key.get("metadata") or {}
        keys.append({"id": key["id"], "name": key.get("name"), "role": meta.get("segql_role"),
                     "indices": meta.get("segql_indices"), "creation": key.get("creation"),
                     "expiration": key.get("expiration"),
                     "invalidated": bool(key.get("invalidated"))})
    if len(keys) < int(response.get("total", len(keys))):
        raise ValueError(f"more than {len(keys)} segql API keys; invalidate unused ones")
    return keys


def invalidate_api_keys(client: Elasticsearch, ids: list[str]) -> list[str]:
    """Invalidate the API keys `ids` (at once, on every node); returns the ids that were
    valid and are invalidated now."""
    response = client.security.invalidate_api_key(ids=ids)
    return [str(i) for i in response.get("invalidated_api_keys", [])]


def describe(client: Elasticsearch) -> dict[str, Any]:
    """Server version, cluster name and health of whatever `client` points at.

    Uses `_cluster/health` and `_nodes/_local`, which work on the pinned
    distribution (whose `GET /` answers 405).
    """
    health = client.cluster.health()
    nodes = client.nodes.info(node_id="_local", filter_path="nodes.*.name,nodes.*.version")
    info: dict[str, Any] = next(iter((nodes.get("nodes") or {}).values()), {})
    return {
        "cluster_name": health.get("cluster_name"),
        "health": health.get("status"),
        "number_of_nodes": health.get("number_of_nodes"),
        "version": info.get("version"),
    }
