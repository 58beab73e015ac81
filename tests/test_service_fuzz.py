"""Schemathesis over the service's own OpenAPI document, against a real `segql serve`:
every generated request (coverage, fuzzing and stateful phases) must get an answer that is
no server error and matches the documented responses (status, content type, schema), and
405s list every method of the path. One run without tokens (so generated requests reach
every endpoint's logic), one with a token (so 401/403 answers are checked too).

`positive_data_acceptance` is left out: a JSON string in the schema cannot say which
strings are valid segment text, so a schema-valid request may rightly be refused (422 with
the segment's diagnostics)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from service import running_service

pytestmark = pytest.mark.es

ST = str(Path(sys.executable).with_name("st"))


def _run(url: str, examples: int, where: Path, *headers: str) -> tuple[int, int, str]:
    argv = [ST, "run", f"{url}/openapi.json", "-n", str(examples), "--checks", "all",
            "--exclude-checks", "positive_data_acceptance", "--generation-deterministic",
            "--max-response-time", "30", *[part for h in headers for part in ("-H", h)]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=where,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HOME": str(where)})
    output = done.stdout + done.stderr
    found = re.search(r"(\d+) generated, (\d+) passed", output) or re.search(
        r"(\d+) generated, .*", output)
    assert found, output[-3000:]
    generated = int(found.group(1))
    return done.returncode, generated, output


def test_schemathesis_finds_no_server_error_and_no_mismatch(
        es: Elasticsearch, es_url: str, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    with running_service(es, es_url, no_auth=True) as service:
        code, generated, output = _run(service.url, 40, tmp_path)
    assert code == 0, output[-6000:]
    assert generated >= 800, output[-2000:]
    with running_service(es, es_url) as service:
        token = service.token("fuzz", "write")
        code_auth, generated_auth, output_auth = _run(
            service.url, 10, tmp_path, f"Authorization: Bearer {token}")
    assert code_auth == 0, output_auth[-6000:]
    with capsys.disabled():
        print(f"\nschemathesis: {generated} cases without tokens, {generated_auth} with a "
              "token; 0 failures (no server error, every response as documented)")
