"""jQuery QueryBuilder → segql: its rules JSON (`getRules()`: `{condition, not?, rules,
valid?}`, each rule `{id, field, type, input, operator, value}` or a nested group) as a
segql AST.

jQuery QueryBuilder's default operators (src/defaults.js, `QueryBuilder.OPERATORS`, read
as its sql-support and mongodb-support plugins export them) and what each is in segql
(`conditions.MEANINGS`); a type not named has no segql meaning, an E_IMPORT error:

| jQuery QueryBuilder | its meaning | segql, by field type |
|---|---|---|
| `equal` | `= v` | text `equals`, number `=`, date `on` (date-only v), boolean by v: `is_true` |
| `not_equal` | `!= v` | text `not_equals`, number `!=`, date `not_on` (date-only v), boolean |
| `in`, `not_in` | `IN(..)`, `NOT IN(..)` | text, number: `in`, `not_in` |
| `less`, `greater` | `<`, `>` | number `<`, `>`; date `before`, `after` |
| `less_or_equal` | `<=` | number `<=`; date `any(before D, on D)` (date-only D) |
| `greater_or_equal` | `>=` | number `>=`; date `any(after D, on D)` (date-only D) |
| `between`, `not_between` | `BETWEEN a AND b`, `NOT ..` | number, date `between`, `not (between)` |
| `begins_with`, `not_begins_with` | `LIKE 'v%'`, `NOT LIKE` | `starts_with`, `not (starts_with)` |
| `contains`, `not_contains` | `LIKE '%v%'`, `NOT LIKE` | `contains`, `not_contains` (text) |
| `ends_with`, `not_ends_with` | `LIKE '%v'`, `NOT LIKE` | `ends_with`, `not (ends_with)` (text) |
| `is_empty`, `is_not_empty` | `= ''`, `!= ''` | text `has_no_value`, `has_value` |
| `is_null`, `is_not_null` | `IS NULL`, `IS NOT NULL` | every type: `has_no_value`, `has_value` |

(Boolean `equal true` is `is_true`, `equal false` `is_false`; `not_equal` is their `not`.
`begins_with`, `ends_with` and their negations apply to text.)

Any other operator name is read as segql's own word for the field's type (`on`, `within`,
`is_true`, ...), for a jQuery QueryBuilder configured with custom operators.

Decisions:

* `is_empty` ≡ `is_null` ≡ `has_no_value` on text: segql has one "no value" state —
  absent, `null`, `""` and `[]` alike (LANGUAGE.md §3.2) — so "equals the empty string"
  and "is null" both ask for it; `is_not_empty` ≡ `is_not_null` ≡ `has_value`. As in
  jQuery QueryBuilder (`apply_to: ['string']`), `is_empty`/`is_not_empty` apply to text
  fields only.
* Negations are complements (LANGUAGE.md §3.3): a contact with no value matches
  `not_equal`, `not_in`, `not_contains`, `not_begins_with`, `not_ends_with` and
  `not_between` (MongoDB's reading, not SQL's `NULL` logic).
* `equal`/`not_equal` on a date field mean "on that day" only for a date-only value, and
  `less_or_equal`/`greater_or_equal` likewise: segql has no equality with an instant.
* `in`/`not_in`: an array value; a single value is a list of one (as the sql-support
  plugin reads it). `between`/`not_between`: an array of exactly two values, in order.
* Values are converted by the field's type in the segql catalog; the rule's `type` and
  `input` (jQuery's filter configuration) are not consulted, nor are `id`, `flags` and
  `data`. `field` names the field.
* A missing `condition` is an error (jQuery QueryBuilder fills in its configurable
  `default_condition`, which the JSON does not say); `AND`/`OR` match in any case, any
  other condition (e.g. `XOR`) is an error. `valid: false` — the builder says its own
  rules are incomplete — is an error at `/valid`; so is an empty group.
"""

from __future__ import annotations

from typing import Any

from segql.compiler.catalog import Catalog
from segql.grammar import ast
from segql.interop import conditions as shared

#: jQuery QueryBuilder's default operators → the comparison each is (conditions.MEANINGS).
VOCABULARY: dict[str, str] = {
    "equal": "eq",
    "not_equal": "ne",
    "in": "in",
    "not_in": "not_in",
    "less": "lt",
    "less_or_equal": "le",
    "greater": "gt",
    "greater_or_equal": "ge",
    "between": "between",
    "not_between": "not_between",
    "begins_with": "starts",
    "not_begins_with": "not_starts",
    "contains": "contains",
    "not_contains": "not_contains",
    "ends_with": "ends",
    "not_ends_with": "not_ends",
    "is_empty": "empty",
    "is_not_empty": "not_empty",
    "is_null": "null",
    "is_not_null": "not_null",
}


def from_jquery(data: Any, catalog: Catalog) -> ast.Expr:
    """jQuery QueryBuilder rules as a segql AST; SegmentError (E_IMPORT, with a JSON
    Pointer into `data`) when part of them has no segql meaning."""
    root = shared.obj(data, "")
    if root.get("valid") is False:
        shared.fail(
            "/valid",
            "the builder marked these rules invalid",
            "complete the rules in the builder (getRules() with allow_invalid exports "
            "incomplete ones)",
        )
    return _group(root, "", catalog, 1)


def _group(group: dict[str, Any], pointer: str, catalog: Catalog, depth: int) -> ast.Expr:
    rules = shared.rules_of(group, pointer, depth)
    condition = shared.member(group, "condition", pointer, '"AND" or "OR"')
    if condition.upper() not in ("AND", "OR"):
        shared.fail(
            shared.at(pointer, "condition"),
            f"condition {shared.shown(condition)} has no segql form",
            'segql joins with "AND" or "OR"',
        )

    def convert(item: Any, place: str) -> ast.Expr:
        node = shared.obj(item, place)
        if "rules" in node:
            return _group(node, place, catalog, depth + 1)
        return _rule(node, place, catalog)

    items = list(shared.converted(rules, pointer, convert))
    return shared.grouped(condition.upper() == "AND", items, shared.flag(group, "not", pointer))


def _rule(rule: dict[str, Any], pointer: str, catalog: Catalog) -> ast.Expr:
    field = shared.member(rule, "field", pointer)
    operator = shared.member(rule, "operator", pointer)
    return shared.field_condition(
        field, operator, rule.get("value", shared.MISSING), pointer, catalog, VOCABULARY, _items
    )


def _items(value: Any, pointer: str) -> list[tuple[Any, str]]:
    """A list value: an array, or one value as a list of one."""
    if isinstance(value, list):
        return [(v, shared.at(pointer, i)) for i, v in enumerate(value)]
    return [(value, pointer)]
