"""A managed single-node Elasticsearch (or a local cluster of several) for development,
tests and CI.

Why this exists: segql needs a real Elasticsearch, and the machines it runs on
have no Docker.  The pinned server ships on Maven Central as the
``integ-test-zip`` distribution (no bundled JDK), so this module fetches it with
Maven, unpacks it into a cache *outside* the repository, finds a Java >= 21,
and runs it detached, bound to 127.0.0.1, as an unprivileged user when invoked
as root (Elasticsearch refuses to run as root).

Layout under the home (``$SEGQL_HOME``, else ``/var/lib/segql`` as root, else
``$XDG_CACHE_HOME/segql`` or ``~/.cache/segql``)::

    dist/elasticsearch-9.2.0/        unpacked distribution (shared by all nodes; with
                                     plugins/segql-security-analysis once a secure node ran)
    java/<runtime>/                  copy of a Java the service user cannot read
    nodes/<name>/config/             per-node ES_PATH_CONF (generated)
    nodes/<name>/data/               path.data
    nodes/<name>/logs/               path.logs (main log: segql-<name>.log)
    nodes/<name>/tmp/                ES_TMPDIR
    nodes/<name>/run/                state.json, stdout.log (root-owned); when secure
                                     also ca.crt (world-readable), ca.key and
                                     credentials.json (0600)
    locks/<name>.lock                serialises `up`/`down` of one node
    clusters/<name>.json             a local cluster's make-up (size, ports, heap); its
                                     members are the nodes <name>-1 ... <name>-N

The package is split by concern; this module only re-exports its public names:

    errors        LocalNodeError
    system        ports, /proc pid checks, locks, atomic writes, the service user
    distribution  the pinned version, its Maven download and unpack
    java          finding a Java >= 21 (JavaRuntime, find_java)
    layout        the home and a node's paths (NodeLayout, the base of LocalNode)
    security      TLS, the bootstrap superuser, ROLE_PRIVILEGES
    plugin        the analysis plugin API keys need (built and installed for --secure)
    config        a node's generated ES_PATH_CONF and directories
    process       state.json, pids, start, health wait and stop
    node          LocalNode itself: up, down, status, logs, remove, add_user
    cluster       LocalCluster: N nodes on loopback (`es up --nodes N`), kill/restart one
"""

from __future__ import annotations

from segql.localnode.cluster import LocalCluster
from segql.localnode.distribution import (
    MAVEN_ARTIFACT,
    PINNED_VERSION,
    ensure_distribution,
    fetch_zip,
    maven_repo,
)
from segql.localnode.errors import LocalNodeError
from segql.localnode.java import MIN_JAVA, JavaRuntime, find_java, java_candidates, java_version
from segql.localnode.layout import DEFAULT_SERVICE_USER, default_home
from segql.localnode.node import LocalNode
from segql.localnode.security import ADMIN_USER, ROLE_PRIVILEGES
from segql.localnode.system import LOG_TAIL_LINES, ensure_service_user, free_port, port_in_use

__all__ = [
    "ADMIN_USER",
    "DEFAULT_SERVICE_USER",
    "LOG_TAIL_LINES",
    "MAVEN_ARTIFACT",
    "MIN_JAVA",
    "PINNED_VERSION",
    "ROLE_PRIVILEGES",
    "JavaRuntime",
    "LocalCluster",
    "LocalNode",
    "LocalNodeError",
    "default_home",
    "ensure_distribution",
    "ensure_service_user",
    "fetch_zip",
    "find_java",
    "free_port",
    "java_candidates",
    "java_version",
    "maven_repo",
    "port_in_use",
]
