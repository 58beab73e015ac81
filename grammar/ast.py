"""The segment AST: pydantic models whose JSON form (a `type` on every node) is what a
visual builder reads and writes. The text form and the JSON form mean the same thing
(LANGUAGE.md §7).

Positions (`span`) come from the parser so errors can point at the text; a node built by
a UI has none. Spans are not part of a node's meaning: `same()` compares without them.
A node read from the JSON form knows where it stood in the document instead (`pointer`,
set by `jsonform.from_json`), which is no part of it at all: not dumped, not compared.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class Span(BaseModel):
    """Where a node stands in the source text: 1-based lines and columns, end exclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    column: int
    end_line: int
    end_column: int


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span | None = None
    _pointer: str | None = PrivateAttr(default=None)

    @property
    def pointer(self) -> str | None:
        """The RFC 6901 JSON Pointer of the node in the JSON document it was read from
        (`""` for the root); None for a node that was not read from JSON."""
        return self._private("_pointer")

    def _private(self, name: str) -> str | None:
        """A private attribute's value, read from pydantic's storage directly: `self._x`
        goes through pydantic's slow `__getattr__` (44% of `check` once)."""
        private = self.__pydantic_private__
        value: str | None = private.get(name) if private else None
        return value

    def __eq__(self, other: object) -> bool:
        """Equal fields (pydantic would compare `pointer` too)."""
        if not isinstance(other, Node):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def same(self, other: Node) -> bool:
        """Equal in meaning and form, ignoring positions."""
        return without_spans(self) == without_spans(other)


def locate(node: Node, pointer: str) -> None:
    """Record where a node stands in the JSON document it is read from (`from_json`)."""
    node._pointer = pointer


def without_spans(node: Node) -> dict[str, Any]:
    return node.model_dump(exclude_none=True, exclude=_span_paths(node))


def _span_paths(value: Any) -> Any:
    """A pydantic `exclude` spec that drops `span` at every depth."""
    if isinstance(value, BaseModel):
        spec: dict[str, Any] = {"span": True}
        for name in type(value).model_fields:
            if name != "span":
                sub = _span_paths(getattr(value, name))
                if sub:
                    spec[name] = sub
        return spec
    if isinstance(value, list):
        items = {i: _span_paths(v) for i, v in enumerate(value)}
        return {i: s for i, s in items.items() if s} or None
    return None


# --- values -----------------------------------------------------------------------------

Unit = Literal["min", "h", "d", "w", "mo", "y"]


class StringValue(Node):
    """A string literal: text, or an ISO 8601 date/instant where a date is expected."""

    type: Literal["string"] = "string"
    value: str


class NumberValue(Node):
    type: Literal["number"] = "number"
    value: int | float


class ListValue(Node):
    """`[..]` for `in` / `not_in`."""

    type: Literal["list"] = "list"
    items: list[Annotated[StringValue | NumberValue, Field(discriminator="type")]]


class Offset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int  # signed: now-30d has amount -30
    unit: Unit


class RelativeDate(Node):
    """`now`, `today`, optionally shifted: `now-30d`, `today-1y+7d`."""

    type: Literal["relative_date"] = "relative_date"
    base: Literal["now", "today"]
    offsets: list[Offset] = []


class Duration(Node):
    """`30d`: the length of a `within` window."""

    type: Literal["duration"] = "duration"
    amount: int
    unit: Unit


Value = Annotated[
    StringValue | NumberValue | ListValue | RelativeDate | Duration, Field(discriminator="type")
]
DateOperand = Annotated[StringValue | RelativeDate, Field(discriminator="type")]


# --- conditions -------------------------------------------------------------------------

#: Operators whose canonical spelling is a symbol; every other operator is its own word.
SYMBOL_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
#: Operators written as two words (LANGUAGE.md §3.9).
PHRASE_OPERATORS = {"anniversary_today": "anniversary today",
                    "anniversary_in": "anniversary in"}


def spelling(op: str) -> str:
    """How an operator is written in the text form."""
    return SYMBOL_OPERATORS.get(op) or PHRASE_OPERATORS.get(op, op)


class FieldCondition(Node):
    """`FIELD OP [VALUE]`, or `FIELD between VALUE and UPPER`: a condition on one contact
    field, or on one property of an event or visit inside `where`."""

    type: Literal["field"] = "field"
    field: str
    op: str
    value: Value | None = None
    upper: Value | None = None
    #: The operator as the text wrote it (`=`, `EQUALS`, `!=`), for messages; no part of
    #: the node's meaning: not dumped, not compared.
    _written: str | None = PrivateAttr(default=None)

    @property
    def written_op(self) -> str:
        """The operator as the user wrote it: in the text (`=` stays `=`), in the JSON form
        (its `op`), else in its canonical spelling (`gt` is `>`)."""
        written_op = self._private("_written")
        if written_op is not None:
            return written_op
        return self.op if self.pointer is not None else spelling(self.op)


def written(node: FieldCondition, op: str) -> FieldCondition:
    """Record how the text wrote a condition's operator (`FieldCondition.written_op`)."""
    node._written = op
    return node


class Count(Node):
    type: Literal["count"] = "count"
    op: Literal["at_least", "at_most", "exactly"]
    n: int


class Window(Node):
    """`within 30d`, `since D`, `before D`, `between D and UPPER`."""

    type: Literal["window"] = "window"
    kind: Literal["within", "since", "before", "between"]
    value: Annotated[
        StringValue | RelativeDate | Duration, Field(discriminator="type")
    ]
    upper: DateOperand | None = None


class Activity(Node):
    """`event NAME [where (..)] occurred|not_occurred [COUNT] [WINDOW]`, or the same for
    `visit` (no name)."""

    type: Literal["event", "visit"]
    name: str | None = None
    where: Expr | None = None
    occurred: bool = True
    count: Count | None = None
    window: Window | None = None


class SegmentRef(Node):
    """`in_segment "Name"`: membership of a saved segment of the same account."""

    type: Literal["in_segment"] = "in_segment"
    name: str


class Not(Node):
    type: Literal["not"] = "not"
    expr: Expr


GroupType = Literal["all", "any", "and", "or"]


class Group(Node):
    """`all(...)`/`any(...)` groups and infix `and`/`or` chains: kept apart so the
    formatter prints what the user wrote; `all` ≡ `and`, `any` ≡ `or`."""

    type: GroupType
    items: list[Expr]

    @property
    def conjunctive(self) -> bool:
        return self.type in ("all", "and")


Expr = Annotated[
    FieldCondition | Activity | SegmentRef | Not | Group, Field(discriminator="type")
]

for _model in (Activity, Not, Group):
    _model.model_rebuild()
