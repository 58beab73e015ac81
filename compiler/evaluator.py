"""The reference evaluator: LANGUAGE.md as executable Python over folded contacts.

It shares the operators' tests (`operators.py`) and the typed view of stored values
(`indexer.document.value_slots`) with the compiler and the indexer, and nothing else; the
differential test checks that Elasticsearch returns exactly what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch

from segql.compiler.context import Context
from segql.compiler.operators import operand, resolve
from segql.compiler.targets import TYPE_SLOTS
from segql.grammar import ast
from segql.indexer.document import value_slots
from segql.indexer.records import Contact


@singledispatch
def holds(node: ast.Node, contact: Contact, ctx: Context) -> bool:
    raise TypeError(f"cannot evaluate {type(node).__name__}")


@holds.register
def _group(node: ast.Group, contact: Contact, ctx: Context) -> bool:
    results = (holds(item, contact, ctx) for item in node.items)
    return all(results) if node.conjunctive else any(results)


@holds.register
def _not(node: ast.Not, contact: Contact, ctx: Context) -> bool:
    return not holds(node.expr, contact, ctx)


@holds.register
def _field(node: ast.FieldCondition, contact: Contact, ctx: Context) -> bool:
    found = resolve(node.op)
    assert found is not None, "the checker rejects unknown operators"
    operator, negated = found
    slot = TYPE_SLOTS[ctx.catalog.type_of(node.field)]
    values = value_slots(contact.fields.get(node.field)).get(slot, [])
    x = operand(node)
    return any(operator.test(v, x) for v in values) != negated


@holds.register
def _activity(node: ast.Activity, contact: Contact, ctx: Context) -> bool:
    occurred = any(e.name == node.name for e in contact.events.values())
    return occurred == node.occurred


def matching_ids(expr: ast.Expr, contacts: Iterable[Contact], ctx: Context) -> list[str]:
    """Ids of the account's contacts that are in the segment, sorted."""
    return sorted(
        c.id for c in contacts if c.account == ctx.account and holds(expr, c, ctx)
    )
