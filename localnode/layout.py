"""Where a managed node lives: the home directory (`default_home`), the node-name rule, and
`NodeLayout`, the base of `LocalNode` that validates the name and knows every path of a
node (config, data, logs, tmp, run dir with state, CA and credentials, lock file), its
cluster name, main log and the argv markers that identify its JVMs."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segql.localnode.distribution import PINNED_VERSION
from segql.localnode.errors import LocalNodeError

DEFAULT_SERVICE_USER = "segql"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Membership:
    """What makes a node one member of a local multi-node cluster (`cluster.LocalCluster`):
    the cluster's name, this member's fixed transport port, every member's transport port
    (the seed hosts) and node name (the initial master nodes)."""

    cluster: str
    transport_port: int
    seed_ports: tuple[int, ...]
    masters: tuple[str, ...]


def default_home() -> Path:
    """Where dist, Java copies and node state live (never inside the repository)."""
    env = os.environ.get("SEGQL_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if os.geteuid() == 0:
        # /root is 0700: the service user could not reach a cache there.
        return Path("/var/lib/segql")
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return (base / "segql").resolve()


class NodeLayout:
    """A node's name, settings and the paths of everything it keeps on disk (the base of
    `LocalNode`)."""

    def __init__(
        self,
        name: str = "default",
        home: Path | str | None = None,
        *,
        java_home: Path | str | None = None,
        service_user: str | None = None,
        progress: Callable[[str], None] | None = None,
        secure: bool = False,
        member: Membership | None = None,
    ) -> None:
        if not _NAME_RE.match(name):
            raise LocalNodeError(
                f"invalid node name {name!r}: use lowercase letters, digits, '-' and '_' "
                "(at most 63 characters, starting with a letter or digit)"
            )
        self.name = name
        self.home = Path(home).expanduser().resolve() if home else default_home()
        self.java_home = Path(java_home) if java_home else None
        self.service_user = service_user or os.environ.get(
            "SEGQL_SERVICE_USER", DEFAULT_SERVICE_USER
        )
        self._progress = progress
        self.secure = secure
        self.member = member
        self._log_offset = 0  # size of the main log when this object last started the node

    # ---- paths

    @property
    def node_dir(self) -> Path:
        return self.home / "nodes" / self.name

    @property
    def dist_dir(self) -> Path:
        return self.home / "dist" / f"elasticsearch-{PINNED_VERSION}"

    @property
    def config_dir(self) -> Path:
        return self.node_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.node_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.node_dir / "logs"

    @property
    def tmp_dir(self) -> Path:
        return self.node_dir / "tmp"

    @property
    def run_dir(self) -> Path:
        return self.node_dir / "run"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def stdout_file(self) -> Path:
        return self.run_dir / "stdout.log"

    @property
    def certs_dir(self) -> Path:
        """TLS key, certificate and CA the server reads (inside its config dir, as ES
        only reads files under it)."""
        return self.config_dir / "certs"

    @property
    def ca_cert_file(self) -> Path:
        """The CA certificate clients verify the node with (world-readable)."""
        return self.run_dir / "ca.crt"

    @property
    def _ca_key_file(self) -> Path:
        return self.run_dir / "ca.key"

    @property
    def credentials_file(self) -> Path:
        """The bootstrap superuser's name and password (0600, owner only)."""
        return self.run_dir / "credentials.json"

    @property
    def _lock_file(self) -> Path:
        # Outside the node dir, so a failed `up` leaves no empty node behind.
        return self.home / "locks" / f"{self.name}.lock"

    @property
    def cluster_name(self) -> str:
        return f"segql-{self.member.cluster}" if self.member else f"segql-{self.name}"

    @property
    def node_name(self) -> str:
        """Elasticsearch's `node.name` (the cluster's name for a single node)."""
        return f"segql-{self.name}"

    @property
    def main_log(self) -> Path:
        return self.logs_dir / f"{self.cluster_name}.log"

    @property
    def _markers(self) -> frozenset[str]:
        """argv entries that identify this node's JVMs: the launcher carries
        -Des.path.conf, the server only -Djava.io.tmpdir (from ES_TMPDIR)."""
        return frozenset({f"-Des.path.conf={self.config_dir}", f"-Djava.io.tmpdir={self.tmp_dir}"})

    def _say(self, msg: str) -> None:
        if self._progress:
            self._progress(msg)
