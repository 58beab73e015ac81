"""Who a channel reaches (LANGUAGE.md §8), said once for counts, exports and pages.

A contact of a segment is left out of a channel for one reason, the first that applies:
its consent for the channel is `unsubscribed`, `bounced` or `complained` (the state is
the reason), else it has no address for the channel (`no_address`). The others are
reached. `reach_filters` says it as Elasticsearch queries (counts aggregate them),
`left_out_reason` as a test of one contact's doc values (exports and pages read them);
both rest on the same two slots: the channel's address (`address_path`) and its consent
state (`status_path`). The differential test holds both to the reference evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segql.api.resolve import CHANNELS, address_path
from segql.contract.contact import BLOCKING_STATES, status_field
from segql.contract.document import field_path

#: Why a contact is left out of a channel, in report order.
REASONS = ("no_address", *BLOCKING_STATES)


def status_path(channel: str) -> str:
    """The doc-values slot of a channel's consent state (`fields.@email_status.f`)."""
    return field_path(status_field(channel), "f")


def left_out_reason(status: str | None, has_address: bool) -> str | None:
    """Why a contact with this consent state (None: unset) is left out of the channel, or
    None when the channel reaches it."""
    if status in BLOCKING_STATES:
        return status
    return None if has_address else "no_address"


def reach_filters(channel: str) -> dict[str, dict[str, Any]]:
    """`reachable` and each of REASONS as a query: they partition any set of contacts."""
    blocked = {"terms": {status_path(channel): list(BLOCKING_STATES)}}
    address = {"exists": {"field": address_path(channel)}}
    return {
        "reachable": {"bool": {"filter": [address], "must_not": [blocked]}},
        "no_address": {"bool": {"must_not": [address, blocked]}},
        **{state: {"term": {status_path(channel): state}} for state in BLOCKING_STATES},
    }


def channel_aggs(channels: tuple[str, ...] = tuple(CHANNELS)) -> dict[str, Any]:
    """One `filters` aggregation per channel over `reach_filters`."""
    return {channel: {"filters": {"filters": reach_filters(channel)}} for channel in channels}


@dataclass
class LeftOut:
    """How many contacts a channel left out, by reason."""

    no_address: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    complained: int = 0

    def add(self, reason: str) -> None:
        setattr(self, reason, getattr(self, reason) + 1)

    @property
    def total(self) -> int:
        return sum(self.to_json().values())

    def to_json(self) -> dict[str, int]:
        return {reason: int(getattr(self, reason)) for reason in REASONS}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LeftOut:
        return cls(**{reason: int(data[reason]) for reason in REASONS})

    @classmethod
    def of_buckets(cls, buckets: dict[str, Any]) -> LeftOut:
        """From a `channel_aggs` aggregation's buckets."""
        return cls(**{reason: int(buckets[reason]["doc_count"]) for reason in REASONS})

