"""The initial load collects garbage between partitions, never while a partition's
records are alive (`indexer/gc_tuning.py`)."""

from __future__ import annotations

import pytest

from segql.indexer import gc_tuning


@pytest.mark.parametrize(("due", "in_partition", "between"), [
    (True, 0, 1),    # a collection due: not inside the partition, once after it
    (False, 0, 0),   # none due: none at all
])
def test_no_collection_while_a_partition_lives(monkeypatch: pytest.MonkeyPatch, due: bool,
                                               in_partition: int, between: int) -> None:
    calls: list[int] = []
    with gc_tuning.tuned_gc():
        monkeypatch.setattr(gc_tuning.gc, "collect", lambda *_: calls.append(1) or 0)
        if due:
            monkeypatch.setattr(gc_tuning._Tuning, "last_young", -1e9)
        with gc_tuning.deferred():
            gc_tuning.batch_done()  # what Indexer.load calls after each partition
        assert len(calls) == in_partition
        gc_tuning.between_partitions()
        assert len(calls) == between
        gc_tuning.batch_done()  # outside the partition: as before, once due
        assert len(calls) == between
        monkeypatch.undo()
