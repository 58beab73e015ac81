"""Tests for segql.sample: determinism, the §8 record shape and the shipped data set."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from segql import sample
from segql.sample import (
    FIELD_ORDER,
    SAMPLE_PATH,
    TAGS,
    Record,
    dumps,
    format_ts,
    generate,
    read,
    write,
)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
START = datetime.fromisoformat(sample.DEFAULT_START)
END = datetime.fromisoformat(sample.DEFAULT_END)
EVENT_NAMES = {"MailOpen", "MailClick", "SmsClick", "PushClick", "Purchase", "Login",
               "CartAbandoned"}  # fmt: skip
DIACRITICS = set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻäöüßÄÖÜ")


@pytest.fixture(scope="module")
def records() -> list[Record]:
    """The default data set, generated in memory (equal to the shipped file)."""
    return list(generate())


@pytest.fixture(scope="module")
def first_contacts(records: list[Record]) -> dict[str, Record]:
    """The first contact record of every contact id."""
    out: dict[str, Record] = {}
    for r in records:
        if r["type"] == "contact":
            out.setdefault(r["id"], r)
    return out


def _ts(text: str) -> datetime:
    assert RFC3339.match(text), text
    dt = datetime.fromisoformat(text)
    assert dt.tzinfo is not None, text
    return dt


# --- the shipped file ---------------------------------------------------------


def test_shipped_file_equals_generate_with_defaults(records: list[Record]) -> None:
    packaged = resources.files("segql.data").joinpath("sample.jsonl.gz")
    assert packaged.read_bytes() == SAMPLE_PATH.read_bytes(), "shipped as package data"
    shipped = gzip.decompress(SAMPLE_PATH.read_bytes()).decode("utf-8").split("\n")
    assert shipped[-1] == "", "file must end with a newline"
    expected = [dumps(r) for r in records]
    for i, (got, want) in enumerate(zip(shipped[:-1], expected, strict=False)):
        assert got == want, (
            f"line {i + 1} differs; regenerate: python -m segql.sample -o {SAMPLE_PATH}"
        )
    assert len(shipped) - 1 == len(expected)


def test_shipped_file_is_small_and_readable() -> None:
    size = SAMPLE_PATH.stat().st_size
    assert 200_000 < size < 5_000_000
    first = next(read())
    assert first["type"] == "contact" and first["account"] == "demo"


# --- determinism --------------------------------------------------------------


def test_same_seed_gives_same_bytes(tmp_path: Path) -> None:
    for name in ("a.jsonl", "a.jsonl.gz"):
        one, two = tmp_path / ("1" + name), tmp_path / ("2" + name)
        n1 = write(one, contacts=150, seed=11)
        n2 = write(two, contacts=150, seed=11)
        assert n1 == n2 > 150
        assert one.read_bytes() == two.read_bytes()
    plain = (tmp_path / "1a.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "1a.jsonl.gz").read_bytes()) == plain


def test_different_seed_gives_different_data() -> None:
    a = [dumps(r) for r in generate(contacts=100, seed=1)]
    b = [dumps(r) for r in generate(contacts=100, seed=2)]
    assert a != b
    assert a == [dumps(r) for r in generate(contacts=100, seed=1)]


def test_account_and_window_are_honoured() -> None:
    recs = list(generate(contacts=60, seed=3, account="acme", start="2025-01-01T00:00:00Z",
                         end="2025-03-01T00:00:00+01:00"))  # fmt: skip
    assert recs and {r["account"] for r in recs} == {"acme"}
    lo = datetime.fromisoformat("2025-01-01T00:00:00Z")
    hi = datetime.fromisoformat("2025-03-01T00:00:00+01:00")
    assert all(lo <= _ts(r["ts"]) < hi for r in recs if "ts" in r)


def test_write_counts_and_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    counts: Counter[str] = Counter()
    n = write(path, counts=counts, contacts=40, seed=5)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert n == len(lines) == sum(counts.values())
    assert set(counts) <= {"contact", "event", "visit", "delete"}
    assert [dumps(r) for r in read(path)] == lines
    assert all(line == dumps(json.loads(line)) for line in lines)  # canonical already


def test_dumps_uses_fixed_key_order_and_utf8() -> None:
    rec = {"props": {"b": 1, "campaign": "x"}, "ts": "2025-01-01T00:00:00Z", "id": "e1",
           "name": "Ż", "contact": "c1", "account": "a", "type": "event"}  # fmt: skip
    assert dumps(rec) == (
        '{"type":"event","account":"a","contact":"c1","id":"e1","name":"Ż",'
        '"ts":"2025-01-01T00:00:00Z","props":{"campaign":"x","b":1}}'
    )
    fields = {"ltv": 1.5, "zz": 1, "first_name": "Ł", "city": None}
    assert dumps({"id": "c1", "type": "contact", "fields": fields}).endswith(
        '"fields":{"first_name":"Ł","city":null,"ltv":1.5,"zz":1}}'
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate(contacts=-1)
    with pytest.raises(ValueError):
        generate(start="2025-01-01T00:00:00Z", end="2024-01-01T00:00:00Z")
    assert list(generate(contacts=0)) == []


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl.gz"
    args = ["--contacts", "30", "--seed", "9", "--account", "acme", "-o", str(out)]
    proc = subprocess.run([sys.executable, "-m", "segql.sample", *args],
                          capture_output=True, text=True, check=True)  # fmt: skip
    recs = list(read(out))
    counts = Counter(r["type"] for r in recs)
    for kind in ("contact", "event", "visit"):
        assert re.search(rf"^{kind}\s+{counts[kind]}$", proc.stdout, re.M), proc.stdout
    assert re.search(rf"^total\s+{len(recs)}$", proc.stdout, re.M)
    assert [dumps(r) for r in recs] == [
        dumps(r) for r in generate(contacts=30, seed=9, account="acme")
    ]


# --- shape (§8) ---------------------------------------------------------------


def _check_fields(fields: dict[str, Any], first: bool) -> None:
    assert set(fields) <= set(FIELD_ORDER), fields
    for key, value in fields.items():
        if value is None:
            assert not first or key in {"age"}, (key, fields)
            continue
        if key in ("first_name", "last_name", "city"):
            assert isinstance(value, str)
        elif key == "age":
            assert type(value) is int and 18 <= value <= 80
        elif key == "vip":
            assert isinstance(value, bool)
        elif key == "signup_date":
            assert date.fromisoformat(value) and len(value) == 10
        elif key == "created_at":
            assert START <= _ts(value) < END and value.endswith("Z")
        elif key == "tags":
            assert isinstance(value, list) and set(value) <= set(TAGS)
            assert len(value) == len(set(value)) <= 5
        elif key == "plan":
            assert value in {"free", "basic", "pro"}
        elif key == "ltv":
            assert type(value) is float and value >= 0
    if first:
        assert "created_at" in fields


def test_every_record_has_the_section_8_shape(records: list[Record]) -> None:
    seen: set[str] = set()
    for r in records:
        kind = r["type"]
        assert r["account"] == "demo"
        if kind == "contact":
            assert {"type", "account", "id"} <= set(r)
            assert set(r) <= {"type", "account", "id", "email", "phone", "push_tokens",
                              "consent", "fields"}
            for channel, state in r.get("consent", {}).items():
                assert channel in ("email", "sms", "push")
                assert state in ("subscribed", "unsubscribed", "bounced", "complained", None)
            assert re.fullmatch(r"c\d{6}", r["id"])
            for key in ("email", "phone"):
                assert r.get(key) is None or isinstance(r[key], str)
            if r.get("email"):
                assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]+", r["email"])
            if r.get("phone"):
                assert re.fullmatch(r"\+4[89]\d{9,11}", r["phone"])
            tokens = r.get("push_tokens")
            assert tokens is None or (
                isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens)
            )
            _check_fields(r.get("fields", {}), first=r["id"] not in seen)
            seen.add(r["id"])
        elif kind == "event":
            assert {"type", "account", "contact", "id", "name", "ts"} <= set(r)
            assert set(r) <= {"type", "account", "contact", "id", "name", "ts", "props"}
            assert re.fullmatch(r"e\d{7}", r["id"]) and re.fullmatch(r"c\d{6}", r["contact"])
            assert r["name"] in EVENT_NAMES
            assert START <= _ts(r["ts"]) < END
            assert isinstance(r.get("props", {}), dict)
        elif kind == "visit":
            assert set(r) == {"type", "account", "contact", "id", "ts", "url", "props"}
            assert re.fullmatch(r"v\d{7}", r["id"]) and re.fullmatch(r"c\d{6}", r["contact"])
            assert START <= _ts(r["ts"]) < END
        else:
            assert kind == "delete" and set(r) == {"type", "account", "id"}
        assert list(r) == sorted(r, key=sample.KEY_ORDER.index), "fixed key order"


def test_consent_is_plausible_and_every_state_occurs(records: list[Record]) -> None:
    """Consent (LANGUAGE.md §8) on first records for channels the contact has an address
    for, and changes in later updates: every state of every channel shows in the demo."""
    first: dict[str, Record] = {}
    states: dict[str, Counter[str | None]] = {c: Counter() for c in ("email", "sms", "push")}
    changes = 0
    for r in records:
        if r["type"] != "contact":
            continue
        if r["id"] not in first:
            first[r["id"]] = r
            for channel, key in (("email", "email"), ("sms", "phone"), ("push", "push_tokens")):
                if channel in r.get("consent", {}):
                    assert r.get(key), "first consent only where there is an address"
        else:
            changes += "consent" in r
        for channel, state in r.get("consent", {}).items():
            states[channel][state] += 1
    assert changes >= 20  # about 8 % of the updates
    assert {"subscribed", "unsubscribed", "bounced", "complained"} <= set(states["email"])
    assert {"subscribed", "unsubscribed", "bounced"} <= set(states["sms"])
    assert {"subscribed", "unsubscribed"} <= set(states["push"])
    with_email = sum(1 for r in first.values() if r.get("email"))
    subscribed = sum(1 for r in first.values() if r.get("consent", {}).get("email") ==
                     "subscribed")
    assert 0.6 < subscribed / with_email < 0.8


def test_event_props_by_name(records: list[Record]) -> None:
    seen: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        if r["type"] != "event":
            continue
        props = r.get("props")
        name = r["name"]
        if name in ("MailOpen", "MailClick", "SmsClick", "PushClick"):
            assert props is not None and set(props) == {"campaign"}
            assert isinstance(props["campaign"], str) and props["campaign"]
            seen[name][props["campaign"].split("_20")[0]] += 1
        elif name == "Purchase":
            assert props is not None
            assert set(props) == {"value", "currency", "product_id", "category"}
            assert isinstance(props["value"], int | float) and props["value"] > 0
            assert props["currency"] in {"PLN", "EUR"}
            seen[name][props["currency"]] += 1
        elif name == "CartAbandoned":
            assert props is not None and set(props) == {"value", "items"}
            assert type(props["items"]) is int and props["items"] >= 1
        else:
            assert props is None or set(props) == {"device"}
            seen[name]["none" if props is None else props["device"]] += 1
    assert set(seen) == {"MailOpen", "MailClick", "SmsClick", "PushClick", "Purchase", "Login"}
    assert {"spring_sale", "black_friday", "newsletter", "christmas"} <= set(seen["MailOpen"])
    assert seen["Purchase"]["PLN"] > seen["Purchase"]["EUR"] > 0
    assert seen["Login"]["none"] > 0 and seen["Login"]["web"] > 0


def test_visit_props(records: list[Record]) -> None:
    kinds: Counter[str] = Counter()
    for r in (r for r in records if r["type"] == "visit"):
        url = urlsplit(r["url"])
        props = r["props"]
        assert url.scheme == "https" and url.netloc == "shop.example"
        assert props["path"] == url.path and isinstance(props["title"], str)
        assert set(props) <= {"path", "title", "referrer", "product_id"}
        kinds["/" + url.path.split("/")[1]] += 1
        if url.path.startswith("/p/"):
            assert props["product_id"] == url.path[3:]
        else:
            assert "product_id" not in props
        kinds["referrer" if "referrer" in props else "no referrer"] += 1
    assert all(kinds[k] > 0 for k in ("/", "/c", "/p", "/cart", "referrer", "no referrer"))


def test_ids_unique_except_identical_duplicates(
    records: list[Record], first_contacts: dict[str, Record]
) -> None:
    by_id: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for r in records:
        if r["type"] in ("event", "visit"):
            by_id[(r["type"], r["id"])].append(dumps(r))
    dups = {k: v for k, v in by_id.items() if len(v) > 1}
    assert all(len(set(v)) == 1 for v in dups.values()), "a duplicate must be identical"
    assert {k[0] for k in dups} == {"event", "visit"}
    assert 10 <= len(dups) <= 0.01 * len(by_id)
    assert len(first_contacts) == len({r["id"] for r in records if r["type"] == "contact"})


# --- realism of the stream ----------------------------------------------------


def test_events_arrive_before_their_contact_record(records: list[Record]) -> None:
    seen: set[str] = set()
    early: set[str] = set()
    for r in records:
        if r["type"] == "contact":
            seen.add(r["id"])
        elif r["type"] in ("event", "visit") and r["contact"] not in seen:
            early.add(r["contact"])
    assert len(early & seen) >= 20, "late contact records"
    assert early - seen, "contacts known only through their activity"


def test_updates_remove_fields_with_null(records: list[Record]) -> None:
    seen: set[str] = set()
    updates: list[Record] = []
    for r in records:
        if r["type"] == "contact":
            if r["id"] in seen:
                updates.append(r)
            seen.add(r["id"])
    assert len(updates) >= 100
    nulls = Counter(k for u in updates for k, v in u.get("fields", {}).items() if v is None)
    assert nulls["city"] >= 10
    assert any(u.get("fields", {}).get("tags") == [] for u in updates)
    assert any("email" in u and u["email"] is None for u in updates)
    assert any(u.get("fields", {}).get("city") for u in updates), "a move"
    assert any(set(u) == {"type", "account", "id", "fields"} and len(u["fields"]) == 1
               for u in updates)  # fmt: skip


def test_deletes_are_final(records: list[Record], first_contacts: dict[str, Record]) -> None:
    deleted: dict[str, int] = {}
    for i, r in enumerate(records):
        if r["type"] == "delete":
            assert r["id"] in first_contacts and r["id"] not in deleted
            deleted[r["id"]] = i
    assert 0.003 <= len(deleted) / len(first_contacts) <= 0.01
    for i, r in enumerate(records):
        owner = r.get("contact", r["id"])
        if owner in deleted and r["type"] != "delete":
            assert i < deleted[owner], f"{r} after the delete of {owner}"
    with_activity = {r["contact"] for r in records if r["type"] in ("event", "visit")}
    assert deleted.keys() & with_activity


def test_mostly_in_time_order_and_recent(records: list[Record]) -> None:
    stamps = [_ts(r["ts"]) for r in records if "ts" in r]
    back = sum(1 for a, b in itertools.pairwise(stamps) if b < a)
    assert 0 < back < 0.08 * len(stamps), "mostly, not strictly, in time order"
    middle = START + (END - START) / 2
    later = sum(1 for t in stamps if t >= middle)
    assert later > 2 * (len(stamps) - later), "recent activity is more likely"


def test_diacritics_and_case_variants(first_contacts: dict[str, Record]) -> None:
    fields = [c.get("fields", {}) for c in first_contacts.values()]
    names = {f.get("first_name") for f in fields} | {f.get("last_name") for f in fields}
    for name in ("Łukasz", "Żaneta", "Gödel", "Straßmann", "Jürgen", "Małgorzata"):
        assert name in names
    cities = Counter(f.get("city") for f in fields)
    expected = {"Warszawa", "Wrocław", "Kraków", "Łódź", "Poznań", "Gdańsk", "Szczecin",
                "Warka", "Berlin", "München", "WARSZAWA", "warszawa", None, ""}  # fmt: skip
    assert expected <= set(cities)
    assert any(c and c != c.upper() and any(0x300 <= ord(ch) < 0x370 for ch in c)
               for c in cities), "an NFD-decomposed city"  # fmt: skip
    assert 0.17 <= cities["Warszawa"] / len(fields) <= 0.23
    emails = [c["email"] for c in first_contacts.values() if c.get("email")]
    assert any(re.fullmatch(r"[A-Z][a-z]+\.[A-Z][a-z]+@[A-Z][a-z]+\.[a-z]+", e) for e in emails)
    assert any(e == e.upper() for e in emails)
    assert len({e.casefold() for e in emails}) == len(emails)
    assert sum(any(ch in DIACRITICS for ch in n or "") for n in names) > 30


def test_volumes_and_distributions(
    records: list[Record], first_contacts: dict[str, Record]
) -> None:
    n = sample.DEFAULT_CONTACTS
    counts = Counter(r["type"] for r in records)
    events = Counter(r["contact"] for r in records if r["type"] == "event")
    visits = Counter(r["contact"] for r in records if r["type"] == "visit")
    assert 12 <= counts["event"] / n <= 18
    assert 4 <= counts["visit"] / n <= 6
    assert 3 <= sum(1 for v in events.values() if v >= 200) <= 10, "a handful of heavy users"
    assert statistics.median(events.values()) < 12, "long tail"
    assert max(visits.values()) > 50
    assert 0.97 * n <= len(first_contacts) <= n
    recs = list(first_contacts.values())
    share = {
        "email": sum(bool(c.get("email")) for c in recs) / len(recs),
        "+48": sum(c.get("phone", "").startswith("+48") for c in recs) / len(recs),
        "push": sum(bool(c.get("push_tokens")) for c in recs) / len(recs),
        "age": sum(c["fields"].get("age") is not None for c in recs) / len(recs),
        "empty tags": sum(c["fields"].get("tags") == [] for c in recs) / len(recs),
    }
    assert 0.85 <= share["email"] < 0.95
    assert 0.64 <= share["+48"] <= 0.76
    assert 0.35 <= share["push"] <= 0.45
    assert 0.8 <= share["age"] < 0.95
    assert share["empty tags"] > 0.05
    assert max(len(c.get("push_tokens", [])) for c in recs) == 3


def test_local_offsets_follow_warsaw_time(records: list[Record]) -> None:
    offsets = Counter(r["ts"][19:] for r in records if "ts" in r)
    assert offsets["Z"] > 0.9 * sum(offsets.values())
    assert offsets["+01:00"] > 0 and offsets["+02:00"] > 0 and len(offsets) == 3
    # EU clock changes: 2024-03-31 and 2024-10-27 at 01:00 UTC.
    assert format_ts(1711846799, local=True) == "2024-03-31T01:59:59+01:00"
    assert format_ts(1711846800, local=True) == "2024-03-31T03:00:00+02:00"
    assert format_ts(1729990799, local=True) == "2024-10-27T02:59:59+02:00"
    assert format_ts(1729990800, local=True) == "2024-10-27T02:00:00+01:00"
    assert format_ts(1729990800) == "2024-10-27T01:00:00Z"
    for r in records[:2000]:
        if "ts" in r and not r["ts"].endswith("Z"):
            sec = int(_ts(r["ts"]).timestamp())
            assert format_ts(sec, local=True) == r["ts"]
