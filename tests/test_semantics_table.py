"""LANGUAGE.md §1-5 (and the record rules of §8) as a table, run on the reference evaluator.

Each row is (id naming the section, expression text, LANGUAGE.md §8 records, expected
answer for contact "c1") with a fixed `now` and time zone (defaults: 2026-03-15T12:00:00Z,
UTC). The expected answer is `True`/`False`, or `Err(code)` for a check error. No
Elasticsearch and no network: the records are folded in memory and the evaluator decides.

The package's internals are being moved, so everything this file needs from segql goes
through `evaluate` below (and the `Catalog` it takes); repoint only that when they move.

The rules issue 16 added have tables of their own, run on the evaluator and Elasticsearch:
calendar dates in the evaluation zone and `anniversary` (§3.6, §3.9) in
tests/test_dates_table.py, `bucket` and the consent statuses (§3, §8) in
tests/test_consent.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from segql.compiler.catalog import Catalog, learn
from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.evaluator import contact_holds
from segql.errors import SegmentError
from segql.grammar.parser import parse
from segql.indexer.records import fold_records

# --- the adapter: the only place that knows segql's internals (the imports above) -------

ACCOUNT = "acme"


class Rejected(Exception):
    """The expression was refused before evaluation (parse or check error)."""

    def __init__(self, codes: list[str], hints: list[str | None]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes
        self.hints = hints


def evaluate(text: str, records: list[dict[str, Any]], *, contact: str, now: datetime,
             zone: str, declared: Catalog, segments: Mapping[str, str]) -> bool:
    """Whether contact `contact` of ACCOUNT, folded from `records`, is in the segment `text`
    evaluated at `now` in `zone`. The catalog is `declared` over what the records teach.
    Raises Rejected (with the error codes) when the text does not parse or check."""
    store, rejects = fold_records([json.dumps(record) for record in records])
    assert not rejects, [r.reason for r in rejects]
    contacts = list(store.contacts.values())
    catalog = declared.over(learn(contacts, account=ACCOUNT).catalog)
    ctx = Context(account=ACCOUNT, now=now, timezone=ZoneInfo(zone), catalog=catalog,
                  segments=dict(segments))
    try:
        checked = check(parse(text), ctx, text)  # a `Checked`, bound to ctx's now and zone
    except SegmentError as error:
        raise Rejected([d.code for d in error.diagnostics],
                       [d.hint for d in error.diagnostics]) from None
    return contact_holds(checked, store.contacts[(ACCOUNT, contact)])


# --- the account: declared types, saved segments ----------------------------------------

#: Custom fields and properties the rows use; declared, so a field no record gives a value
#: (the "no value" rows) still has its type.
DECLARED = Catalog(
    fields={
        "age": "number", "score": "number", "scores": "number", "order.total": "number",
        "vip": "boolean", "flags": "boolean",
        "signup_date": "date", "dates": "date", "Data urodzenia": "date",
        "nickname": "text", "note": "text",
    },
    events={
        "MailOpen": {"campaign": "text", "link": "text"},
        "MailClick": {"campaign": "text"},
        "Purchase": {"value": "number", "currency": "text", "at": "date", "gift": "boolean",
                     "sku": "text"},
        "purchase": {"value": "number"},
        "Order Completed": {"total": "number", "coupon": "text"},
    },
    visit_properties={"campaign": "text", "price": "number"},
)
SEGMENTS = {
    "Buyers": "event Purchase occurred",
    "VIP buyers": 'all(vip is_true, in_segment "Buyers")',
    "Recent openers": "event MailOpen occurred within 7d",
    "Warsaw": 'city = "Warszawa"',
    "Unsubscribed buyers": 'all(in_segment "Buyers", tags = "unsubscribed")',
    "Loop A": 'in_segment "Loop B"',
    "Loop B": 'in_segment "Loop A"',
    "Self": 'in_segment "Self"',
}
NOW = "2026-03-15T12:00:00Z"  # a Sunday; Warsaw is on CET (+01:00) until 2026-03-29

# --- records (LANGUAGE.md §8) -----------------------------------------------------------

Record = dict[str, Any]
_ids = itertools.count(1)


def contact(fields: dict[str, Any] | None = None, *, cid: str = "c1",
            **addresses: Any) -> Record:
    """A contact record: custom/standard `fields`, addresses (email, phone, push_tokens)."""
    record: Record = {"type": "contact", "account": ACCOUNT, "id": cid, **addresses}
    if fields is not None:
        record["fields"] = fields
    return record


def who(**fields: Any) -> list[Record]:
    """The records of one contact c1 with these fields."""
    return [contact(fields)]


def event(name: str, ts: str, props: dict[str, Any] | None = None, *, eid: str | None = None,
          cid: str = "c1") -> Record:
    return {"type": "event", "account": ACCOUNT, "contact": cid,
            "id": eid or f"e{next(_ids)}", "name": name, "ts": ts, "props": props or {}}


def visit(ts: str, props: dict[str, Any] | None = None, *, vid: str | None = None,
          cid: str = "c1", **attributes: Any) -> Record:
    return {"type": "visit", "account": ACCOUNT, "contact": cid, "id": vid or f"v{next(_ids)}",
            "ts": ts, **attributes, "props": props or {}}


def delete(cid: str = "c1") -> Record:
    return {"type": "delete", "account": ACCOUNT, "id": cid}


def created(ts: str) -> list[Record]:
    """Contact c1 whose standard date field `created_at` is `ts`."""
    return who(created_at=ts)


def opens(*stamps: str, name: str = "MailOpen") -> list[Record]:
    """Contact c1 with one `name` event at each of `stamps`."""
    return [contact({}), *(event(name, ts) for ts in stamps)]


# --- rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Err:
    """The expected check error: its code, and a text its hint must contain."""

    code: str
    hint: str | None = None


Expected = bool | Err


def row(rid: str, text: str, records: list[Record], expected: Expected, *, now: str = NOW,
        zone: str = "UTC") -> Any:
    """One table row."""
    return pytest.param(text, records, expected, now, zone, id=rid)


CITY = who(city="Warszawa", age=31, vip=True, tags=["b2b", "vip"])
TAGS = who(tags=["b2b", "VIP", "newsletter"])
NOTHING = who()  # a contact with no fields at all

GRAMMAR = [
    row("§1 all: every item holds", 'all(city = "Warszawa", age > 30, vip is_true)', CITY, True),
    row("§1 all: one item fails", 'all(city = "Warszawa", age > 40)', CITY, False),
    row("§1 any: one item holds", 'any(city = "Kraków", age > 30)', CITY, True),
    row("§1 any: no item holds", 'any(city = "Kraków", age > 40)', CITY, False),
    row("§1 all(a, b) is a and b", 'city = "Warszawa" and age > 40', CITY, False),
    row("§1 any(a, b) is a or b", 'city = "Kraków" or age > 30', CITY, True),
    row("§1 and binds tighter than or", 'vip is_true or city = "Kraków" and age > 40', CITY,
        True),
    row("§1 not binds tighter than and", "not vip is_true and age > 40", CITY, False),
    row("§1 not binds tighter than or", "not vip is_true or vip is_true", CITY, True),
    row("§1 parentheses regroup", '(vip is_true or city = "Kraków") and age > 40', CITY, False),
    row("§1 double not", "not not vip is_true", CITY, True),
    row("§1 groups nest",
        'all(any(city = "Kraków", all(age >= 31, not vip is_false)), any(tags = "vip"))',
        CITY, True),
    row("§1 groups nest: inner any fails",
        'all(vip is_true, any(city = "Kraków", all(age >= 32, vip is_true)))', CITY, False),
    row("§1 group with a trailing comma", 'any(age = 99, city = "Warszawa",)', CITY, True),
    row("§1 keywords and operator words are case-insensitive",
        'ALL(city EQUALS "Warszawa", Not vip IS_FALSE, age BETWEEN 30 AnD 32, '
        "Event MailOpen OCCURRED At_Least 1 TIMES WITHIN 30d)",
        [*CITY, event("MailOpen", "2026-03-10T10:00:00Z")], True),
    row("§1 field names are case-sensitive", 'City = "Warszawa"', CITY,
        Err("E_UNKNOWN_FIELD", "city")),
    row("§1 whitespace, newlines and # comments",
        'all(  # everyone in Warsaw\n\tcity = "Warszawa" ,\n\n  # older than 30\n'
        "  age\n  >\n  30  # end\n)", CITY, True),
    row("§1 empty all() is a check error", "all()", CITY, Err("E_EMPTY_GROUP")),
    row("§1 empty any() is a check error", "any()", CITY, Err("E_EMPTY_GROUP")),
    row("§1 a nested empty group is a check error", "all(vip is_true, any())", CITY,
        Err("E_EMPTY_GROUP")),
    row("§1 canonical example holds",
        'all(\n  city starts_with "War",\n  event MailOpen occurred,\n'
        "  any(age between 25 and 40, vip is_true),\n"
        "  not event MailClick occurred within 30d\n)",
        [*who(city="Warszawa", age=45, vip=True), event("MailOpen", "2026-03-01T08:00:00Z"),
         event("MailClick", "2026-01-02T08:00:00Z")], True),
    row("§1 canonical example: a recent MailClick leaves the segment",
        'all(\n  city starts_with "War",\n  event MailOpen occurred,\n'
        "  any(age between 25 and 40, vip is_true),\n"
        "  not event MailClick occurred within 30d\n)",
        [*who(city="Warszawa", age=30), event("MailOpen", "2026-03-01T08:00:00Z"),
         event("MailClick", "2026-03-14T08:00:00Z")], False),
    row("§1 canonical example: neither age nor vip",
        'all(city starts_with "War", event MailOpen occurred, '
        "any(age between 25 and 40, vip is_true), not event MailClick occurred within 30d)",
        [*who(city="Warszawa", age=41, vip=False), event("MailOpen", "2026-03-01T08:00:00Z")],
        False),
    # §2 values and names
    row("§2 backquoted name with a space", '`Data urodzenia` before "2000-01-01"',
        [contact({"Data urodzenia": "1990-05-01"})], True),
    row("§2 backquoted name with a dot", "`order.total` >= 1e2",
        [contact({"order.total": 100})], True),
    row("§2 string escapes \\\" \\\\ \\t", r'note = "a \"quoted\" \\ back\tslash"',
        who(note='a "quoted" \\ back\tslash'), True),
    row("§2 string escape \\n", r'note ends_with "line\nbreak"', who(note="one line\nbreak"),
        True),
    row("§2 string escape \\uXXXX", r'city = "\u0141\u00f3d\u017a"', who(city="Łódź"), True),
    row("§2 event name as a string", 'event "Order Completed" occurred',
        [contact({}), event("Order Completed", "2026-03-01T08:00:00Z", {"total": 10})], True),
    row("§2 event name as a string: another event", 'event "Order Completed" occurred',
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z")], False),
]

TEXT = [
    row("§3 text equals", 'city equals "Warszawa"', CITY, True),
    row("§3 text equals: other text", 'city equals "Warsaw"', CITY, False),
    row("§3 text = is equals", 'city = "Warszawa"', CITY, True),
    row("§3 text not_equals: other text", 'city not_equals "Kraków"', CITY, True),
    row("§3 text != is not_equals", 'city != "Warszawa"', CITY, False),
    row("§3 text starts_with", 'city starts_with "War"', CITY, True),
    row("§3 text starts_with: a middle part", 'city starts_with "szawa"', CITY, False),
    row("§3 text ends_with", 'city ends_with "szawa"', CITY, True),
    row("§3 text ends_with: the start", 'city ends_with "War"', CITY, False),
    row("§3 text contains", 'city contains "rsza"', CITY, True),
    row("§3 text contains: whole value", 'city contains "Warszawa"', CITY, True),
    row("§3 text contains: absent part", 'city contains "Krak"', CITY, False),
    row("§3 text not_contains: absent part", 'city not_contains "Krak"', CITY, True),
    row("§3 text not_contains: present part", 'city not_contains "rsz"', CITY, False),
    row("§3 text in", 'city in ["Kraków", "Warszawa"]', CITY, True),
    row("§3 text in: not listed", 'city in ["Kraków", "Gdańsk"]', CITY, False),
    row("§3 text not_in: not listed", 'city not_in ["Kraków"]', CITY, True),
    row("§3 text not_in: listed", 'city not_in ["Kraków", "Warszawa"]', CITY, False),
    row("§3 text has_value", "city has_value", CITY, True),
    row("§3 text has_no_value with a value", "city has_no_value", CITY, False),
    # §3.1 case-insensitive, Unicode-correct
    row("§3.1 ŁÓDŹ equals łódź", 'city equals "łódź"', who(city="ŁÓDŹ"), True),
    row("§3.1 łódź equals ŁÓDŹ", 'city equals "ŁÓDŹ"', who(city="łódź"), True),
    row("§3.1 STRASSE equals straße", 'city equals "straße"', who(city="STRASSE"), True),
    row("§3.1 straße equals STRASSE", 'city equals "STRASSE"', who(city="straße"), True),
    row("§3.1 stored NFD equals NFC literal", 'city = "Łódź"',
        who(city="Ło\u0301dz\u0301"), True),
    row("§3.1 NFD literal equals stored NFC", r'city = "\u0141o\u0301dz\u0301"',
        who(city="Łódź"), True),
    row("§3.1 Greek final sigma folds", 'last_name = "\u03c3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2"',
        who(last_name="\u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3"), True),
    row("§3.1 no accent folding: Lodz is not Łódź", 'city = "Lodz"', who(city="Łódź"), False),
    row("§3.1 no trimming: trailing space", 'city = "Warszawa"', who(city="Warszawa "), False),
    row("§3.1 no trimming: leading space kept", 'city ends_with " WARSZAWA"',
        who(city=" Warszawa"), True),
    row("§3.1 starts_with folds case", 'city starts_with "WAR"', who(city="warszawa"), True),
    row("§3.1 starts_with folds ß", 'city starts_with "STRASS"', who(city="Straße"), True),
    row("§3.1 ends_with folds case", 'email ends_with "@GMAIL.COM"',
        [contact(email="jan@gmail.com")], True),
    row("§3.1 contains folds case", 'first_name contains "UKA"', who(first_name="Łukasz"),
        True),
    row("§3.1 contains folds ß", 'city contains "SS"', who(city="Straße"), True),
    row("§3.1 in folds case", 'city in ["ŁÓDŹ", "x"]', who(city="łódź"), True),
    row("§3.1 not_in folds case", 'city not_in ["ŁÓDŹ"]', who(city="łódź"), False),
    row("§3.1 not_equals folds case", 'city != "WARSZAWA"', who(city="warszawa"), False),
    row("§6 * in a value is literal", 'note contains "*"', who(note="a*b"), True),
    row("§6 * in a value is no wildcard", 'note = "a*"', who(note="abc"), False),
    row("§6 ? and . in a value are literal", 'note starts_with "a?."', who(note="ab.c"),
        False),
]

NO_VALUE = [
    # §3.2 no value: absent, null, "", []
    row("§3.2 absent text has_no_value", "nickname has_no_value", NOTHING, True),
    row("§3.2 absent text has_value", "nickname has_value", NOTHING, False),
    row("§3.2 null text has_no_value", "nickname has_no_value", who(nickname=None), True),
    row("§3.2 empty string has_no_value", "nickname has_no_value", who(nickname=""), True),
    row("§3.2 empty string has_value", "nickname has_value", who(nickname=""), False),
    row("§3.2 empty list has_no_value", "tags has_no_value", who(tags=[]), True),
    row("§3.2 empty list has_value", "tags has_value", who(tags=[]), False),
    row("§3.2 absent number has_no_value", "age has_no_value", NOTHING, True),
    row("§3.2 number 0 is a value", "age has_value", who(age=0), True),
    row("§3.2 boolean false is a value", "vip has_value", who(vip=False), True),
    row("§3.2 absent boolean has_no_value", "vip has_no_value", NOTHING, True),
    row("§3.2 absent date has_no_value", "signup_date has_no_value", NOTHING, True),
    row("§3.2 date has_value", "created_at has_value", created("2026-01-01T00:00:00Z"), True),
    row("§3.2 positive text operator on no value", 'nickname starts_with "a"', NOTHING, False),
    row("§3.2 equals on empty string", 'nickname = "x"', who(nickname=""), False),
    row("§3.2 in on empty list", 'tags in ["vip"]', who(tags=[]), False),
    row("§3.2 number > on no value", "age > -1000", NOTHING, False),
    row("§3.2 number < on no value", "age < 1000", NOTHING, False),
    row("§3.2 number between on no value", "age between -1e9 and 1e9", NOTHING, False),
    row("§3.2 is_false on no value", "vip is_false", NOTHING, False),
    row("§3.2 date before on no value", "signup_date before today", NOTHING, False),
    row("§3.2 date within on no value", "signup_date within 30d", NOTHING, False),
    # §3.3 negations are complements: no value matches every negative operator
    row("§3.3 not_equals on absent text", 'nickname not_equals "x"', NOTHING, True),
    row("§3.3 != on empty string", 'nickname != "x"', who(nickname=""), True),
    row("§3.3 not_contains on absent text", 'nickname not_contains "x"', NOTHING, True),
    row("§3.3 not_contains on null", 'nickname not_contains "x"', who(nickname=None), True),
    row("§3.3 not_in on absent text", 'nickname not_in ["x", "y"]', NOTHING, True),
    row("§3.3 not_in on empty list", 'tags not_in ["vip"]', who(tags=[]), True),
    row("§3.3 number != on no value", "age != 31", NOTHING, True),
    row("§3.3 number not_in on no value", "age not_in [31, 32]", NOTHING, True),
    row("§3.3 number not_equals on no value", "age not_equals 0", NOTHING, True),
    row("§3.3 date not_on on no value", 'signup_date not_on "2026-03-15"', NOTHING, True),
    row("§3.3 date not_equals on empty string", "created_at not_equals today",
        who(created_at=""), True),
    row("§3.3 not_equals is not (equals)", 'not nickname equals "x"', NOTHING, True),
    row("§3.3 has_value and != excludes no value", 'nickname has_value and nickname != "x"',
        NOTHING, False),
    row("§3.3 has_value and != keeps other values", 'nickname has_value and nickname != "x"',
        who(nickname="y"), True),
    row("§3.3 negation is not is_false", "not vip is_true", NOTHING, True),
]

MULTI = [
    # §3.4 multi-valued fields: positive = any element; negative = complement
    row("§3.4 multi-valued equals: any element", 'tags equals "vip"', TAGS, True),
    row("§3.4 multi-valued equals: no element", 'tags = "b2c"', TAGS, False),
    row("§3.4 multi-valued not_equals is the complement", 'tags != "b2b"', TAGS, False),
    row("§3.4 multi-valued not_equals: no element equal", 'tags != "b2c"', TAGS, True),
    row("§3.4 multi-valued starts_with", 'tags starts_with "NEWS"', TAGS, True),
    row("§3.4 multi-valued ends_with", 'tags ends_with "2b"', TAGS, True),
    row("§3.4 multi-valued contains", 'tags contains "lett"', TAGS, True),
    row("§3.4 multi-valued not_contains is the complement", 'tags not_contains "lett"', TAGS,
        False),
    row("§3.4 multi-valued in", 'tags in ["x", "vip"]', TAGS, True),
    row("§3.4 multi-valued not_in is the complement", 'tags not_in ["x", "vip"]', TAGS, False),
    row("§3.4 multi-valued not_in: none listed", 'tags not_in ["x", "y"]', TAGS, True),
    row("§3.4 multi-valued numbers >", "scores > 10", who(scores=[3, 15]), True),
    row("§3.4 multi-valued numbers <", "scores < 5", who(scores=[3, 15]), True),
    row("§3.4 multi-valued numbers between: none inside", "scores between 5 and 10",
        who(scores=[3, 15]), False),
    row("§3.4 multi-valued numbers =", "scores = 15", who(scores=[3, 15]), True),
    row("§3.4 multi-valued numbers != is the complement", "scores != 3", who(scores=[3, 15]),
        False),
    row("§3.4 multi-valued numbers not_in: none listed", "scores not_in [1, 2]",
        who(scores=[3, 15]), True),
    row("§3.4 multi-valued dates on", 'dates on "2026-01-10"',
        who(dates=["2026-01-10T10:00:00Z", "2026-03-01T10:00:00Z"]), True),
    row("§3.4 multi-valued dates not_on is the complement", 'dates not_on "2026-01-10"',
        who(dates=["2026-01-10T10:00:00Z", "2026-03-01T10:00:00Z"]), False),
    row("§3.4 multi-valued dates after", 'dates after "2026-02-01"',
        who(dates=["2026-01-10T10:00:00Z", "2026-03-01T10:00:00Z"]), True),
    row("§3.4 multi-valued dates before: none", 'dates before "2026-01-01"',
        who(dates=["2026-01-10T10:00:00Z", "2026-03-01T10:00:00Z"]), False),
    row("§3.4 multi-valued booleans: any element", "flags is_false", who(flags=[True, False]),
        True),
]

NUMBERS = [
    row("§3 number =", "age = 31", CITY, True),
    row("§3 number = other", "age = 32", CITY, False),
    row("§3 number = with a fraction", "age = 31.0", CITY, True),
    row("§3 number = with an exponent", "score = 1e3", who(score=1000), True),
    row("§3 number = negative fraction", "score = -3.5", who(score=-3.5), True),
    row("§3 number !=", "age != 30", CITY, True),
    row("§3 number != same", "age != 31", CITY, False),
    row("§3 number > at the bound", "age > 31", CITY, False),
    row("§3 number > below", "age > 30.5", CITY, True),
    row("§3 number >= at the bound", "age >= 31", CITY, True),
    row("§3 number < at the bound", "age < 31", CITY, False),
    row("§3 number < negative", "score < -3", who(score=-3.5), True),
    row("§3 number <= at the bound", "age <= 31", CITY, True),
    row("§3 number in", "age in [30, 31]", CITY, True),
    row("§3 number in: not listed", "age in [1, 2]", CITY, False),
    row("§3 number not_in: listed", "age not_in [31]", CITY, False),
    row("§3 number not_in: not listed", "age not_in [1, 2]", CITY, True),
    row("§3 number has_value", "age has_value", CITY, True),
    row("§3 number has_no_value with a value", "age has_no_value", CITY, False),
    # §3.5 between is inclusive at both ends; A > B is a check error
    row("§3.5 number between: low end included", "age between 31 and 40", CITY, True),
    row("§3.5 number between: high end included", "age between 20 and 31", CITY, True),
    row("§3.5 number between: equal ends", "age between 31 and 31", CITY, True),
    row("§3.5 number between: outside", "age between 32 and 40", CITY, False),
    row("§3.5 number between negative and exponent", "score between -3.5 and 1e3",
        who(score=-3.5), True),
    row("§3.5 number between A > B is a check error", "age between 40 and 25", CITY,
        Err("E_BETWEEN_ORDER")),
    row("§3.5 date between A > B is a check error",
        'created_at between "2026-03-10" and "2026-03-01"', created("2026-03-05T00:00:00Z"),
        Err("E_BETWEEN_ORDER")),
    row("§3.5 relative between A > B is a check error", "created_at between today and now-7d",
        created("2026-03-05T00:00:00Z"), Err("E_BETWEEN_ORDER")),
]

BOOLEANS = [
    row("§3 boolean is_true on true", "vip is_true", who(vip=True), True),
    row("§3 boolean is_true on false", "vip is_true", who(vip=False), False),
    row("§3 boolean is_false on false", "vip is_false", who(vip=False), True),
    row("§3 boolean is_false on true", "vip is_false", who(vip=True), False),
    row("§3 boolean is_true on no value", "vip is_true", NOTHING, False),
    row("§3 boolean has_no_value with a value", "vip has_no_value", who(vip=True), False),
]


def at(ts: str, text: str, expected: Expected, rid: str, **kw: Any) -> Any:
    """A row about the standard date field `created_at` holding `ts`."""
    return row(rid, text, created(ts), expected, **kw)


DATES = [
    # date-only operands: the whole calendar day in the evaluation zone
    at("2026-03-10T00:00:00Z", 'created_at on "2026-03-10"', True, "§3.6 on D: the day's start"),
    at("2026-03-10T23:59:59.999Z", 'created_at on "2026-03-10"', True,
       "§3.6 on D: the day's last millisecond"),
    at("2026-03-11T00:00:00Z", 'created_at on "2026-03-10"', False,
       "§3.6 on D: the next day's start"),
    at("2026-03-09T23:59:59.999Z", 'created_at on "2026-03-10"', False,
       "§3.6 on D: the day before"),
    at("2026-03-10T13:00:00Z", 'created_at equals "2026-03-10"', True, "§3.6 equals is on"),
    at("2026-03-11T00:00:00Z", 'created_at not_on "2026-03-10"', True,
       "§3.6 not_on D: another day"),
    at("2026-03-10T13:00:00Z", 'created_at not_equals "2026-03-10"', False,
       "§3.6 not_equals is not_on"),
    at("2026-03-09T23:59:59.999Z", 'created_at before "2026-03-10"', True,
       "§3.6 before D: just before its start"),
    at("2026-03-10T00:00:00Z", 'created_at before "2026-03-10"', False,
       "§3.6 before D: its start is not before"),
    at("2026-03-10T23:59:59.999Z", 'created_at after "2026-03-10"', False,
       "§3.6 after D: inside D is not after"),
    at("2026-03-11T00:00:00Z", 'created_at after "2026-03-10"', True,
       "§3.6 after D: from D's end"),
    at("2026-03-01T00:00:00Z", 'created_at between "2026-03-01" and "2026-03-10"', True,
       "§3.6 between dates: from A's start"),
    at("2026-03-10T23:59:59.999Z", 'created_at between "2026-03-01" and "2026-03-10"', True,
       "§3.6 between dates: to B's end"),
    at("2026-03-11T00:00:00Z", 'created_at between "2026-03-01" and "2026-03-10"', False,
       "§3.6 between dates: after B's end"),
    at("2026-02-28T23:59:59.999Z", 'created_at between "2026-03-01" and "2026-03-10"', False,
       "§3.6 between dates: before A's start"),
    at("2026-03-10T12:00:00Z", 'created_at between "2026-03-10" and "2026-03-10"', True,
       "§3.6 between the same day"),
    # instant operands compare as instants
    at("2026-03-10T11:59:59.999Z", 'created_at before "2026-03-10T12:00:00Z"', True,
       "§3.6 before instant is <"),
    at("2026-03-10T12:00:00Z", 'created_at before "2026-03-10T12:00:00Z"', False,
       "§3.6 before instant: the instant itself"),
    at("2026-03-10T12:00:00Z", 'created_at after "2026-03-10T12:00:00Z"', False,
       "§3.6 after instant: the instant itself"),
    at("2026-03-10T12:00:00.001Z", 'created_at after "2026-03-10T12:00:00Z"', True,
       "§3.6 after instant is >"),
    # docs/semantics.md: instants are kept and compared at millisecond precision (as
    # Elasticsearch's `date` stores them), so instants under 1 ms apart are the same instant
    at("2026-03-10T12:00:00.0005Z", 'created_at after "2026-03-10T12:00:00Z"', False,
       "§3.6 + docs/semantics.md: a stored sub-millisecond instant is its millisecond"),
    at("2026-03-10T12:00:00.0005Z", 'created_at on "2026-03-10T12:00:00Z"', True,
       "§3.6 + docs/semantics.md: a stored sub-millisecond instant equals its millisecond"),
    at("2026-03-10T12:00:00.123Z", 'created_at before "2026-03-10T12:00:00.123456789Z"',
       False, "§3.6 + docs/semantics.md: a sub-millisecond operand is its millisecond"),
    at("2026-03-10T08:00:00Z",
       'created_at between "2026-03-10T08:00:00Z" and "2026-03-10T12:00:00Z"', True,
       "§3.6 between instants includes A"),
    at("2026-03-10T12:00:00Z",
       'created_at between "2026-03-10T08:00:00Z" and "2026-03-10T12:00:00Z"', True,
       "§3.6 between instants includes B"),
    at("2026-03-10T12:00:00.001Z",
       'created_at between "2026-03-10T08:00:00Z" and "2026-03-10T12:00:00Z"', False,
       "§3.6 between instants: after B"),
    at("2026-03-10T11:00:00Z", 'created_at between "2026-03-10" and "2026-03-10T12:00:00Z"',
       True, "§3.6 between date A and instant B"),
    at("2026-03-10T10:30:00Z", 'created_at before "2026-03-10T12:00:00+02:00"', False,
       "§3.6 instant literal with an offset"),
    at("2026-03-10T09:59:59Z", 'created_at before "2026-03-10T12:00:00+02:00"', True,
       "§3.6 instant literal with an offset: before"),
    at("2026-03-11T01:00:00+02:00", 'created_at on "2026-03-10"', True,
       "§3.6 stored instant keeps its offset"),
    at("2026-03-11T01:00:00+02:00", 'created_at on "2026-03-11"', False,
       "§3.6 stored instant keeps its offset: not its local day"),
    at("2026-03-10T01:00:00Z", 'created_at on "2026-03-10T23:00:00Z"', True,
       "§3.6 on instant: the calendar day containing it"),
    at("2026-03-10T05:00:00Z", 'created_at on "2026-03-11T01:00:00+02:00"', True,
       "§3.6 on instant with an offset: its day in the evaluation zone"),
    at("2026-03-11T05:00:00Z", 'created_at not_on "2026-03-10T23:00:00Z"', True,
       "§3.6 not_on instant: another day"),
    # relative dates: now, today, offsets
    at("2026-03-15T00:00:00Z", "created_at on today", True, "§3.6 on today: the day's start"),
    at("2026-03-15T23:59:59.999Z", "created_at on today", True, "§3.6 on today: later today"),
    at("2026-03-14T23:59:59.999Z", "created_at on today", False, "§3.6 on today: yesterday"),
    at("2026-03-14T00:00:00Z", "created_at on now-1d", True, "§3.6 on now-1d: the whole day"),
    at("2026-03-15T00:00:00Z", "created_at on now-1d", False, "§3.6 on now-1d: not today"),
    at("2026-03-14T23:59:59.999Z", "created_at before today", True,
       "§3.6 before today: yesterday"),
    at("2026-03-15T00:00:00Z", "created_at before today", False,
       "§3.6 before today: today's start is not before"),
    at("2026-03-15T00:00:00.001Z", "created_at after today", True,
       "§3.6 after today is > today's start"),
    at("2026-03-15T00:00:00Z", "created_at after today", False,
       "§3.6 after today: today's start itself"),
    at("2026-03-15T11:59:59.999Z", "created_at before now", True, "§3.6 before now is <"),
    at("2026-03-15T12:00:00Z", "created_at before now", False, "§3.6 before now: now itself"),
    at("2026-03-15T12:00:00.001Z", "created_at after now", True, "§3.6 after now: future"),
    at("2026-03-15T00:00:00Z", "created_at between today-7d and today", True,
       "§3.6 between relative dates includes B"),
    at("2026-03-15T06:00:00Z", "created_at between today-7d and today", False,
       "§3.6 between relative dates: B is an instant, not a day"),
    at("2026-03-08T00:00:00Z", "created_at between today-7d and today", True,
       "§3.6 between relative dates includes A"),
    at("2026-03-14T12:00:00Z", "created_at between now-1d and now", True,
       "§3.6 between now-1d and now: both ends"),
    at("2026-03-08T12:00:00Z", "created_at within 7d", True, "§3.6 within: now-7d included"),
    at("2026-03-08T11:59:59.999Z", "created_at within 7d", False,
       "§3.6 within: just before now-7d"),
    at("2026-03-15T12:00:00Z", "created_at within 7d", True, "§3.6 within: now included"),
    at("2026-03-15T12:00:00.001Z", "created_at within 7d", False,
       "§3.6 within: the future is not within"),
    at("2026-03-15T10:00:00Z", "created_at within 2h", True, "§3.6 within 2h"),
    at("2026-03-15T09:59:59.999Z", "created_at within 2h", False, "§3.6 within 2h: before"),
    at("2026-03-15T10:30:00Z", "created_at within 90min", True, "§3.6 within 90min"),
    at("2026-03-15T10:29:59Z", "created_at within 90min", False, "§3.6 within 90min: before"),
    at("2026-03-08T12:00:00Z", "created_at within 1w", True, "§3.6 within 1w is 7 days"),
    at("2026-03-15T11:30:00.001Z", "created_at after now-30min", True, "§3.6 now-30min"),
    at("2026-03-15T11:30:00Z", "created_at after now-30min", False,
       "§3.6 now-30min: after is strict"),
    at("2026-03-15T00:00:00Z", "created_at on now", True, "§3.6 on now: the day containing now"),
    at("2026-03-15T11:00:00Z", "created_at before NOW and created_at after Today", True,
       "§3.6 now and today are case-insensitive"),
    at("2026-03-14T10:00:00Z", "created_at not_on today", True, "§3.6 not_on today"),
    at("2027-02-28T12:00:00Z", "created_at within 1y", True,
       "§3.6 within 1y from Feb 29 reaches Feb 28", now="2028-02-29T12:00:00Z"),
    at("2027-02-28T11:59:59Z", "created_at within 1y", False,
       "§3.6 within 1y from Feb 29: before Feb 28 same time", now="2028-02-29T12:00:00Z"),
    at("2026-03-01T00:00:00Z", "created_at after today-2w", False,
       "§3.6 today-2w: before it"),
    at("2025-03-15T10:00:00Z", "created_at on today-1y", True, "§3.6 today-1y"),
    at("2026-03-22T10:00:00Z", "created_at on today+7d", True, "§3.6 today+7d"),
    at("2026-02-16T10:00:00Z", "created_at on today-1mo+1d", True,
       "§3.6 two offsets: today-1mo+1d"),
    at("2026-02-28T08:00:00Z", "created_at on today-1mo", True,
       "§3.6 Mar 31 - 1mo is Feb 28", now="2026-03-31T12:00:00Z"),
    at("2026-03-03T08:00:00Z", "created_at on today-1mo", False,
       "§3.6 Mar 31 - 1mo does not overflow into March", now="2026-03-31T12:00:00Z"),
    at("2026-02-28T12:00:00Z", "created_at within 1mo", True,
       "§3.6 within 1mo from Mar 31 reaches Feb 28", now="2026-03-31T12:00:00Z"),
    at("2026-02-28T11:59:59.999Z", "created_at within 1mo", False,
       "§3.6 within 1mo from Mar 31: before Feb 28 same time", now="2026-03-31T12:00:00Z"),
    at("2027-02-28T10:00:00Z", "created_at on today-1y", True,
       "§3.6 Feb 29 - 1y is Feb 28", now="2028-02-29T12:00:00Z"),
    # date errors
    at("2026-03-10T00:00:00Z", 'created_at on "yesterday"', Err("E_DATE"),
       "§3.8 a date string that is not a date"),
    at("2026-03-10T00:00:00Z", 'created_at on "2026-02-30"', Err("E_DATE"),
       "§3.8 a date string with no such day"),
    # stored date-only values, evaluated in UTC (where both readings of §3.6 agree)
    row("§3.6 stored date-only on its day (UTC)", 'signup_date on "2024-05-01"',
        who(signup_date="2024-05-01"), True),
    row("§3.6 stored date-only before the next day (UTC)", 'signup_date before "2024-05-02"',
        who(signup_date="2024-05-01"), True),
    row("§3.6 stored date-only not after its own day (UTC)", 'signup_date after "2024-05-01"',
        who(signup_date="2024-05-01"), False),
]

ZONES = [
    # the evaluation zone decides calendar days and `today`
    at("2026-03-09T23:30:00Z", 'created_at on "2026-03-10"', True,
       "§3.6 zone Warsaw: date-only literal is the local day", zone="Europe/Warsaw"),
    at("2026-03-09T23:30:00Z", 'created_at on "2026-03-10"', False,
       "§3.6 zone UTC: the same instant is the day before"),
    at("2026-03-10T03:00:00Z", 'created_at before "2026-03-10"', True,
       "§3.6 zone New York: 23:00 EDT on Mar 9 is before Mar 10", zone="America/New_York"),
    at("2026-03-10T19:00:00Z", 'created_at after "2026-03-10"', True,
       "§3.6 zone Kolkata: 00:30 IST on Mar 11 is after Mar 10", zone="Asia/Kolkata"),
    at("2026-03-10T19:00:00Z", 'created_at after "2026-03-10"', False,
       "§3.6 zone UTC: 19:00 on Mar 10 is not after Mar 10"),
    at("2026-03-15T22:50:00Z", "created_at on today", False,
       "§3.6 zone Warsaw: today is the local day", zone="Europe/Warsaw",
       now="2026-03-15T23:30:00Z"),
    at("2026-03-15T22:50:00Z", "created_at on today", True,
       "§3.6 zone UTC: today is the UTC day", now="2026-03-15T23:30:00Z"),
    at("2026-03-14T05:00:00Z", "created_at on today", True,
       "§3.6 zone New York: today is still Mar 14", zone="America/New_York",
       now="2026-03-15T03:00:00Z"),
    at("2026-03-11T12:00:00Z", 'created_at on "2026-03-11T01:00:00+02:00"', True,
       "§3.6 zone Warsaw: on instant is its local day", zone="Europe/Warsaw"),
    at("2026-03-10T12:00:00Z", 'created_at on "2026-03-11T01:00:00+02:00"', False,
       "§3.6 zone Warsaw: on instant is not its UTC day", zone="Europe/Warsaw"),
    at("2026-03-09T19:00:00Z",
       'created_at between "2026-03-10" and "2026-03-10T23:30:00+05:30"', True,
       "§3.6 zone Kolkata: between from the local day's start", zone="Asia/Kolkata"),
    # Santiago: DST skips midnight (2026-09-06 starts at 01:00 local, 04:00Z)
    at("2026-09-06T04:00:00Z", 'created_at on "2026-09-06"', True,
       "§3.6 zone Santiago: a day whose midnight is skipped starts at 01:00",
       zone="America/Santiago"),
    at("2026-09-06T03:59:59.999Z", 'created_at on "2026-09-06"', False,
       "§3.6 zone Santiago: 23:59 the evening before", zone="America/Santiago"),
    at("2026-09-06T03:59:59.999Z", "created_at before today", True,
       "§3.6 zone Santiago: today on a day without midnight", zone="America/Santiago",
       now="2026-09-06T12:00:00Z"),
    at("2026-04-05T03:59:59.999Z", 'created_at on "2026-04-04"', True,
       "§3.6 zone Santiago: a 25-hour day", zone="America/Santiago"),
    # DST days in Warsaw: 2026-03-29 has 23 hours, 2026-10-25 has 25
    at("2026-03-28T23:00:00Z", 'created_at on "2026-03-29"', True,
       "§3.6 DST spring day: starts at 23:00Z the day before", zone="Europe/Warsaw"),
    at("2026-03-28T22:59:59.999Z", 'created_at on "2026-03-29"', False,
       "§3.6 DST spring day: not before its start", zone="Europe/Warsaw"),
    at("2026-03-29T21:59:59.999Z", 'created_at on "2026-03-29"', True,
       "§3.6 DST spring day: 23 hours long", zone="Europe/Warsaw"),
    at("2026-03-29T22:00:00Z", 'created_at on "2026-03-29"', False,
       "§3.6 DST spring day: ends at 22:00Z", zone="Europe/Warsaw"),
    at("2026-10-24T22:00:00Z", 'created_at on "2026-10-25"', True,
       "§3.6 DST autumn day: starts at 22:00Z the day before", zone="Europe/Warsaw"),
    at("2026-10-25T22:59:59.999Z", 'created_at on "2026-10-25"', True,
       "§3.6 DST autumn day: 25 hours long", zone="Europe/Warsaw"),
    at("2026-10-25T23:00:00Z", 'created_at on "2026-10-25"', False,
       "§3.6 DST autumn day: ends at 23:00Z", zone="Europe/Warsaw"),
    at("2026-10-25T22:30:00Z", 'created_at after "2026-10-25"', False,
       "§3.6 DST autumn day: after D is after its 25th hour", zone="Europe/Warsaw"),
    at("2026-03-29T21:30:00Z", 'created_at between "2026-03-29" and "2026-03-29"', True,
       "§3.6 DST spring day: between D and D is the 23-hour day", zone="Europe/Warsaw"),
    at("2026-03-22T23:30:00Z", "created_at on today-1w", True,
       "§3.6 DST: today-1w is a calendar week back", zone="Europe/Warsaw",
       now="2026-03-30T10:00:00Z"),
    at("2026-03-28T23:30:00Z", "created_at between today-1d and today", True,
       "§3.6 DST: today-1d is the start of yesterday (wall clock)", zone="Europe/Warsaw",
       now="2026-03-30T10:00:00Z"),
    at("2026-03-28T22:30:00Z", "created_at between today-1d and today", False,
       "§3.6 DST: today-1d is not today minus 24 hours", zone="Europe/Warsaw",
       now="2026-03-30T10:00:00Z"),
    at("2026-03-28T12:30:00Z", "created_at within 1d", False,
       "§3.6 DST: within 1d is wall-clock, 23 hours on the spring day", zone="Europe/Warsaw",
       now="2026-03-29T12:00:00Z"),
    at("2026-03-29T00:00:00Z", "created_at within 2h", True,
       "§3.6 DST: h is an exact duration", zone="Europe/Warsaw", now="2026-03-29T01:30:00Z"),
    at("2026-10-25T22:30:00Z", "created_at on today", False,
       "§3.6 DST autumn: today starts at 23:00Z", zone="Europe/Warsaw",
       now="2026-10-25T23:30:00Z"),
    at("2026-10-25T22:30:00Z", "created_at on today-1d", True,
       "§3.6 DST autumn: today-1d is the 25-hour day", zone="Europe/Warsaw",
       now="2026-10-25T23:30:00Z"),
]

TYPE_ERRORS = [
    row("§3.7 starts_with empty string", 'city starts_with ""', CITY, Err("E_EMPTY_OPERAND")),
    row("§3.7 ends_with empty string", 'city ends_with ""', CITY, Err("E_EMPTY_OPERAND")),
    row("§3.7 contains empty string", 'city contains ""', CITY, Err("E_EMPTY_OPERAND")),
    row("§3.8 age starts_with is a type error", 'age starts_with "3"', CITY, Err("E_TYPE")),
    row("§3.8 city > 5 is a type error", "city > 5", CITY, Err("E_TYPE")),
    row("§3.8 vip equals is a type error", 'vip equals "x"', CITY, Err("E_TYPE")),
    row("§3.8 number field with a string operand", 'age = "31"', CITY, Err("E_OPERAND_TYPE")),
    row("§3.8 unknown field with a did-you-mean hint", 'cty = "Warszawa"', CITY,
        Err("E_UNKNOWN_FIELD", "city")),
    row("§3.8 unknown operator", 'city resembles "Warszawa"', CITY,
        Err("E_UNEXPECTED_TOKEN")),
]

ACTIVITIES = [
    row("§4 occurred: one event", "event MailOpen occurred", opens("2026-03-01T08:00:00Z"),
        True),
    row("§4 occurred: no event", "event MailOpen occurred", NOTHING, False),
    row("§4 occurred: only another event", "event MailOpen occurred",
        opens("2026-03-01T08:00:00Z", name="MailClick"), False),
    row("§4 not_occurred: no event", "event MailOpen not_occurred",
        opens("2026-03-01T08:00:00Z", name="MailClick"), True),
    row("§4 not_occurred: one event", "event MailOpen not_occurred",
        opens("2026-03-01T08:00:00Z"), False),
    row("§4 not event occurred", "not event MailOpen occurred", NOTHING, True),
    row("§4 every system event", "all(event MailOpen occurred, event MailClick occurred, "
        "event SmsClick occurred, event PushClick occurred)",
        [contact({}), *(event(n, "2026-03-01T08:00:00Z")
                        for n in ("MailOpen", "MailClick", "SmsClick", "PushClick"))], True),
    row("§4 custom event", "event Purchase occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 10})], True),
    row("§4 event names are case-sensitive", "event purchase occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 10})], False),
    row("§4 unknown event is a check error", "event Purchse occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z")],
        Err("E_UNKNOWN_EVENT", "Purchase")),
    # where: a full expression over one event's properties
    row("§4 where: text folds case", 'event MailOpen where (campaign = "SPRING") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring"})], True),
    row("§4 where: no event satisfies it", 'event MailOpen where (campaign = "summer") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring"})],
        False),
    row("§4 where: every condition applies to the same event",
        'event MailOpen where (campaign = "spring" and link = "b") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring",
                                                                 "link": "a"}),
         event("MailOpen", "2026-03-02T08:00:00Z", {"campaign": "summer", "link": "b"})],
        False),
    row("§4 where: both conditions on one event",
        'event MailOpen where (campaign = "spring" and link = "a") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring",
                                                                 "link": "a"}),
         event("MailOpen", "2026-03-02T08:00:00Z", {"campaign": "summer", "link": "b"})],
        True),
    row("§4 where: two activity conditions may match different events",
        'event MailOpen where (campaign = "spring") occurred and '
        'event MailOpen where (link = "b") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring",
                                                                 "link": "a"}),
         event("MailOpen", "2026-03-02T08:00:00Z", {"campaign": "summer", "link": "b"})],
        True),
    row("§4 where: groups", 'event MailOpen where (any(campaign = "x", link = "b")) occurred',
        [contact({}), event("MailOpen", "2026-03-02T08:00:00Z", {"campaign": "summer",
                                                                 "link": "b"})], True),
    row("§4 where: not", 'event MailOpen where (not campaign = "spring") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring"})],
        False),
    row("§4 where: a missing property matches a negative operator",
        'event MailOpen where (campaign != "spring") occurred',
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"link": "a"})], True),
    row("§4 where: has_no_value on a property",
        "event MailOpen where (campaign has_no_value) occurred",
        [contact({}), event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring"})],
        False),
    row("§4 where: number property", "event Purchase where (value > 100) occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 120})], True),
    row("§4 where: number between", "event Purchase where (value between 50 and 100) occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 120})], False),
    row("§4 where: date property", 'event Purchase where (at before "2026-03-02") occurred',
        [contact({}), event("Purchase", "2026-03-10T08:00:00Z",
                            {"at": "2026-03-01T10:00:00Z"})], True),
    row("§4 where: boolean property", "event Purchase where (gift is_true) occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"gift": False})], False),
    row("§4 where: multi-valued property", 'event Purchase where (sku = "b2") occurred',
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"sku": ["A1", "B2"]})],
        True),
    row("§4 where: unknown property is a check error",
        "event Purchase where (valu > 1) occurred",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 1})],
        Err("E_UNKNOWN_PROPERTY", "value")),
    row("§4 where: property type error", 'event Purchase where (value starts_with "1") occurred',
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 1})], Err("E_TYPE")),
    # counts
    row("§4 at_least 2: n = 2", "event MailOpen occurred at_least 2",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z"), True),
    row("§4 at_least 2: n = 1", "event MailOpen occurred at_least 2",
        opens("2026-03-01T08:00:00Z"), False),
    row("§4 at_least 2 times", "event MailOpen occurred at_least 2 times",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z", "2026-03-03T08:00:00Z"), True),
    row("§4 at_least 0: n = 0", "event MailOpen occurred at_least 0", NOTHING, True),
    row("§4 at_most 2 also matches n = 0", "event MailOpen occurred at_most 2", NOTHING, True),
    row("§4 at_most 2: n = 2", "event MailOpen occurred at_most 2",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z"), True),
    row("§4 at_most 2: n = 3", "event MailOpen occurred at_most 2",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z", "2026-03-03T08:00:00Z"), False),
    row("§4 at_most 0: n = 0", "event MailOpen occurred at_most 0", NOTHING, True),
    row("§4 at_most 0: n = 1", "event MailOpen occurred at_most 0",
        opens("2026-03-01T08:00:00Z"), False),
    row("§4 exactly 2: n = 2", "event MailOpen occurred exactly 2",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z"), True),
    row("§4 exactly 2: n = 3", "event MailOpen occurred exactly 2 times",
        opens("2026-03-01T08:00:00Z", "2026-03-02T08:00:00Z", "2026-03-03T08:00:00Z"), False),
    row("§4 exactly 2: n = 1", "event MailOpen occurred exactly 2",
        opens("2026-03-01T08:00:00Z"), False),
    row("§4 exactly 0: n = 0", "event MailOpen occurred exactly 0", NOTHING, True),
    row("§4 exactly 0: n = 1", "event MailOpen occurred exactly 0",
        opens("2026-03-01T08:00:00Z"), False),
    row("§4 n counts events, not matching values",
        'event Purchase where (sku contains "A") occurred exactly 1',
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"sku": ["A1", "A2"]})],
        True),
    row("§4 at_most 2 matches n = 0 after where",
        "event Purchase where (value > 1000) occurred at_most 2",
        [contact({}), event("Purchase", "2026-03-01T08:00:00Z", {"value": 10})], True),
    row("§4 not_occurred with where and window",
        'event MailOpen where (campaign = "spring") not_occurred within 7d',
        [contact({}), event("MailOpen", "2026-03-14T08:00:00Z", {"campaign": "summer"}),
         event("MailOpen", "2026-03-01T08:00:00Z", {"campaign": "spring"})], True),
    row("§4 count counts only that event name", "event MailOpen occurred at_least 2",
        [*opens("2026-03-01T08:00:00Z"), event("MailClick", "2026-03-02T08:00:00Z")], False),
    row("§4 a fractional count is an error", "event MailOpen occurred at_least 1.5", NOTHING,
        Err("E_UNEXPECTED_TOKEN")),
    row("§4 a negative count is an error", "event MailOpen occurred at_least -1", NOTHING,
        Err("E_UNEXPECTED_TOKEN")),
    row("§4 where and count: n counts events satisfying where",
        "event Purchase where (value >= 100) occurred exactly 2",
        [contact({}), *(event("Purchase", f"2026-03-0{i + 1}T08:00:00Z", {"value": v})
                        for i, v in enumerate((50, 150, 200)))], True),
    row("§4 where and count: at_least 3 not reached",
        "event Purchase where (value >= 100) occurred at_least 3",
        [contact({}), *(event("Purchase", f"2026-03-0{i + 1}T08:00:00Z", {"value": v})
                        for i, v in enumerate((50, 150, 200)))], False),
    row("§4 where, count and window together",
        "event Purchase where (value >= 100) occurred at_least 2 within 30d",
        [contact({}), event("Purchase", "2026-01-01T08:00:00Z", {"value": 500}),
         event("Purchase", "2026-03-01T08:00:00Z", {"value": 50}),
         event("Purchase", "2026-03-02T08:00:00Z", {"value": 150})], False),
    # windows
    row("§4 within 30d: at now-30d", "event MailOpen occurred within 30d",
        opens("2026-02-13T12:00:00Z"), True),
    row("§4 within 30d: just before now-30d", "event MailOpen occurred within 30d",
        opens("2026-02-13T11:59:59.999Z"), False),
    row("§4 within excludes events after now", "event MailOpen occurred within 30d",
        opens("2026-03-16T08:00:00Z"), False),
    row("§4 occurred with no window counts future events", "event MailOpen occurred",
        opens("2026-03-16T08:00:00Z"), True),
    row("§4 event time is its own timestamp, not delivery order",
        "event MailOpen occurred exactly 1 within 30d",
        opens("2026-03-10T08:00:00Z", "2025-01-01T08:00:00Z"), True),
    row("§4 since D: from D's start", 'event MailOpen occurred since "2026-03-10"',
        opens("2026-03-10T00:00:00Z"), True),
    row("§4 since D: the day before", 'event MailOpen occurred since "2026-03-10"',
        opens("2026-03-09T23:59:59.999Z"), False),
    row("§4 since an instant: the instant itself",
        'event MailOpen occurred since "2026-03-10T08:00:00Z"', opens("2026-03-10T08:00:00Z"),
        True),
    row("§4 since an instant: just before",
        'event MailOpen occurred since "2026-03-10T08:00:00Z"',
        opens("2026-03-10T07:59:59.999Z"), False),
    row("§4 before D: just before D's start", 'event MailOpen occurred before "2026-03-10"',
        opens("2026-03-09T23:59:59.999Z"), True),
    row("§4 before D: D's start is not before", 'event MailOpen occurred before "2026-03-10"',
        opens("2026-03-10T00:00:00Z"), False),
    row("§4 before an instant is <", 'event MailOpen occurred before "2026-03-10T08:00:00Z"',
        opens("2026-03-10T08:00:00Z"), False),
    row("§4 since is the complement of before",
        'event MailOpen occurred since "2026-03-10T08:00:00Z" and '
        'not event MailOpen occurred before "2026-03-10T08:00:00Z"',
        opens("2026-03-10T08:00:00Z"), True),
    row("§4 between dates: to B's end",
        'event MailOpen occurred between "2026-03-01" and "2026-03-10"',
        opens("2026-03-10T23:59:59.999Z"), True),
    row("§4 between dates: after B's end",
        'event MailOpen occurred between "2026-03-01" and "2026-03-10"',
        opens("2026-03-11T00:00:00Z"), False),
    row("§4 between dates: from A's start",
        'event MailOpen occurred between "2026-03-01" and "2026-03-10"',
        opens("2026-03-01T00:00:00Z"), True),
    row("§4 between relative dates includes now", "event MailOpen occurred between now-7d and now",
        opens("2026-03-15T12:00:00Z"), True),
    row("§4 since today", "event MailOpen occurred since today", opens("2026-03-14T23:00:00Z"),
        False),
    row("§4 window between A > B is a check error",
        'event MailOpen occurred between "2026-03-10" and "2026-03-01"',
        opens("2026-03-05T00:00:00Z"), Err("E_BETWEEN_ORDER")),
    row("§4 within 0d is now only", "event MailOpen occurred exactly 1 within 0d",
        opens("2026-03-15T12:00:00Z", "2026-03-15T11:59:59.999Z"), True),
    row("§4 not_occurred within: only old events", "event MailOpen not_occurred within 30d",
        opens("2025-12-01T08:00:00Z"), True),
    row("§4 not_occurred within: a recent event", "event MailOpen not_occurred within 30d",
        opens("2026-03-14T08:00:00Z"), False),
    row("§4 not_occurred before D", 'event MailOpen not_occurred before "2026-01-01"',
        opens("2026-03-14T08:00:00Z"), True),
    row("§4 count within a window", "event MailOpen occurred exactly 2 within 30d",
        opens("2026-03-14T08:00:00Z", "2026-03-01T08:00:00Z", "2025-12-01T08:00:00Z"), True),
    row("§4 window in the evaluation zone", 'event MailOpen occurred since "2026-03-10"',
        opens("2026-03-09T23:30:00Z"), True, zone="Europe/Warsaw"),
    row("§4 window: today-1d across DST", "event MailOpen occurred since today-1d",
        opens("2026-03-28T22:30:00Z"), False, zone="Europe/Warsaw", now="2026-03-30T10:00:00Z"),
    # visits
    row("§4 visit occurred", "visit occurred",
        [contact({}), visit("2026-03-01T08:00:00Z", url="https://shop.example/")], True),
    row("§4 visit occurred: none", "visit occurred", NOTHING, False),
    row("§4 visit not_occurred: none", "visit not_occurred", NOTHING, True),
    row("§4 visit where url (top-level attribute)",
        'visit where (url contains "/P/42") occurred',
        [contact({}), visit("2026-03-01T08:00:00Z", url="https://shop.example/p/42")], True),
    row("§4 visit where product_id", 'visit where (product_id = "42") occurred',
        [contact({}), visit("2026-03-01T08:00:00Z", {"product_id": "42"})], True),
    row("§4 visit where path, title, referrer",
        'visit where (all(path starts_with "/sale", title contains "PROMO", '
        'referrer ends_with "google.com")) occurred',
        [contact({}), visit("2026-03-01T08:00:00Z", {"path": "/sale/shoes",
                                                     "title": "Big promo",
                                                     "referrer": "https://www.google.com"})],
        True),
    row("§4 visit where custom properties",
        'visit where (campaign = "lato" and price > 10) occurred',
        [contact({}), visit("2026-03-01T08:00:00Z", {"campaign": "LATO", "price": 9.5})],
        False),
    row("§4 visit where: the same visit",
        'visit where (url ends_with "/p/42" and referrer contains "direct") occurred',
        [contact({}),
         visit("2026-03-01T08:00:00Z", {"referrer": "google"}, url="https://s.example/p/42"),
         visit("2026-03-02T08:00:00Z", {"referrer": "direct"}, url="https://s.example/p/43")],
        False),
    row("§4 visit count and window", "visit occurred exactly 2 within 7d",
        [contact({}), visit("2026-03-14T08:00:00Z"), visit("2026-03-10T08:00:00Z"),
         visit("2026-03-01T08:00:00Z")], True),
    row("§4 visit not_occurred within 7d", "visit not_occurred within 7d",
        [contact({}), visit("2026-03-01T08:00:00Z")], True),
    row("§4 visit with top-level product_id", 'visit where (product_id = "42") occurred',
        [contact({}), visit("2026-03-01T08:00:00Z", product_id="42")], True),
    row("§4 WHERE, OCCURRED, IN_SEGMENT are case-insensitive",
        'VISIT WHERE (url has_value) OCCURRED AT_MOST 1 and IN_SEGMENT "Buyers"',
        [contact({}), visit("2026-03-01T08:00:00Z", url="https://s.example/"),
         event("Purchase", "2026-03-01T08:00:00Z")], True),
    row("§4 visit since", 'visit occurred since "2026-03-02"',
        [contact({}), visit("2026-03-01T08:00:00Z")], False),
    row("§4 visit where: unknown property is a check error", 'visit where (nope = "x") occurred',
        [contact({}), visit("2026-03-01T08:00:00Z")], Err("E_UNKNOWN_PROPERTY")),
]

BUYER = [*who(vip=True, city="Warszawa"), event("Purchase", "2026-03-01T08:00:00Z")]
NON_BUYER = who(vip=True, city="Kraków")

SEGMENT_REFS = [
    row("§5 in_segment: a member", 'in_segment "Buyers"', BUYER, True),
    row("§5 in_segment: not a member", 'in_segment "Buyers"', NON_BUYER, False),
    row("§5 not in_segment", 'not in_segment "Buyers"', NON_BUYER, True),
    row("§5 in_segment referring to another segment", 'in_segment "VIP buyers"', BUYER, True),
    row("§5 in_segment referring to another segment: fails inside",
        'in_segment "VIP buyers"', NON_BUYER, False),
    row("§5 saved segment uses the same now", 'in_segment "Recent openers"',
        opens("2026-03-05T08:00:00Z"), False),
    row("§5 saved segment uses the same now: recent", 'in_segment "Recent openers"',
        opens("2026-03-12T08:00:00Z"), True),
    row("§5 in_segment composes in any", 'any(in_segment "Warsaw", in_segment "Buyers")',
        NON_BUYER, False),
    row("§5 in_segment composes with and/not", 'in_segment "Warsaw" and not in_segment "Buyers"',
        who(city="Warszawa"), True),
    row('§5 not in_segment "Unsubscribed buyers"', 'not in_segment "Unsubscribed buyers"',
        [*who(tags=["unsubscribed"]), event("Purchase", "2026-03-01T08:00:00Z")], False),
    row("§5 unknown segment is a check error", 'in_segment "Nobody"', BUYER,
        Err("E_UNKNOWN_SEGMENT")),
    row("§5 reference cycle is a check error", 'in_segment "Loop A"', BUYER,
        Err("E_SEGMENT_CYCLE")),
    row("§5 self reference is a check error", 'in_segment "Self"', BUYER,
        Err("E_SEGMENT_CYCLE")),
]

SPEC_EXAMPLE = [  # LANGUAGE.md §8, verbatim
    contact({"city": "Warszawa", "age": 31, "vip": True, "signup_date": "2024-05-01",
             "tags": ["b2b", "vip"]}, email="a@x.pl", phone="+48600100200",
             push_tokens=["tok1"]),
    event("MailOpen", "2025-01-01T10:00:00Z", {"campaign": "spring"}, eid="e1"),
    visit("2025-01-02T08:00:00Z", {"product_id": "42"}, vid="v1",
          url="https://shop.example/p/42"),
]

RECORDS = [
    row("§8 example records: every field readable",
        'all(email = "a@x.pl", phone = "+48600100200", push_tokens = "tok1", '
        'city = "Warszawa", age = 31, vip is_true, signup_date on "2024-05-01", tags = "b2b", '
        'event MailOpen where (campaign = "spring") occurred exactly 1, '
        'visit where (url = "https://shop.example/p/42" and product_id = "42") occurred)',
        SPEC_EXAMPLE, True),
    row("§8 email ends_with @gmail.com, any case", 'email ends_with "@gmail.com"',
        [contact(email="Jan@GMAIL.com")], True),
    row("§8 email ends_with: another domain", 'email ends_with "@gmail.com"',
        [contact(email="jan@gmail.com.pl")], False),
    row("§8 phone is a text field", 'phone starts_with "+48"', [contact(phone="+48600100200")],
        True),
    row("§8 push_tokens is a list of text", 'push_tokens = "TOK-2"',
        [contact(push_tokens=["tok-1", "tok-2"])], True),
    row("§8 push_tokens empty list has_no_value", "push_tokens has_no_value",
        [contact(push_tokens=[])], True),
    row("§8 first_name and last_name", 'first_name = "jan" and last_name = "KOWALSKI"',
        who(first_name="Jan", last_name="Kowalski"), True),
    row("§8 contact records merge: other fields kept", 'city = "Warszawa" and age = 32',
        [contact({"city": "Warszawa", "age": 31}), contact({"age": 32})], True),
    row("§8 contact records merge: null removes a field", "city has_no_value",
        [contact({"city": "Warszawa", "age": 31}), contact({"city": None})], True),
    row("§8 addresses merge", "email has_value and phone has_value",
        [contact(email="a@x.pl"), contact(phone="+48600100200")], True),
    row("§8 address set to null is removed", "email has_no_value and phone has_value",
        [contact(email="a@x.pl", phone="+48600100200"), contact(email=None)], True),
    row("§8 an event creates its contact with no fields",
        "event MailOpen occurred and city has_no_value and email has_no_value",
        [event("MailOpen", "2026-03-01T08:00:00Z")], True),
    row("§8 an event before its contact record",
        'event MailOpen occurred and city = "Warszawa"',
        [event("MailOpen", "2026-03-01T08:00:00Z"), contact({"city": "Warszawa"})], True),
    row("§8 events are idempotent by id", "event MailOpen occurred exactly 1",
        [contact({}), *[event("MailOpen", "2026-03-01T08:00:00Z", eid="same")] * 2], True),
    row("§8 visits are idempotent by id", "visit occurred exactly 1",
        [contact({}), *[visit("2026-03-01T08:00:00Z", vid="same")] * 2], True),
    row("§8 delete removes fields, events and visits",
        "event MailOpen not_occurred and visit not_occurred and age has_no_value "
        'and city = "Kraków"',
        [contact({"city": "Warszawa", "age": 31}), event("MailOpen", "2026-03-01T08:00:00Z"),
         visit("2026-03-01T08:00:00Z"), delete(), contact({"city": "Kraków"})], True),
]

ROWS = [*GRAMMAR, *TEXT, *NO_VALUE, *MULTI, *NUMBERS, *BOOLEANS, *DATES, *ZONES, *TYPE_ERRORS,
        *ACTIVITIES, *SEGMENT_REFS, *RECORDS]
_ids_seen = [p.id for p in ROWS]
assert len(_ids_seen) == len(set(_ids_seen)), "row ids must be unique"


@pytest.mark.parametrize(("text", "records", "expected", "now", "zone"), ROWS)
def test_semantics(text: str, records: list[Record], expected: Expected, now: str,
                   zone: str) -> None:
    def run() -> bool:
        return evaluate(text, records, contact="c1", now=datetime.fromisoformat(now),
                        zone=zone, declared=DECLARED, segments=SEGMENTS)

    if isinstance(expected, Err):
        with pytest.raises(Rejected) as caught:
            run()
        assert expected.code in caught.value.codes
        if expected.hint is not None:
            hints = [h for h in caught.value.hints if h]
            assert any(expected.hint in h for h in hints), hints
    else:
        assert run() is expected


# --- §3.3/§3.4: every negative operator is the complement of its positive ----------------

COMPLEMENTS = [
    ('nickname not_equals "x"', 'nickname equals "x"'),
    ('nickname not_contains "x"', 'nickname contains "x"'),
    ('nickname not_in ["x", "z"]', 'nickname in ["x", "z"]'),
    ("nickname has_no_value", "nickname has_value"),
    ("scores != 1", "scores = 1"),
    ("scores not_in [1, 5]", "scores in [1, 5]"),
    ('dates not_on "2026-03-10"', 'dates on "2026-03-10"'),
    ("dates not_equals today", "dates equals today"),
]
VALUES: dict[str, dict[str, Any]] = {
    "absent": {},
    "null": {"nickname": None, "scores": None, "dates": None},
    "empty": {"nickname": "", "scores": [], "dates": ""},
    "empty list": {"nickname": [], "scores": [], "dates": []},
    "one matching": {"nickname": "X", "scores": 1, "dates": "2026-03-10T10:00:00Z"},
    "one other": {"nickname": "y", "scores": 2, "dates": "2026-03-11T10:00:00Z"},
    "many, one matching": {"nickname": ["y", "x"], "scores": [2, 1],
                           "dates": ["2026-03-15T10:00:00Z", "2026-03-10T10:00:00Z"]},
}


@pytest.mark.parametrize("values", list(VALUES.values()), ids=list(VALUES))
@pytest.mark.parametrize(("negative", "positive"), COMPLEMENTS, ids=[n for n, _ in COMPLEMENTS])
def test_negative_is_the_complement(negative: str, positive: str,
                                    values: dict[str, Any]) -> None:
    records = [contact(values)]

    def run(text: str) -> bool:
        return evaluate(text, records, contact="c1", now=datetime.fromisoformat(NOW),
                        zone="UTC", declared=DECLARED, segments=SEGMENTS)

    assert run(negative) is (not run(positive))
    assert run(negative) is run(f"not ({positive})")
