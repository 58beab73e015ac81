"""Reading record files: plain or gzip JSON Lines, or `-` for standard input.

Lines come as bytes; `records.read_records` decodes each one, so a line that is not UTF-8
becomes a reject with its reason instead of stopping the stream or being altered.
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from segql.errors import InputError


def check_readable(paths: Iterable[str]) -> None:
    """An InputError for the first path that can't be read as a file (`-` is stdin), so
    a mistyped name is reported before any cluster is asked."""
    for path in paths:
        if path == "-":
            continue
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file" if not os.path.exists(path) else
                             f"{path}: not a file")
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: permission denied")


@contextmanager
def open_records(path: str) -> Iterator[Iterator[bytes]]:
    """The raw lines of a record file (`.gz` is decompressed; `-` is stdin)."""
    try:
        handle: BinaryIO = (
            sys.stdin.buffer if path == "-"
            else gzip.open(path, "rb") if path.endswith(".gz")  # type: ignore[assignment]  # noqa: SIM115
            else open(path, "rb")  # noqa: SIM115
        )
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from None
    try:
        yield iter(handle)
    except (OSError, EOFError) as error:
        raise InputError(f"{path}: {error}") from None
    finally:
        if path != "-":
            handle.close()
