"""A managed local cluster of several Elasticsearch nodes on loopback: `LocalCluster`.

Why: segql must keep every count and recipient list exact when a node of a multi-node
cluster dies, and that can only be tested on one. Each member is a `LocalNode` named
`<cluster>-<i>` (i = 1..N) with its own data, logs, HTTP port and heap, and a fixed
transport port; every member is master-eligible and data-holding, finds the others through
`discovery.seed_hosts` on 127.0.0.1 and bootstraps with `cluster.initial_master_nodes`.
What the cluster is made of (size, ports, heap) is recorded in `<home>/clusters/<name>.json`,
so `status`, `down`, `kill` and `restart` work from another process.

For tests: `kill(i)` SIGKILLs member i (the launcher and the server JVM, like a crashed
machine), `restart(i)` starts it again on its own data and waits until the cluster has all
its members, `wait_for(status, nodes)` waits for a health.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from segql.localnode.errors import LocalNodeError
from segql.localnode.layout import _NAME_RE, Membership, default_home
from segql.localnode.node import _HEAP_RE, LocalNode
from segql.localnode.system import _flock, _http_json, _write_json_atomic, port_in_use

#: The most members `up` starts (each is a JVM with its own heap).
MAX_NODES = 9
#: Transport ports are the HTTP ports plus this, unless given.
TRANSPORT_OFFSET = 100


class LocalCluster:
    """N managed nodes forming one cluster on 127.0.0.1 (security off: loopback only)."""

    def __init__(
        self, name: str = "default", home: Path | str | None = None, *,
        java_home: Path | str | None = None, service_user: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if not _NAME_RE.match(name):
            raise LocalNodeError(f"invalid cluster name {name!r}: use lowercase letters, "
                                 "digits, '-' and '_' (starting with a letter or digit)")
        self.name = name
        self.home = Path(home).expanduser().resolve() if home else default_home()
        self._java_home = java_home
        self._service_user = service_user
        self._progress = progress

    # ---- what the cluster is made of

    @property
    def spec_file(self) -> Path:
        return self.home / "clusters" / f"{self.name}.json"

    def spec(self) -> dict[str, Any] | None:
        """The recorded make-up (size, ports, heap), or None if no such cluster was made."""
        try:
            data = json.loads(self.spec_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _spec(self) -> dict[str, Any]:
        spec = self.spec()
        if spec is None:
            raise LocalNodeError(f"there is no local cluster {self.name!r}; start one with "
                                 f"`segql es up --name {self.name} --nodes 3`")
        return spec

    def _member(self, spec: dict[str, Any], i: int) -> LocalNode:
        size = int(spec["size"])
        if not 1 <= i <= size:
            raise LocalNodeError(f"cluster {self.name!r} has nodes 1 to {size}, not {i}")
        names = tuple(f"segql-{self.name}-{n}" for n in range(1, size + 1))
        member = Membership(self.name, int(spec["transport_ports"][i - 1]),
                            tuple(int(p) for p in spec["transport_ports"]), names)
        return LocalNode(f"{self.name}-{i}", self.home, java_home=self._java_home,
                         service_user=self._service_user, progress=self._progress,
                         member=member)

    def members(self) -> list[LocalNode]:
        """The member nodes, 1 to N (index 0 is node 1)."""
        spec = self._spec()
        return [self._member(spec, i) for i in range(1, int(spec["size"]) + 1)]

    def node(self, i: int) -> LocalNode:
        """Member i (1-based)."""
        return self._member(self._spec(), i)

    # ---- up and down

    def up(
        self, nodes: int = 3, port: int = 9200, heap: str = "512m", timeout: float = 240, *,
        ports: Sequence[int] | None = None, transport_ports: Sequence[int] | None = None,
    ) -> list[str]:
        """Start the cluster (or find it running) and return its members' URLs once every
        member has joined and the cluster is yellow or green.

        HTTP ports are `port`, `port+1`, ... unless `ports` lists them; transport ports
        are the HTTP ports + 100 unless `transport_ports` lists them. `heap` is per node.
        A cluster that exists keeps its make-up: asking for another size or other ports
        is an error (`down --purge` it first)."""
        if not 2 <= nodes <= MAX_NODES:
            raise LocalNodeError(f"a local cluster has 2 to {MAX_NODES} nodes, not {nodes}")
        if not _HEAP_RE.match(heap):
            raise LocalNodeError(f"invalid heap size {heap!r}; use e.g. 512m or 1g")
        http = list(ports) if ports else [port + i for i in range(nodes)]
        transport = (list(transport_ports) if transport_ports
                     else [p + TRANSPORT_OFFSET for p in http])
        every = http + transport
        if len(http) != nodes or len(transport) != nodes:
            raise LocalNodeError(f"give {nodes} HTTP and {nodes} transport ports")
        if len(set(every)) != len(every) or not all(0 < p < 65536 for p in every):
            raise LocalNodeError(f"the ports must be distinct and valid: {every}")
        wanted = {"name": self.name, "size": nodes, "http_ports": http,
                  "transport_ports": transport, "heap": heap}
        with _flock(self.home / "locks" / f"cluster-{self.name}.lock"):
            spec = self.spec()
            if spec is not None and any(spec.get(k) != v for k, v in wanted.items()
                                        if k != "heap"):
                raise LocalNodeError(
                    f"cluster {self.name!r} exists with {spec['size']} nodes on HTTP ports "
                    f"{spec['http_ports']}; run `segql es down --purge --name {self.name}` "
                    "to make another")
            if spec is None:
                clash = self._single_node_clash(nodes)
                if clash:
                    raise LocalNodeError(clash)
            self.spec_file.parent.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(self.spec_file, wanted)
            members = self.members()
            deadline = time.monotonic() + timeout
            launched = []
            for member, http_port, transport_port in zip(members, http, transport,
                                                         strict=True):
                if member._live_state() is not None:
                    continue
                for p in (http_port, transport_port):
                    if port_in_use(p):
                        self._stop_all(members, 30)
                        raise LocalNodeError(f"port {p} on 127.0.0.1 is already in use; "
                                             "choose other ports with --port")
                member.state_file.unlink(missing_ok=True)
                launched.append((member, *member._launch(http_port, heap)))
            try:
                for member, proc, state in launched:
                    member._await_start(proc, state, deadline)
                self.wait_for("yellow", nodes, max(deadline - time.monotonic(), 1))
            except BaseException:
                self._stop_all(members, 30)
                raise
            return [f"http://127.0.0.1:{p}" for p in http]

    def _single_node_clash(self, nodes: int) -> str | None:
        for i in range(1, nodes + 1):
            other = LocalNode(f"{self.name}-{i}", self.home)
            if other._live_state() is not None:
                return (f"a single node {other.name!r} is running; a cluster {self.name!r} "
                        f"would use that name for its node {i}: choose another --name")
        return None

    def down(self, timeout: float = 60, purge: bool = False) -> bool:
        """Stop every member (SIGTERM, then SIGKILL); with `purge` delete their data and the
        cluster's record. True if any member was running."""
        if self.spec() is None:
            return False
        with _flock(self.home / "locks" / f"cluster-{self.name}.lock"):
            members = self.members()
            stopped = self._stop_all(members, timeout)
            if purge:
                for member in members:
                    member.remove(timeout)
                self.spec_file.unlink(missing_ok=True)
            return stopped

    @staticmethod
    def _stop_all(members: Sequence[LocalNode], timeout: float) -> bool:
        return any([member.down(timeout) for member in members])

    # ---- faults (tests)

    def kill(self, i: int) -> list[int]:
        """SIGKILL every process of member i, as a crash would (no clean shutdown);
        the pids killed."""
        member = self.node(i)
        pids = member.processes()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while member.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        member._live_state()  # reaps the launcher if this process started it
        return pids

    def restart(self, i: int, timeout: float = 180) -> str:
        """Start member i again (on its data) and wait until every member is in the
        cluster; its URL."""
        spec = self._spec()
        member = self._member(spec, i)
        url = member.up(port=int(spec["http_ports"][i - 1]), heap=str(spec["heap"]),
                        timeout=timeout)
        self.wait_for("yellow", int(spec["size"]), timeout)
        return url

    # ---- health and status

    def urls(self, alive_only: bool = True) -> list[str]:
        """The HTTP URLs of the members (only of those running, by default)."""
        spec = self._spec()
        return [f"http://127.0.0.1:{port}"
                for member, port in zip(self.members(), spec["http_ports"], strict=True)
                if not alive_only or member._live_state() is not None]

    def health(self, timeout: float = 3.0) -> dict[str, Any] | None:
        """`_cluster/health` from the first member that answers, else None."""
        for member in self.members():
            state = member._live_state()
            if state is None:
                continue
            with contextlib.suppress(OSError, ValueError):
                health: dict[str, Any] = _http_json(f"{state['url']}/_cluster/health", timeout)
                return health
        return None

    def wait_for(self, status: str, nodes: int, timeout: float = 120) -> dict[str, Any]:
        """Wait until the cluster is `status` (or better) with exactly `nodes` members."""
        order = ("red", "yellow", "green")
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while True:
            last = self.health()
            if (last is not None and last.get("number_of_nodes") == nodes
                    and order.index(str(last.get("status"))) >= order.index(status)):
                return last
            if time.monotonic() >= deadline:
                seen = (f"{last.get('status')} with {last.get('number_of_nodes')} nodes"
                        if last else "no member answering")
                raise LocalNodeError(f"cluster {self.name!r} was not {status} with {nodes} "
                                     f"nodes in time ({seen})")
            time.sleep(0.3)

    def status(self) -> dict[str, Any]:
        """The cluster's health and, per member: name, ports, pids, alive, roles, master."""
        spec = self._spec()
        members = self.members()
        rows: dict[str, dict[str, Any]] = {}
        for member in members:
            with contextlib.suppress(OSError, ValueError):
                state = member._live_state()
                if state is None:
                    continue
                found = _http_json(f"{state['url']}/_cat/nodes?format=json&h=name,"
                                   "node.role,master,heap.max", 3.0)
                rows = {row["name"]: row for row in found}
                break
        health = self.health()
        nodes = []
        for member, http_port, transport_port in zip(
                members, spec["http_ports"], spec["transport_ports"], strict=True):
            state = member._live_state() or {}
            row = rows.get(member.node_name, {})
            nodes.append({
                "name": member.name, "node_name": member.node_name,
                "http_port": http_port, "transport_port": transport_port,
                "url": f"http://127.0.0.1:{http_port}",
                "pid": state.get("pid"), "server_pid": state.get("server_pid"),
                "running": bool(state), "in_cluster": bool(row),
                "roles": row.get("node.role"), "master": row.get("master") == "*",
                "heap": spec.get("heap"),
            })
        return {"name": self.name, "cluster": f"segql-{self.name}", "size": spec["size"],
                "health": health.get("status") if health else None,
                "number_of_nodes": health.get("number_of_nodes") if health else 0,
                "unassigned_shards": health.get("unassigned_shards") if health else None,
                "reachable": health is not None, "nodes": nodes,
                "home": str(self.home)}
