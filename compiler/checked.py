"""The checked tree: what the checker returns, and the only input of the compiler
(`to_es`), the reference evaluator (`evaluator`) and `explain`.

Every node keeps the AST node it came from (`source`: its text, position and canonical
form) and carries what the checker resolved, so nothing downstream binds, looks up or
re-parses again:

* a field condition: its positive operator, whether the condition negates it, the
  field's type, the operand normalised and prepared for the operator, and where the
  value lives in a document (`target`);
* an event or visit condition: which activities it counts (`ActivityFilter`, with its
  `where` checked in the activity's scope) and its count as `n >= k` facts;
* `in_segment`: the saved segment's stored name and its checked body.

Conditions inside `where` form their own type (`WhereExpr`: groups, `not` and field
conditions only), so a walker over a `where` cannot meet an event by mistake: mypy says so.
Groups and `not` are generic over what they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from segql.compiler.activities import ActivityFilter, CountFacts
from segql.compiler.context import Context
from segql.compiler.operators import Operator
from segql.compiler.targets import Target
from segql.grammar import ast

E = TypeVar("E", covariant=True)


@dataclass(frozen=True)
class Group(Generic[E]):
    """all/any/and/or: every item (`conjunctive`) or any item holds."""

    source: ast.Group
    conjunctive: bool
    items: tuple[E, ...]


@dataclass(frozen=True)
class Not(Generic[E]):
    source: ast.Not
    expr: E


@dataclass(frozen=True)
class FieldCondition:
    """`field OP operand`, bound: `operator` is positive; the condition is its complement
    when `negated` (LANGUAGE.md §3.3)."""

    source: ast.FieldCondition
    field: str
    type: str
    operator: Operator
    negated: bool
    #: The operand normalised for the type and prepared for the operator (None: no operand).
    operand: Any
    target: Target


@dataclass(frozen=True)
class ActivityCondition:
    """`event NAME ...` or `visit ...`: n = the activities `filter` counts; holds when
    every fact `n >= k is holds` is true."""

    source: ast.Activity
    filter: ActivityFilter[WhereExpr]
    facts: CountFacts


@dataclass(frozen=True)
class SegmentRef:
    """`in_segment NAME`: the saved segment `name` (as stored), checked and inlined."""

    source: ast.SegmentRef
    name: str
    body: ContactExpr


#: A condition on one event or visit (inside `where`).
WhereExpr: TypeAlias = "Group[WhereExpr] | Not[WhereExpr] | FieldCondition"
#: A condition on a contact.
ContactExpr: TypeAlias = (
    "Group[ContactExpr] | Not[ContactExpr] | FieldCondition | ActivityCondition | SegmentRef"
)


@dataclass(frozen=True)
class Checked:
    """A segment that passed the checker, for one account at one instant: operands such as
    `today-7d` are resolved against `context`'s clock and zone."""

    expr: ContactExpr
    context: Context
    #: The segment's text, for positioned errors after checking ("" for a JSON form).
    source: str = ""

    @property
    def account(self) -> str:
        return self.context.account

    @property
    def node(self) -> ast.Expr:
        """The AST the segment was checked from."""
        return self.expr.source
