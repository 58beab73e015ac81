"""Anniversaries (LANGUAGE.md §3.9): `FIELD anniversary today` and `FIELD anniversary in
DURATION` (d or w), their meaning once: the test (evaluator) beside what the query reads.

* Which month-days match (`Anniversary.month_days`): those of the days from today to
  today + DURATION in the evaluation zone, both included, across the year end; in a year
  that is not a leap year, Feb 28 also brings Feb 29 (a Feb 29 value has its anniversary
  on Feb 28 there). 366 days or more: every month-day.
* A calendar date (a date-only value) has its own month-day: the slot `m` (mmdd).
* An instant has the month-day of its local date in the evaluation zone, which the indexer
  cannot know (the zone is chosen per call). It writes, per instant, its UTC year, whether
  that is a leap year and the milliseconds since that year began (`anniv`, nested, so the
  three belong to one value). The compiler turns the month-days into, for every local year
  1-9999, the instants whose local date has one of them — [start of the first such day,
  start of the day after the last) in the zone, `dates.day_start` — cuts them at UTC year
  boundaries, and groups the pieces that are the same span of the year in years of the
  same kind (leap or not): a few groups, each `l = leap and y in YEARS and p in [lo, hi)`,
  where YEARS is a few ranges of years of that kind or, when the zone's offset at those
  days changes often (the weeks of DST changes), their list. Exact wherever a zone's local
  date never runs backwards: a zone that turned its clock back across midnight (00:30 to
  23:30, say) would have, for that hour, instants counted on the day after their local
  date (not checked against every zone of tzdata; changes at 00:00, 01:00, 02:00 or 24:00
  keep the date going forward). The groups are computed once per zone and month-days
  (cached).
* Instants in UTC years 1 and 9999 have no anniversary (`ANNIVERSARY_YEARS`): their
  local date may lie outside the calendar.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from segql.compiler.boolean import Query
from segql.compiler.dates import day_start, local_date
from segql.contract.document import ANNIVERSARY_YEARS, anniversary_point

if TYPE_CHECKING:
    from segql.compiler.dates import Clock
    from segql.grammar import ast

MonthDay = tuple[int, int]
#: The most days an anniversary window needs: beyond, every month-day is in it.
_FULL_WINDOW = 366
_DAY_MS = 86_400_000
_ORDINAL_1970 = date(1970, 1, 1).toordinal()
_YEARS = range(1, 10_000)
#: Where each UTC year begins (epoch ms), years 1..10000.
_YEAR_STARTS = [(date(y, 1, 1).toordinal() - _ORDINAL_1970) * _DAY_MS for y in _YEARS] + [
    (date.max.toordinal() + 1 - _ORDINAL_1970) * _DAY_MS]
#: Above this many runs of years, a group lists its years (`terms`).
_MAX_RANGES = 6


@dataclass(frozen=True)
class Anniversary:
    """An anniversary operand: today in the evaluation zone and the window's days."""

    zone: ZoneInfo
    today: date
    days: int

    @classmethod
    def of(cls, clock: Clock, duration: ast.Duration | None) -> Anniversary:
        days = 0 if duration is None else duration.amount * (7 if duration.unit == "w" else 1)
        return cls(clock.zone, local_date(clock.now_ms, clock.zone), days)

    @cached_property
    def month_days(self) -> frozenset[MonthDay]:
        return month_days(self.today, min(self.days, _FULL_WINDOW))

    def holds(self, value: int | date) -> bool:
        """Whether a stored value (epoch ms, or a calendar date) has its anniversary in
        the window."""
        if isinstance(value, date):
            return (value.month, value.day) in self.month_days
        if anniversary_point(value) is None:
            return False
        local = local_date(value, self.zone)
        return (local.month, local.day) in self.month_days

    def day_numbers(self) -> list[int]:
        """The month-days as the `m` slot holds them (mmdd)."""
        return sorted(m * 100 + d for m, d in self.month_days)

    def instant_query(self, key: str) -> Query:
        """The nested query over `anniv` for the instants of the field `key`."""
        groups = instant_groups(self.zone, self.month_days)
        should = [_group_query(leap, lo, hi, years) for leap, lo, hi, years in groups]
        inner: dict[str, Any] = {"filter": [{"term": {"anniv.k": key}}]}
        if should:
            inner["filter"].append({"bool": {"should": should, "minimum_should_match": 1}})
        else:
            inner["must_not"] = [{"match_all": {}}]
        return {"nested": {"path": "anniv", "query": {"bool": inner}}}


def month_days(today: date, days: int) -> frozenset[MonthDay]:
    """The month-days whose anniversary falls on one of the days today..today+days."""
    found: set[MonthDay] = set()
    day = today
    for _ in range(days + 1):
        found.add((day.month, day.day))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            found.add((2, 29))
        if day == date.max:
            break
        day += timedelta(days=1)
    return frozenset(found)


def _runs(days: frozenset[MonthDay], leap: bool) -> list[tuple[int, int]]:
    """The runs [a, b) of day-of-year indexes (0 = Jan 1) whose month-day is in `days`."""
    first = date(2024 if leap else 2023, 1, 1)
    inside = [((first + timedelta(days=i)).month, (first + timedelta(days=i)).day) in days
              for i in range(366 if leap else 365)]
    runs: list[tuple[int, int]] = []
    for i, hit in enumerate(inside):
        if hit and runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        elif hit:
            runs.append((i, i + 1))
    return runs


def _start(ordinal: int, zone: ZoneInfo) -> int:
    """The first instant of a day given by its ordinal; past 9999-12-31: after all."""
    if ordinal > date.max.toordinal():
        return _YEAR_STARTS[-1] + 2 * _DAY_MS
    return day_start(date.fromordinal(ordinal), zone)


@lru_cache(maxsize=256)
def instant_groups(zone: ZoneInfo, days: frozenset[MonthDay]
                   ) -> tuple[tuple[bool, int, int, tuple[int, ...]], ...]:
    """(leap, lo, hi, UTC years): the instants whose local date in `zone` has a month-day
    in `days` are those of a UTC year listed in some group, of its kind, with
    lo <= p < hi (p: ms since that UTC year began)."""
    runs = {leap: _runs(days, leap) for leap in (False, True)}
    spans: list[list[int]] = []
    for year in _YEARS:
        base = date(year, 1, 1).toordinal()
        for a, b in runs[calendar.isleap(year)]:
            lo, hi = _start(base + a, zone), _start(base + b, zone)
            if spans and spans[-1][1] >= lo:
                spans[-1][1] = max(spans[-1][1], hi)
            elif lo < hi:
                spans.append([lo, hi])
    groups: dict[tuple[bool, int, int], list[int]] = {}
    for lo, hi in spans:
        year = max(bisect_right(_YEAR_STARTS, lo), ANNIVERSARY_YEARS.start)
        while year < ANNIVERSARY_YEARS.stop and _YEAR_STARTS[year - 1] < hi:
            start, end = _YEAR_STARTS[year - 1], _YEAR_STARTS[year]
            piece = (calendar.isleap(year), max(lo, start) - start, min(hi, end) - start)
            groups.setdefault(piece, []).append(year)
            year += 1
    return tuple((leap, lo, hi, tuple(years))
                 for (leap, lo, hi), years in sorted(groups.items()))


def _year_runs(leap: bool, years: tuple[int, ...]) -> list[tuple[int, int]]:
    """The years as runs of consecutive years of their kind (leap or not)."""
    kind = [y for y in ANNIVERSARY_YEARS if calendar.isleap(y) == leap]
    index = {y: i for i, y in enumerate(kind)}
    runs: list[tuple[int, int]] = []
    for year in years:
        if runs and index[runs[-1][1]] + 1 == index[year]:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return runs


def _group_query(leap: bool, lo: int, hi: int, years: tuple[int, ...]) -> Query:
    runs = _year_runs(leap, years)
    if len(runs) <= _MAX_RANGES:
        ranges = [{"range": {"anniv.y": {"gte": a, "lte": b}}} for a, b in runs]
        in_years: Query = ranges[0] if len(ranges) == 1 else {
            "bool": {"should": ranges, "minimum_should_match": 1}}
    else:
        in_years = {"terms": {"anniv.y": list(years)}}
    return {"bool": {"filter": [{"term": {"anniv.l": leap}}, in_years,
                                {"range": {"anniv.p": {"gte": lo, "lt": hi}}}]}}
