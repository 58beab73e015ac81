"""The rejects file of a run over record files (`run.py`): each rejected record as one
JSON line with its input file, line number and reason, kept exactly once across resumes."""

from __future__ import annotations

import json
import os
from typing import IO

from segql.indexer.records import Reject


class RejectsFile:
    """The rejects as JSON Lines (`file`, `line`, `reason`, `record`), created when the
    first one comes. On resume it is cut back to the size the checkpoint recorded, so the
    rejects of a batch applied again are not written twice."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.count = 0
        self._out: IO[str] | None = None

    def offset(self) -> int:
        if self._out is not None:
            self._out.flush()
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def truncate(self, offset: int) -> None:
        if self._out is not None:
            self._out.flush()
        if os.path.exists(self.path) and os.path.getsize(self.path) > offset:
            os.truncate(self.path, offset)

    def write(self, source: str, reject: Reject) -> None:
        if self._out is None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - close()
        self._out.write(json.dumps({"file": source} | json.loads(reject.to_json()),
                                   ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
