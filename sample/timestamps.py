"""Time for the sample: second-based units, ISO 8601 instant parsing and RFC 3339
formatting, in UTC (``...Z``) or in Warsaw local time with the real EU DST switch
(last Sunday of March/October, 01:00 UTC), computed without the system time zone data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MINUTE = 60
HOUR = 3600
DAY = 86400


def _parse_instant(text: str) -> int:
    """Seconds since the epoch of an ISO 8601 instant (naive means UTC)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _last_sunday_0100_utc(year: int, month: int) -> int:
    """01:00 UTC on the last Sunday of March/October: when EU clocks change."""
    last = datetime(year, month, 31, 1, tzinfo=UTC)
    last -= timedelta(days=(last.weekday() - 6) % 7)
    return int(last.timestamp())


_DST_CACHE: dict[int, tuple[int, int]] = {}


def _warsaw_offset(sec: int) -> int:
    """UTC offset of Europe/Warsaw at instant ``sec`` in seconds (CET/CEST)."""
    year = datetime.fromtimestamp(sec, UTC).year
    span = _DST_CACHE.get(year)
    if span is None:
        span = (_last_sunday_0100_utc(year, 3), _last_sunday_0100_utc(year, 10))
        _DST_CACHE[year] = span
    return 2 * HOUR if span[0] <= sec < span[1] else HOUR


def format_ts(sec: int, local: bool = False) -> str:
    """RFC 3339 text of an instant: ``...Z``, or Warsaw local time with its offset."""
    if not local:
        return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    off = _warsaw_offset(sec)
    text = datetime.fromtimestamp(sec + off, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + ("+02:00" if off == 2 * HOUR else "+01:00")
