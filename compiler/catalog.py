"""The field catalog: which fields exist and what type each has.

Standard fields have fixed types. Until an account catalog can be declared or learned (the
language issue), every other field name is a custom *text* field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STANDARD_FIELDS: dict[str, str] = {
    "email": "text",
    "phone": "text",
    "push_tokens": "text",
    "first_name": "text",
    "last_name": "text",
    "city": "text",
    "tags": "text",
    "created_at": "date",
}


@dataclass(frozen=True)
class Catalog:
    """Field name → type for one account."""

    fields: dict[str, str] = field(default_factory=lambda: dict(STANDARD_FIELDS))

    def type_of(self, name: str) -> str:
        return self.fields.get(name, "text")
