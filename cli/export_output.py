"""Where `segql export` writes, so that an incomplete list is never taken for a complete
one (docs/send-time.md, "what an export guarantees").

* `-o FILE` (a regular file; a device or FIFO such as /dev/null is written as is): the
  rows go to `FILE.partial` beside it; only a complete export renames it to
  `FILE` (one atomic rename, after flushing it to disk). A failed export removes
  `FILE.partial` and leaves any earlier `FILE` untouched; the exit code is not 0.
* stdout: rows stream as they come, so a failure cannot take back what was written: the
  exit code says it (not 0, the error on stderr, no summary), and `--format jsonl` also
  ends such a stream with an error record, `{"complete": false, "error": "..."}`, which no
  contact row looks like.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from segql.stores.connection import cluster_failure

PARTIAL_SUFFIX = ".partial"


@contextlib.contextmanager
def complete_output(path: str, fmt: str) -> Iterator[TextIO]:
    """The stream to write an export to (see the module's docstring)."""
    if path == "-":
        try:
            yield sys.stdout
        except Exception as error:
            if fmt == "jsonl" and not isinstance(error, BrokenPipeError):
                found = cluster_failure(error)
                said = str(found) if found is not None else "the export failed"
                with contextlib.suppress(OSError):
                    sys.stdout.write(json.dumps({"complete": False, "error": said},
                                                ensure_ascii=False) + "\n")
                    sys.stdout.flush()
            raise
        return
    if os.path.exists(path) and not os.path.isfile(path):  # /dev/null, a FIFO: as is
        with open(path, "w", encoding="utf-8") as device:
            yield device
        return
    partial = path + PARTIAL_SUFFIX
    out = open(partial, "w", encoding="utf-8")  # noqa: SIM115 - closed below, renamed
    try:
        yield out
        out.flush()
        os.fsync(out.fileno())
        out.close()
        os.replace(partial, path)
    except BaseException:
        out.close()
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
