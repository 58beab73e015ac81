"""Security of a managed node started with `secure=True`: the bootstrap superuser
(`ADMIN_USER`), the two least-privilege roles (`ROLE_PRIVILEGES`, also used for API keys),
and `NodeSecurity`, the part of `LocalNode` that generates the CA and the HTTP TLS
certificate, creates the superuser with a random password stored 0600, reads those
credentials back, and runs the distribution's `bin/elasticsearch-*` tools."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import zipfile
from typing import Any

from segql.localnode.errors import LocalNodeError
from segql.localnode.java import JavaRuntime
from segql.localnode.layout import NodeLayout
from segql.localnode.system import LOG_TAIL_LINES, _write_json_atomic

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


class NodeSecurity(NodeLayout):
    """TLS material, the bootstrap superuser and the tools that make them (part of
    `LocalNode`)."""

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
