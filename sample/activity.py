"""Activity of the sample: ``_Activity``, the builder's part that makes the shop's product
catalog and a contact's events (mail/SMS/push clicks with campaigns, purchases, abandoned
carts, logins) and page visits, each stamped with when it happened and when it arrived.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .records import Record
from .state import _BuilderState, _Person, _Product
from .timestamps import DAY, HOUR, MINUTE, format_ts
from .vocabulary import (
    CATEGORIES,
    DEVICES,
    EUR_PLN,
    REFERRERS,
    SHOP,
    SHOP_NAME,
    SYSTEM_EVENTS,
)


class _Activity(_BuilderState):
    """The builder's activity: the catalog, events and visits of one person."""

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
