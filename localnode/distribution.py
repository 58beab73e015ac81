"""The pinned Elasticsearch distribution: its version (`PINNED_VERSION`), the Maven
coordinates of its `integ-test-zip` (no bundled JDK), the download with `mvn
dependency:get` (or `$SEGQL_ES_ZIP` on offline machines), and the safe, atomic unpack into
`<home>/dist/` that `ensure_distribution` performs once per home."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from segql.localnode.errors import LocalNodeError
from segql.localnode.system import LOG_TAIL_LINES, _flock

PINNED_VERSION = "9.2.0"
MAVEN_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{PINNED_VERSION}:zip"
_ZIP_RELPATH = (
    "org/elasticsearch/distribution/integ-test-zip/elasticsearch/"
    f"{PINNED_VERSION}/elasticsearch-{PINNED_VERSION}.zip"
)


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
