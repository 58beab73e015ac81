"""The names every account has, with their fixed types: the standard contact fields (the
computed ones among them: `bucket` and the channels' consent, `contract.contact`), the
system events and the standard visit properties (LANGUAGE.md §3, §4, §8)."""

from __future__ import annotations

from typing import Literal

from segql.contract.contact import BUCKET_FIELD, STATUS_FIELDS

FieldType = Literal["text", "number", "date", "boolean"]
FIELD_TYPES: tuple[FieldType, ...] = ("text", "number", "date", "boolean")

STANDARD_FIELDS: dict[str, FieldType] = {
    "email": "text",
    "phone": "text",
    "push_tokens": "text",
    "first_name": "text",
    "last_name": "text",
    "city": "text",
    "tags": "text",
    "created_at": "date",
    # computed for every contact (`Contact.value`): the holdout bucket and the consent
    BUCKET_FIELD: "number",
    **{name: "text" for name in STATUS_FIELDS},
}
SYSTEM_EVENTS = ("MailOpen", "MailClick", "SmsClick", "PushClick")
STANDARD_VISIT_PROPERTIES: dict[str, FieldType] = {
    "url": "text",
    "path": "text",
    "title": "text",
    "referrer": "text",
    "product_id": "text",
}
