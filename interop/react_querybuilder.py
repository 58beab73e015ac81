"""react-querybuilder (RQB) ⇄ segql: the `fields` prop for one account, and RQB queries
(`RuleGroupType`, or `RuleGroupTypeIC` with independent combinators) as segql ASTs.

RQB's default operators (packages/core/src/defaults.ts, `defaultOperators`) and what each
is in segql (`conditions.MEANINGS`; "—" has no segql meaning and is an E_IMPORT error):

| RQB | text | number | date | boolean |
|---|---|---|---|---|
| `=` | `equals` | `=` | `on` (a date-only value only) | `is_true` / `is_false` by value |
| `!=` | `not_equals` | `!=` | `not_on` (a date-only value only) | `not is_true` / `not is_false` |
| `<` `>` | — | `<` `>` | `before` `after` | — |
| `<=` `>=` | — | `<=` `>=` | `any(before D, on D)` / `any(after D, on D)`, date-only D | — |
| `contains` `doesNotContain` | `contains` `not_contains` | — | — | — |
| `beginsWith` `endsWith` | `starts_with` `ends_with` | — | — | — |
| `doesNotBeginWith` `doesNotEndWith` | `not (starts_with)` `not (ends_with)` | — | — | — |
| `in` `notIn` | `in` `not_in` | `in` `not_in` | — | — |
| `between` `notBetween` | — | `between` / `not (between)` | `between` / `not (between)` | — |
| `null` `notNull` | `has_no_value` `has_value` | same | same | same |

Any other operator name is read as segql's own word for the field's type (`on`, `not_on`,
`within`, `is_true`, `is_false`, `starts_with`, ...), so `fields_config` can offer what RQB
has no name for. Operator names and combinators match case-insensitively, as RQB's own
exporters do.

Decisions:

* Negations are complements, as every segql negation is (LANGUAGE.md §3.3): a contact
  with no value matches `!=`, `doesNotContain`, `notIn`, `doesNotBeginWith`,
  `doesNotEndWith` and `notBetween` (as MongoDB's `$ne` reads them; SQL's `NULL` logic
  would not). With that rule `doesNotBeginWith`, `doesNotEndWith` and `notBetween` *are*
  expressible — `not (f starts_with x)`, `not (f between a and b)` — and are imported so.
* `=`/`!=` on a date field mean "on that day" only for a date-only value: segql has no
  equality with an instant (`on X` is X's whole day), so an instant there is an error.
  `<=`/`>=` likewise (`before`/`after` exclude the day itself).
* List and range values: an array (strings trimmed, as RQB's `toArray` does), or a string
  split at commas (`"a, b"`; `\\,` is a literal comma; blank items dropped, as `toArray`).
  `between` takes exactly two values, in order (A > B is the checker's E_BETWEEN_ORDER:
  RQB's exporters may reorder numbers, segql never guesses).
* `muted` rules and groups are left out, as RQB's exporters leave them out; a group left
  with no rules, or a muted root, is an error (an empty segment never means everyone).
  In the independent-combinator form the combinator before the next kept item joins it.
* Placeholder rules (field or operator `~`), `valueSource` other than `"value"`, `match`
  (array sub-queries), `lhs` expressions and the `xor` combinator have no segql form:
  errors, never dropped. `disabled` only locks a rule in RQB's UI: it is imported.
* Independent combinators: `and` binds tighter than `or` (as RQB's `convertFromIC`);
  the result is segql's infix chains, `a and b or c`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from segql.compiler.builder_catalog import describe
from segql.compiler.catalog import Catalog, FieldType
from segql.grammar import ast
from segql.interop import conditions as shared

#: RQB's default operator names → the comparison each is (conditions.MEANINGS).
VOCABULARY: dict[str, str] = {
    "=": "eq",
    "!=": "ne",
    "<": "lt",
    ">": "gt",
    "<=": "le",
    ">=": "ge",
    "contains": "contains",
    "beginsWith": "starts",
    "endsWith": "ends",
    "doesNotContain": "not_contains",
    "doesNotBeginWith": "not_starts",
    "doesNotEndWith": "not_ends",
    "null": "null",
    "notNull": "not_null",
    "in": "in",
    "notIn": "not_in",
    "between": "between",
    "notBetween": "not_between",
}
_CANONICAL = {name.lower(): name for name in VOCABULARY}
#: RQB's placeholder `name` for "nothing chosen yet" (defaults.ts).
PLACEHOLDER = "~"
#: The HTML input and RQB value editor for each field type.
INPUT_TYPES: dict[FieldType, str] = {
    "text": "text",
    "number": "number",
    "date": "date",
    "boolean": "checkbox",
}
VALUE_EDITORS: dict[FieldType, str] = {
    "text": "text",
    "number": "text",
    "date": "text",
    "boolean": "checkbox",
}


# --- the `fields` prop ------------------------------------------------------------------


def fields_config(catalog: Catalog) -> list[dict[str, Any]]:
    """RQB's `fields` prop for the account's contact fields: each field's operators are
    segql's for its type (builder_catalog), named by RQB's default name where one means
    exactly the same, else by segql's word; labels are segql's words. Operators after
    which no value follows have `arity: "unary"`. Date fields get a date input; `within`
    takes a duration (`"30d"`), which a builder renders as text (RQB's `getInputType`)."""
    return [
        {
            "name": field["name"],
            "label": field["name"],
            "inputType": INPUT_TYPES[field["type"]],
            "valueEditorType": VALUE_EDITORS[field["type"]],
            "operators": operators_config(field["type"]),
        }
        for field in describe(catalog)["fields"]
    ]


@cache
def _operators(type_: FieldType) -> tuple[tuple[str, str, bool], ...]:
    """(name, label, unary) of each operator RQB offers for a type."""
    found: list[tuple[str, str, bool]] = []
    labels: dict[str, str] = {}
    for entry in describe(Catalog())["types"][type_]["operators"]:
        name = _rqb_name(type_, shared.Meaning(entry["op"])) or (
            entry["op"] if " " in entry["name"] else entry["name"])
        labels[entry["op"]] = label = entry["name"].replace("_", " ")
        found.append((name, label, entry["operand"] == "none"))
    for name, comparison in VOCABULARY.items():  # RQB's negations segql writes with `not`
        meaning = shared.MEANINGS.get((type_, comparison))
        if meaning is not None and meaning == shared.Meaning(meaning.op, negate=True):
            found.append((name, "not " + labels[meaning.op], False))
    return tuple(found)


def operators_config(type_: FieldType) -> list[dict[str, Any]]:
    """The `operators` of a field of `type_` (`arity: "unary"` where no value follows)."""
    return [
        {"name": name, "label": label, **({"arity": "unary"} if unary else {})}
        for name, label, unary in _operators(type_)
    ]


def _rqb_name(type_: FieldType, meaning: shared.Meaning) -> str | None:
    return next(
        (
            name
            for name, comparison in VOCABULARY.items()
            if shared.MEANINGS.get((type_, comparison)) == meaning
        ),
        None,
    )


# --- queries ----------------------------------------------------------------------------


def from_rqb(data: Any, catalog: Catalog) -> ast.Expr:
    """An RQB query (`RuleGroupType` or `RuleGroupTypeIC`) as a segql AST; SegmentError
    (E_IMPORT, with a JSON Pointer into `data`) when part of it has no segql meaning."""
    root = shared.obj(data, "")
    if shared.flag(root, "muted", ""):
        shared.fail("/muted", "the whole query is muted", "an empty segment never means everyone")
    return _group(root, "", catalog, 1)


def _group(group: dict[str, Any], pointer: str, catalog: Catalog, depth: int) -> ast.Expr:
    rules = shared.rules_of(group, pointer, depth)
    combinator = group.get("combinator")
    if combinator is None:
        node = _independent(rules, pointer, catalog, depth)
        return ast.Not(expr=node) if shared.flag(group, "not", pointer) else node
    conjunctive = _conjunctive(combinator, shared.at(pointer, "combinator"))

    def convert(rule: Any, place: str) -> ast.Expr | None:
        if isinstance(rule, str):
            shared.fail(
                place,
                f"combinator {shared.shown(rule)} among the rules of a group that has a "
                "`combinator`",
                "use one form: `combinator` on the group, or combinators "
                "between the rules (and no `combinator`)",
            )
        return _item(rule, place, catalog, depth)

    items = list(shared.converted(rules, pointer, convert))
    if not items:
        shared.fail(
            shared.at(pointer, "rules"),
            "every rule of the group is muted",
            "an empty group would mean everyone",
        )
    return shared.grouped(conjunctive, items, shared.flag(group, "not", pointer))


def _independent(rules: list[Any], pointer: str, catalog: Catalog, depth: int) -> ast.Expr:
    """`[r, "and", r, "or", r]`: `and` before `or`; muted items left out."""
    chains: list[list[ast.Expr]] = []
    conjunctive = True
    for i, rule in enumerate(rules):
        place = shared.at(pointer, "rules", i)
        if i % 2:
            if not isinstance(rule, str):
                shared.fail(
                    place,
                    f'expected a combinator ("and" or "or"), found {shared.shown(rule)}',
                    "with no `combinator` on the group, rules and combinators alternate",
                )
            conjunctive = _conjunctive(rule, place)
            continue
        if isinstance(rule, str):
            shared.fail(
                place, f"expected a rule or a group, found the combinator {shared.shown(rule)}"
            )
        expr = _item(rule, place, catalog, depth)
        if expr is None:
            continue
        if chains and conjunctive:
            chains[-1].append(expr)
        else:
            chains.append([expr])
    if len(rules) % 2 == 0:
        shared.fail(
            shared.at(pointer, "rules", len(rules) - 1),
            "the rules end with a combinator",
            "combinators stand between two rules or groups",
        )
    if not chains:
        shared.fail(
            shared.at(pointer, "rules"),
            "every rule of the group is muted",
            "an empty group would mean everyone",
        )
    parts = [
        chain[0] if len(chain) == 1 else ast.Group(type="and", items=chain) for chain in chains
    ]
    if len(parts) > 1:
        return ast.Group(type="or", items=parts)
    return parts[0] if isinstance(parts[0], ast.Group) else ast.Group(type="all", items=parts)


def _conjunctive(combinator: Any, pointer: str) -> bool:
    word = combinator.lower() if isinstance(combinator, str) else None
    if word not in ("and", "or"):
        shared.fail(
            pointer,
            f"combinator {shared.shown(combinator)} has no segql form",
            'segql joins with "and" or "or"',
        )
    return word == "and"


def _item(data: Any, pointer: str, catalog: Catalog, depth: int) -> ast.Expr | None:
    item = shared.obj(data, pointer)
    if shared.flag(item, "muted", pointer):
        return None
    if "rules" in item:
        return _group(item, pointer, catalog, depth + 1)
    return _rule(item, pointer, catalog)


def _rule(rule: dict[str, Any], pointer: str, catalog: Catalog) -> ast.Expr:
    field = shared.member(rule, "field", pointer)
    operator = shared.member(rule, "operator", pointer)
    for key, value in (("field", field), ("operator", operator)):
        if value == PLACEHOLDER:
            shared.fail(shared.at(pointer, key), f"no {key} chosen", "finish the rule or remove it")
    source = rule.get("valueSource") or "value"
    if source != "value":
        shared.fail(
            shared.at(pointer, "valueSource"),
            f"a value from {shared.shown(source)} has no segql form",
            "segql compares a field with values only",
        )
    for key in ("match", "lhs"):
        if rule.get(key) is not None:
            shared.fail(shared.at(pointer, key), f"`{key}` has no segql form")
    name = _CANONICAL.get(operator.lower(), operator)
    return shared.field_condition(
        field, name, rule.get("value", shared.MISSING), pointer, catalog, VOCABULARY, _items
    )


def _items(value: Any, pointer: str) -> list[tuple[Any, str]]:
    """A list value as RQB's `toArray` reads it: an array (strings trimmed), or a string
    split at commas with blank items dropped."""
    if isinstance(value, list):
        return [
            (v.strip() if isinstance(v, str) else v, shared.at(pointer, i))
            for i, v in enumerate(value)
        ]
    if isinstance(value, str):
        return [(part.strip(), pointer) for part in split_by(value) if part.strip()]
    return [(value, pointer)]


def split_by(text: str, char: str = ",") -> list[str]:
    """RQB's `splitBy`: split at `char`, where a backslash before it makes it literal."""
    parts: list[str] = []
    for i, chunk in enumerate(text.split("\\" + char)):
        pieces = chunk.split(char)
        if i == 0:
            parts = pieces
        else:
            parts[-1] += char + pieces[0]
            parts += pieces[1:]
    return parts
