"""The processes of a managed node: `NodeProcess`, the part of `LocalNode` that reads its
state.json, finds its live JVMs by scanning /proc (guarding against pid reuse), probes its
HTTP health, starts Elasticsearch detached (as the service user when root) and waits for
yellow/green, explains a failed start from its logs, and stops it (SIGTERM, then
SIGKILL)."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import signal
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

from segql.localnode.config import NodeConfig
from segql.localnode.distribution import PINNED_VERSION, ensure_distribution
from segql.localnode.errors import LocalNodeError
from segql.localnode.java import find_java
from segql.localnode.plugin import ensure_plugin
from segql.localnode.security import ADMIN_USER, NodeSecurity
from segql.localnode.system import (
    _CHILDREN,
    LOG_TAIL_LINES,
    _http_json,
    _pid_alive,
    _proc_cmdline,
    _tail,
    _write_json_atomic,
    ensure_service_user,
)


class NodeProcess(NodeSecurity, NodeConfig):
    """State, pids, health, start and stop of a node's processes (part of `LocalNode`)."""

    # ---- state and processes

    def read_state(self) -> dict[str, Any] | None:
        """The recorded state of this node, or None if it was never started / is down."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _is_ours(self, pid: int) -> bool:
        """True if pid is a live java process of *this* node (guards against pid reuse)."""
        return _pid_alive(pid) and not self._markers.isdisjoint(_proc_cmdline(pid))

    def processes(self) -> list[int]:
        """Pids of every live process of this node (scan of /proc cmdlines)."""
        pids: list[int] = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                pid = int(entry.name)
                if self._is_ours(pid):
                    pids.append(pid)
        return sorted(pids)

    def _live_state(self) -> dict[str, Any] | None:
        """State if the node's launcher process is still alive, else None."""
        state = self.read_state()
        if state is None:
            return None
        pid = int(state.get("pid") or 0)
        server_pid = int(state.get("server_pid") or 0)
        if self._is_ours(pid) or (server_pid and self._is_ours(server_pid)):
            return state
        return None

    @property
    def url(self) -> str | None:
        """URL of the node if its process is running (health not checked)."""
        state = self._live_state()
        return str(state["url"]) if state else None

    def _probe(self, url: str, timeout: float = 3.0) -> dict[str, Any] | None:
        """Health, version and server pid from the node at url (None if not answering)."""
        cafile: Path | None = None
        auth: tuple[str, str] | None = None
        if url.startswith("https:"):
            cafile = self.ca_cert_file
            try:
                auth = self.credentials()
            except LocalNodeError:
                return None
        try:
            health = _http_json(f"{url}/_cluster/health", timeout, cafile=cafile, auth=auth)
            nodes = _http_json(
                f"{url}/_nodes/_local/process?filter_path=nodes.*.name,nodes.*.version,"
                "nodes.*.process.id",
                timeout, cafile=cafile, auth=auth,
            )
        except (OSError, ValueError, ssl.SSLError):
            return None
        info: dict[str, Any] = next(iter((nodes.get("nodes") or {}).values()), {})
        return {
            "health": health.get("status"),
            "cluster_name": health.get("cluster_name"),
            "node_name": info.get("name"),
            "version": info.get("version"),
            "server_pid": (info.get("process") or {}).get("id"),
        }

    def _start(self, port: int, heap: str, timeout: float) -> str:
        """Launch the node and wait until it is healthy (stopping it if it is not)."""
        proc, state = self._launch(port, heap)
        return self._await_start(proc, state, time.monotonic() + timeout)

    def _launch(self, port: int, heap: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
        """Write the configuration and start Elasticsearch detached; its process and the
        state recorded for it (a cluster launches every member before waiting on any, as
        no member is healthy before the others have joined)."""
        dist = ensure_distribution(self.home, self._progress)
        java = find_java(self.java_home)
        if self.secure:  # API keys need it (localnode/plugin.py)
            ensure_plugin(self.home, dist, java, self._progress)
        user: tuple[int, int] | None = None
        if os.geteuid() == 0:
            user = ensure_service_user(self.service_user)
            java = self._service_java(java, user)
        self._write_config(port, heap, java)
        if self.secure:
            self._setup_security(java)
        self._prepare_dirs(user)

        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.tmp_dir),
            "ES_JAVA_HOME": str(java.home),
            "ES_PATH_CONF": str(self.config_dir),
            "ES_TMPDIR": str(self.tmp_dir),
        }
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(user=user[0], group=user[1], extra_groups=[])
        scheme = "https" if self.secure else "http"
        url = f"{scheme}://127.0.0.1:{port}"
        self._say(f"starting Elasticsearch {PINNED_VERSION} node {self.name!r} on {url} "
                  f"(Java {java.version} from {java.home}) ...")
        self._log_offset = self.main_log.stat().st_size if self.main_log.is_file() else 0
        with self.stdout_file.open("wb") as out:
            try:
                proc = subprocess.Popen(
                    [str(dist / "bin" / "elasticsearch"), "-q"],
                    cwd=self.tmp_dir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                    **kwargs,
                )
            except OSError as exc:
                raise LocalNodeError(f"cannot start Elasticsearch: {exc}") from exc
        _CHILDREN[proc.pid] = proc
        state: dict[str, Any] = {
            "name": self.name,
            "pid": proc.pid,
            "server_pid": None,
            "port": port,
            "url": url,
            "scheme": scheme,
            "secure": self.secure,
            "ca_certs": str(self.ca_cert_file) if self.secure else None,
            "username": ADMIN_USER if self.secure else None,
            "version": None,
            "heap": heap,
            "java_home": str(java.home),
            "java_version": java.version,
            "user": self.service_user if user else pwd.getpwuid(os.geteuid()).pw_name,
            "node_dir": str(self.node_dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_json_atomic(self.state_file, state)
        return proc, state

    def _await_start(
        self, proc: subprocess.Popen[bytes], state: dict[str, Any], deadline: float
    ) -> str:
        """Wait until a launched node is healthy and record its version and server pid;
        stop it if it does not get there."""
        url = str(state["url"])
        try:
            probe = self._wait_healthy(url, proc, deadline)
        except BaseException:
            self._stop(30)
            self.state_file.unlink(missing_ok=True)
            raise
        state.update(version=probe.get("version"), server_pid=probe.get("server_pid"))
        _write_json_atomic(self.state_file, state)
        return url

    def _wait_healthy(
        self, url: str, proc: subprocess.Popen[bytes] | None, deadline: float
    ) -> dict[str, Any]:
        """Poll until the node at url is ours and yellow/green; fail fast if it died."""
        last: dict[str, Any] | None = None
        while True:
            if proc is not None and proc.poll() is not None:
                _CHILDREN.pop(proc.pid, None)
                raise LocalNodeError(
                    f"Elasticsearch node {self.name!r} exited during startup "
                    f"(code {proc.returncode}).\n{self._failure_tail()}"
                )
            if proc is None and self._live_state() is None:
                raise LocalNodeError(f"node {self.name!r} stopped while waiting for it")
            last = self._probe(url, timeout=2.0)
            if last is not None:
                if last.get("cluster_name") != self.cluster_name:
                    raise LocalNodeError(
                        f"{url} answers as cluster {last.get('cluster_name')!r}, not as segql "
                        f"node {self.name!r}; is another Elasticsearch on port "
                        f"{urllib.parse.urlsplit(url).port}?"
                    )
                if last.get("health") in ("yellow", "green"):
                    return last
            if time.monotonic() >= deadline:
                seen = f"health {last.get('health')!r}" if last else "no HTTP answer"
                raise LocalNodeError(
                    f"Elasticsearch node {self.name!r} was not healthy in time ({seen}).\n"
                    f"{self._failure_tail()}"
                )
            time.sleep(0.5)

    def _failure_tail(self) -> str:
        """What went wrong, for an error message: the console capture (launcher errors;
        ES runs with -q so it stays small), the main log's last ERROR/FATAL headline
        (its stack trace is often longer than the tail), and the main log's tail."""
        parts: list[str] = []
        console = _tail(self.stdout_file, LOG_TAIL_LINES)
        if any(line.strip() for line in console):
            parts.append(f"--- last {len(console)} lines of {self.stdout_file} ---")
            parts.extend(console)
        # Only what this start wrote: log4j appends to the main log across restarts.
        log = _tail(self.main_log, 400, self._log_offset)
        if log:
            errors = [i for i, ln in enumerate(log) if re.search(r"\]\[(ERROR|FATAL)\s*\]", ln)]
            if errors and errors[-1] < len(log) - LOG_TAIL_LINES:
                parts.append(f"--- last error in {self.main_log} ---")
                parts.extend(log[errors[-1] : errors[-1] + 3])
            last = log[-LOG_TAIL_LINES:]
            parts.append(f"--- last {len(last)} lines of {self.main_log} ---")
            parts.extend(last)
        return "\n".join(parts) or f"(no log output in {self.node_dir})"

    def _stop(self, timeout: float) -> bool:
        """SIGTERM this node's launcher (it shuts the server down), then SIGKILL leftovers."""
        state = self.read_state() or {}
        launcher = int(state.get("pid") or 0)
        pids = set(self.processes())
        if launcher and self._is_ours(launcher):
            pids.add(launcher)
        if not pids:
            return False
        targets = [launcher] if launcher in pids else sorted(pids)
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [pid for pid in pids if self._is_ours(pid)] and not self.processes():
                break
            time.sleep(0.2)
        else:
            for pid in set(self.processes()) | {p for p in pids if self._is_ours(p)}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while self.processes() and time.monotonic() < kill_deadline:
                time.sleep(0.1)
        for pid in pids:
            child = _CHILDREN.pop(pid, None)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(5)
        leftovers = self.processes()
        if leftovers:
            raise LocalNodeError(f"could not stop node {self.name!r}: pids {leftovers} remain")
        return True
