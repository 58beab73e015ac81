"""The rejects file of a run over record files (`run.py`): each rejected record as one
JSON line with its input file, line number and reason, kept exactly once across resumes;
and the reasons of the rejects written, counted by kind for the summary of a run."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import IO

from segql.indexer.records import Reject

#: What varies between two rejects for the same reason: where a JSON error is, the byte
#: that is not UTF-8, a quoted value at the end or before a colon.
_VARYING = [
    (re.compile(r": line \d+ column \d+ \(char \d+\)$"), ""),
    (re.compile(r" at byte \d+$"), ""),
    (re.compile(r"""(?<= )(?:'[^']*'|"[^"]*")(?=:|$)"""), "…"),
]


def reason_kind(reason: str) -> str:
    """A reject's reason without the value it quotes, so that rejects for the same reason
    count together (e.g. "`ts` is not an ISO 8601 date or instant: …")."""
    for pattern, replacement in _VARYING:
        reason = pattern.sub(replacement, reason)
    return reason


class RejectsFile:
    """The rejects as JSON Lines (`file`, `line`, `reason`, `record`), created when the
    first one comes. On resume it is cut back to the size the checkpoint recorded, so the
    rejects of a batch applied again are not written twice."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.count = 0
        #: The rejects written by this process, by `reason_kind`.
        self.reasons: Counter[str] = Counter()
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
        self.reasons[reason_kind(reject.reason)] += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
