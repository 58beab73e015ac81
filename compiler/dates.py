"""Date operands → instants and intervals (LANGUAGE.md §3.6), in epoch milliseconds.

Both the compiler (as `range` bounds) and the evaluator (as comparisons) use these
intervals, so time zones, calendar days and relative dates mean the same in both.

Choices (docs/semantics.md): `min` and `h` are exact durations; `d`, `w`, `mo`, `y` are
calendar units in the evaluation zone (wall-clock arithmetic: `today-1d` is the start of
yesterday even across a DST change; Jan 31 + 1mo is Feb 28/29). An instant literal with
no offset is read in the evaluation zone. Instants compare at millisecond precision.

A stored date-only value is a calendar date: the start of that day in the evaluation zone
(§3.6). A date operator's interval is a `DateRange`: its instants, read as they are for
stored instants and through `day_start` for stored calendar dates (the evaluator), and the
calendar dates whose start lies in it, as day numbers yyyymmdd (`DateRange.days`, the
compiler's bounds on the calendar slot).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from segql.errors import InputError
from segql.grammar import ast
from segql.values import DATE_ONLY, INSTANT, day_number, epoch_millis


@dataclass(frozen=True)
class Clock:
    """What date operands are resolved against: the evaluation instant (ms) and zone."""

    now_ms: int
    zone: ZoneInfo


class BadDate(InputError, ValueError):
    """A string operand that is not an ISO 8601 date or instant."""


@dataclass(frozen=True)
class Bounds:
    """An interval of numbers or epoch milliseconds; None is unbounded."""

    lo: float | None = None
    lo_inclusive: bool = True
    hi: float | None = None
    hi_inclusive: bool = True

    def contains(self, value: float) -> bool:
        if self.lo is not None and (
            value < self.lo or (value == self.lo and not self.lo_inclusive)
        ):
            return False
        return not (
            self.hi is not None
            and (value > self.hi or (value == self.hi and not self.hi_inclusive))
        )

    def is_empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (
            self.lo == self.hi and not (self.lo_inclusive and self.hi_inclusive)
        )


@dataclass(frozen=True)
class DatePoint:
    """A resolved date operand: the instant it names, and the calendar day containing it.
    A date-only literal names its whole day (`instant` is the day's start)."""

    instant: int
    day_start: int
    day_end: int  # the next day's start
    whole_day: bool

    @property
    def start(self) -> int:
        """Where `since`/`between` begin: the day's start for a date, else the instant."""
        return self.day_start if self.whole_day else self.instant


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone)


_DAY_MS = 86_400_000
_ORDINAL_1970 = date(1970, 1, 1).toordinal()


def day_start(day: date, zone: ZoneInfo) -> int:
    """The first instant (epoch ms) of a calendar day in a zone: its local midnight, or
    where the day begins when midnight falls in a gap (a zone's offset before a change
    applies up to it). Pure arithmetic: no date outside years 1-9999 is built."""
    naive = datetime.combine(day, time())
    offset = zone.utcoffset(naive)
    assert offset is not None
    return ((day.toordinal() - _ORDINAL_1970) * _DAY_MS
            - (offset.days * _DAY_MS + offset.seconds * 1000 + offset.microseconds // 1000))


def local_date(ms: int, zone: ZoneInfo) -> date:
    """The calendar date in a zone that contains an instant (epoch ms)."""
    return _local(ms, zone).date()


def _day_of(local_day: date, zone: ZoneInfo) -> tuple[int, int]:
    return day_start(local_day, zone), day_start(local_day + timedelta(days=1), zone)


def shift(ms: int, amount: int, unit: str, zone: ZoneInfo) -> int:
    """`ms` moved by `amount` units: exact for min/h, wall-clock calendar for d/w/mo/y."""
    if unit == "min":
        return ms + amount * 60_000
    if unit == "h":
        return ms + amount * 3_600_000
    local = _local(ms, zone).replace(tzinfo=None)
    if unit in ("d", "w"):
        local += timedelta(days=amount * (7 if unit == "w" else 1))
    else:
        months = local.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = local.year + months // 12, months % 12 + 1
        day = min(local.day, calendar.monthrange(year, month)[1])
        local = local.replace(year=year, month=month, day=day)
    return epoch_millis(local.replace(tzinfo=zone))


def _point(ms: int, zone: ZoneInfo, whole_day: bool) -> DatePoint:
    start, end = _day_of(_local(ms, zone).date(), zone)
    return DatePoint(instant=ms, day_start=start, day_end=end, whole_day=whole_day)


def resolve(operand: ast.StringValue | ast.RelativeDate, now_ms: int, zone: ZoneInfo) -> DatePoint:
    """The DatePoint of a date literal or relative date; raises BadDate."""
    if isinstance(operand, ast.RelativeDate):
        ms = now_ms if operand.base == "now" else _point(now_ms, zone, True).day_start
        for offset in operand.offsets:
            ms = shift(ms, offset.amount, offset.unit, zone)
        return _point(ms, zone, False)
    text = operand.value
    try:
        if DATE_ONLY.match(text):
            start, _ = _day_of(date.fromisoformat(text), zone)
            return _point(start, zone, True)
        if INSTANT.match(text):
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone)
            return _point(epoch_millis(parsed), zone, False)
    except ValueError:
        pass
    raise BadDate(text)


def within(duration: ast.Duration, now_ms: int, zone: ZoneInfo) -> Bounds:
    """`within 30d`: from now-30d to now, both ends included."""
    return Bounds(lo=shift(now_ms, -duration.amount, duration.unit, zone), hi=now_ms)


def on(point: DatePoint) -> Bounds:
    return Bounds(lo=point.day_start, hi=point.day_end, hi_inclusive=False)


def before(point: DatePoint) -> Bounds:
    return Bounds(hi=point.start, hi_inclusive=False)


def after(point: DatePoint) -> Bounds:
    if point.whole_day:
        return Bounds(lo=point.day_end)
    return Bounds(lo=point.instant, lo_inclusive=False)


def since(point: DatePoint) -> Bounds:
    """The complement of `before`."""
    return Bounds(lo=point.start)


def between(low: DatePoint, high: DatePoint) -> Bounds:
    if high.whole_day:
        return Bounds(lo=low.start, hi=high.day_end, hi_inclusive=False)
    return Bounds(lo=low.start, hi=high.instant)


_FIRST_DAY, _LAST_DAY = date.min.toordinal(), date.max.toordinal()


@dataclass(frozen=True)
class DateRange:
    """A date operator's interval in one zone: `instants` (epoch ms), which a stored
    calendar date is in when its start (`day_start`) is."""

    instants: Bounds
    zone: ZoneInfo

    def contains(self, value: int | date) -> bool:
        """Whether a stored value (epoch ms, or a calendar date) lies in the interval."""
        if isinstance(value, date):
            return self.instants.contains(day_start(value, self.zone))
        return self.instants.contains(value)

    def is_empty(self) -> bool:
        return self.instants.is_empty()

    @cached_property
    def days(self) -> Bounds:
        """The calendar dates whose start lies in the interval, as day numbers (both ends
        included; None unbounded): since a day's start grows with the day, they are one
        run of days, found from the local dates of the ends and checked by `day_start`."""
        b = self.instants
        lo = hi = None
        if b.lo is not None:
            lo = self._nearest(b.lo)
            while lo <= _LAST_DAY and not self._above(lo):
                lo += 1
            while lo - 1 >= _FIRST_DAY and self._above(lo - 1):
                lo -= 1
        if b.hi is not None:
            hi = self._nearest(b.hi)
            while hi >= _FIRST_DAY and not self._below(hi):
                hi -= 1
            while hi + 1 <= _LAST_DAY and self._below(hi + 1):
                hi += 1
        if (lo is not None and lo > _LAST_DAY) or (hi is not None and hi < _FIRST_DAY) or (
                lo is not None and hi is not None and lo > hi):
            return Bounds(lo=1, hi=0)  # no day
        return Bounds(lo=None if lo is None else day_number(date.fromordinal(lo)),
                      hi=None if hi is None else day_number(date.fromordinal(hi)))

    def _nearest(self, ms: float) -> int:
        """The ordinal of the local date holding `ms`, kept inside years 1-9999."""
        ordinal = int(ms // _DAY_MS) + _ORDINAL_1970
        if _FIRST_DAY + 2 <= ordinal <= _LAST_DAY - 2:
            return local_date(int(ms), self.zone).toordinal()
        return min(max(ordinal, _FIRST_DAY), _LAST_DAY)

    def _start(self, ordinal: int) -> int:
        return day_start(date.fromordinal(ordinal), self.zone)

    def _above(self, ordinal: int) -> bool:
        """Whether the day's start satisfies the lower bound."""
        b = self.instants
        assert b.lo is not None
        start = self._start(ordinal)
        return start > b.lo or (start == b.lo and b.lo_inclusive)

    def _below(self, ordinal: int) -> bool:
        b = self.instants
        assert b.hi is not None
        start = self._start(ordinal)
        return start < b.hi or (start == b.hi and b.hi_inclusive)
