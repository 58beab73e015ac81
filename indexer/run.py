"""Runs over record files (`segql index`): an Indexer (`apply.py`) applies each input in
batches and a checkpoint is stored after every batch, so that running again continues where
a run stopped; rejects go to a file (`rejects.py`), with an optional rate limit, --follow
(keep applying what is appended) and progress by phase (`progress.py`). A whole input going
to an index with no contact yet takes the initial-load way instead: partitioned by contact
(`partition.py`), each contact written once."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from segql.indexer.apply import Indexer
from segql.indexer.batch import Line, Stats, parse_line
from segql.indexer.gc_tuning import between_partitions, deferred, tuned_gc
from segql.indexer.partition import PARTITION_BYTES, partition, read_partition
from segql.indexer.progress import Count, Progress
from segql.indexer.records import Reject
from segql.indexer.rejects import RejectsFile
from segql.stores import searches
from segql.stores.checkpoints import Checkpoint, CheckpointStore, Input

#: Records per batch: each contact a batch mentions is read and written once, so a bigger
#: batch writes less (the sample stream: 2.3x faster than 5,000, for ~40 MB more memory),
#: and a batch is re-applied in seconds after a crash.
DEFAULT_BATCH_SIZE = 20_000
#: Under --follow a batch is cut when its first record is this old (seconds), so that a
#: sustained stream is searchable within about a second, not only when it pauses.
FOLLOW_BATCH_SECONDS = 0.25


@dataclass
class RunOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    #: Records per second at most (None: as fast as Elasticsearch takes them).
    rate: float | None = None
    #: Keep reading a growing file (like `tail -F`) until `stop` is set.
    follow: bool = False
    #: Ignore checkpoints: apply every input from its start.
    from_start: bool = False
    #: Seconds between looks at a followed file that has nothing new.
    poll: float = 0.2
    #: Never take the initial-load way (`Run._load`), even on an empty index.
    incremental: bool = False
    #: The initial load's partition size (bytes of input).
    partition_bytes: int = PARTITION_BYTES


class Run:
    """Applies record files with an Indexer: checkpoints after every batch, rejects to a
    file, an optional rate limit, following, progress."""

    def __init__(self, indexer: Indexer, rejects: RejectsFile, options: RunOptions, *,
                 progress: Progress | None = None, stop: Callable[[], bool] = lambda: False,
                 ) -> None:
        self.indexer = indexer
        self.rejects = rejects
        self.options = options
        self.progress = progress
        self.stop = stop
        self.checkpoints = CheckpointStore(indexer.es, indexer.index, indexer.replicas)
        #: Totals over the inputs, including what earlier (resumed) runs did on them.
        self.totals = Stats()
        self.resumed_lines = 0
        self._started = time.monotonic()
        self._dirty = False
        #: Whether `stop` cut the run short (what is left is applied by running again).
        self.interrupted = False
        #: How far the current input is applied, in bytes as stored, and its size.
        self._applied: tuple[int, int | None] = (0, None)

    def run(self, paths: Sequence[str]) -> Stats:
        with tuned_gc():
            return self._run(paths)

    def _run(self, paths: Sequence[str]) -> Stats:
        try:
            for number, path in enumerate(paths):
                if self.stop():
                    self.interrupted = True
                    break
                source = Input(path)
                try:
                    self._input(source, first=number == 0)
                finally:
                    source.close()
            self.indexer.refresh()
        finally:
            self.rejects.close()
            if self.progress:
                self.progress.close()
        self.totals.written, self.totals.deleted = (self.indexer.stats.written,
                                                    self.indexer.stats.deleted)
        self.totals.failed = self.indexer.stats.failed
        self.totals.conflicts = self.indexer.stats.conflicts
        return self.totals

    def _input(self, source: Input, *, first: bool) -> None:
        base = self._resume(source, first=first)
        at_start = self.indexer.stats.counts()
        loaded = source.line == 0 and self._initial()
        if loaded:
            self._load(source, base, at_start)
        else:
            self._show_applying(source)
        for batch in self._batches(source):
            if batch:
                self._pace()
                result = self.indexer.apply(batch)
                for reject in result.rejects:
                    self.rejects.write(source.path, reject)
                self._dirty = self._dirty or bool(result.written or result.deleted)
                self._checkpoint(source, base, at_start)
            if self._dirty and self.options.follow:
                self.indexer.refresh()  # following: make the news searchable now
                self._dirty = False
            self._applied = source.stored_position()
            if self.stop():
                self.interrupted = True
                break
        if self.progress and not loaded and not self.interrupted:
            self.progress.end()
        now = self.indexer.stats.counts()
        self.totals.add_counts({name: base.get(name, 0) + now[name] - at_start[name]
                                for name in now})

    def _show_applying(self, source: Input) -> None:
        """The `applying` phase: bytes of the input applied (batch by batch), records
        through so far (as they are written)."""
        if self.progress:
            self._applied = source.stored_position()
            begun = self._records()
            self.progress.start("applying", "bytes", lambda: Count(
                self._applied[0], source.stored_position()[1], self._records() - begun),
                f"{source.path} in batches: read, folded onto the stored contacts, written",
                "records")

    def _checkpoint(self, source: Input, base: dict[str, int], at_start: dict[str, int]
                    ) -> None:
        """Record that the input is applied up to where it was read."""
        if not source.resumable:
            return
        counts = {name: base.get(name, 0) + now - at_start[name]
                  for name, now in self.indexer.stats.counts().items()}
        checkpoint = Checkpoint(source.offset, source.line, self.rejects.path,
                                self.rejects.offset(), counts)
        self.indexer.call(self.checkpoints.write, source.checkpoint_id(), source.path,
                          checkpoint)

    def _initial(self) -> bool:
        """Whether to take the initial-load way: a whole input, no pacing, and an index
        holding no contact yet. Only a matter of speed: `Indexer.load` is correct on any
        index (a contact found stored is merged as `apply` does)."""
        if self.options.follow or self.options.rate or self.options.incremental:
            return False
        self.indexer.refresh()
        found = self.indexer.call(searches.search, self.indexer.es, index=self.indexer.index,
                                  size=0, track_total_hits=1)
        return int(found["hits"]["total"]["value"]) == 0

    def _load(self, source: Input, base: dict[str, int], at_start: dict[str, int]) -> None:
        """The initial load of a whole input: split by contact into partition files of
        about PARTITION_BYTES, then load each partition, so that every contact is written
        once with all its records, whatever the stream's order. The checkpoint is stored
        at the end: an interrupted load is continued by `apply` from the input's start,
        which is safe (re-applying is idempotent) and only slower."""
        rejects: list[Reject] = []
        with tempfile.TemporaryDirectory(prefix="segql-load-") as folder:
            if self.progress:
                self.progress.start("partitioning", "bytes", lambda: Count(
                    *source.stored_position(), source.line),
                    f"{source.path} read and split by contact into files in {folder}")
            paths, unkeyed, kept = partition(source, folder, self.options.partition_bytes)
            rejects += self.indexer.apply(unkeyed).rejects  # all rejected, nothing written
            if self.progress:
                begun = self._records()
                self.progress.start("folding+writing", "records", lambda: Count(
                    self._records() - begun, kept),
                    f"{kept:,} records in {len(paths)} partition file(s): each contact "
                    "folded from all its records and written once")
            for path in paths:
                if self.stop():
                    self.interrupted = True
                    return
                with deferred():  # no collection while the partition's records live
                    lines = read_partition(path)
                    os.unlink(path)
                    result = self.indexer.load(lines)
                    rejects += result.rejects
                    self._dirty = self._dirty or bool(result.written or result.deleted)
                    del lines, result
                between_partitions()
        if self.progress:
            self.progress.end()
        for reject in sorted(rejects, key=lambda r: r.line):
            self.rejects.write(source.path, reject)
        self._checkpoint(source, base, at_start)

    def _records(self) -> int:
        """Records through (applied, unchanged or rejected): read by the progress
        display's thread while a batch or partition is written."""
        stats = self.indexer.stats
        return stats.applied + stats.unchanged + stats.rejected

    def _resume(self, source: Input, *, first: bool) -> dict[str, int]:
        """Continue where the input's checkpoint says; returns its counts."""
        found = None
        if source.resumable and not self.options.from_start:
            found = self.indexer.call(self.checkpoints.read, source.checkpoint_id())
        size = source.size()
        if found is None or (size is not None and size < found.offset):
            if first:
                self.rejects.truncate(0)
            return {}
        source.seek(found.offset, found.line)
        self.resumed_lines += found.line
        if found.rejects_path == self.rejects.path:
            self.rejects.truncate(found.rejects_offset)
        counts: dict[str, int] = found.counts
        return counts

    def _batches(self, source: Input) -> Iterator[list[Line]]:
        """Batches of the input; with `follow`, an empty batch whenever it is idle."""
        size = self.options.batch_size
        if self.options.rate:
            size = max(1, min(size, int(self.options.rate)))
        batch: list[Line] = []
        begun = time.monotonic()
        while True:
            raw = source.read_line(self.options.follow)
            if raw is not None:
                record = parse_line(source.line, raw)
                if record is not None:
                    if not batch:
                        begun = time.monotonic()
                    batch.append(Line(source.line, record))
                if len(batch) >= size or (self.options.follow and batch and
                                          time.monotonic() - begun >= FOLLOW_BATCH_SECONDS):
                    yield batch
                    batch = []
                continue
            if batch:
                yield batch
                batch = []
            if not self.options.follow or self.stop():
                return
            if source.replaced():
                source.reopen()
                continue
            yield []
            time.sleep(self.options.poll)

    def _pace(self) -> None:
        if self.options.rate:
            due = self._started + self.indexer.stats.records / self.options.rate
            time.sleep(max(0.0, due - time.monotonic()))
