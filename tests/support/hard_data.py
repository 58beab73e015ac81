"""Seeded generators of hard inputs for the differential test (tests/test_differential.py).

* `records(seed)`: JSON Lines over two accounts that share contact ids, full of values that
  break naive implementations (case, diacritics, ß, NFD, syntax characters, long values,
  range-end numbers, dates around midnight and the DST changes in several zones), with
  updates that remove fields, duplicate, early and out-of-order events, and deletes;
  consent per channel set, changed and cleared over time (and malformed consent, rejected).
* `CATALOG`: the declared type of every custom field and property `records` writes.
* `ExprGen`: random segment expressions over every construct of LANGUAGE.md, built as
  small trees (`Node`) that render to text and that `shrink.py` can cut down.
* `saved_segments(rng)`: saved segments for `in_segment`, some referring to others.
* `expression(rng)`: a random expression over standard fields and system events only (it
  checks with the default catalog; used by test_count_es.py).
"""

from __future__ import annotations

import json
import math
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from segql.compiler.catalog import (
    STANDARD_FIELDS,
    STANDARD_VISIT_PROPERTIES,
    SYSTEM_EVENTS,
    Catalog,
    FieldType,
)
from segql.compiler.dates import shift
from segql.contract.contact import (
    COMPUTED_FIELDS,
    CONSENT_CHANNELS,
    CONSENT_STATES,
    Contact,
    bucket,
    status_field,
)
from segql.indexer.records import VISIT_ATTRIBUTES
from segql.values import SUFFIX_CHARS, epoch_millis, parse_instant

ACCOUNTS = ("acme", "other")
ZONES = ("UTC", "Europe/Warsaw", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati")
#: Evaluation instants: a DST change in Warsaw, midnight in several zones, the year's end,
#: Feb 28 near midnight in a year that is not a leap year and in one that is.
NOWS = (
    "2025-03-30T01:30:00Z",
    "2025-10-26T00:30:00Z",
    "2025-06-15T22:30:00Z",
    "2025-12-31T23:30:00Z",
    "2027-02-28T10:30:00Z",
    "2028-02-28T23:30:00Z",
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def parse_now(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the catalog ------------------------------------------------------------------------

CUSTOM_FIELDS: dict[str, FieldType] = {
    "note": "text",
    "mixed": "text",
    "tag:ß*": "text",
    "age": "number",
    "score": "number",
    "order.total": "number",
    "mixed_n": "number",
    "vip": "boolean",
    "consent": "boolean",
    "signup": "date",
    "Data urodzenia": "date",
    "last_seen": "date",
}
EVENT_PROPERTIES: dict[str, dict[str, FieldType]] = {
    "MailOpen": {"campaign": "text", "link": "text"},
    "MailClick": {"campaign": "text", "url": "text"},
    "SmsClick": {"campaign": "text"},
    "PushClick": {"campaign": "text"},
    "Purchase": {"value": "number", "currency": "text", "at": "date", "gift": "boolean",
                 "sku": "text", "qty": "number"},
    # the same name in lower case is another event; its `value` is text
    "purchase": {"value": "text", "currency": "text"},
    "Order Completed": {"total": "number", "items": "text", "coupon": "text",
                        "shipped": "date", "express": "boolean"},
    "Login": {"device": "text", "ok": "boolean", "at": "date"},
    "Zakup: Łódź*?": {"kwota": "number", "opis*?\\": "text", "Data zakupu": "date"},
}
VISIT_PROPERTIES: dict[str, FieldType] = {
    "campaign": "text", "price": "number", "seen": "date", "logged_in": "boolean",
    "utm.source": "text",
}
CATALOG = Catalog(fields=CUSTOM_FIELDS, events=EVENT_PROPERTIES,
                  visit_properties=VISIT_PROPERTIES)
#: Events in the data that no catalog knows (never queried; they must not disturb counts).
UNDECLARED_EVENTS = ("Unknown", "mailopen")

# --- values -------------------------------------------------------------------------------

CITIES = (
    "Warszawa", "WARSZAWA", "warszawa", "Warka", "War", "Łódź", "ŁÓDŹ", "łódź", "Lodz",
    nfd("Łódź"), nfd("ŁÓDŹ"), "Straße", "STRASSE", "strasse", "STRAẞE", "Gdańsk", "GDAŃSK",
    "gdańsk", "München", nfd("München"), "MÜNCHEN", "Kraków", "KRAKÓW", "Zürich",
    "İstanbul", "ISTANBUL", " Warszawa", "Warszawa ", "Biała Podlaska", "BIAŁA  PODLASKA",
)
NAMES = (
    "Łukasz", "ŁUKASZ", "łukasz", "Żaneta", "ŻANETA", "Jürgen", "JÜRGEN", nfd("Jürgen"),
    "Ødegaard", "O'Brien", "Anne-Marie", "ǅemal", "ǄEMAL", "İlkay", "Σίσυφος", "ΣΊΣΥΦΟΣ",
    "ﬁona", "FIONA", "Mädchen", "MAEDCHEN",
)
PHRASES = (
    "Zażółć gęślą jaźń", "ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "zażółć gęślą jaźń", nfd("Zażółć gęślą jaźń"),
    "Große Straße", "GROSSE STRASSE", "große strasse",
)
SYNTAX = (
    "a*b", "a?b", "a\\b", 'say "hi"', "(x)", "k:v", "[x]", "{y}", "^$.|+", "~/", "a|b", ".*",
    "\\*", "x\\", "\\", "*", "?", "**", "a.b", "/regex/", "AND OR NOT", "title:foo AND bar",
    "<b>&amp;", "#hash", "100%", "_under_", '"', "'", "`", '{"json": [1, 2]}', "\\u0041",
    "nul\x00byte", "line\nbreak", "tab\there", " lead", "trail ", " ", "  ", "[a TO b]",
    "x~2", "a^3", "+plus -minus", "!bang", "&&", "||",
)
LONG = (
    "x" * 40, "ab" * 30, "ß" * 20, "ẞ" * 12, "ß" * 13, "Zażółć gęślą jaźń " * 3,
    "prefix-" + "*?" * 15 + "-suffix", "Łódź-" * 6, "0123456789" * 3, "y" * 24, "z" * 25,
    "Straße-" * 5, "ŁÓDŹ-" * 6, "a\\*b?c" * 6, nfd("Zażółć gęślą jaźń ") * 2,
)
ODD = (
    "o\u0308", "ö", "ΣΑΣ", "σας", "😀 party", "\U0001d518\U0001d52b\U0001d526", "ﬀ", "ŉ",
    "ǰ", "\u212a", "\u212b", "ﬃ", "2025-06-15", "42", "true", "null", "0",
)
ALL_TEXTS = CITIES + NAMES + PHRASES + SYNTAX + LONG + ODD
EMAILS = (
    "jan@GMAIL.com", "Jan@gmail.com", "ola@wp.pl", "OLA@WP.PL", "łukasz@poczta.pl",
    "ŁUKASZ@POCZTA.PL", "a*b@x.com", "user+tag@gmail.com", "x?y@[ipv6].org",
    '"quoted"@x.pl', "strasse@straße.de",
)
TEXT_POOLS: dict[str, tuple[str, ...]] = {
    "city": CITIES + PHRASES,
    "first_name": NAMES,
    "last_name": NAMES + PHRASES,
    "email": EMAILS,
    "phone": ("+48600100200", "+48 600 100 200", "(22) 123-45-67", "600100200",
              "+49 (0) 30 *", "0"),
    "push_tokens": ("tok1", "TOK1", "tok:2", "tok*", "a" * 30, "ŁÓDŹ-token"),
    "tags": ("b2b", "B2B", "vip", "VIP", "newsletter", "Łódź", "straße", "STRASSE", "a*b",
             "tag:x", "[x]", " ", "x" * 30),
    "tag:ß*": ("ß", "SS", "ss*", "*", "Straße"),
    "campaign": ("spring", "SPRING", "Wiosna ŻÓŁTA", "wiosna żółta", "black*friday",
                 "50% off", "a?b", "lato-2025", "Straße-Sale", "STRASSE-SALE", "x" * 30,
                 "(promo)", "q:1"),
    "url": ("https://shop.example/p/42", "HTTPS://SHOP.EXAMPLE/P/42",
            "https://shop.example/p/42?x=1&y=*", "https://sklep.pl/łódź/ŻÓŁW",
            "https://sklep.pl/%C5%81%C3%B3d%C5%BA", "/p/(1)",
            "https://shop.example/search?q=a+b|c", "https://shop.example/" + "long/" * 8),
    "path": ("/p/42", "/P/42", "/", "/koszyk/łódź", "/KOSZYK/ŁÓDŹ", "/a*b?c", "/straße"),
    "title": ("Koszyk — Łódź", "KOSZYK — ŁÓDŹ", "Zażółć gęślą jaźń", "Buy *now*",
              "Straße & Co.", "x" * 26),
    "referrer": ("https://google.com/", "HTTPS://GOOGLE.COM/", "android-app://com.x",
                 'https://bing.com/?q="x"'),
    "product_id": ("42", "042", "42.0", "X-1", "x-1", "a*b", "SKU:1", "ß-1"),
    "currency": ("PLN", "pln", "EUR", "eur", "€", "zł", "ZŁ"),
    "device": ("iPhone", "IPHONE", "android", "Android 14", "Łódź-PC", "web"),
    "coupon": ("LATO10", "lato10", "ŻÓŁW", "żółw", "50%OFF", "a*b", "x" * 26),
    "sku": ("SKU-1", "sku-1", "SKU-2", "Ł-3", "a?b", "[x]", "x" * 25),
    "items": ("SKU-1", "sku-1", "b2b", "Łódź", "straße", "x" * 30),
    "value": ("12", "12.50", "1e3", "-0", "free", "FREE"),
    "utm.source": ("google", "GOOGLE", "newsletter*", "Łódź"),
}
TEXT_POOLS["link"] = TEXT_POOLS["url"]
for _channel in CONSENT_CHANNELS:  # the states, and near misses
    TEXT_POOLS[status_field(_channel)] = (*CONSENT_STATES, "Unsubscribed", "BOUNCED",
                                          "subscribe", "bounce", "scribed", "un")
#: Consent states in records, and values that make a record malformed (rejected).
_STATES_OR_CLEAR = (*CONSENT_STATES, *CONSENT_STATES, None)
_BAD_CONSENT: tuple[Any, ...] = (
    {"email": "Unsubscribed"}, {"sms": "opted_out"}, {"push": ""}, {"fax": "subscribed"},
    {"email": True}, ["email"], "unsubscribed", {"email": ["bounced"]},
)

NUMBERS = (
    0, -0.0, 0.0, 1, -1, 24.999, 25, 40, 40.0001, 31, 99.99, 100, 3.5, -3.5, 0.1, 1e-10,
    5e-324, -5e-324, 2**53, 2**53 + 1, -(2**53), 10**20, 1e300, -1e300,
    1.7976931348623157e308, -1.7976931348623157e308, 123456789.123, 2**31, -(2**31) - 1,
    2**63 - 1, 2**64,
)
NUMBER_POOLS: dict[str, tuple[float, ...]] = {
    "age": (*range(0, 100, 3), 18, 25, 40, 24.999, 40.0001, -1, 0, -0.0, 120),
    "order.total": (0.01, 99.99, 100, 100.0, 1e6, 0, -0.0),
    "value": (0, 9.99, 10, 10.0, 99.99, 100, 1e6, -5, -0.0, 0.1, 0.2, 0.30000000000000004),
    "qty": (0, 1, 2, 3, 10, -1),
    "total": (0, 49.99, 50, 100, 250.5, 1e9),
    "kwota": (0, 1, -1, 0.5, 1e15, 2**53 + 1),
    "price": (0, 9.99, 19.99, 20, 1e-10, -0.0),
    # `bucket` (0-9999, computed from the id): its edges and holdout boundaries
    "bucket": (0, 1, 999, 999.5, 1000, 1999, 2000, 4999, 5000, 9998, 9999, 10000, -1),
}
DATE_ONLY = (
    "2025-03-30", "2025-03-29", "2025-03-31", "2025-10-26", "2025-10-25", "2025-10-27",
    "2025-06-15", "2025-06-16", "2025-06-14", "2025-12-31", "2026-01-01", "2024-02-29",
    "1970-01-01", "1969-12-31", "2000-01-01", "1990-05-17", "2025-01-31", "2025-02-28",
    # anniversaries: Feb 29 and its neighbours in leap and other years, the year's end
    "2000-02-29", "1996-02-29", "2023-02-28", "2023-03-01", "1999-12-31", "1988-01-01",
    "1990-06-16", "1985-01-05", "2001-03-01", "1980-02-28", "2027-02-28", "2028-02-29",
)
BAD_DATES = (
    "2025-02-30", "2025-13-01", "not a date", "31.12.2025", "2025-1-1",
    "2025-06-15T25:00:00Z", "2025-06-15T10:00:00+25:00", " 2025-06-15", "2025-06-15Z",
    "20250615",
)
#: UTC offsets (minutes) instants are written with.
OFFSETS = (0, 60, 120, -300, -240, 330, 840, -720, 345)

_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_ms(text: str) -> int:
    """The epoch milliseconds of an ISO 8601 instant."""
    return epoch_millis(datetime.fromisoformat(text))


def _anchors() -> tuple[int, ...]:
    """Instants where something flips: the evaluation instants, midnights in each zone,
    DST changes, and each `now`/`today` moved by the offsets expressions use (so window
    ends are hit exactly)."""
    fixed = [
        "2025-03-30T00:59:59.999Z", "2025-03-30T01:00:00Z", "2025-10-26T01:00:00Z",
        "2025-10-26T00:59:59.999Z", "2025-06-15T23:59:59.999+02:00", "2025-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z", "2000-02-29T12:00:00Z",
        # anniversaries of instants: near midnight in some zone, Feb 29, the year's end
        "2024-02-29T23:30:00Z", "2024-02-29T00:30:00Z", "2024-02-28T10:00:00Z",
        "2023-12-31T23:59:59.999Z", "2024-01-01T00:00:00Z", "1990-06-15T03:59:59.999Z",
        "1990-06-15T04:00:00Z", "1990-06-15T10:00:00Z", "1992-02-29T10:30:00Z",
        "2020-03-01T04:30:00Z", "2019-12-31T10:00:00Z", "2021-02-28T23:59:59.999Z",
    ]
    found = {instant_ms(t) for t in fixed}
    for now in NOWS:
        now_ms = instant_ms(now)
        for name in ZONES:
            zone = ZoneInfo(name)
            local = (_EPOCH + timedelta(milliseconds=now_ms)).astimezone(zone)
            today = epoch_millis(datetime.combine(local.date(), datetime.min.time(), zone))
            for base in (now_ms, today):
                found.add(base)
                for amount, unit in _OFFSET_CHOICES:
                    found.add(shift(base, amount, unit, zone))
            found.add(shift(today, 1, "d", zone))
    return tuple(sorted(found))


_OFFSET_CHOICES = (
    (-1, "h"), (-1, "d"), (-7, "d"), (-30, "d"), (-1, "mo"), (-1, "y"), (1, "d"),
    (-90, "min"), (-2, "w"), (7, "d"), (-3, "mo"),
)
ANCHORS = _anchors()
_SMALL_DELTAS = (1, -1, 1000, -1000, 60_000, -60_000, 3_600_000, -3_600_000, _DAY, -_DAY)


def _instant(rng: random.Random) -> int:
    """Epoch ms near a boundary (or anywhere in the ~year before the evaluation instants)."""
    anchor = rng.choice(ANCHORS)
    roll = rng.random()
    if roll < 0.35:
        return anchor
    if roll < 0.65:
        return anchor + rng.choice(_SMALL_DELTAS)
    return anchor + rng.randint(-400 * _DAY, 40 * _DAY)


def format_instant(rng: random.Random, ms: int) -> str:
    """An instant written in one of the ISO 8601 forms records and literals may use."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    millis = f"{ms % 1000:03d}"
    roll = rng.random()
    if roll < 0.35:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z"
    if roll < 0.6:
        offset = timezone(timedelta(minutes=rng.choice(OFFSETS)))
        return moment.astimezone(offset).isoformat(timespec="milliseconds")
    if roll < 0.67:
        offset = timezone(timedelta(minutes=rng.choice(OFFSETS)))
        text = moment.astimezone(offset).isoformat(timespec="milliseconds")
        return text[:-3] + text[-2:]  # +05:30 → +0530
    if roll < 0.74:
        return moment.strftime("%Y-%m-%dt%H:%M:%S.") + millis + "z"
    if roll < 0.8:
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + millis + "Z"
    if roll < 0.85:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "456Z"  # sub-ms digits
    if roll < 0.9 and ms % 60_000 == 0:
        return moment.strftime("%Y-%m-%dT%H:%MZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "+00:00"


def _date_only_near(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(DATE_ONLY)
    moment = _EPOCH + timedelta(milliseconds=_instant(rng))
    return moment.astimezone(ZoneInfo(rng.choice(ZONES))).date().isoformat()


# --- records ------------------------------------------------------------------------------

#: Contact ids used in both accounts besides c0..cN: case, diacritics, syntax, length.
SPECIAL_IDS = (
    "ŁÓDŹ", "łódź", "c:1", "c 1", "c*?\\", "C0", "🙂", "id-" + "x" * 200, '"q"', "acme:c1",
)


class _Records:
    """Builds the records of one seed; counts the records meant to be rejected."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.conflicts = 0

    # values by type; each may be a list, no value, or a value of another type
    def text(self, name: str) -> Any:
        rng = self.rng
        pool = TEXT_POOLS.get(name, ALL_TEXTS)
        roll = rng.random()
        if roll < 0.05:
            return None
        if roll < 0.1:
            return ""
        if roll < 0.24:
            return [self.one_text(pool) if rng.random() < 0.85
                    else rng.choice(("", None, 7, True)) for _ in range(rng.randint(0, 4))]
        if roll < 0.28:
            return rng.choice((31, -0.0, True, False, 2.5))
        return self.one_text(pool)

    def one_text(self, pool: tuple[str, ...]) -> str:
        return self.rng.choice(pool) if self.rng.random() < 0.85 else self.rng.choice(ALL_TEXTS)

    def number(self, name: str) -> Any:
        rng = self.rng
        pool = NUMBER_POOLS.get(name, NUMBERS)
        roll = rng.random()
        if roll < 0.05:
            return None
        if roll < 0.16:
            return [rng.choice(pool) for _ in range(rng.randint(0, 3))]
        if roll < 0.22:
            return rng.choice(("31", "", "abc", True, "2025-06-15"))
        if roll < 0.3:
            return rng.choice(NUMBERS)
        if roll < 0.4:
            return rng.uniform(-1000, 1000)
        return rng.choice(pool)

    def boolean(self) -> Any:
        return self.rng.choice(
            (True, True, False, False, None, [True, False], [], [False], "true", 1, "")
        )

    def date(self) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            return format_instant(rng, _instant(rng))
        if roll < 0.7:
            return _date_only_near(rng)
        if roll < 0.78:
            return rng.choice(BAD_DATES)
        if roll < 0.86:
            return [rng.choice((format_instant(rng, _instant(rng)), _date_only_near(rng),
                                "not a date", None)) for _ in range(rng.randint(0, 3))]
        return rng.choice((None, "", 20250615, True))

    def value(self, type_: str, name: str) -> Any:
        if type_ == "text":
            return self.text(name)
        if type_ == "number":
            return self.number(name)
        if type_ == "boolean":
            return self.boolean()
        return self.date()

    def ts(self) -> str:
        rng = self.rng
        if rng.random() < 0.05:
            return _date_only_near(rng)
        return format_instant(rng, _instant(rng))

    def contact(self, account: str, cid: str, share: float) -> dict[str, Any]:
        rng = self.rng
        fields: dict[str, Any] = {}
        for name, type_ in {**STANDARD_FIELDS, **CUSTOM_FIELDS}.items():
            if (name not in ("email", "phone", "push_tokens", *COMPUTED_FIELDS)
                    and rng.random() < share):
                fields[name] = self.value(type_, name)
        record: dict[str, Any] = {"type": "contact", "account": account, "id": cid}
        if fields or rng.random() < 0.5:
            record["fields"] = fields
        if rng.random() < share:
            record["email"] = rng.choice((*EMAILS, "", None))
        if rng.random() < share * 0.6:
            record["phone"] = rng.choice((*TEXT_POOLS["phone"], None))
        if rng.random() < share * 0.5:
            record["push_tokens"] = rng.choice(
                ([], None, [rng.choice(TEXT_POOLS["push_tokens"]) for _ in range(3)],
                 [rng.choice(TEXT_POOLS["push_tokens"])])
            )
        if rng.random() < share * 0.8:
            channels = rng.sample(CONSENT_CHANNELS, rng.randint(1, 3))
            record["consent"] = {channel: rng.choice(_STATES_OR_CLEAR) for channel in channels}
        elif rng.random() < 0.03:
            record["consent"] = None  # says nothing: every channel kept
        return record

    def removal(self, account: str, cid: str) -> dict[str, Any]:
        """An update that removes some fields (null) and empties others."""
        rng = self.rng
        names = rng.sample([*sorted(CUSTOM_FIELDS), "city", "tags", "first_name"], 3)
        record: dict[str, Any] = {"type": "contact", "account": account, "id": cid,
                                  "fields": {n: rng.choice((None, None, "", [])) for n in names}}
        if rng.random() < 0.3:
            record["email"] = None
        if rng.random() < 0.4:  # consent cleared for a channel
            record["consent"] = {rng.choice(CONSENT_CHANNELS): None}
        return record

    def event(self, account: str, cid: str, eid: str, name: str | None = None) -> dict[str, Any]:
        rng = self.rng
        if name is None:
            names = (*EVENT_PROPERTIES, *UNDECLARED_EVENTS, "MailOpen", "MailOpen", "Purchase")
            name = rng.choice(names)
        props: dict[str, Any] = {}
        for prop, type_ in EVENT_PROPERTIES.get(name, {"campaign": "text"}).items():
            if rng.random() < 0.75:
                props[prop] = self.value(type_, prop)
        if rng.random() < 0.1:
            props["extra"] = rng.choice(ALL_TEXTS)
        record: dict[str, Any] = {"type": "event", "account": account, "contact": cid,
                                  "id": eid, "name": name, "ts": self.ts()}
        if props or rng.random() < 0.3:
            record["props"] = props if rng.random() < 0.95 else None
        return record

    def visit(self, account: str, cid: str, vid: str) -> dict[str, Any]:
        rng = self.rng
        record: dict[str, Any] = {"type": "visit", "account": account, "contact": cid,
                                  "id": vid, "ts": self.ts()}
        for attribute in VISIT_ATTRIBUTES:
            if rng.random() < 0.6:
                record[attribute] = self.text(attribute)
        props: dict[str, Any] = {}
        for prop, type_ in VISIT_PROPERTIES.items():
            if rng.random() < 0.5:
                props[prop] = self.value(type_, prop)
        if rng.random() < 0.15:  # `props` wins over the top-level attribute
            props["url"] = self.text("url")
        if props:
            record["props"] = props
        return record

    def contact_stream(self, account: str, cid: str) -> list[dict[str, Any]]:
        """Every record of one contact, in the order the stream delivers them."""
        rng = self.rng
        heavy = rng.random() < 0.07
        n_events = rng.randint(15, 45) if heavy else rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 8))
        n_visits = rng.randint(8, 20) if heavy else rng.choice((0, 0, 0, 1, 2, 3, 5))
        heavy_name = rng.choice(("MailOpen", "Purchase", "Login"))
        activities = [
            self.event(account, cid, f"e{k}", heavy_name if heavy and rng.random() < 0.6
                       else None)
            for k in range(n_events)
        ] + [self.visit(account, cid, f"v{k}") for k in range(n_visits)]
        rng.shuffle(activities)
        stream: list[dict[str, Any]] = list(activities)
        if rng.random() < 0.93:  # else: a contact known only from its events
            stream.insert(rng.randint(0, len(stream)), self.contact(account, cid, 0.75))
        for _ in range(rng.choice((0, 0, 1, 2))):
            stream.insert(rng.randint(0, len(stream)), self.contact(account, cid, 0.2))
        if rng.random() < 0.25:
            stream.insert(rng.randint(0, len(stream)), self.removal(account, cid))
        if rng.random() < 0.04:  # malformed consent: rejected, nothing of it applied
            bad = {**self.contact(account, cid, 0.3), "consent": rng.choice(_BAD_CONSENT)}
            stream.insert(rng.randint(0, len(stream)), bad)
            self.conflicts += 1
        for activity in activities:
            spot = stream.index(activity) + 1
            if rng.random() < 0.15:  # the same record delivered again, keys in other order
                again = dict(reversed(list(activity.items())))
                stream.insert(rng.randint(spot, len(stream)), again)
            elif rng.random() < 0.03:  # the same id with other content: rejected
                other = {**activity, "ts": self.ts()}
                if other != activity:
                    stream.insert(rng.randint(spot, len(stream)), other)
                    self.conflicts += 1
        roll = rng.random()
        if roll < 0.08:
            stream.append({"type": "delete", "account": account, "id": cid})
            if roll < 0.04:  # created again after the delete, reusing event ids
                stream.append(self.contact(account, cid, 0.5))
                stream.extend(self.event(account, cid, f"e{k}") for k in range(3))
        return stream


def record_dicts(seed: int, contacts: int = 90) -> tuple[list[dict[str, Any]], int]:
    """The records of a seed, and how many of them conflict with an earlier record."""
    rng = random.Random(seed)
    maker = _Records(rng)
    ids = [f"c{n}" for n in range(contacts)] + list(SPECIAL_IDS)
    streams: list[list[dict[str, Any]]] = []
    for account in ACCOUNTS:
        for cid in ids:
            if rng.random() < 0.85:  # most ids exist in both accounts
                streams.append(maker.contact_stream(account, cid))
        streams.append([{"type": "delete", "account": account, "id": "ghost"}])
    # interleave the contacts' streams, keeping each contact's own order
    out: list[dict[str, Any]] = []
    cursors = [0] * len(streams)
    live = [i for i, s in enumerate(streams) if s]
    while live:
        pick = rng.randrange(len(live))
        i = live[pick]
        out.append(streams[i][cursors[i]])
        cursors[i] += 1
        if cursors[i] == len(streams[i]):
            live.pop(pick)
    return out, maker.conflicts


def records(seed: int, contacts: int = 90) -> list[str]:
    """JSON Lines over two accounts sharing contact ids (see the module doc)."""
    out, _ = record_dicts(seed, contacts)
    rng = random.Random(seed + 1)
    return [json.dumps(r, ensure_ascii=rng.random() < 0.3) for r in out]


# --- expression trees ---------------------------------------------------------------------


class Node(Protocol):
    def render(self) -> str: ...


@dataclass(frozen=True)
class Leaf:
    """A field condition, already written out."""

    text: str

    def render(self) -> str:
        return self.text


@dataclass(frozen=True)
class SegRef:
    """`in_segment "written"`, referring to the saved segment stored as `key`."""

    written: str
    key: str
    word: str = "in_segment"

    def render(self) -> str:
        return f"{self.word} {quote(self.written)}"


@dataclass(frozen=True)
class Not:
    expr: Node
    word: str = "not"

    def render(self) -> str:
        return f"{self.word} {self.expr.render()}"


@dataclass(frozen=True)
class Group:
    """`all(..)`/`any(..)` (kind all/any) or a parenthesised `and`/`or` chain."""

    kind: str
    items: tuple[Node, ...]
    word: str
    layout: int = 0  # 0: one line, 1: one item per line, 2: with comments
    trailing_comma: bool = False
    bare: bool = False  # an `and` chain written without parentheses inside an `or`

    def render(self) -> str:
        texts = [item.render() for item in self.items]
        if self.kind in ("all", "any"):
            if self.layout == 0:
                inner = ", ".join(texts) + ("," if self.trailing_comma else "")
                return f"{self.word}({inner})"
            lines = [
                "  " + text + ("," if i < len(texts) - 1 or self.trailing_comma else "")
                + (f"  # item {i}: ) , \" ok" if self.layout == 2 else "")
                for i, text in enumerate(texts)
            ]
            return f"{self.word}(\n" + "\n".join(lines) + "\n)"
        joiner = f"\n{self.word} " if self.layout else f" {self.word} "
        chain = joiner.join(texts)
        return chain if self.bare else f"({chain})"


@dataclass(frozen=True)
class Act:
    """`event NAME [where (..)] occurred|not_occurred [COUNT] [WINDOW]`, or a visit."""

    head: str
    where: Node | None = None
    where_word: str = "where"
    occurred: bool = True
    occurred_word: str = "occurred"
    count: str | None = None
    window: str | None = None

    def render(self) -> str:
        parts = [self.head]
        if self.where is not None:
            parts.append(f"{self.where_word} ({self.where.render()})")
        parts.append(self.occurred_word)
        if self.count is not None and self.occurred:
            parts.append(self.count)
        if self.window is not None:
            parts.append(self.window)
        return " ".join(parts)


def quote(text: str, rng: random.Random | None = None) -> str:
    """A string literal: `\\" \\\\ \\n \\t` escaped, control characters and (when `rng` is
    given, sometimes) other BMP characters as `\\uXXXX`."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t" if rng is None or rng.random() < 0.5 else "\t")
        elif ord(ch) < 32 or (rng is not None and ord(ch) > 127 and ord(ch) < 0xD800
                              and rng.random() < 0.1):
            out.append(f"\\u{ord(ch):04x}" if rng is None or rng.random() < 0.5
                       else f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- the expression generator ------------------------------------------------------------

_TEXT_OPS = ("equals", "=", "not_equals", "!=", "starts_with", "ends_with", "contains",
             "not_contains", "in", "not_in", "has_value", "has_no_value")
_NUMBER_OPS = ("=", "!=", ">", ">=", "<", "<=", "between", "in", "not_in", "has_value",
               "has_no_value", "equals", "not_equals")
_DATE_OPS = ("on", "equals", "not_on", "not_equals", "before", "after", "between", "within",
             "has_value", "has_no_value", "anniversary today", "anniversary in",
             "anniversary today", "anniversary in")
#: Anniversary windows (whole days: d or w).
_ANNIVERSARY_DURATIONS = ("0d", "1d", "2d", "7d", "1w", "2w", "30d", "60d", "365d", "400d")
_BOOLEAN_OPS = ("is_true", "is_false", "has_value", "has_no_value")
_OPS: dict[str, tuple[str, ...]] = {"text": _TEXT_OPS, "number": _NUMBER_OPS,
                                    "date": _DATE_OPS, "boolean": _BOOLEAN_OPS}
_DURATIONS = ("30d", "7d", "1d", "1h", "90min", "1mo", "1y", "2w", "3mo", "0min", "365d",
              "24h", "1440min")
_COUNT_NS = (0, 1, 1, 2, 2, 3, 4, 5, 8, 10, 15, 20, 30)


class ExprGen:
    """Random expressions over a catalog's fields, events and visits, and over saved
    segments. Operands come from the value pools and, when given, from `observed`
    (`observe(contacts)`: the values the data really holds). `now_ms` only guides the
    order of `between` operands (a pair may still come out reversed in the evaluation
    zone: the caller drops those)."""

    def __init__(self, rng: random.Random, catalog: Catalog = CATALOG,
                 segments: Mapping[str, Node] | None = None, *, max_depth: int = 4,
                 relative_between: bool = True, now_ms: int | None = None,
                 observed: Mapping[str, list[Any]] | None = None) -> None:
        self.rng = rng
        self.observed = observed or {}
        #: Where conditions are being made: "field", "event:<name>" or "visit".
        self.scope = "field"
        self.catalog = catalog
        self.segments = dict(segments or {})
        self.max_depth = max_depth
        self.relative_between = relative_between
        self.now_ms = now_ms if now_ms is not None else instant_ms(NOWS[2])
        self.fields: dict[str, str] = {**STANDARD_FIELDS, **catalog.fields}
        self.events: list[str] = sorted({*SYSTEM_EVENTS, *catalog.events})
        self.visit_props: dict[str, str] = {**STANDARD_VISIT_PROPERTIES,
                                            **catalog.visit_properties}

    # spelling ------------------------------------------------------------------------------
    def kw(self, word: str) -> str:
        """A keyword in random case (keywords are case-insensitive)."""
        roll = self.rng.random()
        if roll < 0.8:
            return word
        return word.upper() if roll < 0.9 else word.title()

    def name(self, name: str) -> str:
        if _PLAIN.match(name) and self.rng.random() < 0.9:
            return name
        return f"`{name}`"

    def event_name(self, name: str) -> str:
        roll = self.rng.random()
        if _PLAIN.match(name) and roll < 0.6:
            return name
        if roll < 0.8 and "`" not in name:
            return f"`{name}`"
        return quote(name, self.rng)

    # expressions ---------------------------------------------------------------------------
    def expr(self, depth: int = 0, props: dict[str, str] | None = None) -> Node:
        """An expression; inside `where` (props given) only property conditions."""
        rng = self.rng
        limit = self.max_depth if props is None else 2
        roll = rng.random()
        if depth >= limit or roll < 0.42:
            return self.condition(depth, props)
        if roll < 0.52:
            return Not(self.expr(depth + 1, props), self.kw("not"))
        if roll < 0.8:
            kind = rng.choice(("all", "any"))
            items = tuple(self.expr(depth + 1, props) for _ in range(rng.randint(1, 4)))
            return Group(kind, items, self.kw(kind), layout=rng.choice((0, 0, 0, 1, 2)),
                         trailing_comma=rng.random() < 0.1)
        kind = rng.choice(("and", "or"))
        items = tuple(self.chain_item(kind, depth + 1, props) for _ in range(rng.randint(2, 4)))
        return Group(kind, items, self.kw(kind), layout=rng.choice((0, 0, 1)))

    def chain_item(self, kind: str, depth: int, props: dict[str, str] | None) -> Node:
        """An item of an and/or chain; inside `or`, sometimes a bare `and` chain
        (`a and b or c` is `(a and b) or c`)."""
        if kind == "or" and depth < self.max_depth and self.rng.random() < 0.2:
            items = tuple(self.expr(depth + 1, props) for _ in range(2))
            return Group("and", items, self.kw("and"), bare=True)
        return self.expr(depth, props)

    def condition(self, depth: int, props: dict[str, str] | None) -> Node:
        rng = self.rng
        if props is not None:
            return self.field_condition(props)
        roll = rng.random()
        if roll < 0.55:
            return self.field_condition(self.fields)
        if roll < 0.92 or not self.segments:
            return self.activity(depth)
        key = rng.choice(sorted(self.segments))
        written = rng.choice((key, key.upper(), key.lower(), key.casefold(), key.swapcase()))
        return SegRef(written, key, self.kw("in_segment"))

    def field_condition(self, fields: dict[str, str]) -> Leaf:
        rng = self.rng
        field = rng.choice(sorted(fields))
        type_ = fields[field]
        op = rng.choice(_OPS[type_])
        while op.startswith("anniversary") and self.scope != "field":  # contact fields only
            op = rng.choice(_OPS[type_])
        head = f"{self.name(field)} {op if not op[0].isalpha() else self.kw(op)}"
        if op in ("has_value", "has_no_value", "is_true", "is_false", "anniversary today"):
            return Leaf(head)
        if op == "anniversary in":
            return Leaf(f"{head} {rng.choice(_ANNIVERSARY_DURATIONS)}")
        key = f"{self.scope}:{field}"
        if type_ == "text":
            if op in ("in", "not_in"):
                items = ", ".join(quote(self.text_operand(field, op, key), rng)
                                  for _ in range(rng.randint(1, 4)))
                return Leaf(f"{head} [{items}{',' if rng.random() < 0.1 else ''}]")
            return Leaf(f"{head} {quote(self.text_operand(field, op, key), rng)}")
        if type_ == "number":
            if op == "between":
                low, high = sorted((self.number_operand(field, key),
                                    self.number_operand(field, key)))
                return Leaf(f"{head} {number_text(low)} {self.kw('and')} {number_text(high)}")
            if op in ("in", "not_in"):
                items = ", ".join(number_text(self.number_operand(field, key))
                                  for _ in range(rng.randint(1, 4)))
                return Leaf(f"{head} [{items}]")
            return Leaf(f"{head} {number_text(self.number_operand(field, key))}")
        if op == "within":
            return Leaf(f"{head} {rng.choice(_DURATIONS)}")
        if op == "between":
            low, high = self.date_pair(key)
            return Leaf(f"{head} {low} {self.kw('and')} {high}")
        return Leaf(f"{head} {self.date_operand(key)[0]}")

    def activity(self, depth: int) -> Act:
        rng = self.rng
        if rng.random() < 0.75:
            event = rng.choice(self.events)
            head = f"{self.kw('event')} {self.event_name(event)}"
            props = dict(self.catalog.events.get(event, {}))
            scope = f"event:{event}"
        else:
            head = self.kw("visit")
            props = self.visit_props
            scope = "visit"
        where = None
        if props and rng.random() < 0.5:
            self.scope = scope
            where = self.expr(depth + 1, props)
            self.scope = "field"
        occurred = rng.random() < 0.8
        count = None
        if occurred and rng.random() < 0.45:
            op = rng.choice(("at_least", "at_most", "exactly"))
            times = f" {self.kw('times')}" if rng.random() < 0.3 else ""
            count = f"{self.kw(op)} {rng.choice(_COUNT_NS)}{times}"
        window = self.window(f"ts:{scope}") if rng.random() < 0.55 else None
        return Act(head, where, self.kw("where"), occurred,
                   self.kw("occurred" if occurred else "not_occurred"), count, window)

    def window(self, key: str) -> str:
        """A WINDOW; `key` names the observed timestamps of the activity."""
        rng = self.rng
        kind = rng.choice(("within", "within", "since", "before", "between"))
        if kind == "within":
            return f"{self.kw('within')} {rng.choice(_DURATIONS)}"
        if kind == "between":
            low, high = self.date_pair(key)
            return f"{self.kw('between')} {low} {self.kw('and')} {high}"
        return f"{self.kw(kind)} {self.date_operand(key)[0]}"

    # operands ------------------------------------------------------------------------------
    def _seen(self, key: str, kind: type) -> list[Any]:
        """The observed values under `key` of one Python type (bools are not numbers)."""
        return [v for v in self.observed.get(key, ())
                if isinstance(v, kind) and not (kind is not bool and isinstance(v, bool))]

    def text_operand(self, field: str, op: str, key: str) -> str:
        """Mostly a value of the data (or its case/normalisation variant, prefix, suffix,
        infix); never empty."""
        rng = self.rng
        if rng.random() < 0.04:
            return rng.choice(("nothing-matches", "żółw-nie-ma", "*", "?", "\\"))
        long_needle = op in ("contains", "not_contains") and rng.random() < 0.25
        pool: tuple[str, ...] | list[str] = LONG if long_needle else TEXT_POOLS.get(field,
                                                                                ALL_TEXTS)
        seen = [t for t in self._seen(key, str) if t]
        if seen and not long_needle and rng.random() < 0.5:
            pool = seen
        elif rng.random() < 0.15:
            pool = ALL_TEXTS
        base = rng.choice([t for t in pool if t])
        base = rng.choice((
            base, base, base, base.upper(), base.lower(), base.swapcase(), base.casefold(),
            base.title(), nfd(base), unicodedata.normalize("NFC", base),
        ))
        roll = rng.random()
        if long_needle or (op in ("contains", "not_contains") and roll < 0.7):
            size = rng.choice((1, 2, 3, SUFFIX_CHARS - 1, SUFFIX_CHARS, SUFFIX_CHARS + 1,
                               SUFFIX_CHARS + 2, len(base)))
            size = max(1, min(size, len(base)))
            start = rng.randint(0, len(base) - size)
            cut = base[start:start + size]
        elif op == "starts_with" and roll < 0.8:
            cut = base[: rng.randint(1, len(base))]
        elif op == "ends_with" and roll < 0.8:
            cut = base[-rng.randint(1, len(base)):]
        elif roll < 0.08:
            cut = base + "x"
        else:
            cut = base
        return cut or base

    def number_operand(self, field: str, key: str) -> float:
        rng = self.rng
        seen = self._seen(key, int) + self._seen(key, float)
        if seen and rng.random() < 0.5:
            value = rng.choice(seen)
        else:
            value = rng.choice(NUMBER_POOLS.get(field, NUMBERS) + NUMBERS[:12])
        roll = rng.random()
        if roll < 0.6:
            return value
        if roll < 0.7:
            return float(value) + rng.choice((-1, 1, 0.5, -0.5))
        if roll < 0.8 and abs(value) < 1e300:
            return math.nextafter(float(value), rng.choice((-1e308, 1e308)))
        return round(rng.uniform(-200, 200), rng.choice((0, 1, 2)))

    def date_operand(self, key: str) -> tuple[str, int, int]:
        """A date operand's text and a naive [start, end] guess in epoch ms (UTC days);
        often a date or instant the data holds under `key`."""
        rng = self.rng
        seen = [t for t in self._seen(key, str) if parse_instant(t) is not None]
        if seen and rng.random() < 0.4:
            text = rng.choice(seen)
            if len(text) > 10 and rng.random() < 0.3:
                text = text[:10]
            instant = parse_instant(text)
            assert instant is not None
            ms = epoch_millis(instant)
            return quote(text), ms, ms + (_DAY if len(text) == 10 else 0)
        roll = rng.random()
        if roll < 0.3:
            day = _date_only_near(rng) if rng.random() < 0.9 else rng.choice(DATE_ONLY)
            start = instant_ms(day + "T00:00:00+00:00")
            return quote(day), start, start + _DAY
        if roll < 0.6:
            ms = _instant(rng)
            if rng.random() < 0.1:  # no offset: read in the evaluation zone
                text = (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S")
                ms -= ms % 1000
            else:
                text = format_instant(rng, ms)
            return quote(text), ms, ms
        base = rng.choice(("now", "today"))
        ms = self.now_ms if base == "now" else self.now_ms - self.now_ms % _DAY
        offsets = []
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            amount, unit = rng.choice(_OFFSET_CHOICES)
            offsets.append(f"{amount:+d}{unit}")
            ms += amount * {"min": 60_000, "h": 3_600_000, "d": _DAY, "w": 7 * _DAY,
                            "mo": 30 * _DAY, "y": 365 * _DAY}[unit]
        return self.kw(base) + "".join(offsets), ms, ms

    def date_pair(self, key: str) -> tuple[str, str]:
        """Two date operands, low first by the naive guess."""
        for _ in range(50):
            first, second = self.date_operand(key), self.date_operand(key)
            relative = not first[0].startswith('"') or not second[0].startswith('"')
            if relative and not self.relative_between:
                continue
            low, high = sorted((first, second), key=lambda d: (d[1], d[2]))
            if low[1] <= high[2]:
                return low[0], high[0]
        return '"2025-01-01"', '"2025-12-31"'


def observe(contacts: Iterable[Contact]) -> dict[str, list[Any]]:
    """The values the data holds, for operands: `field:<name>`, `event:<name>:<prop>`,
    `visit:<prop>`, and the timestamps `ts:event:<name>`, `ts:visit`."""
    found: dict[str, dict[tuple[str, Any], Any]] = {}

    def add(key: str, value: Any) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item is not None and item != "":
                found.setdefault(key, {}).setdefault((type(item).__name__, item), item)

    for contact in contacts:
        for name, value in contact.fields.items():
            add(f"field:{name}", value)
        add("field:bucket", bucket(contact.id))
        for channel, state in contact.consent.items():
            add(f"field:{status_field(channel)}", state)
        for event in contact.events.values():
            add(f"ts:event:{event.name}", event.ts)
            for prop, value in event.props.items():
                add(f"event:{event.name}:{prop}", value)
        for visit in contact.visits.values():
            add("ts:visit", visit.ts)
            for prop, value in visit.props.items():
                add(f"visit:{prop}", value)
    return {key: list(values.values()) for key, values in found.items()}


def number_text(value: float) -> str:
    """A number literal in the language's syntax."""
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace("e+", "e")


def saved_segments(rng: random.Random) -> dict[str, Node]:
    """Saved segments for `in_segment`: three plain ones, then two that refer to others
    (by names in other case). Each checks in every zone at every evaluation instant."""
    from segql.api import prepare
    from segql.compiler.context import Context
    from segql.errors import SegmentError

    gen = ExprGen(rng, max_depth=2, relative_between=False)
    contexts = [Context(account=ACCOUNTS[0], now=parse_now(now), timezone=ZoneInfo(zone),
                        catalog=CATALOG) for now in NOWS for zone in ZONES]

    def valid_expr(depth: int) -> Node:
        for _ in range(100):
            node = gen.expr(depth)
            try:
                for ctx in contexts:
                    prepare(node.render(), ctx)
            except SegmentError:
                continue
            return node
        raise AssertionError("no expression that checks everywhere in 100 tries")

    found: dict[str, Node] = {
        "VIP buyers": valid_expr(1),
        "Große Kunden": valid_expr(1),
        "Łódź fans": valid_expr(1),
    }
    found["Nested ref"] = Group("all", (SegRef("vip BUYERS", "VIP buyers"), valid_expr(2)),
                                "all")
    found["Deep ref"] = Group("any", (
        Not(SegRef("NESTED REF", "Nested ref")),
        SegRef("ŁÓDŹ FANS", "Łódź fans"),
        SegRef("GROSSE KUNDEN", "Große Kunden"),
        valid_expr(2),
    ), "any")
    return found


def expression(rng: random.Random) -> str:
    """A random expression over standard fields, system events and visits (it checks
    with the default catalog, in UTC, at any instant)."""
    from segql.api import prepare
    from segql.compiler.context import Context
    from segql.errors import SegmentError

    gen = ExprGen(rng, Catalog(), max_depth=3, relative_between=False)
    ctx = Context(account=ACCOUNTS[0], now=parse_now(NOWS[2]))
    for _ in range(100):
        text = gen.expr().render()
        try:
            prepare(text, ctx)
        except SegmentError as error:
            if all(d.code == "E_BETWEEN_ORDER" for d in error.diagnostics):
                continue
            raise
        return text
    raise AssertionError("no valid expression in 100 tries")
