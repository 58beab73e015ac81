"""Calendar dates and anniversaries (LANGUAGE.md §3.6, §3.9) as a table, each row run on
the reference evaluator AND on Elasticsearch (`api.export_ids` over a loaded index): the
expected contacts are written out by hand.

* A stored date-only value is a calendar date: `birthday on "1990-05-01"` holds for the
  contact born on 1990-05-01 (and not for the one born on 05-02) in every zone.
* `anniversary today` / `anniversary in DURATION`: across the year end, Feb 29 on Feb 28
  in a year that is not a leap year, instants by their local date in the zone.
* An index of document shape 2 (date-only values stored as midnight UTC) is refused with
  a message naming `segql reindex`, and read exactly once rebuilt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from elasticsearch import Elasticsearch
from housekeeping import admin
from shape2 import load_shape2

from segql import api
from segql.compiler.catalog import Catalog
from segql.compiler.context import Context
from segql.compiler.dates import day_start, shift
from segql.compiler.evaluator import matching_ids
from segql.contract.contact import Contact
from segql.indexer.loader import load
from segql.indexer.records import fold_records
from segql.indexer.reindex import reindex
from segql.stores.mapping import IndexShapeError
from segql.values import epoch_millis

ACCOUNT = "acme"
CATALOG = Catalog(fields={"birthday": "date", "signup": "date", "last_order": "date"},
                  events={"Order": {"due": "date"}})
ZONES = ("UTC", "Europe/Warsaw", "America/New_York", "Pacific/Kiritimati")

#: contact id → its fields.
CONTACTS: dict[str, dict[str, Any]] = {
    "b0501": {"birthday": "1990-05-01"},
    "b0502": {"birthday": "1990-05-02"},
    "b0430": {"birthday": "1990-04-30"},
    "dec28": {"birthday": "1970-12-28"},
    "jan02": {"birthday": "1985-01-02"},
    "jan05": {"birthday": "1985-01-05"},
    "feb29": {"birthday": "2000-02-29"},
    "feb28": {"birthday": "2001-02-28"},
    "mar01": {"birthday": "2001-03-01"},
    "both": {"birthday": ["1990-05-01", "2024-06-16T03:00:00Z"]},
    "none": {"birthday": None},
    # instants near midnight: their local date depends on the zone
    "late": {"signup": "2020-06-15T23:30:00Z"},  # Jun 15 UTC/NY, Jun 16 Warsaw/Kiritimati
    "early": {"signup": "2020-06-15T02:00:00Z"},  # Jun 14 NY, Jun 15 elsewhere
    "nymid": {"signup": "2020-06-15T00:00:00-04:00"},  # Jun 15 everywhere
    "leapi": {"signup": "2024-02-29T12:00:00Z"},  # Feb 29, but Mar 1 in Kiritimati
    "eve": {"signup": "2019-12-31T20:00:00Z"},  # Dec 31, but Jan 1 in Kiritimati
    "ordfeb": {"last_order": "2025-02-28"},
    "ordmar": {"last_order": "2025-03-01"},
}
EVERYONE = frozenset(CONTACTS)
BIRTHDAYS = frozenset(c for c, f in CONTACTS.items() if "birthday" in f) - {"none"}

Row = tuple[str, str, str, str, frozenset[str]]  # id, text, zone, now, expected
ROWS: list[Row] = [
    # §3.6: a stored date-only value is the start of that day in the evaluation zone
    *[(f"calendar date in {zone}", 'birthday on "1990-05-01"', zone, "2026-03-15T12:00:00Z",
       frozenset({"b0501", "both"})) for zone in ZONES],
    *[(f"not_on in {zone}", 'birthday not_on "1990-05-01"', zone, "2026-03-15T12:00:00Z",
       EVERYONE - {"b0501", "both"}) for zone in ZONES],
    *[(f"before a day in {zone}", 'birthday before "1990-05-01"', zone,
       "2026-03-15T12:00:00Z", frozenset({"b0430", "dec28", "jan02", "jan05"}))
      for zone in ZONES],
    *[(f"between days in {zone}", 'birthday between "1990-04-30" and "1990-05-01"', zone,
       "2026-03-15T12:00:00Z", frozenset({"b0430", "b0501", "both"})) for zone in ZONES],
    # an instant operand: a calendar date is in when its day's start is
    ("day start vs an instant, New York", 'birthday before "1990-05-01T03:00:00Z"',
     "America/New_York", "2026-03-15T12:00:00Z", frozenset({"b0430", "dec28", "jan02",
                                                            "jan05"})),
    ("day start vs an instant, Warsaw", 'birthday before "1990-05-01T03:00:00Z"',
     "Europe/Warsaw", "2026-03-15T12:00:00Z", frozenset({"b0430", "b0501", "both", "dec28",
                                                         "jan02", "jan05"})),
    # calendar units: Mar 31 - 1mo is the last day of February
    *[(f"today-1mo clamps in {zone}", "last_order on today-1mo", zone,
       "2025-03-31T12:00:00Z", frozenset({"ordfeb"})) for zone in ("UTC", "Europe/Warsaw")],
    ("today-1mo is local", "last_order on today-1mo", "America/New_York",
     "2025-04-01T02:00:00Z", frozenset({"ordfeb"})),  # still Mar 31 in New York
    ("within counts the calendar date's start", "last_order within 1mo", "Pacific/Kiritimati",
     "2025-03-28T10:00:00Z", frozenset({"ordfeb", "ordmar"})),
    # §3.9: anniversary today, by zone (now: May 1, 02:00 UTC)
    ("anniversary today, UTC", "birthday anniversary today", "UTC", "2026-05-01T02:00:00Z",
     frozenset({"b0501", "both"})),
    ("anniversary today, New York (still Apr 30)", "birthday anniversary today",
     "America/New_York", "2026-05-01T02:00:00Z", frozenset({"b0430"})),
    ("anniversary today, Kiritimati", "birthday anniversary today", "Pacific/Kiritimati",
     "2026-05-01T02:00:00Z", frozenset({"b0501", "both"})),
    ("not anniversary today is its complement", "not birthday anniversary today", "UTC",
     "2026-05-01T02:00:00Z", EVERYONE - {"b0501", "both"}),
    # across the year end
    ("anniversary in 7d on Dec 28 catches Jan 2", "birthday anniversary in 7d", "UTC",
     "2025-12-28T12:00:00Z", frozenset({"dec28", "jan02"})),
    ("anniversary in 1w is in 7d", "birthday anniversary in 1w", "Europe/Warsaw",
     "2025-12-28T12:00:00Z", frozenset({"dec28", "jan02"})),
    ("anniversary in 3d stops on Dec 31", "birthday anniversary in 3d", "UTC",
     "2025-12-28T12:00:00Z", frozenset({"dec28"})),
    ("anniversary in 7d from New York's Dec 27", "birthday anniversary in 7d",
     "America/New_York", "2025-12-28T03:00:00Z", frozenset({"dec28", "jan02"})),
    ("anniversary in 8d reaches Jan 5", "birthday anniversary in 8d", "UTC",
     "2025-12-28T12:00:00Z", frozenset({"dec28", "jan02", "jan05"})),
    ("anniversary in 400d is every anniversary", "birthday anniversary in 400d", "UTC",
     "2025-12-28T12:00:00Z", BIRTHDAYS),
    # Feb 29: on Feb 28 in 2025, on Feb 29 (not Feb 28) in 2028
    ("Feb 29 on Feb 28, 2025", "birthday anniversary today", "UTC", "2025-02-28T12:00:00Z",
     frozenset({"feb28", "feb29"})),
    ("Feb 29 not on Mar 1, 2025", "birthday anniversary today", "UTC", "2025-03-01T12:00:00Z",
     frozenset({"mar01"})),
    ("Feb 28, 2028 is only Feb 28", "birthday anniversary today", "UTC",
     "2028-02-28T12:00:00Z", frozenset({"feb28"})),
    ("Feb 29, 2028", "birthday anniversary today", "UTC", "2028-02-29T12:00:00Z",
     frozenset({"feb29"})),
    ("Feb 29 in a window over Feb 28, 2025", "birthday anniversary in 1d", "UTC",
     "2025-02-27T12:00:00Z", frozenset({"feb28", "feb29"})),
    # instants: their local date in the zone
    ("instants, UTC", "signup anniversary today", "UTC", "2026-06-15T12:00:00Z",
     frozenset({"late", "early", "nymid"})),
    ("instants, New York", "signup anniversary today", "America/New_York",
     "2026-06-15T16:00:00Z", frozenset({"late", "nymid"})),
    ("instants, Warsaw", "signup anniversary today", "Europe/Warsaw", "2026-06-15T10:00:00Z",
     frozenset({"early", "nymid"})),
    ("instants, Kiritimati Jun 15", "signup anniversary today", "Pacific/Kiritimati",
     "2026-06-15T00:00:00Z", frozenset({"early", "nymid"})),
    ("instants, Kiritimati Jun 16", "signup anniversary today", "Pacific/Kiritimati",
     "2026-06-16T00:00:00Z", frozenset({"late"})),
    ("instants, New York Jun 14", "signup anniversary today", "America/New_York",
     "2026-06-14T16:00:00Z", frozenset({"early"})),
    ("a leap-day instant on Feb 28, 2026", "signup anniversary today", "UTC",
     "2026-02-28T12:00:00Z", frozenset({"leapi"})),
    ("a leap-day instant is Mar 1 in Kiritimati", "signup anniversary today",
     "Pacific/Kiritimati", "2026-03-01T00:00:00Z", frozenset({"leapi"})),
    ("an instant's New Year in Kiritimati", "signup anniversary today", "Pacific/Kiritimati",
     "2026-01-01T00:00:00Z", frozenset({"eve"})),
    ("an instant's New Year's Eve in Warsaw", "signup anniversary today", "Europe/Warsaw",
     "2025-12-31T10:00:00Z", frozenset({"eve"})),
    ("no New Year's Eve in Kiritimati", "signup anniversary today", "Pacific/Kiritimati",
     "2025-12-30T12:00:00Z", frozenset()),
    ("an instant's New Year's Eve in New York", "signup anniversary in 1d",
     "America/New_York", "2025-12-30T17:00:00Z", frozenset({"eve"})),
    ("a list: the instant's anniversary", "birthday anniversary today", "Europe/Warsaw",
     "2026-06-16T10:00:00Z", frozenset({"both"})),
]


def _records() -> list[str]:
    return [json.dumps({"type": "contact", "account": ACCOUNT, "id": cid, "fields": fields})
            for cid, fields in CONTACTS.items()]


def _contacts() -> list[Contact]:
    store, rejects = fold_records(_records())
    assert not rejects
    return list(store.contacts.values())


def _context(zone: str, now: str) -> Context:
    return Context(account=ACCOUNT, now=datetime.fromisoformat(now), timezone=ZoneInfo(zone),
                   catalog=CATALOG)


@pytest.fixture(scope="module")
def loaded(es: Elasticsearch) -> Iterator[str]:
    name = f"segql-test-{uuid.uuid4().hex[:12]}"
    try:
        summary = load(es, name, _records())
        assert summary.failed == []
        yield name
    finally:
        for found in es.indices.get(index=f"{name}*", allow_no_indices=True):
            admin(es).options(ignore_status=404).indices.delete(index=found)


@pytest.mark.parametrize(("text", "zone", "now", "expected"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_dates_table(es: Elasticsearch, loaded: str, text: str, zone: str, now: str,
                     expected: frozenset[str]) -> None:
    ctx = _context(zone, now)
    assert set(matching_ids(api.prepare(text, ctx), _contacts())) == expected, "evaluator"
    assert set(api.export_ids(es, text, ctx, loaded)) == expected, "Elasticsearch"
    assert api.count(es, text, ctx, loaded).count == len(expected)


@pytest.mark.parametrize(("start", "amount", "unit", "zone", "expected"), [
    ("2025-03-31", -1, "mo", "Europe/Warsaw", "2025-02-28"),
    ("2024-03-31", -1, "mo", "Europe/Warsaw", "2024-02-29"),
    ("2025-01-31", 1, "mo", "America/New_York", "2025-02-28"),
    ("2024-02-29", 1, "y", "Pacific/Kiritimati", "2025-02-28"),
    ("2025-03-31", -1, "d", "Europe/Warsaw", "2025-03-30"),  # across the DST change
    ("2025-11-03", -1, "w", "America/New_York", "2025-10-27"),  # a 169-hour week
])
def test_calendar_units_are_wall_clock(start: str, amount: int, unit: str, zone: str,
                                       expected: str) -> None:
    """`d w mo y` move the local date; the result is that day's start (§3.6)."""
    tz = ZoneInfo(zone)
    moved = shift(day_start(date.fromisoformat(start), tz), amount, unit, tz)
    assert moved == day_start(date.fromisoformat(expected), tz)


def test_hours_are_exact_durations() -> None:
    tz = ZoneInfo("Europe/Warsaw")
    start = day_start(date(2025, 3, 30), tz)
    assert shift(start, 3, "h", tz) - start == 3 * 3_600_000
    assert day_start(date(2025, 3, 31), tz) - start == 23 * 3_600_000


def test_an_index_of_shape_2_is_refused_then_rebuilt(es: Elasticsearch,
                                                     index_name: str) -> None:
    """Shape 2 stored "1990-05-01" as midnight UTC: in New York it read as April 30. Such
    an index is refused (exit code 1, the message names `segql reindex`); `reindex`
    rebuilds its documents from their raw contact, and the answers are right.

    The shape-2 index is made and loaded with the test's credentials (the write role
    creates indices and writes); every read runs with them too. Only `segql reindex`
    runs with the housekeeping client: it needs `manage` (docs/security.md), which the
    write role lacks by design, so in CI's API-key run it is the superuser, as an
    administrator would run it."""
    try:
        load_shape2(es, index_name, _contacts())
        with pytest.raises(IndexShapeError) as raised:
            api.context(es, ACCOUNT, index=index_name)
        assert raised.value.exit_code == 1
        assert f"segql reindex --index {index_name}" in str(raised.value)
        assert "shape 2" in str(raised.value)
        # what the old documents answer (read without the check): the wrong contact
        ctx = _context("America/New_York", "2026-03-15T12:00:00Z")
        assert set(api.export_ids(es, 'birthday on "1990-05-01"', ctx, index_name)) == {
            "b0502"}
        report = reindex(admin(es), index_name)
        assert report.status == "switched" and report.copied == len(CONTACTS)
        api.context(es, ACCOUNT, index=index_name)  # no error now
        for _, text, zone, now, expected in ROWS:
            found = set(api.export_ids(es, text, _context(zone, now), index_name))
            assert found == expected, (text, zone, now)
    finally:  # the name is an alias now: its `-v2` and the reindex's checkpoints go
        keeper = admin(es)
        for found in keeper.indices.get(index=f"{index_name}*", allow_no_indices=True):
            keeper.options(ignore_status=404).indices.delete(index=found)


def test_day_start_is_local_midnight() -> None:
    for zone in ZONES:
        tz = ZoneInfo(zone)
        expected = datetime(1990, 5, 1, tzinfo=tz)
        assert day_start(date(1990, 5, 1), tz) == epoch_millis(expected)
    assert day_start(date(1990, 5, 1), ZoneInfo("UTC")) == epoch_millis(
        datetime(1990, 5, 1, tzinfo=UTC))
