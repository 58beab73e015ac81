"""The reference evaluator: LANGUAGE.md as executable Python over folded contacts.

It shares with the compiler only the definitions of meaning — operators' tests
(`operators.py`), count facts and windows (`activities.py`), the typed view of stored
values — and nothing about Elasticsearch; the differential test checks that
Elasticsearch returns exactly what this returns. It is also segql's embedded mode
(`segql eval`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch

from segql.compiler.activities import count_holds, window_bounds
from segql.compiler.context import Context
from segql.compiler.operators import bind, stored_values
from segql.compiler.scopes import CONTACT, ActivityScope, Scope
from segql.compiler.segments import referenced
from segql.grammar import ast
from segql.indexer.records import Activity, Contact
from segql.values import epoch_millis, parse_instant

Subject = Contact | Activity


@singledispatch
def holds(node: ast.Node, subject: Subject, ctx: Context, scope: Scope) -> bool:
    raise TypeError(f"cannot evaluate {type(node).__name__}")


@holds.register
def _group(node: ast.Group, subject: Subject, ctx: Context, scope: Scope) -> bool:
    results = (holds(item, subject, ctx, scope) for item in node.items)
    return all(results) if node.conjunctive else any(results)


@holds.register
def _not(node: ast.Not, subject: Subject, ctx: Context, scope: Scope) -> bool:
    return not holds(node.expr, subject, ctx, scope)


@holds.register
def _field(node: ast.FieldCondition, subject: Subject, ctx: Context, scope: Scope) -> bool:
    bound = bind(node, scope.type_of(ctx.catalog, node.field), ctx.clock)
    values = stored_values(scope.raw(subject, node.field), bound.type)
    return any(bound.operator.test(v, bound.operand) for v in values) != bound.negated


@holds.register
def _activity(node: ast.Activity, subject: Subject, ctx: Context, scope: Scope) -> bool:
    assert isinstance(subject, Contact)
    inner_scope = ActivityScope(node.type, node.name)
    bounds = window_bounds(node.window, ctx.clock)
    items = subject.events.values() if node.type == "event" else subject.visits.values()
    n = 0
    for item in items:
        if node.name is not None and item.name != node.name:
            continue
        if bounds is not None and not bounds.contains(
            epoch_millis(parse_instant(item.ts))  # type: ignore[arg-type]
        ):
            continue
        if node.where is not None and not holds(node.where, item, ctx, inner_scope):
            continue
        n += 1
    return count_holds(node, n)


@holds.register
def _segment(node: ast.SegmentRef, subject: Subject, ctx: Context, scope: Scope) -> bool:
    return holds(referenced(ctx, node.name), subject, ctx, scope)


def contact_holds(expr: ast.Expr, contact: Contact, ctx: Context) -> bool:
    return holds(expr, contact, ctx, CONTACT)


def matching_ids(expr: ast.Expr, contacts: Iterable[Contact], ctx: Context) -> list[str]:
    """Ids of the account's contacts that are in the segment, sorted."""
    return sorted(
        c.id for c in contacts if c.account == ctx.account and contact_holds(expr, c, ctx)
    )
