"""Each operator's meaning, defined once (LANGUAGE.md §3).

An operator has a *test* (does one stored value satisfy it? — the reference evaluator) and a
*query* (the Elasticsearch query of the same thing — the compiler). Both receive the value
and the operand already normalised for the type (text: `values.fold`).

Multi-valued fields hold when any value satisfies the test (§3.4). Negative operators are
not written at all: each is the complement of a positive one (§3.3), so a contact with no
value matches every negative operator, in the evaluator and in Elasticsearch alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from segql.compiler.targets import Query, Target, escape_wildcard
from segql.grammar import ast
from segql.values import SUFFIX_CHARS, fold, reverse


@dataclass(frozen=True)
class Operator:
    """A positive operator: `test` for the evaluator, `query` for Elasticsearch."""

    name: str
    types: frozenset[str]
    takes_value: bool
    test: Callable[[Any, Any], bool]
    query: Callable[[Target, Any], Query]
    #: An operand that must be non-empty (LANGUAGE.md §3.7).
    needs_nonempty: bool = False


def _contains_query(target: Target, needle: str) -> Query:
    if len(needle) <= SUFFIX_CHARS:
        return target.prefix("s", needle)
    return target.wildcard("f", "*" + escape_wildcard(needle) + "*")


#: The text slot that holds folded values; the other slots follow the type.
TEXT = frozenset({"text"})

POSITIVE: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator(
            "equals", TEXT, True,
            test=lambda v, x: v == x,
            query=lambda t, x: t.term("f", x),
        ),
        Operator(
            "starts_with", TEXT, True, needs_nonempty=True,
            test=lambda v, x: v.startswith(x),
            query=lambda t, x: t.prefix("f", x),
        ),
        Operator(
            "ends_with", TEXT, True, needs_nonempty=True,
            test=lambda v, x: v.endswith(x),
            query=lambda t, x: t.prefix("r", reverse(x)),
        ),
        Operator(
            "contains", TEXT, True, needs_nonempty=True,
            test=lambda v, x: x in v,
            query=_contains_query,
        ),
        Operator(
            "has_value", frozenset({"text", "number", "date", "boolean"}), False,
            test=lambda v, x: True,
            query=lambda t, x: t.exists(),
        ),
    )
}

#: Negative operator → the positive operator it is the complement of.
NEGATIONS: dict[str, str] = {
    "not_equals": "equals",
    "not_contains": "contains",
    "has_no_value": "has_value",
}


def resolve(name: str) -> tuple[Operator, bool] | None:
    """The positive operator behind `name`, and whether `name` negates it."""
    if name in POSITIVE:
        return POSITIVE[name], False
    if name in NEGATIONS:
        return POSITIVE[NEGATIONS[name]], True
    return None


def operand(node: ast.FieldCondition) -> Any:
    """The condition's value, normalised for comparison (text: case-folded)."""
    if node.value is None:
        return None
    return fold(node.value.value)
