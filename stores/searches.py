"""Every search segql sends, and only here: never a partial answer.

Elasticsearch answers a search that some shards could not serve (a shard unassigned, its
node gone) with HTTP 200, the hits of the shards that did answer and `_shards.failed` > 0,
unless the request says `allow_partial_search_results=false`. A recipient list or count
built from such an answer is short without a word. So each function here asks with
`allow_partial_search_results=false` (a search, an `msearch` item's header, a point in
time) and hands the answer to `failures.complete`, which turns a partial or timed-out
answer into a `ShardsUnavailableError`. `tests/test_no_partial.py` fails on a search sent
anywhere else in segql.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

from segql.stores.failures import ShardsUnavailableError, complete

#: What every search of segql says.
NO_PARTIAL: dict[str, Any] = {"allow_partial_search_results": False}


def search(es: Elasticsearch, **params: Any) -> dict[str, Any]:
    """One search (`params` as `Elasticsearch.search` takes them), from every shard."""
    return complete(es.search(**params, **NO_PARTIAL).body)


def search_if_exists(es: Elasticsearch, **params: Any) -> dict[str, Any] | None:
    """`search`, or None when the index does not exist (a store never written to)."""
    response = es.options(ignore_status=404).search(**params, **NO_PARTIAL)
    if response.meta.status == 404:
        return None
    return complete(response.body)


def msearch(es: Elasticsearch, searches: Sequence[tuple[dict[str, Any], dict[str, Any]]]
            ) -> list[dict[str, Any]]:
    """The items of one `msearch` of (header, body) pairs, in order. An item is either a
    complete answer or `{"status": ..., "error": ...}` (a partial one becomes an error
    item too, which `failures.from_answer` words like any other)."""
    if not searches:
        return []
    lines = [part for header, body in searches for part in ({**header, **NO_PARTIAL}, body)]
    items: list[dict[str, Any]] = es.msearch(searches=lines)["responses"]
    return [_checked_item(item) for item in items]


def _checked_item(item: dict[str, Any]) -> dict[str, Any]:
    if "error" in item:
        return item
    try:
        return complete(item)
    except ShardsUnavailableError as error:  # an error item, as Elasticsearch words one
        return {"status": 503, "error": {
            "type": "no_shard_available_action_exception", "reason": str(error)}}


def open_point_in_time(es: Elasticsearch, *, index: str, keep_alive: str,
                       routing: str | None = None) -> str:
    """A point-in-time snapshot over every shard of `index` (routing: the shard of one
    account), or the error saying which could not be opened; its id."""
    response = es.open_point_in_time(index=index, routing=routing, keep_alive=keep_alive,
                                     **NO_PARTIAL).body
    return str(complete(response)["id"])


def close_point_in_time(es: Elasticsearch, pit: str) -> None:
    """Release a snapshot (already gone is fine)."""
    es.options(ignore_status=404).close_point_in_time(id=pit)
