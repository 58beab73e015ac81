"""Date operands → instants and intervals (LANGUAGE.md §3.6), in epoch milliseconds.

Both the compiler (as `range` bounds) and the evaluator (as comparisons) use these
intervals, so time zones, calendar days and relative dates mean the same in both.

Choices (docs/semantics.md): `min` and `h` are exact durations; `d`, `w`, `mo`, `y` are
calendar units in the evaluation zone (wall-clock arithmetic: `today-1d` is the start of
yesterday even across a DST change; Jan 31 + 1mo is Feb 28/29). An instant literal with
no offset is read in the evaluation zone. Instants compare at millisecond precision.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from segql.errors import InputError
from segql.grammar import ast
from segql.values import DATE_ONLY, INSTANT, epoch_millis


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


def _day_of(local_day: date, zone: ZoneInfo) -> tuple[int, int]:
    start = datetime.combine(local_day, time(), zone)
    end = datetime.combine(local_day + timedelta(days=1), time(), zone)
    return epoch_millis(start), epoch_millis(end)


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
