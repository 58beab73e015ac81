"""segql's analysis plugin for a secure managed node: what API keys need and the pinned
distribution lacks.

Why: API keys live in the `.security` system index, whose "email" analyzer names the
`uax_url_email` tokenizer and the `pattern_capture` and `unique` token filters — all from
the analysis-common module, which the Maven `integ-test-zip` does not ship. The plugin
(`analysis_plugin/SecurityAnalysisPlugin.java`, segql's own code over Lucene classes that
the distribution's lib/ does ship) provides the three. `ensure_plugin` builds it when a
secure node starts and its installed version is not the source's, and installs it into the
cached distribution with `bin/elasticsearch-plugin`.

The compiler, first that works: the `javac` of the Java runtime the node uses, or the
`javac` on PATH, if it can compile for Java 21 (`--release 21`); else ECJ, the Eclipse
compiler — one jar (`ECJ_ARTIFACT`) fetched with Maven with strict checksums, checked
against `ECJ_SHA256` and cached in the Maven repository — run on that Java runtime.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from segql.localnode.distribution import PINNED_VERSION, maven_repo
from segql.localnode.errors import LocalNodeError
from segql.localnode.java import MIN_JAVA, JavaRuntime
from segql.localnode.system import LOG_TAIL_LINES, _flock

PLUGIN_NAME = "segql-security-analysis"
ECJ_VERSION = "3.40.0"
ECJ_ARTIFACT = f"org.eclipse.jdt:ecj:{ECJ_VERSION}"
#: SHA-256 of ecj-3.40.0.jar, whose SHA-1 Maven checked against the published one (-C).
ECJ_SHA256 = "05cc22a24e7982970f63a405fc6c820bc80b806f27f3c5a6236fc475f8f7152b"

_SOURCE_DIR = Path(__file__).parent / "analysis_plugin"
_JAVA_SOURCE = _SOURCE_DIR / "SecurityAnalysisPlugin.java"
_DESCRIPTOR = _SOURCE_DIR / "plugin-descriptor.properties"
_JAVAC_VERSION_RE = re.compile(r"javac (\d+)")

Progress = Callable[[str], None] | None


def plugin_version() -> str:
    """The plugin version the source in this package builds: the pinned Elasticsearch
    version and a digest of the source and descriptor (a changed source is rebuilt)."""
    digest = hashlib.sha256()
    for path in (_JAVA_SOURCE, _DESCRIPTOR):
        digest.update(path.read_bytes())
    digest.update(PINNED_VERSION.encode())
    return f"{PINNED_VERSION}-segql.{digest.hexdigest()[:12]}"


def installed_version(dist: Path) -> str | None:
    """Version of the plugin installed in the distribution `dist`, or None."""
    descriptor = dist / "plugins" / PLUGIN_NAME / "plugin-descriptor.properties"
    try:
        text = descriptor.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "version":
            return value.strip()
    return None


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                              stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LocalNodeError(f"cannot run {what}: {exc}") from None
    if proc.returncode != 0:
        out = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
        raise LocalNodeError(f"{what} failed (exit {proc.returncode}):\n{out}")


def _javac_version(javac: Path) -> int | None:
    try:
        proc = subprocess.run([str(javac), "-version"], capture_output=True, text=True,
                              timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _JAVAC_VERSION_RE.search(proc.stdout + proc.stderr)
    return int(match.group(1)) if proc.returncode == 0 and match else None


def find_javac(java: JavaRuntime) -> Path | None:
    """A `javac` that can compile for Java 21: the runtime's own, else the one on PATH."""
    on_path = shutil.which("javac")
    for candidate in (java.home / "bin" / "javac", Path(on_path) if on_path else None):
        if candidate is not None and candidate.is_file():
            version = _javac_version(candidate)
            if version is not None and version >= MIN_JAVA:
                return candidate
    return None


def fetch_ecj(progress: Progress = None) -> Path:
    """The ECJ jar from the Maven repository, fetched once with Maven (strict checksums)
    and checked against `ECJ_SHA256`."""
    jar = maven_repo() / "org/eclipse/jdt/ecj" / ECJ_VERSION / f"ecj-{ECJ_VERSION}.jar"
    if not jar.is_file():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalNodeError(
                f"no javac for Java >= {MIN_JAVA}, and Maven (`mvn`), needed to fetch the "
                f"Eclipse compiler ({ECJ_ARTIFACT}) instead, is not on PATH")
        if progress:
            progress(f"fetching the Eclipse Java compiler {ECJ_VERSION} with Maven (~3 MB) ...")
        _run([mvn, "-B", "-q", "-C", "dependency:get", f"-Dartifact={ECJ_ARTIFACT}",
              "-Dtransitive=false", f"-Dmaven.repo.local={maven_repo()}"],
             f"fetching {ECJ_ARTIFACT} with Maven")
    actual = hashlib.sha256(jar.read_bytes()).hexdigest()
    if actual != ECJ_SHA256:
        jar.unlink(missing_ok=True)
        raise LocalNodeError(f"{jar} has SHA-256 {actual}, expected {ECJ_SHA256}; deleted "
                             "it, try again")
    return jar


def compile_command(java: JavaRuntime, compiler: str | None = None,
                    progress: Progress = None) -> list[str]:
    """The command line (without class path, output and sources) that compiles the
    plugin for Java 21. `compiler` forces "javac" or "ecj"; by default javac if one can."""
    if compiler not in (None, "javac", "ecj"):
        raise LocalNodeError(f"unknown compiler {compiler!r}; use javac or ecj")
    javac = find_javac(java) if compiler != "ecj" else None
    if javac is not None:
        return [str(javac), "--release", str(MIN_JAVA), "-nowarn"]
    if compiler == "javac":
        raise LocalNodeError(f"no javac that can compile for Java {MIN_JAVA}")
    # ECJ's --release needs the JDK's ct.sym, which a runtime lacks: compile at the
    # Java 21 level against the running runtime's classes (>= 21) instead.
    return [str(java.java), "-jar", str(fetch_ecj(progress)), f"-{MIN_JAVA}", "-nowarn"]


def build_plugin(dist: Path, java: JavaRuntime, work: Path, compiler: str | None = None,
                 progress: Progress = None) -> Path:
    """Compile the plugin against `dist`'s lib/ and return its installable zip in `work`."""
    classes = work / "classes"
    classes.mkdir(parents=True)
    class_path = os.pathsep.join(str(p) for p in sorted((dist / "lib").glob("*.jar")))
    command = compile_command(java, compiler, progress)
    if progress:
        progress(f"building the {PLUGIN_NAME} plugin with {Path(command[0]).name} "
                 f"{'(ECJ)' if '-jar' in command else ''}...")
    _run([*command, "-cp", class_path, "-d", str(classes), str(_JAVA_SOURCE)],
         f"compiling {_JAVA_SOURCE.name}")
    jar = work / f"{PLUGIN_NAME}.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: segql\n\n")
        for path in sorted(classes.rglob("*.class")):
            zf.write(path, path.relative_to(classes).as_posix())
    descriptor = _DESCRIPTOR.read_text().format(
        version=plugin_version(), name=PLUGIN_NAME, elasticsearch_version=PINNED_VERSION)
    bundle = work / f"{PLUGIN_NAME}-{plugin_version()}.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("plugin-descriptor.properties", descriptor)
        zf.write(jar, jar.name)
    return bundle


def _plugin_tool(dist: Path, java: JavaRuntime, work: Path, *args: str) -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(work),
           "ES_JAVA_HOME": str(java.home), "ES_PATH_CONF": str(dist / "config"),
           "ES_TMPDIR": str(work)}
    _run([str(dist / "bin" / "elasticsearch-plugin"), *args],
         f"`elasticsearch-plugin {' '.join(args)}`", env=env, cwd=work)


def ensure_plugin(home: Path, dist: Path, java: JavaRuntime, progress: Progress = None,
                  compiler: str | None = None) -> bool:
    """Install the plugin into the distribution `dist` unless this source's version is
    already there (a different version is removed first). True if it (re)installed.
    Nodes already running keep what they loaded; a node loads the plugin when it starts."""
    wanted = plugin_version()
    if installed_version(dist) == wanted:
        return False
    with _flock(home / ".install.lock"):
        if installed_version(dist) == wanted:
            return False
        work = home / f".plugin-build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            bundle = build_plugin(dist, java, work, compiler, progress)
            if (dist / "plugins" / PLUGIN_NAME).exists():
                _plugin_tool(dist, java, work, "remove", PLUGIN_NAME)
            _plugin_tool(dist, java, work, "install", "--batch", bundle.as_uri())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if installed_version(dist) != wanted:
            raise LocalNodeError(f"the {PLUGIN_NAME} plugin did not install into {dist}")
        return True
