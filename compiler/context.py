"""What a segment is evaluated against, besides the contact: account, time and catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from segql.compiler.catalog import Catalog


@dataclass(frozen=True)
class Context:
    """One evaluation: `now` is fixed once (and injectable, so tests are deterministic)."""

    account: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    catalog: Catalog = field(default_factory=Catalog)
