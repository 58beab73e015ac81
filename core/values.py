"""Value normalisation shared by the indexer, the compiler and the reference evaluator.

Text is compared after NFC normalisation and Unicode full case folding (LANGUAGE.md §3.1):
`fold("ŁÓDŹ") == fold("łódź")`, `fold("STRASSE") == fold("straße")`. Elasticsearch's own
`case_insensitive` flag is ASCII-only and this distribution has no analysis-common module,
so the indexer writes folded copies and the compiler folds operands the same way.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

#: The longest needle (folded, in characters) that the compiler makes a `wildcard` query
#: (`contains`; `ends_with` on a property); a longer one is a literal `regexp`
#: (compiler/targets.py: why).
WILDCARD_CHARS = 24
#: Its name from document shape 1, whose suffix slot was cut at the same length (the
#: tests' needle lengths straddle it).
SUFFIX_CHARS = WILDCARD_CHARS

#: The longest text value the index accepts, raw and folded, in UTF-8 bytes: Lucene keeps
#: terms under 32,766 bytes, and an event property's term is `name NUL fold(value)`.
MAX_TEXT_BYTES = 16_384

#: The date-only and instant spellings that LANGUAGE.md accepts (`YYYY-MM-DD`, ISO 8601).
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


def finite(number: float) -> bool:
    """Whether a JSON or segment number is a finite 64-bit double (an int beyond any
    float is not)."""
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def fold(text: str) -> str:
    """The case-insensitive comparison key of a text: NFC, full case fold, NFC again."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def reverse(text: str) -> str:
    """Reversed code points: `ends_with x` on a contact field is `prefix reverse(x)` over
    its reversed values."""
    return text[::-1]


def present(value: Any) -> list[Any]:
    """The values a field holds: absent, null, "" and [] hold none (LANGUAGE.md §3.2)."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    return [v for v in items if v is not None and v != ""]


def parse_calendar(text: str) -> date | None:
    """A stored date-only string (`YYYY-MM-DD`) as the calendar date it names, or None.

    A stored date-only value is a calendar date, not an instant (LANGUAGE.md §3.6): it
    stands for the start of that day in the evaluation zone, so it is kept as a date."""
    if not DATE_ONLY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def day_number(day: date) -> int:
    """A calendar date as the number yyyymmdd, whose order is the dates' order."""
    return day.year * 10_000 + day.month * 100 + day.day


def number_day(number: int) -> date:
    """The inverse of `day_number`."""
    return date(number // 10_000, number // 100 % 100, number % 100)


def parse_instant(text: str) -> datetime | None:
    """A stored date string as an aware UTC instant, or None when it is not a date.

    A date-only value is midnight UTC of that day here: what an event's or visit's `ts`
    means (timestamps are instants); a date-only *field or property* value is a calendar
    date (`parse_calendar`, LANGUAGE.md §3.6). An instant keeps its offset; one with no
    offset is read as UTC. Precision is the millisecond, as in the index.
    """
    if DATE_ONLY.match(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            return None
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if not INSTANT.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or outside years 1-9999 in UTC
        return None
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def iso_millis(instant: datetime) -> str:
    """The canonical stored form of an instant: UTC, millisecond precision."""
    utc = instant.astimezone(UTC)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


def sortable_number(number: float) -> str:
    """A double as 16 hex digits whose byte order is numeric order (for keyword ranges)."""
    number = float(number) + 0.0  # folds -0.0 into 0.0
    (bits,) = struct.unpack(">Q", struct.pack(">d", number))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63
    return f"{bits:016x}"


def epoch_millis(instant: datetime) -> int:
    """An aware instant as whole epoch milliseconds (the index's precision), floored."""
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def sortable_millis(millis: int) -> str:
    """Epoch milliseconds as 16 hex digits whose byte order is time order."""
    return f"{millis + (1 << 63):016x}"


def sortable_instant(instant: datetime) -> str:
    return sortable_millis(epoch_millis(instant))
