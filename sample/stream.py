"""The sample stream: ``generate`` and its ``_Builder``, which builds every contact with its
activity, redeliveries, updates and delete, orders the whole by arrival, numbers event
and visit ids in that order, and beyond ``SPILL_RECORDS`` spills sorted runs to temporary
files and merges them (the stream does not depend on where it spilled).
"""

from __future__ import annotations

import heapq
import pickle
import random
import tempfile
from collections.abc import Iterator
from typing import IO

from .activity import _Activity
from .people import _People
from .records import Record, canonical
from .timestamps import DAY, HOUR, MINUTE, _parse_instant

DEFAULT_CONTACTS = 3000
DEFAULT_SEED = 7
DEFAULT_ACCOUNT = "demo"
DEFAULT_START = "2024-11-01T00:00:00Z"
DEFAULT_END = "2026-11-01T00:00:00Z"
#: The version of what `generate` writes: bump it whenever the same arguments give other
#: records, so that a file cached under an older version (the benchmarks cache samples by
#: `sample_name`) is never taken for the current output. 1: before consent; 2: consent
#: on contact records (b41a285).
GENERATOR_VERSION = 2
#: Records held in memory before a sorted run is spilled to a temporary file.
SPILL_RECORDS = 2_000_000
SPILL_BLOCK = 10_000


class _Builder(_People, _Activity):
    """Builds the whole stream; one instance per ``generate`` call."""

    def __init__(self, rng: random.Random, account: str, t0: int, t1: int) -> None:
        self.rng = rng
        self.account = account
        self.t0 = t0
        self.t1 = t1
        self.emails: set[str] = set()
        self.stream: list[tuple[int, int, Record]] = []
        self.seq = 0
        #: The seqs of spilled records that a later entry repeats (`_spill`).
        self.shared: set[int] = set()
        self.products = self._catalog()

    # -- plumbing

    def _push(self, arrival: int, rec: Record) -> None:
        self.stream.append((arrival, self.seq, rec))
        self.seq += 1

    # -- the whole stream

    def run(self, n: int) -> Iterator[Record]:
        rng = self.rng
        span = self.t1 - self.t0
        created = sorted(self.t0 + int(span * 0.92 * rng.random()) for _ in range(n))
        order = list(range(n))
        rng.shuffle(order)
        n_heavy = max(1, n // 500) if n else 0
        n_orphan = n // 1000
        n_late = round(n * 0.03)
        heavy = set(order[:n_heavy])
        orphan = set(order[n_heavy : n_heavy + n_orphan])
        late = set(order[n_heavy + n_orphan : n_heavy + n_orphan + n_late])
        n_del = max(1, round(n * 0.005)) if n >= 20 else 0
        deletable = [i for i in order[n_heavy + n_orphan :] if created[i] < self.t1 - 30 * DAY]
        deleted = set(deletable[:n_del])
        runs: list[Iterator[tuple[int, int, Record | int]]] = []
        for i in range(n):
            self._contact(
                i, created[i], heavy=i in heavy, orphan=i in orphan,
                late=i in late, deleted=i in deleted,
            )  # fmt: skip
            if len(self.stream) >= SPILL_RECORDS:
                runs.append(self._spill())
        self.stream.sort(key=lambda e: (e[0], e[1]))
        counters = {"event": 0, "visit": 0}
        prefix = {"event": "e", "visit": "v"}
        # (arrival, seq) is unique, so the merge of sorted runs is the order a single sort
        # gives: the stream does not depend on SPILL_RECORDS
        held: dict[int, Record] = {}
        for _, seq, entry in heapq.merge(*runs, self.stream):
            rec = held[entry] if isinstance(entry, int) else entry
            if seq in self.shared:
                held[seq] = rec
            kind = rec["type"]
            if kind in counters and "id" not in rec:
                counters[kind] += 1
                rec["id"] = f"{prefix[kind]}{counters[kind]:07d}"
            yield canonical(rec)

    def _spill(self) -> Iterator[tuple[int, int, Record | int]]:
        """The records built so far, sorted, moved to a temporary file (a large stream
        does not fit in memory); returns their reader."""
        self.stream.sort(key=lambda e: (e[0], e[1]))
        # A record pushed twice (a redelivery) is one object, which gets one id; on disk
        # the second entry names the first one's seq instead (see `run`).
        firsts: dict[int, int] = {}
        entries: list[tuple[int, int, Record | int]] = []
        for arrival, seq, rec in self.stream:
            first = firsts.setdefault(id(rec), seq)
            if first != seq:
                self.shared.add(first)
            entries.append((arrival, seq, rec if first == seq else first))
        spilled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the reader
        for start in range(0, len(entries), SPILL_BLOCK):
            pickle.dump(entries[start : start + SPILL_BLOCK], spilled)
        self.stream = []
        spilled.seek(0)
        return _read_spilled(spilled)

    # -- one contact with everything that belongs to it

    def _contact(
        self, i: int, created: int, *, heavy: bool, orphan: bool, late: bool, deleted: bool
    ) -> None:
        rng = self.rng
        person, record = self._person(f"c{i + 1:06d}", created)
        frac = (self.t1 - created) / (self.t1 - self.t0)
        if heavy:
            n_ev, n_vis = rng.randint(200, 700), rng.randint(60, 200)
        else:
            scale = 0.25 + 0.75 * frac
            n_ev = min(150, int(rng.lognormvariate(2.55, 1.0) * scale))
            n_vis = min(60, int(rng.lognormvariate(1.6, 1.0) * scale))
        acts: list[tuple[int, Record]] = []
        for _ in range(n_ev):
            acts.extend(self._event(person))
        for _ in range(n_vis):
            acts.append(self._visit(person))
        # Retried deliveries: the very same record again, a bit later.
        for arrival, rec in list(acts):
            p = 0.003 if rec["type"] == "event" else 0.002
            if rng.random() < p:
                acts.append((arrival + rng.randint(1, 6 * HOUR), rec))
        acts.sort(key=lambda a: a[0])

        arrival = created
        if late and acts:
            arrival = max(created, acts[0][0] + rng.randint(MINUTE, 2 * DAY))
        updates: list[tuple[int, Record]] = []
        if not orphan:
            r = rng.random()
            n_upd = 2 if r < 0.03 else 1 if r < 0.15 else 0
            for _ in range(n_upd):
                if arrival + HOUR < self.t1:
                    when = rng.randint(arrival + HOUR, self.t1 - 1)
                    updates.append((when, self._update(person)))
        acts.extend(updates)
        acts.sort(key=lambda a: a[0])
        if deleted and not orphan and arrival + DAY < self.t1:
            t_del = rng.randint(arrival + DAY, self.t1 - 1)
            acts = [a for a in acts if a[0] < t_del]
            acts.append((t_del, {"type": "delete", "account": self.account, "id": person.cid}))
        if not orphan:
            self._push(arrival, record)
        for when, rec in acts:
            self._push(when, rec)


def _read_spilled(spilled: IO[bytes]) -> Iterator[tuple[int, int, Record | int]]:
    with spilled:
        while True:
            try:
                block = pickle.load(spilled)
            except EOFError:
                return
            yield from block


def sample_name(contacts: int, seed: int) -> str:
    """The file name a cached sample of this generator goes by (JSON Lines)."""
    return f"sample-{contacts}-seed{seed}-gen{GENERATOR_VERSION}.jsonl"


def generate(
    contacts: int = DEFAULT_CONTACTS,
    seed: int = DEFAULT_SEED,
    account: str = DEFAULT_ACCOUNT,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
) -> Iterator[Record]:
    """Yield §8 input records for ``contacts`` contacts, deterministically for ``seed``.

    Activity lies in [start, end). The stream is built before the first record is
    yielded (about 20 records per contact): in memory, and in sorted runs on temporary
    files beyond SPILL_RECORDS, so 1M contacts (21M records) fit in a few GB.
    """
    if contacts < 0:
        raise ValueError(f"contacts must be >= 0, got {contacts}")
    t0, t1 = _parse_instant(start), _parse_instant(end)
    if t1 - t0 < DAY:
        raise ValueError(f"end ({end}) must be at least a day after start ({start})")
    return _Builder(random.Random(seed), account, t0, t1).run(contacts)
