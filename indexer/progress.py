"""The terminal progress display of a run over record files (`run.py`): one line on
standard error, rewritten in place, when it is a terminal; nothing otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    """A progress line on a terminal: records, records/s and, for plain files, the ETA."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self._shown = 0.0

    def show(self, records: int, done: int | None, total: int | None, *,
             force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.5:
            return
        self._shown = now
        rate = records / max(now - self.started, 1e-9)
        text = f"{records:,} records  {rate:,.0f}/s"
        if done is not None and total and done <= total:
            eta = (now - self.started) / max(done, 1) * (total - done)
            text += f"  {100 * done / total:5.1f}%  ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        self.stream.write("\r" + text.ljust(60))
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def stderr_progress() -> Progress | None:
    """A progress line when standard error is a terminal; quiet otherwise."""
    return Progress(sys.stderr) if sys.stderr.isatty() else None
