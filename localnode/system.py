"""Operating-system helpers of the managed node, free of any node state: TCP ports
(`free_port`, `port_in_use`), /proc pid checks and the registry of child processes
started here, log tails, a proxy-free JSON GET, atomic JSON writes, advisory file locks,
recursive chown, and the unprivileged service user Elasticsearch runs as when invoked as
root (creating it, and testing what it can run)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from segql.localnode.errors import LocalNodeError

LOG_TAIL_LINES = 30

# Popen objects of nodes started by this process, kept so they can be reaped
# (no zombies, no "subprocess still running" warnings) when stopped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (for tests; racy by nature, but good enough)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already listens on host:port (so ES would fail to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option Elasticsearch/Netty uses, so TIME_WAIT leftovers don't count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int, offset: int = 0) -> list[str]:
    """Last `lines` lines of a text file, ignoring its first `offset` bytes ([] if absent)."""
    if lines <= 0 or not path.is_file():
        return []
    with path.open("rb") as fh:
        if offset and offset <= path.stat().st_size:
            fh.seek(offset)
        return [
            line.decode("utf-8", "replace").rstrip("\r\n") for line in deque(fh, maxlen=lines)
        ]


def _http_json(
    url: str, timeout: float = 3.0, *, cafile: Path | None = None,
    auth: tuple[str, str] | None = None,
) -> Any:
    """GET a JSON document without proxies (a local node must never go via a proxy);
    over TLS verified against `cafile`, with basic `auth` when given."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if cafile is not None:
        handlers.append(urllib.request.HTTPSHandler(
            context=ssl.create_default_context(cafile=str(cafile))))
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _proc_cmdline(pid: int) -> list[str]:
    """argv of a live process ([] if gone, a zombie, or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie; reaps our own exited children."""
    if pid <= 0:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)
        return False
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # Field 3, after the parenthesised comm (which may contain spaces).
    state = stat_line.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _write_json_atomic(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    """Write JSON via a temp file + rename so readers never see half a file (the temp file
    gets `mode` before any content, so secrets are never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock, so concurrent `up`s don't unpack or start twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """chown -R without following symlinks."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, entry), uid, gid, follow_symlinks=False)


# --------------------------------------------------------------------------- service user


def ensure_service_user(name: str) -> tuple[int, int]:
    """(uid, gid) of the unprivileged user ES runs as, created with useradd if missing."""
    try:
        entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    cmd = [useradd, "--system", "--no-create-home", "--user-group",
           "--home-dir", "/nonexistent", "--shell", shell, name]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    except OSError as exc:
        raise LocalNodeError(f"cannot create service user {name!r}: {exc}") from exc
    try:
        entry = pwd.getpwnam(name)  # also covers a concurrent creation
    except KeyError:
        raise LocalNodeError(
            f"cannot create service user {name!r} (Elasticsearch refuses to run as root): "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _runs_as(user: tuple[int, int], argv: list[str]) -> bool:
    """True if `argv` succeeds when run as `user` (a real permission test)."""
    try:
        proc = subprocess.run(
            argv, user=user[0], group=user[1], extra_groups=[], capture_output=True,
            timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0
