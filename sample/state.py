"""What the sample builder keeps while it works: ``_Person`` (one contact being built),
``_Product`` (one catalog product) and ``_BuilderState``, the state shared by the
builder's parts (random generator, account, time window, e-mails in use, catalog) with
the weighted pick they all draw from.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class _Person:
    """What the generator remembers about one contact while building its records."""

    cid: str
    created: int
    polish: bool
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    push: bool
    ascii_name: bool = False
    #: Updates made so far (seeds the consent changes: `people._consent_rng`).
    updates: int = 0
    event_kinds: list[str] = field(default_factory=list)
    event_weights: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Product:
    """One catalog product."""

    pid: str
    name: str
    slug: str
    category: str
    price: float


class _BuilderState:
    """The state every part of the builder draws on; set by ``_Builder.__init__``."""

    rng: random.Random
    account: str
    t0: int
    t1: int
    emails: set[str]
    products: list[_Product]

    def _pick(self, pairs: Sequence[tuple[str, float]]) -> str:
        return self.rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]
