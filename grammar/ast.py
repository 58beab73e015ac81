"""The segment AST: pydantic models whose JSON form (a `type` on every node) is what a
visual builder reads and writes. The text form and the JSON form mean the same thing.

Positions (`span`) come from the parser so errors can point at the text; a node built by
a UI has none.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Span(BaseModel):
    """Where a node stands in the source text: 1-based, end exclusive."""

    model_config = ConfigDict(frozen=True)

    line: int
    column: int
    end_line: int
    end_column: int


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span | None = Field(default=None, exclude=False)


class StringValue(Node):
    type: Literal["string"] = "string"
    value: str


Value = Annotated[StringValue, Field(discriminator="type")]


class FieldCondition(Node):
    """`FIELD OP [VALUE]`: a condition on one contact field (or one event property)."""

    type: Literal["field"] = "field"
    field: str
    op: str
    value: Value | None = None


class Activity(Node):
    """`event NAME occurred` / `not_occurred`: whether the contact has such events."""

    type: Literal["event"] = "event"
    name: str
    occurred: bool = True


class Not(Node):
    type: Literal["not"] = "not"
    expr: Expr


GroupType = Literal["all", "any", "and", "or"]


class Group(Node):
    """`all(...)`/`any(...)` groups and infix `and`/`or` chains: kept apart so the
    formatter can print what the user wrote; `all` ≡ `and`, `any` ≡ `or`."""

    type: GroupType
    items: list[Expr]

    @property
    def conjunctive(self) -> bool:
        return self.type in ("all", "and")


Expr = Annotated[FieldCondition | Activity | Not | Group, Field(discriminator="type")]

Not.model_rebuild()
Group.model_rebuild()

