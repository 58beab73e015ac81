"""The §8 record as the sample writes it: the ``Record`` type, the fixed key order of
every level (top, ``fields``, ``props``), the canonical copy in that order and the compact
UTF-8 JSON Lines line (``dumps``) that makes the generated stream byte-for-byte stable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

Record = dict[str, Any]

KEY_ORDER: tuple[str, ...] = (
    "type", "account", "contact", "id", "name", "ts", "url",
    "email", "phone", "push_tokens", "consent", "fields", "props",
)  # fmt: skip
FIELD_ORDER: tuple[str, ...] = (
    "first_name", "last_name", "city", "age", "vip", "signup_date",
    "created_at", "tags", "plan", "ltv",
)  # fmt: skip
PROP_ORDER: tuple[str, ...] = (
    "campaign", "path", "title", "referrer", "value", "currency", "items",
    "product_id", "category", "device",
)  # fmt: skip


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
