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
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import io
import json
import os
import pickle
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

Record = dict[str, Any]

SAMPLE_PATH: Path = Path(__file__).resolve().parent / "data" / "sample.jsonl.gz"
"""The shipped data set: ``write(SAMPLE_PATH)`` with all defaults."""

DEFAULT_CONTACTS = 3000
DEFAULT_SEED = 7
DEFAULT_ACCOUNT = "demo"
DEFAULT_START = "2024-11-01T00:00:00Z"
DEFAULT_END = "2026-11-01T00:00:00Z"
#: Records held in memory before a sorted run is spilled to a temporary file.
SPILL_RECORDS = 2_000_000
SPILL_BLOCK = 10_000

KEY_ORDER: tuple[str, ...] = (
    "type", "account", "contact", "id", "name", "ts", "url",
    "email", "phone", "push_tokens", "fields", "props",
)  # fmt: skip
FIELD_ORDER: tuple[str, ...] = (
    "first_name", "last_name", "city", "age", "vip", "signup_date",
    "created_at", "tags", "plan", "ltv",
)  # fmt: skip
PROP_ORDER: tuple[str, ...] = (
    "campaign", "path", "title", "referrer", "value", "currency", "items",
    "product_id", "category", "device",
)  # fmt: skip

MINUTE = 60
HOUR = 3600
DAY = 86400

TAGS = ["b2b", "b2c", "vip", "newsletter", "promo", "loyalty"]
SYSTEM_EVENTS = ["MailOpen", "MailClick", "SmsClick", "PushClick"]
CUSTOM_EVENTS = ["Purchase", "Login", "CartAbandoned"]

# --- reference data ----------------------------------------------------------

PL_MALE = [
    "Łukasz", "Paweł", "Michał", "Krzysztof", "Tomasz", "Piotr", "Jan", "Andrzej",
    "Marcin", "Jakub", "Mateusz", "Grzegorz", "Wojciech", "Zbigniew", "Stanisław",
    "Józef", "Kamil", "Bartłomiej", "Maciej", "Rafał", "Przemysław", "Jędrzej",
    "Szymon", "Adam", "Mikołaj", "Radosław", "Sławomir", "Zdzisław",
]  # fmt: skip
PL_FEMALE = [
    "Żaneta", "Małgorzata", "Agnieszka", "Katarzyna", "Anna", "Magdalena", "Joanna",
    "Ewa", "Beata", "Dorota", "Jolanta", "Grażyna", "Halina", "Urszula", "Zofia",
    "Łucja", "Marta", "Natalia", "Aleksandra", "Paulina", "Weronika", "Bożena",
    "Jadwiga", "Krystyna", "Elżbieta", "Wiesława", "Józefa", "Iwona",
]  # fmt: skip
# (masculine, feminine) surname forms.
PL_SURNAMES = [
    ("Kowalski", "Kowalska"), ("Nowak", "Nowak"), ("Wiśniewski", "Wiśniewska"),
    ("Wójcik", "Wójcik"), ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"),
    ("Lewandowski", "Lewandowska"), ("Zieliński", "Zielińska"),
    ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"), ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"), ("Mazur", "Mazur"),
    ("Kwiatkowski", "Kwiatkowska"), ("Krawczyk", "Krawczyk"),
    ("Piotrowski", "Piotrowska"), ("Grabowski", "Grabowska"),
    ("Pawłowski", "Pawłowska"), ("Michalski", "Michalska"), ("Król", "Król"),
    ("Wieczorek", "Wieczorek"), ("Jabłoński", "Jabłońska"), ("Wróbel", "Wróbel"),
    ("Stępień", "Stępień"), ("Górski", "Górska"), ("Sikora", "Sikora"),
    ("Bąk", "Bąk"), ("Włodarczyk", "Włodarczyk"), ("Sokołowski", "Sokołowska"),
    ("Kaźmierczak", "Kaźmierczak"), ("Cieślak", "Cieślak"), ("Głowacki", "Głowacka"),
    ("Kołodziej", "Kołodziej"), ("Ziółkowski", "Ziółkowska"), ("Żak", "Żak"),
    ("Żukowski", "Żukowska"), ("Łukasiewicz", "Łukasiewicz"),
    ("Śliwiński", "Śliwińska"), ("Świątek", "Świątek"), ("Ślusarczyk", "Ślusarczyk"),
    ("Źrebiec", "Źrebiec"), ("Gołębiowski", "Gołębiowska"), ("Duda", "Duda"),
]  # fmt: skip
DE_MALE = [
    "Jürgen", "Günter", "Jörg", "Lukas", "Maximilian", "Stefan", "Thomas",
    "Andreas", "Matthias", "Klaus", "Uwe", "Sören", "Björn", "Florian",
]  # fmt: skip
DE_FEMALE = [
    "Käthe", "Bärbel", "Jördis", "Ingrid", "Sabine", "Ulrike", "Lotte", "Anna",
    "Lena", "Sophie", "Hannelore", "Gisela", "Brigitte", "Jana",
]  # fmt: skip
DE_SURNAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Schröder",
    "Neumann", "Krüger", "Köhler", "König", "Möller", "Weiß", "Groß", "Gödel",
    "Straßmann", "Strauß", "Großmann", "Jäger", "Böhm", "Krämer", "Fuß", "Voß",
]  # fmt: skip

# (city, weight): Warszawa ends up near 20% of all contacts.
PL_CITIES = [
    ("Warszawa", 23), ("Kraków", 9), ("Wrocław", 8), ("Łódź", 6), ("Poznań", 6),
    ("Gdańsk", 5), ("Szczecin", 3), ("Bydgoszcz", 3), ("Lublin", 3), ("Katowice", 3),
    ("Białystok", 2), ("Gdynia", 2), ("Częstochowa", 1.5), ("Toruń", 1.5),
    ("Rzeszów", 1.5), ("Radom", 1), ("Kielce", 1), ("Olsztyn", 1), ("Zielona Góra", 1),
    ("Bielsko-Biała", 1), ("Warka", 1), ("Świnoujście", 0.5), ("Żyrardów", 0.5),
    ("Sopot", 0.5),
]  # fmt: skip
DE_CITIES = [
    ("Berlin", 30), ("München", 15), ("Hamburg", 12), ("Köln", 10),
    ("Frankfurt am Main", 8), ("Düsseldorf", 6), ("Görlitz", 4), ("Dresden", 6),
    ("Leipzig", 5), ("Nürnberg", 4),
]  # fmt: skip
# Decomposed (NFD) spellings, as typed on some keyboards: ó = o + U+0301.
NFD_CITIES = {
    "Kraków": "Krako\u0301w",
    "Łódź": "Ło\u0301dz\u0301",
    "Poznań": "Poznan\u0301",
    "München": "Mu\u0308nchen",
    "Köln": "Ko\u0308ln",
}

PL_DOMAINS = [
    ("gmail.com", 30), ("wp.pl", 15), ("o2.pl", 10), ("onet.pl", 10), ("interia.pl", 8),
    ("op.pl", 4), ("outlook.com", 5), ("icloud.com", 3), ("yahoo.com", 2),
    ("poczta.fm", 2), ("abc-logistyka.pl", 1), ("techsoft.com.pl", 1), ("polmex.pl", 1),
]  # fmt: skip
DE_DOMAINS = [
    ("gmx.de", 25), ("web.de", 20), ("gmail.com", 25), ("t-online.de", 15),
    ("outlook.de", 10), ("posteo.de", 5),
]  # fmt: skip
PL_MOBILE_PREFIXES = ["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]
TRANSLIT = str.maketrans(
    {
        "ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o", "ś": "s", "ź": "z",
        "ż": "z", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "", "-": "",
    }
)  # fmt: skip
ASCII_FOLD = str.maketrans(
    "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"
)  # a name typed without Polish letters

# (slug, display name, product base names, price range in PLN)
CATEGORIES: list[tuple[str, str, list[str], tuple[int, int]]] = [
    ("elektronika", "Elektronika",
     ["Słuchawki bezprzewodowe", "Głośnik Bluetooth", "Smartwatch", "Ładowarka USB-C",
      "Powerbank", "Czytnik e-booków"], (49, 1499)),
    ("dom-i-ogrod", "Dom i ogród",
     ["Czajnik elektryczny", "Kubek termiczny", "Zestaw garnków", "Lampka nocna",
      "Konewka", "Pościel bawełniana"], (19, 599)),
    ("moda", "Moda",
     ["Kurtka zimowa", "Szalik wełniany", "Buty sportowe", "Torebka skórzana",
      "Bluza z kapturem", "Rękawiczki"], (29, 899)),
    ("sport", "Sport",
     ["Mata do jogi", "Hantle 2x5 kg", "Rower górski", "Kask rowerowy",
      "Bidon", "Plecak trekkingowy"], (15, 3499)),
    ("ksiazki", "Książki",
     ["Powieść kryminalna", "Przewodnik po Krakowie", "Książka kucharska",
      "Atlas grzybów", "Poradnik ogrodnika", "Kalendarz ścienny"], (19, 129)),
    ("zdrowie-i-uroda", "Zdrowie i uroda",
     ["Krem nawilżający", "Szczoteczka soniczna", "Suszarka do włosów",
      "Zestaw witamin", "Perfumy", "Olejek do brody"], (15, 499)),
    ("zabawki", "Zabawki",
     ["Klocki konstrukcyjne", "Pluszowy miś", "Gra planszowa", "Puzzle 1000 el.",
      "Zdalnie sterowane auto", "Lalka"], (19, 399)),
]  # fmt: skip
SHOP = "https://shop.example"
SHOP_NAME = "Sklep Example"
REFERRERS = [
    ("https://www.google.com/", 30), ("https://www.google.pl/", 20),
    ("https://www.facebook.com/", 12), ("https://l.instagram.com/", 6),
    ("https://www.ceneo.pl/", 6), ("android-app://com.google.android.gm/", 4),
    ("https://duckduckgo.com/", 2), ("https://www.bing.com/", 2), (SHOP + "/", 18),
]  # fmt: skip
DEVICES = ["web", "ios", "android"]
EUR_PLN = 4.3


# --- small helpers -----------------------------------------------------------


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


def _ordered(d: dict[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """A copy of ``d`` with keys in ``order`` first, then the rest sorted."""
    out = {k: d[k] for k in order if k in d}
    for k in sorted(d):
        if k not in out:
            out[k] = d[k]
    return out


def canonical(record: Record) -> Record:
    """A copy of a record with every level's keys in the fixed output order."""
    out = _ordered(record, KEY_ORDER)
    if isinstance(out.get("fields"), dict):
        out["fields"] = _ordered(out["fields"], FIELD_ORDER)
    if isinstance(out.get("props"), dict):
        out["props"] = _ordered(out["props"], PROP_ORDER)
    for key in ("push_tokens",):
        if isinstance(out.get(key), list):
            out[key] = list(out[key])
    fields = out.get("fields")
    if isinstance(fields, dict) and isinstance(fields.get("tags"), list):
        fields["tags"] = list(fields["tags"])
    return out


def dumps(record: Record) -> str:
    """One JSON Lines line (without the newline): compact, UTF-8, fixed key order."""
    return json.dumps(canonical(record), ensure_ascii=False, separators=(",", ":"))


# --- the generator -----------------------------------------------------------


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


class _Builder:
    """Builds the whole stream; one instance per ``generate`` call."""

    def __init__(self, rng: random.Random, account: str, t0: int, t1: int) -> None:
        self.rng = rng
        self.account = account
        self.t0 = t0
        self.t1 = t1
        self.emails: set[str] = set()
        self.stream: list[tuple[int, int, Record]] = []
        self.seq = 0
        #: The seqs of spilled records that a later entry repeats (`_spill`).
        self.shared: set[int] = set()
        self.products = self._catalog()

    # -- plumbing

    def _push(self, arrival: int, rec: Record) -> None:
        self.stream.append((arrival, self.seq, rec))
        self.seq += 1

    def _pick(self, pairs: Sequence[tuple[str, float]]) -> str:
        return self.rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]

    def _catalog(self) -> list[_Product]:
        rng = self.rng
        products: list[_Product] = []
        pid = 1000
        for slug, cat, names, (lo, hi) in CATEGORIES:
            for base in names:
                for _ in range(3):
                    model = f"{rng.choice('ABCKMXZ')}{rng.randint(1, 9) * 100}"
                    price = round(rng.uniform(lo, hi)) - 0.01
                    products.append(_Product(str(pid), f"{base} {model}", slug, cat, price))
                    pid += 1
        return products

    # -- the whole stream

    def run(self, n: int) -> Iterator[Record]:
        rng = self.rng
        span = self.t1 - self.t0
        created = sorted(self.t0 + int(span * 0.92 * rng.random()) for _ in range(n))
        order = list(range(n))
        rng.shuffle(order)
        n_heavy = max(1, n // 500) if n else 0
        n_orphan = n // 1000
        n_late = round(n * 0.03)
        heavy = set(order[:n_heavy])
        orphan = set(order[n_heavy : n_heavy + n_orphan])
        late = set(order[n_heavy + n_orphan : n_heavy + n_orphan + n_late])
        n_del = max(1, round(n * 0.005)) if n >= 20 else 0
        deletable = [i for i in order[n_heavy + n_orphan :] if created[i] < self.t1 - 30 * DAY]
        deleted = set(deletable[:n_del])
        runs: list[Iterator[tuple[int, int, Record | int]]] = []
        for i in range(n):
            self._contact(
                i, created[i], heavy=i in heavy, orphan=i in orphan,
                late=i in late, deleted=i in deleted,
            )  # fmt: skip
            if len(self.stream) >= SPILL_RECORDS:
                runs.append(self._spill())
        self.stream.sort(key=lambda e: (e[0], e[1]))
        counters = {"event": 0, "visit": 0}
        prefix = {"event": "e", "visit": "v"}
        # (arrival, seq) is unique, so the merge of sorted runs is the order a single sort
        # gives: the stream does not depend on SPILL_RECORDS
        held: dict[int, Record] = {}
        for _, seq, entry in heapq.merge(*runs, self.stream):
            rec = held[entry] if isinstance(entry, int) else entry
            if seq in self.shared:
                held[seq] = rec
            kind = rec["type"]
            if kind in counters and "id" not in rec:
                counters[kind] += 1
                rec["id"] = f"{prefix[kind]}{counters[kind]:07d}"
            yield canonical(rec)

    def _spill(self) -> Iterator[tuple[int, int, Record | int]]:
        """The records built so far, sorted, moved to a temporary file (a large stream
        does not fit in memory); returns their reader."""
        self.stream.sort(key=lambda e: (e[0], e[1]))
        # A record pushed twice (a redelivery) is one object, which gets one id; on disk
        # the second entry names the first one's seq instead (see `run`).
        firsts: dict[int, int] = {}
        entries: list[tuple[int, int, Record | int]] = []
        for arrival, seq, rec in self.stream:
            first = firsts.setdefault(id(rec), seq)
            if first != seq:
                self.shared.add(first)
            entries.append((arrival, seq, rec if first == seq else first))
        spilled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the reader
        for start in range(0, len(entries), SPILL_BLOCK):
            pickle.dump(entries[start : start + SPILL_BLOCK], spilled)
        self.stream = []
        spilled.seek(0)
        return _read_spilled(spilled)

    # -- one contact with everything that belongs to it

    def _contact(
        self, i: int, created: int, *, heavy: bool, orphan: bool, late: bool, deleted: bool
    ) -> None:
        rng = self.rng
        person, record = self._person(f"c{i + 1:06d}", created)
        frac = (self.t1 - created) / (self.t1 - self.t0)
        if heavy:
            n_ev, n_vis = rng.randint(200, 700), rng.randint(60, 200)
        else:
            scale = 0.25 + 0.75 * frac
            n_ev = min(150, int(rng.lognormvariate(2.55, 1.0) * scale))
            n_vis = min(60, int(rng.lognormvariate(1.6, 1.0) * scale))
        acts: list[tuple[int, Record]] = []
        for _ in range(n_ev):
            acts.extend(self._event(person))
        for _ in range(n_vis):
            acts.append(self._visit(person))
        # Retried deliveries: the very same record again, a bit later.
        for arrival, rec in list(acts):
            p = 0.003 if rec["type"] == "event" else 0.002
            if rng.random() < p:
                acts.append((arrival + rng.randint(1, 6 * HOUR), rec))
        acts.sort(key=lambda a: a[0])

        arrival = created
        if late and acts:
            arrival = max(created, acts[0][0] + rng.randint(MINUTE, 2 * DAY))
        updates: list[tuple[int, Record]] = []
        if not orphan:
            r = rng.random()
            n_upd = 2 if r < 0.03 else 1 if r < 0.15 else 0
            for _ in range(n_upd):
                if arrival + HOUR < self.t1:
                    when = rng.randint(arrival + HOUR, self.t1 - 1)
                    updates.append((when, self._update(person)))
        acts.extend(updates)
        acts.sort(key=lambda a: a[0])
        if deleted and not orphan and arrival + DAY < self.t1:
            t_del = rng.randint(arrival + DAY, self.t1 - 1)
            acts = [a for a in acts if a[0] < t_del]
            acts.append((t_del, {"type": "delete", "account": self.account, "id": person.cid}))
        if not orphan:
            self._push(arrival, record)
        for when, rec in acts:
            self._push(when, rec)

    def _person(self, cid: str, created: int) -> tuple[_Person, Record]:
        """A new contact and its first contact record."""
        rng = self.rng
        polish = rng.random() < 0.85
        female = rng.random() < 0.52
        if polish:
            first = rng.choice(PL_FEMALE if female else PL_MALE)
            last = rng.choice(PL_SURNAMES)[1 if female else 0]
        else:
            first = rng.choice(DE_FEMALE if female else DE_MALE)
            last = rng.choice(DE_SURNAMES)
        person = _Person(cid, created, polish, first, last, None, None, False)

        email = self._email(first, last, polish) if rng.random() < 0.9 else None
        phone = None
        if polish and rng.random() < 0.82:
            phone = self._pl_phone()
        elif not polish and rng.random() < 0.5:
            phone = f"+49{rng.choice(['151', '160', '170', '176'])}{rng.randint(0, 10**8 - 1):08d}"
        tokens = self._tokens() if rng.random() < 0.4 else []

        fields: dict[str, Any] = {}
        shown_first = first
        if polish and rng.random() < 0.05 and first.translate(ASCII_FOLD) != first:
            shown_first = first.translate(ASCII_FOLD)  # fixed later by an update
            person.ascii_name = True
        if rng.random() < 0.98:
            fields["first_name"] = shown_first
        r = rng.random()
        if r < 0.005:
            fields["last_name"] = ""
        elif r < 0.01:
            fields["last_name"] = last.upper()
        elif r < 0.97:
            fields["last_name"] = last
        city = self._city(polish)
        if city is not None:
            fields["city"] = city
        r = rng.random()
        if r < 0.005:
            fields["age"] = None
        elif r < 0.9:
            fields["age"] = round(rng.triangular(18, 80, 34))
        vip = rng.random() < 0.08
        if rng.random() < 0.97:
            fields["vip"] = vip
        if rng.random() < 0.98:
            signup = datetime.fromtimestamp(created, UTC).date()
            if rng.random() < 0.3:
                signup -= timedelta(days=rng.randint(1, 2000))
            fields["signup_date"] = signup.isoformat()
        fields["created_at"] = format_ts(created)
        if rng.random() < 0.85:
            tags = self._tags()
            if vip and "vip" not in tags and rng.random() < 0.7:
                tags.append("vip")
            fields["tags"] = tags
        plan = self._pick([("free", 60), ("basic", 30), ("pro", 10)])
        if rng.random() < 0.98:
            fields["plan"] = plan
        fields["ltv"] = self._ltv(plan)

        record: Record = {"type": "contact", "account": self.account, "id": cid}
        if email is not None:
            record["email"] = email
        if phone is not None:
            record["phone"] = phone
        if tokens:
            record["push_tokens"] = tokens
        record["fields"] = fields

        person.email, person.phone, person.push = email, phone, bool(tokens)
        kinds: list[tuple[str, float]] = [("Login", 22), ("Purchase", 9), ("CartAbandoned", 6)]
        if email:
            kinds += [("MailOpen", 30), ("MailClick", 9)]
        if phone:
            kinds.append(("SmsClick", 5))
        if tokens:
            kinds.append(("PushClick", 8))
        person.event_kinds = [k for k, _ in kinds]
        person.event_weights = [w for _, w in kinds]
        return person, record

    def _email(self, first: str, last: str, polish: bool) -> str:
        rng = self.rng
        f = first.lower().translate(TRANSLIT)
        s = last.lower().translate(TRANSLIT)
        style = rng.randint(0, 5)
        local = [f"{f}.{s}", f"{f}{s}", f"{f[0]}.{s}", f"{f}_{s}", f"{s}.{f}",
                 f"{f}.{s}{rng.randint(70, 99)}"][style]  # fmt: skip
        domain = self._pick(PL_DOMAINS if polish else DE_DOMAINS)
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randint(1, 999)}@{domain}"
        self.emails.add(email)
        r = rng.random()
        if r < 0.02:  # typed with capitals: Jan.Kowalski@Gmail.com
            name, dom = email.split("@")
            name = ".".join(part[:1].upper() + part[1:] for part in name.split("."))
            email = f"{name}@{dom[:1].upper()}{dom[1:]}"
        elif r < 0.025:
            email = email.upper()
        return email

    def _pl_phone(self) -> str:
        rng = self.rng
        return f"+48{rng.choice(PL_MOBILE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"

    def _tokens(self) -> list[str]:
        rng = self.rng
        out = []
        for _ in range(rng.choices([1, 2, 3], [70, 22, 8])[0]):
            if rng.random() < 0.6:
                out.append(f"fcm:{rng.getrandbits(160):040x}")
            else:
                out.append(f"apns:{rng.getrandbits(256):064x}")
        return out

    def _tags(self) -> list[str]:
        rng = self.rng
        k = rng.choices([0, 1, 2, 3, 4], [20, 35, 25, 13, 7])[0]
        return rng.sample(TAGS, k)

    def _city(self, polish: bool) -> str | None:
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return None
        if r < 0.085:
            return ""
        city = self._pick(PL_CITIES if polish else DE_CITIES)
        r = rng.random()
        if r < 0.02:
            return city.upper()
        if r < 0.03:
            return city.lower()
        if r < 0.04 and city in NFD_CITIES:
            return NFD_CITIES[city]
        return city

    def _ltv(self, plan: str) -> float:
        rng = self.rng
        if plan == "free":
            return 0.0 if rng.random() < 0.7 else round(rng.uniform(10, 300), 2)
        mu = 5.5 if plan == "basic" else 7.2
        return round(rng.lognormvariate(mu, 0.8), 2)

    def _update(self, person: _Person) -> Record:
        """A later, partial contact record."""
        rng = self.rng
        rec: Record = {"type": "contact", "account": self.account, "id": person.cid}
        fields: dict[str, Any] = {}
        if person.ascii_name and rng.random() < 0.6:
            fields["first_name"] = person.first_name
            person.ascii_name = False
            rec["fields"] = fields
            return rec
        kind = self._pick([
            ("move", 20), ("city_null", 12), ("plan", 15), ("ltv", 15), ("tags", 10),
            ("vip", 6), ("age", 6), ("phone", 6), ("email", 5), ("push", 6),
        ])  # fmt: skip
        if kind == "move":
            fields["city"] = self._pick(PL_CITIES if person.polish else DE_CITIES)
        elif kind == "city_null":
            fields["city"] = None
        elif kind == "plan":
            plan = self._pick([("basic", 60), ("pro", 40)])
            fields["plan"] = plan
            fields["ltv"] = self._ltv(plan)
        elif kind == "ltv":
            fields["ltv"] = round(rng.lognormvariate(6.0, 1.0), 2)
        elif kind == "tags":
            fields["tags"] = [] if rng.random() < 0.25 else self._tags()
        elif kind == "vip":
            fields["vip"] = rng.random() < 0.7
        elif kind == "age":
            fields["age"] = None if rng.random() < 0.3 else round(rng.triangular(18, 80, 34))
        elif kind == "phone":
            rec["phone"] = None if person.phone and rng.random() < 0.4 else self._pl_phone()
        elif kind == "email":
            if person.email and rng.random() < 0.4:
                rec["email"] = None
            else:
                rec["email"] = self._email(person.first_name, person.last_name, person.polish)
        else:  # push
            r = rng.random()
            rec["push_tokens"] = None if r < 0.2 else [] if r < 0.3 else self._tokens()
        if fields:
            rec["fields"] = fields
        return rec

    # -- activity

    def _when(self, lo: int) -> int:
        """A time in [lo, end): later times more likely (a growing business)."""
        return lo + int((self.t1 - lo) * self.rng.random() ** 0.5)

    def _arrival(self, ts: int, late_p: float) -> int:
        rng = self.rng
        if rng.random() < late_p:  # offline phone, batch upload
            return ts + rng.randint(HOUR, 3 * DAY)
        return ts + rng.randint(0, 90)

    def _campaign(self, ts: int, person: _Person) -> str:
        d = datetime.fromtimestamp(ts, UTC)
        pool: list[tuple[str, float]] = [
            (f"newsletter_{d.year}_{d.month:02d}", 5), ("cart_reminder", 1),
            ("product_recommendations", 1),
        ]  # fmt: skip
        if d.month in (3, 4, 5):
            pool.append(("spring_sale", 3))
        elif d.month in (6, 7, 8):
            pool.append(("summer_sale", 3))
        elif d.month == 11:
            pool.append(("black_friday", 4))
        elif d.month == 12:
            pool.append(("christmas", 4))
        elif d.month in (1, 2):
            pool.append(("wyprzedaż_zimowa", 2))
        if ts - person.created < 14 * DAY:
            pool.append(("welcome", 4))
        return self._pick(pool)

    def _event(self, person: _Person) -> list[tuple[int, Record]]:
        """One event (a click also brings the open that came before it)."""
        rng = self.rng
        name = rng.choices(person.event_kinds, person.event_weights)[0]
        ts = self._when(person.created)
        props: dict[str, Any] = {}
        out: list[tuple[int, Record]] = []
        if name in SYSTEM_EVENTS:
            props["campaign"] = self._campaign(ts, person)
            if name == "MailClick" and rng.random() < 0.85:
                opened = ts - rng.randint(MINUTE, 3 * HOUR)
                if opened >= self.t0:
                    out.append(self._event_record(person, "MailOpen", opened, dict(props)))
        elif name == "Purchase":
            product = rng.choice(self.products)
            qty = rng.choices([1, 2, 3], [80, 15, 5])[0]
            eur = rng.random() < (0.05 if person.polish else 0.9)
            value = product.price * qty / (EUR_PLN if eur else 1)
            props["value"] = round(value) if rng.random() < 0.1 else round(value, 2)
            props["currency"] = "EUR" if eur else "PLN"
            props["product_id"] = product.pid
            props["category"] = product.category
        elif name == "CartAbandoned":
            items = rng.choices([1, 2, 3, 4, 5, 6], [40, 25, 15, 10, 6, 4])[0]
            props["value"] = round(sum(rng.choice(self.products).price for _ in range(items)), 2)
            props["items"] = items
        elif rng.random() < 0.6:  # Login
            props["device"] = rng.choice(DEVICES)
        out.append(self._event_record(person, name, ts, props if props else None))
        return out

    def _event_record(
        self, person: _Person, name: str, ts: int, props: dict[str, Any] | None
    ) -> tuple[int, Record]:
        rng = self.rng
        rec: Record = {
            "type": "event", "account": self.account, "contact": person.cid, "name": name,
            "ts": format_ts(ts, local=rng.random() < 0.03),
        }  # fmt: skip
        if props is not None:
            rec["props"] = props
        return self._arrival(ts, 0.03), rec

    def _visit(self, person: _Person) -> tuple[int, Record]:
        """One page view on the shop."""
        rng = self.rng
        ts = self._when(person.created)
        page = rng.choices(["home", "category", "product", "cart"], [20, 25, 45, 10])[0]
        props: dict[str, Any] = {}
        if page == "home":
            path, title = "/", f"{SHOP_NAME} | najlepsze okazje"
        elif page == "category":
            slug, cat = rng.choice(CATEGORIES)[:2]
            path, title = f"/c/{slug}", f"{cat} | {SHOP_NAME}"
        elif page == "product":
            product = rng.choice(self.products)
            path, title = f"/p/{product.pid}", f"{product.name} | {SHOP_NAME}"
        else:
            path, title = "/cart", f"Koszyk | {SHOP_NAME}"
        url = SHOP + path
        if rng.random() < 0.06:
            campaign = self._campaign(ts, person)
            url += f"?utm_source=newsletter&utm_medium=email&utm_campaign={campaign}"
        props["path"] = path
        props["title"] = title
        if rng.random() < 0.65:
            props["referrer"] = self._pick(REFERRERS)
        if page == "product":
            props["product_id"] = path.rsplit("/", 1)[1]
        rec: Record = {
            "type": "visit", "account": self.account, "contact": person.cid,
            "ts": format_ts(ts, local=rng.random() < 0.02), "url": url, "props": props,
        }  # fmt: skip
        return self._arrival(ts, 0.01), rec


# --- public API --------------------------------------------------------------


def _read_spilled(spilled: IO[bytes]) -> Iterator[tuple[int, int, Record | int]]:
    with spilled:
        while True:
            try:
                block = pickle.load(spilled)
            except EOFError:
                return
            yield from block


def generate(
    contacts: int = DEFAULT_CONTACTS,
    seed: int = DEFAULT_SEED,
    account: str = DEFAULT_ACCOUNT,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
) -> Iterator[Record]:
    """Yield §8 input records for ``contacts`` contacts, deterministically for ``seed``.

    Activity lies in [start, end). The stream is built before the first record is
    yielded (about 20 records per contact): in memory, and in sorted runs on temporary
    files beyond SPILL_RECORDS, so 1M contacts (21M records) fit in a few GB.
    """
    if contacts < 0:
        raise ValueError(f"contacts must be >= 0, got {contacts}")
    t0, t1 = _parse_instant(start), _parse_instant(end)
    if t1 - t0 < DAY:
        raise ValueError(f"end ({end}) must be at least a day after start ({start})")
    return _Builder(random.Random(seed), account, t0, t1).run(contacts)


def _open_text(path: str | os.PathLike[str], mode: str) -> IO[str]:
    """A text stream on ``path``: gzip by suffix, ``-`` for stdin/stdout."""
    if str(path) == "-":
        return sys.stdin if mode == "r" else sys.stdout
    if str(path).endswith(".gz"):
        if mode == "r":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        raw = open(path, "wb")  # noqa: SIM115 - closed with the wrapper below
        # mtime=0 and no file name in the header: the same data give the same bytes.
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9)
        return _ClosingText(gz, raw)
    return open(path, mode, encoding="utf-8", newline="\n")


class _ClosingText(io.TextIOWrapper):
    """A UTF-8 text wrapper over a gzip stream that also closes the file under it."""

    def __init__(self, gz: gzip.GzipFile, raw: IO[bytes]) -> None:
        super().__init__(gz, encoding="utf-8", newline="\n")
        self._raw = raw

    def close(self) -> None:
        """Close the text layer, the gzip stream and the file."""
        try:
            super().close()
        finally:
            self._raw.close()


def write(
    path: str | os.PathLike[str],
    *,
    counts: Counter[str] | None = None,
    **kw: Any,
) -> int:
    """Write ``generate(**kw)`` as JSON Lines to ``path`` (gzip if it ends with .gz).

    ``-`` writes to standard output. Returns the number of records; when
    ``counts`` is given it is also filled with the number of records per type.
    """
    n = 0
    records = generate(**kw)  # bad arguments fail here, before the file is touched
    out = _open_text(path, "w")
    try:
        for rec in records:
            out.write(dumps(rec))
            out.write("\n")
            n += 1
            if counts is not None:
                counts[rec["type"]] += 1
    finally:
        if out is sys.stdout:
            out.flush()
        else:
            out.close()
    return n


def read(path: str | os.PathLike[str] = SAMPLE_PATH) -> Iterator[Record]:
    """Yield the records of a JSON Lines file (gzip if it ends with .gz); default: shipped set."""
    src = _open_text(path, "r")
    try:
        for line in src:
            if line.strip():
                yield json.loads(line)
    finally:
        if src is not sys.stdin:
            src.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m segql.sample --contacts N --seed S --account A -o FILE``."""
    ap = argparse.ArgumentParser(
        prog="python -m segql.sample",
        description="Write deterministic sample segql input records (JSON Lines).",
    )
    ap.add_argument("--contacts", type=int, default=DEFAULT_CONTACTS, help="number of contacts")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    ap.add_argument("--account", default=DEFAULT_ACCOUNT, help="account of every record")
    ap.add_argument("--start", default=DEFAULT_START, help="earliest activity (ISO 8601)")
    ap.add_argument("--end", default=DEFAULT_END, help="activity before this (ISO 8601)")
    ap.add_argument("-o", "--output", default="-", help="output file; .gz compresses; - is stdout")
    args = ap.parse_args(argv)
    if args.contacts < 0:
        ap.error("--contacts must be >= 0")
    counts: Counter[str] = Counter()
    try:
        total = write(
            args.output, counts=counts, contacts=args.contacts, seed=args.seed,
            account=args.account, start=args.start, end=args.end,
        )  # fmt: skip
    except ValueError as exc:
        ap.error(str(exc))
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    report = sys.stderr if args.output == "-" else sys.stdout
    for kind in ("contact", "event", "visit", "delete"):
        print(f"{kind:8} {counts[kind]:>8}", file=report)
    print(f"{'total':8} {total:>8}", file=report)
    if args.output != "-":
        print(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes)", file=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
