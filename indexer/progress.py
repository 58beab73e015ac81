"""The progress of a run over record files (`run.py`), phase by phase, on standard error.

A run goes through named phases one after another — the initial load `partitioning` (the
input read and split by contact; bytes of the input) then `folding+writing` (each
contact folded from all its records and written once; records), an incremental run
`applying` (batches read, folded onto the stored contacts and written; bytes of the
input) — each with a count, its total when known, a percentage and an ETA.

The run only says which phase starts and how to read its count (`Progress.start` with a
`poll` function); a ticker thread reads it at most 4 times a second, so the indexer's hot
loops pay nothing. On a terminal a `rich` bar shows the running phase, and the final bar of
each phase done stays above it; otherwise plain lines go to the log: one when a phase
starts, one every PLAIN_EVERY seconds while it runs and one when it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

#: Seconds between two plain progress lines of one phase.
PLAIN_EVERY = 10.0
#: Seconds between two looks at the count on a terminal (4 times a second).
TERMINAL_EVERY = 0.25


class Count(NamedTuple):
    """A phase's count now: `done` of `total` (None: unknown), and when the unit is bytes
    the lines or records so far (`Phase.items` says which; None: not counted)."""

    done: int
    total: int | None
    items: int | None = None


NOTHING = Count(0, None)


@dataclass
class Phase:
    """One phase of a run: how to read its count, and the count last read."""

    name: str
    #: "bytes" or "records".
    unit: str
    poll: Callable[[], Count]
    #: What the phase does, said once when it starts.
    note: str = ""
    #: What `Count.items` counts.
    items: str = "lines"
    started: float = field(default_factory=time.monotonic)
    count: Count = NOTHING
    #: The count when the phase started (a resumed input starts part way).
    first: Count = NOTHING
    ended: float | None = None

    def elapsed(self, now: float) -> float:
        return (self.ended or now) - self.started

    def percent(self) -> float | None:
        total = self.count.total
        if total is None:
            return None
        return 100.0 * min(self.count.done, total) / total if total else 100.0

    def eta(self, now: float) -> float | None:
        """Seconds left at the phase's average rate so far."""
        done, total = self.count.done, self.count.total
        if total is not None and done >= total:
            return 0.0
        if not total or done <= self.first.done:
            return None
        return self.elapsed(now) / (done - self.first.done) * (total - done)

    def amounts(self) -> str:
        """`186.0/412.3 MB, 1,310,112 lines` or `621,000/1,312,000 records`."""
        done, total, items = self.count
        if self.unit == "bytes":
            scale, unit = byte_unit(max(done, total or 0))
            text = f"{done / scale:,.1f}" + (f"/{total / scale:,.1f}" if total is not None
                                             else "") + f" {unit}"
            return text + (f", {items:,} {self.items}" if items is not None else "")
        return f"{done:,}" + (f"/{total:,}" if total is not None else "") + f" {self.unit}"


def byte_unit(amount: float) -> tuple[float, str]:
    """The unit to show this many bytes in, and its size."""
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if amount >= scale:
            return scale, unit
    return 1.0, "bytes"


def clock(seconds: float) -> str:
    whole = int(seconds)
    return (f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}" if whole >= 3600
            else f"{whole // 60}:{whole % 60:02d}")


class Display(ABC):
    """Where phases are shown."""

    #: Seconds between two looks at the current phase's count.
    every: float

    @abstractmethod
    def begin(self, phase: Phase) -> None: ...

    @abstractmethod
    def update(self, phase: Phase, now: float) -> None: ...

    @abstractmethod
    def end(self, phase: Phase, now: float) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """The display is done (a phase may have been left unfinished: an interruption)."""


class Progress:
    """Phases one after another on a display; a daemon thread reads the current phase's
    count every `display.every` seconds. A display that can't be written to any more
    (stderr closed) is dropped: progress is never a reason for a run to fail."""

    def __init__(self, display: Display) -> None:
        self.display: Display | None = display
        self.phase: Phase | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="segql-progress", daemon=True)
        self._ticker.start()

    def start(self, name: str, unit: str, poll: Callable[[], Count], note: str = "",
              items: str = "lines") -> None:
        """A new phase (ending the one before, if any)."""
        self.end()
        with self._lock:
            self.phase = Phase(name, unit, poll, note, items)
            self.phase.count = self.phase.first = self._read(self.phase)
            self._show("begin", self.phase)

    def end(self) -> None:
        """The current phase is complete: its count is read one last time."""
        with self._lock:
            phase, self.phase = self.phase, None
            if phase is not None:
                phase.count = self._read(phase)
                phase.ended = time.monotonic()
                self._show("end", phase, phase.ended)

    def close(self) -> None:
        """Stop showing; a phase still running (interrupted, failed) is left as it is."""
        self._closed.set()
        self._ticker.join()
        with self._lock:
            self.phase = None
            self._show("close")

    @staticmethod
    def _read(phase: Phase) -> Count:
        try:
            return phase.poll()
        except (OSError, ValueError):  # the input was just closed or reopened: next time
            return phase.count

    def _tick(self) -> None:
        every = self.display.every if self.display else 1.0
        while not self._closed.wait(every):
            with self._lock:
                if self.phase is not None:
                    self.phase.count = self._read(self.phase)
                    self._show("update", self.phase, time.monotonic())

    def _show(self, step: str, *args: Any) -> None:
        """One step of the display (`Display.begin`, ...), which is dropped when it fails
        to write."""
        if self.display is not None:
            try:
                getattr(self.display, step)(*args)
            except (OSError, ValueError):  # stderr closed: a broken pipe, a closed file
                self.display = None


class PlainLines(Display):
    """Plain lines for a log: when a phase starts, every PLAIN_EVERY seconds while it runs
    (when its count moved), when it ends."""

    every = 1.0

    def __init__(self, stream: IO[str], prefix: str = "segql index: ") -> None:
        self.stream = stream
        self.prefix = prefix
        self._last = (0.0, NOTHING)

    def _write(self, text: str) -> None:
        self.stream.write(self.prefix + text + "\n")
        self.stream.flush()

    def begin(self, phase: Phase) -> None:
        self._write(f"{phase.name} started: {phase.note}" if phase.note
                    else f"{phase.name} started")
        self._last = (phase.started, phase.count)

    def _line(self, phase: Phase, now: float, *, ended: bool) -> str:
        percent = phase.percent()
        text = phase.name + (f" {percent:.1f}%" if percent is not None else "")
        text += f"  {phase.amounts()}"
        elapsed = phase.elapsed(now)
        if ended:
            return text + f"  done in {clock(elapsed)}"
        rate = (phase.count.done - phase.first.done) / max(elapsed, 1e-9)
        if phase.unit == "bytes":
            scale, unit = byte_unit(rate)
            text += f"  {rate / scale:,.1f} {unit}/s"
        else:
            text += f"  {rate:,.0f} {phase.unit}/s"
        eta = phase.eta(now)
        return text + (f"  ETA {clock(eta)}" if eta is not None else "")

    def update(self, phase: Phase, now: float) -> None:
        shown, count = self._last
        if now - shown >= PLAIN_EVERY and phase.count != count:
            self._write(self._line(phase, now, ended=False))
            self._last = (now, phase.count)

    def end(self, phase: Phase, now: float) -> None:
        if phase.count.total is None:  # complete: what was done is all there was
            phase.count = phase.count._replace(total=phase.count.done)
        self._write(self._line(phase, now, ended=True))

    def close(self) -> None:
        self.stream.flush()


class TerminalBars(Display):
    """A `rich` bar for the running phase, redrawn in place at most 4 times a second;
    the bars of the phases done stay above it."""

    every = TERMINAL_EVERY

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        class Quitting(Console):
            def on_broken_pipe(self) -> None:  # rich's own would exit the process
                self.quiet = True
                raise BrokenPipeError(32, "the progress display's stream is closed")

        self.bars: RichProgress = RichProgress(
            TextColumn("{task.description:<16}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[amounts]}"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(),
            console=Quitting(file=stream), auto_refresh=False, redirect_stdout=False,
            redirect_stderr=False)
        self.bars.start()
        self._task: TaskID | None = None
        #: When the bar was last drawn, and with what count.
        self._drawn = (0.0, NOTHING)

    def begin(self, phase: Phase) -> None:
        if phase.note:
            self.bars.console.print(f"{phase.name}: {phase.note}", markup=False,
                                    highlight=False)
        self._task = self.bars.add_task(phase.name, total=phase.count.total,
                                        completed=phase.count.done, amounts=phase.amounts())
        self.bars.refresh()

    def update(self, phase: Phase, now: float) -> None:
        """Redraw when the count moved, or after a second (the clocks move)."""
        if phase.count != self._drawn[1] or now - self._drawn[0] >= 1:
            self._draw(phase, now)

    def _draw(self, phase: Phase, now: float) -> None:
        if self._task is not None:
            self._drawn = (now, phase.count)
            done, total, _ = phase.count
            if total == 0:  # nothing to do is all done
                done = total = 1
            self.bars.update(self._task, completed=done, total=total, amounts=phase.amounts())
            self.bars.refresh()

    def end(self, phase: Phase, now: float) -> None:
        """The phase's last bar is printed for good above the live one (which then only
        draws the phase running: one bar to redraw)."""
        if phase.count.total is None:
            phase.count = phase.count._replace(total=phase.count.done)
        self._draw(phase, now)
        if self._task is not None:
            ended = [task for task in self.bars.tasks if task.id == self._task]
            self.bars.console.print(self.bars.make_tasks_table(ended))
            self.bars.remove_task(self._task)
            self.bars.refresh()
        self._task = None

    def close(self) -> None:
        self.bars.refresh()
        self.bars.stop()


def stderr_progress() -> Progress:
    """Bars when standard error is a terminal, plain lines otherwise."""
    display = TerminalBars(sys.stderr) if sys.stderr.isatty() else PlainLines(sys.stderr)
    return Progress(display)
