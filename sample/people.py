"""Contacts of the sample: ``_People``, the builder's part that invents a person (Polish
or German name, e-mail, phone, push tokens, city, age, tags, plan, lifetime value), its
first contact record with the feed's rough edges, and later partial updates (moves,
``null`` removals, empty lists, new e-mails and phones), and consent per channel (set on
the first record, changed now and then by an update: unsubscribes, bounces, complaints).

Consent is drawn from a generator of its own per contact (``_consent_rng``), never from the
builder's: the rest of the stream is what it was before consent existed.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from .records import Record
from .state import _BuilderState, _Person
from .timestamps import format_ts
from .vocabulary import (
    ASCII_FOLD,
    DE_CITIES,
    DE_DOMAINS,
    DE_FEMALE,
    DE_MALE,
    DE_SURNAMES,
    NFD_CITIES,
    PL_CITIES,
    PL_DOMAINS,
    PL_FEMALE,
    PL_MALE,
    PL_MOBILE_PREFIXES,
    PL_SURNAMES,
    TAGS,
    TRANSLIT,
)

#: Consent on a contact's first record, per channel it has an address for: state, weight
#: ("" leaves the channel unset).
_FIRST_CONSENT: dict[str, list[tuple[str, float]]] = {
    "email": [("subscribed", 70), ("", 19), ("unsubscribed", 6), ("bounced", 3.5),
              ("complained", 1.5)],
    "sms": [("subscribed", 55), ("", 40), ("unsubscribed", 4), ("bounced", 1)],
    "push": [("subscribed", 50), ("", 45), ("unsubscribed", 5)],
}
#: A later update that changes consent: how often, and to what.
_CHANGE_SHARE = 0.08
_CHANGES: list[tuple[str, str | None, float]] = [
    ("email", "unsubscribed", 45), ("email", "subscribed", 15), ("email", "bounced", 10),
    ("email", "complained", 5), ("sms", "unsubscribed", 10), ("sms", None, 5),
    ("push", "unsubscribed", 10),
]


def _consent_rng(account: str, cid: str, salt: int) -> random.Random:
    return random.Random(f"segql-sample-consent:{account}:{cid}:{salt}")


def _pick_from(rng: random.Random, pairs: list[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


class _People(_BuilderState):
    """The builder's contacts: people, their first records and their updates."""

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
        consent_rng = _consent_rng(self.account, cid, 0)
        consent = {channel: state for channel, has in (("email", email), ("sms", phone),
                                                       ("push", tokens)) if has
                   for state in [_pick_from(consent_rng, _FIRST_CONSENT[channel])] if state}
        if consent:
            record["consent"] = consent
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
        person.updates += 1
        consent_rng = _consent_rng(self.account, person.cid, person.updates)
        if consent_rng.random() < _CHANGE_SHARE:
            weights = [weight for _, _, weight in _CHANGES]
            channel, state, _ = consent_rng.choices(_CHANGES, weights)[0]
            rec["consent"] = {channel: state}
        return rec
