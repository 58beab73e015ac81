"""Garbage collection tuned for a run of `segql index` (`run.Run.run`).

Python's cyclic garbage collector runs every few hundred allocations and, every so often,
walks every object alive. An indexer allocates millions of objects that live for a batch
(records, contacts, a partition of the initial load) or longer (the written-contacts cache)
and form no reference cycles, so those walks cost it about 30% of its CPU. Reference
counting frees every object as soon as it is dropped whatever the collector does; only
garbage *cycles* (which libraries make: HTTP connections, thread pools) need it. During a
run:

* the automatic collector is off;
* after a batch (`batch_done`, called by the Indexer), once YOUNG_EVERY seconds have
  passed, one collection walks what was allocated since the last one, and `gc.freeze()`
  takes the survivors out of later walks;
* every FULL_EVERY seconds that walk is over everything, so a cycle among objects that
  were alive at a freeze is collected too.

The initial load calls the collection between partitions (`between_partitions`), not
after each partition's batch while its records are still alive: a walk over the millions
of objects of a partition took about a second each time and found nothing to free.

Measured on the 20k-contact sample's initial load, side by side: 0.70 ms of CPU per contact
against 1.00 ms with the default collector. Outside a run (the library, the HTTP service)
the collector is left as it is.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds between collections of what is new, and of everything, during a run.
YOUNG_EVERY = 60.0
FULL_EVERY = 1800.0


class _Tuning:
    active = False
    #: `batch_done` waits for `between_partitions` (the initial load).
    deferred = False
    last_young = 0.0
    last_full = 0.0


@contextmanager
def tuned_gc() -> Iterator[None]:
    """The collector tuned for a run (see the module doc); restored after it."""
    if _Tuning.active:  # nested: the outer run tunes
        yield
        return
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    _Tuning.active = True
    _Tuning.last_young = _Tuning.last_full = time.monotonic()
    try:
        yield
    finally:
        _Tuning.active = False
        gc.unfreeze()
        if enabled:
            gc.enable()


@contextmanager
def deferred() -> Iterator[None]:
    """The initial load of one partition: `batch_done` does nothing inside; the caller
    calls `between_partitions` once the partition's records are dropped."""
    _Tuning.deferred = True
    try:
        yield
    finally:
        _Tuning.deferred = False


def between_partitions() -> None:
    """After a partition of the initial load, its records dropped: as `batch_done`."""
    _collect()


def batch_done() -> None:
    """After a batch: the collections that are due (see the module doc); nothing outside
    a run."""
    if not _Tuning.deferred:
        _collect()


def _collect() -> None:
    if not _Tuning.active:
        return
    now = time.monotonic()
    if now - _Tuning.last_young < YOUNG_EVERY:
        return
    _Tuning.last_young = now
    if now - _Tuning.last_full >= FULL_EVERY:
        _Tuning.last_full = now
        gc.unfreeze()
    gc.collect()
    gc.freeze()
