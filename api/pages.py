"""Paging a segment's recipients by an opaque cursor, over one point-in-time snapshot.

A sender asks for the first page and gets, with its rows, a cursor: the snapshot's
point-in-time id, the position after the page's last document (`search_after` on
`_shard_doc`), the evaluation instant, the channel, the account and a fingerprint of the
compiled segment — signed with the server's key, so a client can neither read nor forge
one. Asking again with the same cursor returns the same next page: a sender that lost its
connection repeats its last request and resumes with no gap and no duplicate. The last
page has no cursor; its snapshot is left to expire, so the last page too can be asked for
again.

A cursor is only good for the account, segment and channel it was made for; any other
use, a cursor that was altered, or one whose snapshot expired (`PAGE_KEEP_ALIVE` after
its last use) is refused with a clear error, never a silent restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from segql.api.contact_index import index_name
from segql.api.reach import LeftOut, channel_aggs, left_out_reason, status_path
from segql.api.resolve import CHANNELS, Segment, address_path, checked, on_target
from segql.compiler.context import Context
from segql.errors import InputError
from segql.stores import searches
from segql.values import epoch_millis

#: How long a snapshot lives between two page requests.
PAGE_KEEP_ALIVE = "10m"
MAX_PAGE_SIZE = 10_000


class CursorError(InputError):
    """A cursor that can't be used: altered, for something else, or expired (exit 2)."""


@dataclass(frozen=True)
class Page:
    """One page of recipients: `rows` are (contact id, address) pairs (address None without
    a channel); `cursor` asks for the next page (None: this was the last)."""

    rows: list[tuple[str, str | None]]
    cursor: str | None
    #: The segment's size in the snapshot (contacts, not rows).
    contacts: int
    #: With a channel: the snapshot's contacts it leaves out, by reason (`reach`; the same
    #: on every page of one cursor's run, counted with the first page).
    left_out: LeftOut | None = None


def _fingerprint(query: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:32]


def _sign(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(state: dict[str, Any], key: bytes) -> str:
    payload = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(payload, key)


def decode_cursor(cursor: str, key: bytes) -> dict[str, Any]:
    """The cursor's state, if it is one of ours and unaltered; else CursorError."""
    body, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise CursorError("not a cursor that this service issued") from None
    if not signature or not hmac.compare_digest(signature, _sign(payload, key)):
        raise CursorError("not a cursor that this service issued (or it was altered)")
    state: dict[str, Any] = json.loads(payload)
    return state


def cursor_now(cursor: str | None, key: bytes) -> datetime | None:
    """The evaluation instant a cursor pins (relative dates keep their meaning across
    pages), or None for a first page."""
    if cursor is None:
        return None
    return datetime.fromtimestamp(decode_cursor(cursor, key)["now"] / 1000, UTC)


def page(es: Elasticsearch, segment: Segment, ctx: Context, *, key: bytes,
         cursor: str | None = None, channel: str | None = None, size: int = 1000,
         index: str | None = None) -> Page:
    """The first page of the segment's recipients (no cursor), or the page after `cursor`.
    For a cursor, `ctx.now` must be the instant it pins (`cursor_now`)."""
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InputError(f"a page holds 1 to {MAX_PAGE_SIZE:,} contacts")
    _, body = checked(segment, ctx)
    query = body["query"]
    target = index or index_name()
    fields = ["contact_id", *([address_path(channel), status_path(channel)] if channel
                              else [])]
    if cursor is None:
        pit = on_target(es, target, lambda found: searches.open_point_in_time(
            es, index=found.index, routing=found.search_routing(ctx.account),
            keep_alive=PAGE_KEEP_ALIVE))
        state: dict[str, Any] = {"pit": pit, "after": None, "account": ctx.account,
                                 "channel": channel, "now": epoch_millis(ctx.now),
                                 "segment": _fingerprint(query), "index": target}
    else:
        state = decode_cursor(cursor, key)
        if (state["account"], state["channel"], state["index"]) != (ctx.account, channel,
                                                                    target):
            raise CursorError("this cursor belongs to another account, channel or index")
        if state["segment"] != _fingerprint(query):
            raise CursorError("this cursor belongs to another segment (or the segment "
                              "changed since the first page)")
    try:
        response = searches.search(
            es, pit={"id": state["pit"], "keep_alive": PAGE_KEEP_ALIVE}, size=size, query=query,
            sort=[{"_shard_doc": "asc"}], search_after=state["after"], source=False,
            docvalue_fields=[{"field": name} for name in fields], track_total_hits=True,
            aggs=channel_aggs((channel,)) if channel and cursor is None else None)
    except NotFoundError:
        raise CursorError("the snapshot behind this cursor expired (pages must come within "
                          f"{PAGE_KEEP_ALIVE} of each other): start again without a cursor"
                          ) from None
    hits = response["hits"]["hits"]
    rows = [row for hit in hits for row in _rows(hit["fields"], channel)]
    contacts = int(response["hits"]["total"]["value"])
    left_out = None
    if channel and cursor is None:
        state["left_out"] = LeftOut.of_buckets(
            response["aggregations"][channel]["buckets"]).to_json()
    if channel and "left_out" in state:  # (a cursor of an older segql has none)
        left_out = LeftOut.from_json(state["left_out"])
    if len(hits) < size:
        # the snapshot is left to expire, not closed: a sender that lost this last page
        # may ask for it again
        return Page(rows, None, contacts, left_out)
    state = {**state, "pit": response.get("pit_id", state["pit"]), "after": hits[-1]["sort"]}
    return Page(rows, encode_cursor(state, key), contacts, left_out)


def _rows(fields: dict[str, list[str]], channel: str | None) -> list[tuple[str, str | None]]:
    """One contact's rows: itself without a channel; with one, a row per address unless
    the channel leaves it out (`reach`)."""
    contact_id = fields["contact_id"][0]
    if channel is None:
        return [(contact_id, None)]
    addresses = fields.get(address_path(channel), [])
    status = fields.get(status_path(channel))
    if left_out_reason(status[0] if status else None, bool(addresses)) is not None:
        return []
    return [(contact_id, address) for address in addresses]
