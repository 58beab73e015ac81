"""Sample files: ``SAMPLE_PATH`` (the shipped data set), ``write`` of a generated stream
as JSON Lines and ``read`` of one back, gzip-compressed by a ``.gz`` suffix (with a fixed
header, so the same data give the same bytes) and ``-`` for standard input/output.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

from .records import Record, dumps
from .stream import generate

SAMPLE_PATH: Path = Path(str(resources.files("segql.data").joinpath("sample.jsonl.gz")))
"""The shipped data set: ``write(SAMPLE_PATH)`` with all defaults."""


def _open_text(path: str | os.PathLike[str], mode: str) -> IO[str]:
    """A text stream on ``path``: gzip by suffix, ``-`` for stdin/stdout."""
    if str(path) == "-":
        return sys.stdin if mode == "r" else sys.stdout
    if str(path).endswith(".gz"):
        if mode == "r":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        raw = open(path, "wb")  # noqa: SIM115 - closed with the wrapper below
        # mtime=0 and no file name in the header: the same data give the same bytes.
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9)
        return _ClosingText(gz, raw)
    return open(path, mode, encoding="utf-8", newline="\n")


class _ClosingText(io.TextIOWrapper):
    """A UTF-8 text wrapper over a gzip stream that also closes the file under it."""

    def __init__(self, gz: gzip.GzipFile, raw: IO[bytes]) -> None:
        super().__init__(gz, encoding="utf-8", newline="\n")
        self._raw = raw

    def close(self) -> None:
        """Close the text layer, the gzip stream and the file."""
        try:
            super().close()
        finally:
            self._raw.close()


def write(
    path: str | os.PathLike[str],
    *,
    counts: Counter[str] | None = None,
    **kw: Any,
) -> int:
    """Write ``generate(**kw)`` as JSON Lines to ``path`` (gzip if it ends with .gz).

    ``-`` writes to standard output. Returns the number of records; when
    ``counts`` is given it is also filled with the number of records per type.
    """
    n = 0
    records = generate(**kw)  # bad arguments fail here, before the file is touched
    out = _open_text(path, "w")
    try:
        for rec in records:
            out.write(dumps(rec))
            out.write("\n")
            n += 1
            if counts is not None:
                counts[rec["type"]] += 1
    finally:
        if out is sys.stdout:
            out.flush()
        else:
            out.close()
    return n


def read(path: str | os.PathLike[str] = SAMPLE_PATH) -> Iterator[Record]:
    """Yield the records of a JSON Lines file (gzip if it ends with .gz); default: shipped set."""
    src = _open_text(path, "r")
    try:
        for line in src:
            if line.strip():
                yield json.loads(line)
    finally:
        if src is not sys.stdin:
            src.close()
