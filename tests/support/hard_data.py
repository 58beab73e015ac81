"""Seeded generators of hard inputs for differential tests: records full of values that
break naive implementations, and random segment expressions over them."""

from __future__ import annotations

import json
import random
from typing import Any

ACCOUNTS = ("acme", "other")
TEXT_FIELDS = ("city", "email", "tags", "first_name", "note")
EVENT_NAMES = ("MailOpen", "MailClick", "Purchase", "Order Completed")

#: Values chosen to break naive matching: case, diacritics, ß, empty, syntax characters.
HARD_TEXTS = (
    "Warszawa", "WARSZAWA", "warszawa", "Warka", "War", "Łódź", "ŁÓDŹ", "łódź", "Lodz",
    "Straße", "STRASSE", "strasse", "Gdańsk", "GDAŃSK", "Zażółć gęślą jaźń",
    "ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "München", "MÜNCHEN", "a*b", "a?b", "a\\b", 'say "hi"', "(x)",
    "k:v", "[x]", "{y}", "^$.|+", "~/", "x" * 40, "ab" * 30, " lead", "trail ", "İstanbul",
    "ǅemal", "ﬁne", "Ǆ", "o\u0308", "ö", "@gmail.com", "jan@GMAIL.com", "ola@wp.pl",
)

#: Operands for expressions: fragments of the values above plus things that match nothing.
HARD_OPERANDS = (
    "war", "WAR", "Warszawa", "szawa", "ŁÓDŹ", "łó", "ódź", "STRASSE", "straß", "ss",
    "SS", "gęślą", "ĄŹŃ", "*", "?", "a*b", "\\", '"', "(", ":", "[x]", "^$", "x" * 25,
    "x" * 40, "ab" * 13, " ", "ö", "o\u0308", "@gmail.com", "GMAIL.COM", "İ", "i̇", "fi",
    "nothing-matches", "ǆ",
)


def _text_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.14:
        return ""
    if roll < 0.3:
        return [rng.choice((*HARD_TEXTS, "", None)) for _ in range(rng.randint(0, 3))]
    return rng.choice(HARD_TEXTS)


def records(seed: int, contacts: int = 120) -> list[str]:
    """JSON Lines over two accounts sharing contact ids: contacts, updates that remove
    fields, duplicate and early events, deletes."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(contacts):
        account = rng.choice(ACCOUNTS)
        cid = f"c{n % (contacts // 2)}"
        if rng.random() < 0.2:  # an event before its contact
            out.append(_event(rng, account, cid))
        fields = {f: _text_value(rng) for f in TEXT_FIELDS if rng.random() < 0.7}
        email = fields.pop("email", None)
        record: dict[str, Any] = {"type": "contact", "account": account, "id": cid,
                                  "fields": {k: v for k, v in fields.items() if v is not None}}
        if isinstance(email, str):
            record["email"] = email
        out.append(record)
        for _ in range(rng.randint(0, 4)):
            out.append(_event(rng, account, cid))
        if rng.random() < 0.2:
            out.append(dict(out[-1]))  # a duplicate delivery
        if rng.random() < 0.15:  # an update removing a field
            out.append({"type": "contact", "account": account, "id": cid,
                        "fields": {rng.choice(TEXT_FIELDS[2:]): None}})
        if rng.random() < 0.05:
            out.append({"type": "delete", "account": account, "id": cid})
    return [json.dumps(r, ensure_ascii=False) for r in out]


def _event(rng: random.Random, account: str, cid: str) -> dict[str, Any]:
    return {"type": "event", "account": account, "contact": cid,
            "id": f"e{rng.randrange(10**9)}", "name": rng.choice(EVENT_NAMES),
            "ts": f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T1{rng.randint(0, 9)}:00:00Z"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _condition(rng: random.Random) -> str:
    if rng.random() < 0.25:
        name = rng.choice((*EVENT_NAMES, "NeverSeen"))
        return f"event {_quote(name)} {rng.choice(['occurred', 'not_occurred'])}"
    field = rng.choice(TEXT_FIELDS)
    op = rng.choice(["equals", "not_equals", "starts_with", "ends_with", "contains",
                     "not_contains", "has_value", "has_no_value", "=", "!="])
    if op in ("has_value", "has_no_value"):
        return f"{field} {op}"
    operand = rng.choice(HARD_OPERANDS + HARD_TEXTS)
    if op in ("equals", "=", "not_equals", "!=") and rng.random() < 0.5:
        operand = rng.choice(HARD_TEXTS)
    return f"{field} {op} {_quote(operand)}"


def expression(rng: random.Random, depth: int = 0) -> str:
    """A random expression over every skeleton construct, nested up to depth 3."""
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return _condition(rng)
    if roll < 0.55:
        return "not " + expression(rng, depth + 1)
    items = [expression(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    if roll < 0.75:
        return f"{rng.choice(['all', 'any', 'ALL'])}({', '.join(items)})"
    joined = f" {rng.choice(['and', 'or'])} ".join(items)
    return f"({joined})"
