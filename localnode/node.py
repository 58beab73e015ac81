"""`LocalNode`, the managed single-node Elasticsearch as callers use it: `up` (start it or
find it running, healthy), `down`, `status`, `logs`, `remove`, and `add_user` on a secure
node. It assembles the layout, security, configuration and process parts defined in the
sibling modules."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from segql.localnode.errors import LocalNodeError
from segql.localnode.java import find_java
from segql.localnode.layout import _NAME_RE
from segql.localnode.process import NodeProcess
from segql.localnode.security import ROLE_PRIVILEGES
from segql.localnode.system import _flock, _http_json, _tail, ensure_service_user, port_in_use

_HEAP_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]$")


class LocalNode(NodeProcess):
    """One named, managed single-node Elasticsearch on 127.0.0.1: security off by default
    (loopback only), or with `secure=True` TLS on HTTP (generated CA), authentication and
    a bootstrap superuser."""

    # ---- public API

    def up(
        self, port: int = 9200, heap: str = "1g", timeout: float = 180,
        secure: bool | None = None,
    ) -> str:
        """Start the node (or find it running) and return its URL once yellow/green.

        `timeout` bounds the wait for a healthy cluster; a first-time download and
        unpack come on top of it.  `secure` (default: the constructor's) turns on
        authentication and TLS; a running node is never switched between the modes.
        """
        if secure is not None:
            self.secure = secure
        if not 0 < port < 65536:
            raise LocalNodeError(f"invalid port {port}")
        if not _HEAP_RE.match(heap):
            raise LocalNodeError(f"invalid heap size {heap!r}; use e.g. 512m or 1g")
        with _flock(self._lock_file):
            state = self._live_state()
            if state is not None:
                url = str(state["url"])
                if bool(state.get("secure")) != self.secure:
                    mode = "with" if state.get("secure") else "without"
                    raise LocalNodeError(
                        f"node {self.name!r} is already running {mode} security on {url}; "
                        f"run `segql es down --name {self.name}` first to switch"
                    )
                if int(state.get("port", 0)) != port:
                    self._say(f"node {self.name!r} is already running on {url}")
                self._wait_healthy(url, None, time.monotonic() + timeout)
                return url
            self.state_file.unlink(missing_ok=True)
            leftovers = self.processes()
            if leftovers:
                raise LocalNodeError(
                    f"processes of node {self.name!r} are running without a state file "
                    f"(pids {leftovers}); run `segql es down --name {self.name}` first"
                )
            if port_in_use(port):
                raise LocalNodeError(self._port_owner_message(port))
            return self._start(port, heap, timeout)

    def down(self, timeout: float = 60) -> bool:
        """Stop this node's processes (SIGTERM, then SIGKILL); True if any were running."""
        if not self.node_dir.is_dir():
            return False
        with _flock(self._lock_file):
            stopped = self._stop(timeout)
            self.state_file.unlink(missing_ok=True)
            return stopped

    def status(self) -> dict[str, Any]:
        """Running or not, pid, url, server version and cluster health."""
        state = self._live_state() or {}
        running = bool(state)
        result: dict[str, Any] = {
            "name": self.name,
            "managed": True,
            "running": running,
            "pid": state.get("pid"),
            "server_pid": state.get("server_pid"),
            "port": state.get("port"),
            "url": state.get("url"),
            "version": None,
            "health": None,
            "reachable": False,
            "java_home": state.get("java_home"),
            "started_at": state.get("started_at"),
            "home": str(self.home),
            "node_dir": str(self.node_dir),
            "secure": bool(state.get("secure")),
            "ca_certs": state.get("ca_certs"),
            "username": state.get("username"),
        }
        if running:
            probe = self._probe(str(state["url"]))
            if probe is not None and probe.get("cluster_name") == self.cluster_name:
                result.update(reachable=True, version=probe["version"], health=probe["health"])
        return result

    def logs(self, lines: int = 50) -> str:
        """Tail of the node's main log (or of its console capture if there is none yet)."""
        source = self.main_log if self.main_log.is_file() else self.stdout_file
        if not source.is_file():
            raise LocalNodeError(f"node {self.name!r} has no logs yet (looked in {self.node_dir})")
        return "\n".join(_tail(source, lines))

    def remove(self, timeout: float = 60) -> None:
        """Stop the node and delete its directory (data included); for throwaway nodes."""
        self.down(timeout)
        shutil.rmtree(self.node_dir, ignore_errors=True)
        self._lock_file.unlink(missing_ok=True)

    # ---- internals

    def _port_owner_message(self, port: int) -> str:
        nodes_dir = self.home / "nodes"
        if nodes_dir.is_dir():
            for other in sorted(nodes_dir.iterdir()):
                if other.name == self.name or not _NAME_RE.match(other.name):
                    continue
                state = LocalNode(other.name, self.home)._live_state()
                if state and int(state.get("port", 0)) == port:
                    return (
                        f"port {port} on 127.0.0.1 is used by segql node {other.name!r}; "
                        "pick another with --port or stop that node"
                    )
        return (
            f"port {port} on 127.0.0.1 is already in use by another process; "
            "pick a free one with --port"
        )

    def add_user(self, role: str, username: str | None = None) -> tuple[str, str]:
        """Add a file-realm user of a running secure node with the role `segql_<role>`
        ("read" or "write"), and return (username, generated password) once it can log in.

        Users beside API keys (`segql es api-key`): a file-realm user needs no `.security`
        index and survives its loss; both carry the same role descriptors."""
        if role not in ROLE_PRIVILEGES:
            raise LocalNodeError(f"unknown role {role!r}; use one of {sorted(ROLE_PRIVILEGES)}")
        username = username or f"segql_{role}_{secrets.token_hex(3)}"
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", username):
            raise LocalNodeError(f"invalid user name {username!r}")
        with _flock(self._lock_file):
            state = self._live_state()
            if state is None or not state.get("secure"):
                raise LocalNodeError(f"node {self.name!r} is not running with --secure")
            java = find_java(Path(str(state["java_home"])))
            password = secrets.token_urlsafe(24)
            self._tool(java, ["elasticsearch-users", "useradd", username, "-r",
                              f"segql_{role}"], stdin=f"{password}\n{password}\n")
            if os.geteuid() == 0 and state.get("user") == self.service_user:
                uid, gid = ensure_service_user(self.service_user)
                for realm_file in ("users", "users_roles"):
                    os.chown(self.config_dir / realm_file, uid, gid)
        deadline = time.monotonic() + 30
        while True:
            try:
                _http_json(f"{state['url']}/_security/_authenticate", 3.0,
                           cafile=self.ca_cert_file, auth=(username, password))
                return username, password
            except (OSError, ValueError) as exc:
                if time.monotonic() >= deadline:
                    raise LocalNodeError(f"user {username!r} cannot log in to node "
                                         f"{self.name!r}: {type(exc).__name__}") from None
                time.sleep(0.3)
