"""The reference evaluator: LANGUAGE.md as executable Python over folded contacts.

It shares with the compiler only the definitions of meaning — operators' tests
(`operators.py`), which activities a condition counts and its count facts
(`activities.py`), the typed view of stored values — and nothing about Elasticsearch; the
differential test checks that Elasticsearch returns exactly what this returns. It is also
segql's embedded mode (`segql eval`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from segql.compiler import checked as tree
from segql.compiler.activities import count_holds
from segql.compiler.operators import stored_values
from segql.contract.contact import Activity, Contact


def holds(node: tree.ContactExpr, contact: Contact) -> bool:
    """Whether a checked condition holds for a contact."""
    match node:
        case tree.Group():
            results = (holds(item, contact) for item in node.items)
            return all(results) if node.conjunctive else any(results)
        case tree.Not():
            return not holds(node.expr, contact)
        case tree.FieldCondition():
            return field_holds(node, contact.value(node.field))
        case tree.ActivityCondition():
            return count_holds(node.facts, activity_count(node, contact))
        case tree.SegmentRef():
            return holds(node.body, contact)
        case _:
            assert_never(node)


def where_holds(node: tree.WhereExpr, item: Activity) -> bool:
    """Whether a checked `where` condition holds for one event or visit."""
    match node:
        case tree.Group():
            results = (where_holds(part, item) for part in node.items)
            return all(results) if node.conjunctive else any(results)
        case tree.Not():
            return not where_holds(node.expr, item)
        case tree.FieldCondition():
            return field_holds(node, item.props.get(node.field))
        case _:
            assert_never(node)


def field_holds(node: tree.FieldCondition, raw: Any) -> bool:
    """A field condition on a stored value: any value passes the positive operator's test
    (§3.4), and a negative operator is its complement (§3.3)."""
    values = stored_values(raw, node.type)
    return any(node.operator.test(v, node.operand) for v in values) != node.negated


def activity_count(node: tree.ActivityCondition, contact: Contact) -> int:
    """n: how many of the contact's events (or visits) the condition counts."""
    return sum(node.filter.counts(item, where_holds) for item in node.filter.candidates(contact))


def contact_holds(checked: tree.Checked, contact: Contact) -> bool:
    return holds(checked.expr, contact)


def matching_ids(checked: tree.Checked, contacts: Iterable[Contact]) -> list[str]:
    """Ids of the account's contacts that are in the segment, sorted."""
    return sorted(
        c.id for c in contacts if c.account == checked.account and holds(checked.expr, c)
    )
