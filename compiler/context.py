"""What a segment is evaluated against, besides the contact: account, time, catalog and
the account's saved segments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from segql.compiler.catalog import Catalog
from segql.compiler.dates import Clock
from segql.values import epoch_millis


@dataclass(frozen=True)
class Context:
    """One evaluation: `now` is fixed once (and injectable, so tests are deterministic).

    `segments` maps saved segment names to their expressions, for `in_segment`; names
    are matched case-insensitively.
    """

    account: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    catalog: Catalog = field(default_factory=Catalog)
    segments: Mapping[str, str] = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        return Clock(now_ms=epoch_millis(self.now), zone=self.timezone)
