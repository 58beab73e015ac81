"""Deterministic sample data: contacts, events, visits and deletes (LANGUAGE.md §8).

The generated stream looks like the traffic of a Polish/European shop that sends
e-mail, SMS and push: mostly in time order, with the rough edges a real feed has.

* Some contacts' records arrive only after their first events and visits; a few
  contacts never get a contact record at all (they exist only through activity).
* A few events and visits are delivered twice (same id, same content).
* Later contact records update some fields; some set a field to ``null``
  (removal), an empty list or an empty string.
* About 0.5% of contacts are deleted; nothing of theirs arrives after the delete.
* Timestamps are RFC 3339, mostly ``Z``, a few in Warsaw local time
  (``+01:00`` / ``+02:00``, with the real DST switch). Events and visits are
  stamped with the time they happened and may arrive slightly out of order.

Same arguments, same output, byte for byte: everything comes from one
``random.Random(seed)``; the clock and the global generator are never used.

Regenerate the shipped set (``core/data/sample.jsonl.gz``) with::

    python -m segql.sample -o core/data/sample.jsonl.gz

The modules: ``records`` (the §8 record, its key order and JSON line), ``timestamps``,
``vocabulary`` (names, cities, products), ``state``, ``people`` and ``activity`` (the
builder's parts), ``stream`` (``generate``: ordering, spilling to sorted runs),
``files`` (``write``, ``read``, ``SAMPLE_PATH``) and ``cli`` (``python -m segql.sample``).
"""

from __future__ import annotations

from .cli import main
from .files import SAMPLE_PATH, read, write
from .records import FIELD_ORDER, KEY_ORDER, PROP_ORDER, Record, canonical, dumps
from .stream import (
    DEFAULT_ACCOUNT,
    DEFAULT_CONTACTS,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    GENERATOR_VERSION,
    generate,
    sample_name,
)
from .timestamps import format_ts
from .vocabulary import TAGS

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_CONTACTS",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "FIELD_ORDER",
    "GENERATOR_VERSION",
    "KEY_ORDER",
    "PROP_ORDER",
    "SAMPLE_PATH",
    "TAGS",
    "Record",
    "canonical",
    "dumps",
    "format_ts",
    "generate",
    "main",
    "read",
    "sample_name",
    "write",
]
