"""`segql es ...`: start, stop and inspect the managed local Elasticsearch node.

Why a CLI group: developers, CI and the test fixture all need the same
one-command way to get a pinned Elasticsearch without Docker.  Failures are
printed as one human message on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from segql.localnode import (
    PINNED_VERSION,
    ROLE_PRIVILEGES,
    LocalCluster,
    LocalNode,
    LocalNodeError,
)
from segql.stores.connection import (
    NoClusterError,
    cluster_failure,
    connect,
    create_api_key,
    describe,
    external_url,
    invalidate_api_keys,
    list_api_keys,
    redact,
)

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_EXIT_CODES = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  failure (node not running, cannot start/stop, cluster unreachable)\n"
    "  2  usage error (bad option or value)"
)


def _fail(message: str) -> NoReturn:
    """Print a one-line human error on stderr and exit 1."""
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_FAILURE)


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _validate_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        LocalNode(value)
    except LocalNodeError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _validate_heap(_ctx: click.Context, _param: click.Parameter, value: str | None
                   ) -> str | None:
    if value is not None and not re.fullmatch(r"[1-9][0-9]*[kKmMgG]", value):
        raise click.BadParameter(f"{value!r} is not a heap size such as 512m or 1g")
    return value


name_option = click.option(
    "--name",
    default="default",
    show_default=True,
    envvar="SEGQL_NODE",
    callback=_validate_name,
    help="Managed node name (env SEGQL_NODE); each name has its own data and port.",
)


@click.group("es", epilog=_EXIT_CODES)
def es() -> None:
    """Manage the local Elasticsearch node segql uses.

    `segql es up` downloads Elasticsearch (pinned version) with Maven on first
    use, caches it outside the repository ($SEGQL_HOME, /var/lib/segql as root,
    else ~/.cache/segql), and runs it on 127.0.0.1 with security off, or with
    --secure: TLS, authentication and a bootstrap superuser (docs/security.md).  When
    ELASTICSEARCH_URL is set, segql uses that cluster instead and never starts
    a local node.
    """


@es.command("up", epilog=_EXIT_CODES)
@click.option("--port", type=click.IntRange(1, 65535), default=9200, show_default=True,
              help="HTTP port on 127.0.0.1 (of a cluster's first node; the others follow).")
@click.option("--heap", default=None, callback=_validate_heap,
              help="JVM heap of each node (-Xms/-Xmx), e.g. 512m or 2g  "
              "[default: 1g, 512m per node of a cluster].")
@name_option
@click.option("--nodes", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Number of nodes: above 1, a local cluster whose nodes are NAME-1 ... "
              "NAME-N on consecutive HTTP ports, transport ports 100 above them.")
@click.option("--transport-port", type=click.IntRange(1, 65535), default=None,
              help="Transport port of a cluster's first node (default: --port + 100).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds to wait for a yellow/green cluster (a first download comes on "
              "top)  [default: 180, 300 for a cluster].")
@click.option("--secure", is_flag=True,
              help="Security on: HTTPS with a generated CA, a bootstrap superuser whose "
              "password is stored 0600 in the node's run dir (`segql es credentials`).")
def up_cmd(port: int, heap: str | None, name: str, nodes: int, transport_port: int | None,
           timeout: float | None, secure: bool) -> None:
    """Start the managed node, or with --nodes N a local cluster (idempotent), and print
    its URL on stdout (a cluster's: its nodes' URLs, comma-separated).

    If it is already running, prints the URL.  Progress goes to stderr.
    """
    url = external_url()
    if url:
        click.echo(
            f"ELASTICSEARCH_URL is set: segql uses the external cluster {redact(url)}; "
            "not starting a local node.",
            err=True,
        )
        click.echo(redact(url))
        return
    if nodes > 1:
        if secure:
            _fail("--secure is for a single node; a local cluster runs without security "
                  "on 127.0.0.1")
        transport = (None if transport_port is None
                     else [transport_port + i for i in range(nodes)])
        cluster = LocalCluster(name, progress=_progress)
        try:
            urls = cluster.up(nodes, port=port, heap=heap or "512m",
                              timeout=timeout or 300, transport_ports=transport)
        except LocalNodeError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot start cluster {name!r}: {exc}")
        click.echo(",".join(urls))
        return
    if LocalCluster(name).spec() is not None:
        _fail(f"{name!r} is a local cluster: start it with `segql es up --name {name} "
              "--nodes N`, or choose another --name")
    node = LocalNode(name, progress=_progress, secure=secure)
    try:
        node_url = node.up(port=port, heap=heap or "1g", timeout=timeout or 180)
    except LocalNodeError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot start node {name!r}: {exc}")
    if secure:
        click.echo(f"CA certificate: {node.ca_cert_file}; superuser credentials: "
                   f"{node.credentials_file} (`segql es credentials --name {name}`)", err=True)
    click.echo(node_url)


@es.command("down", epilog=_EXIT_CODES)
@name_option
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.option("--purge", is_flag=True, help="Also delete the node's data and logs.")
def down_cmd(name: str, timeout: float, purge: bool) -> None:
    """Stop the managed node, or every node of a local cluster (data kept unless --purge).
    Exit 0 also if it was not running."""
    cluster = LocalCluster(name)
    if cluster.spec() is not None:
        try:
            stopped = cluster.down(timeout=timeout, purge=purge)
        except (LocalNodeError, OSError) as exc:
            _fail(str(exc))
        click.echo(f"stopped cluster {name!r}" if stopped
                   else f"cluster {name!r} was not running")
        return
    try:
        node = LocalNode(name)
        stopped = node.down(timeout=timeout)
        if purge:
            node.remove(timeout=timeout)
    except LocalNodeError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot stop node {name!r}: {exc}")
    click.echo(f"stopped node {name!r}" if stopped else f"node {name!r} was not running")


def _print_status(info: dict[str, Any]) -> None:
    rows = [(key, info.get(key)) for key in
            ("node", "cluster", "url", "pid", "version", "health", "ca_certs", "message")]
    for key, value in rows:
        if value is not None:
            click.echo(f"{key:<8} {value}")


def _print_cluster(info: dict[str, Any]) -> None:
    click.echo(f"cluster  {info['cluster']} (managed, {info['size']} nodes, Elasticsearch "
               f"{PINNED_VERSION})")
    click.echo(f"health   {info['health'] or 'no node answers'} "
               f"({info['number_of_nodes']} nodes in the cluster"
               + (f", {info['unassigned_shards']} unassigned shards)"
                  if info["unassigned_shards"] is not None else ")"))
    click.echo(f"{'node':<16} {'http':>5} {'transport':>9} {'pid':>8}  {'alive':<5}  "
               f"{'roles':<12} master")
    for node in info["nodes"]:
        alive = "yes" if node["in_cluster"] else "no" + (" (running)" if node["running"]
                                                       else "")
        click.echo(f"{node['name']:<16} {node['http_port']:>5} {node['transport_port']:>9} "
                   f"{node['server_pid'] or node['pid'] or '-':>8}  {alive:<5}  "
                   f"{node['roles'] or '-':<12} {'*' if node['master'] else ''}")


@es.command("status", epilog=_EXIT_CODES)
@name_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
def status_cmd(name: str, as_json: bool) -> None:
    """Show server version and cluster health (of ELASTICSEARCH_URL if set).

    Exits 1 if the node is not running or the cluster is not reachable.
    """
    url = external_url()
    info: dict[str, Any]
    if url:
        info = {"managed": False, "cluster": f"{redact(url)} (ELASTICSEARCH_URL)",
                "url": redact(url), "reachable": False}
        try:
            info.update(describe(connect()), reachable=True)
        except (TransportError, ApiError) as exc:
            info["message"] = str(cluster_failure(exc) or f"cannot reach {redact(url)}")
        except (NoClusterError, ValueError) as exc:
            info["message"] = str(exc)
    elif LocalCluster(name).spec() is not None:
        try:
            info = LocalCluster(name).status()
        except (LocalNodeError, OSError) as exc:
            _fail(str(exc))
        if not as_json:
            _print_cluster(info)
        else:
            click.echo(json.dumps(info, indent=2, sort_keys=True))
        if not info["reachable"]:
            raise click.exceptions.Exit(EXIT_FAILURE)
        return
    else:
        try:
            info = LocalNode(name).status()
        except (LocalNodeError, OSError) as exc:
            _fail(str(exc))
        info["node"] = f"{name} (managed, Elasticsearch {PINNED_VERSION})"
        if not info["running"]:
            info["message"] = f"node {name!r} is not running; run `segql es up`"
        elif not info["reachable"]:
            info["message"] = f"node {name!r} is running but does not answer on {info['url']}"
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        _print_status(info)
    if not info.get("reachable"):
        raise click.exceptions.Exit(EXIT_FAILURE)


node_number = click.option("--node", "number", type=click.IntRange(min=1), required=True,
                           help="Which node of the cluster (1 to N).")


@es.command("kill", epilog=_EXIT_CODES)
@name_option
@node_number
def kill_cmd(name: str, number: int) -> None:
    """SIGKILL one node of a local cluster, as a crash would (for fault tests)."""
    try:
        pids = LocalCluster(name).kill(number)
    except (LocalNodeError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"killed node {name}-{number}" + (f" (pids {pids})" if pids
                                                 else " (it was not running)"))


@es.command("restart", epilog=_EXIT_CODES)
@name_option
@node_number
@click.option("--timeout", type=click.FloatRange(min=1), default=180.0, show_default=True,
              help="Seconds to wait until every node is back in the cluster.")
def restart_cmd(name: str, number: int, timeout: float) -> None:
    """Start one node of a local cluster again (on its data) and wait until every node is
    in the cluster; print its URL."""
    try:
        url = LocalCluster(name, progress=_progress).restart(number, timeout)
    except (LocalNodeError, OSError) as exc:
        _fail(str(exc))
    click.echo(url)


@es.command("logs", epilog=_EXIT_CODES)
@name_option
@click.option("-n", "--lines", type=click.IntRange(min=1), default=50, show_default=True,
              help="Number of lines from the end of the node's main log.")
@click.option("--node", "number", type=click.IntRange(min=1), default=None,
              help="Of a local cluster: which node's log (1 to N; default 1).")
def logs_cmd(name: str, lines: int, number: int | None) -> None:
    """Print the tail of the managed node's log (of one node of a local cluster)."""
    try:
        cluster = LocalCluster(name)
        node = (cluster.node(number or 1) if cluster.spec() is not None
                else LocalNode(name))
        text = node.logs(lines)
    except (LocalNodeError, OSError) as exc:
        _fail(str(exc))
    click.echo(text)


role_option = click.option(
    "--role", type=click.Choice(sorted(ROLE_PRIVILEGES)), required=True,
    help="read: count, export, explain, list on segql-*; write: also index records, declare "
    "catalogs, save segments, manage tokens.",
)


def _key_admin(name: str) -> Elasticsearch:
    """A client allowed to manage API keys: ELASTICSEARCH_URL with the environment's
    credentials, else the managed node `name` as its superuser."""
    if external_url():
        return connect()
    try:
        url = LocalNode(name).url
    except LocalNodeError as exc:
        _fail(str(exc))
    if url is None:
        _fail(f"node {name!r} is not running; start it with `segql es up --secure --name "
              f"{name}`")
    if not url.startswith("https:"):
        _fail(f"node {name!r} runs without security (no API keys); restart it with "
              f"`segql es down --name {name}` and `segql es up --secure --name {name}`")
    os.environ["SEGQL_NODE"] = name
    return connect(superuser=True)


def _key_call(name: str, what: str, call: Callable[[Elasticsearch], T]) -> T:
    """`call(client)` on the key administrator's client; any failure is exit 1 with one
    plain line (never the key, never a traceback)."""
    try:
        return call(_key_admin(name))
    except ApiError as exc:
        if "pattern_capture" in str(exc) or "uax_url_email" in str(exc):
            _fail("this cluster cannot store API keys: its .security index needs analysis "
                  "components it lacks (a managed node gets them from segql's plugin when "
                  "started with --secure, docs/security.md)")
        _fail(f"cannot {what}: {cluster_failure(exc)}")
    except TransportError as exc:
        _fail(str(cluster_failure(exc) or "cannot reach Elasticsearch"))
    except (NoClusterError, ValueError) as exc:
        _fail(str(exc))


@es.group("api-key", epilog=_EXIT_CODES)
def api_key_group() -> None:
    """API keys with segql's least-privilege roles (docs/security.md): create, list,
    invalidate.  On ELASTICSEARCH_URL (its credentials must allow managing API keys) or on
    the secure managed node (as its superuser)."""


@api_key_group.command("create", epilog=_EXIT_CODES)
@role_option
@name_option
@click.option("--key-name", help="Name of the key (default segql-<role>).")
@click.option("--index", "index", help="Limit the key to this contact index and its store "
              "indices (INDEX, INDEX-*) instead of every segql-* index.")
@click.option("--expiration", help="Lifetime, e.g. 30d (default: never expires).")
def api_key_create_cmd(role: str, name: str, key_name: str | None, index: str | None,
                       expiration: str | None) -> None:
    """Create an API key limited to a segql role and print its encoded form on stdout,
    once (give it to segql as ELASTICSEARCH_API_KEY)."""
    key = _key_call(name, "create an API key",
                    lambda c: create_api_key(c, role, key_name, expiration, index))
    scope = f"{index}, {index}-*" if index else "segql-*"
    click.echo(f"created API key {key['id']} ({key['name']}, role {role} on {scope}); "
               "it is not shown again", err=True)
    click.echo(key["encoded"])


@api_key_group.command("list", epilog=_EXIT_CODES)
@name_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def api_key_list_cmd(name: str, as_json: bool) -> None:
    """List the API keys segql created (never a secret)."""
    keys = _key_call(name, "list API keys", list_api_keys)
    if as_json:
        click.echo(json.dumps(keys, indent=2))
        return
    for key in keys:
        state = "invalidated" if key["invalidated"] else "valid"
        click.echo(f"{key['id']}  {key['name']}  role={key['role']}  {state}")


@api_key_group.command("invalidate", epilog=_EXIT_CODES)
@name_option
@click.argument("ids", nargs=-1, required=True)
def api_key_invalidate_cmd(name: str, ids: tuple[str, ...]) -> None:
    """Invalidate API keys by id (takes effect at once); exit 1 if one was not valid."""
    done = _key_call(name, "invalidate API keys", lambda c: invalidate_api_keys(c, list(ids)))
    for key_id in ids:
        click.echo(f"{key_id} {'invalidated' if key_id in done else 'was not valid'}")
    if set(ids) - set(done):
        raise click.exceptions.Exit(EXIT_FAILURE)


@es.command("user", epilog=_EXIT_CODES)
@role_option
@name_option
@click.option("--username", help="User name (default segql_<role>_<random>).")
def user_cmd(role: str, name: str, username: str | None) -> None:
    """Add a file-realm user with a segql role to the secure managed node and print
    ELASTICSEARCH_USERNAME=... and ELASTICSEARCH_PASSWORD=... lines on stdout."""
    try:
        user, password = LocalNode(name).add_user(role, username)
    except (LocalNodeError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"ELASTICSEARCH_USERNAME={user}\nELASTICSEARCH_PASSWORD={password}")


@es.command("credentials", epilog=_EXIT_CODES)
@name_option
def credentials_cmd(name: str) -> None:
    """Print the secure managed node's superuser, CA file and URL as environment lines.

    The only command that prints the stored password."""
    node = LocalNode(name)
    try:
        user, password = node.credentials()
    except (LocalNodeError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"ELASTICSEARCH_URL={node.url or ''}\nELASTICSEARCH_USERNAME={user}\n"
               f"ELASTICSEARCH_PASSWORD={password}\nELASTICSEARCH_CA_CERTS={node.ca_cert_file}")
