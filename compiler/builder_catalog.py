"""What a visual builder needs to offer the language for one account without hard-coding
it: the account's fields, events and visit properties with their types, every operator of
each type with the operand it takes, and the count forms and windows of activity
conditions (LANGUAGE.md §2-4).

Nothing here is a second list of the language: operators come from the operator table
(`operators.POSITIVE`, `NEGATIONS`, `ALIASES`, `resolve`, `names_for`) and are spelled as
the grammar writes them (`ast.spelling`, `keywords.SYMBOLS`); units, count words, window
kinds and relative-date bases from the AST's literals and the grammar's words; date
patterns from `segql.values`. The only tables of this module translate an `OperandKind`
(and a window kind) into the builder's vocabulary, and the tests hold them to the
`Literal`s they cover.

Each operator is described as
`{"name", "op", "aliases", "negates", "operand", "value_type", "units", "date_forms",
"nonempty", "fields_only"}`:

* `name` — the canonical text spelling (`equals`, `not_on`, `>`); `aliases` — the other
  spellings the text accepts for the same operator on that type (`=`; for dates
  `equals`/`=` for `on`);
* `op` — the word the JSON form (LANGUAGE.md §7) writes in `FieldCondition.op` (`gt` for
  `>`); a builder that writes the JSON form uses it, one that writes text uses `name`;
* `negates` — for a negative operator, the `name` of the positive operator it is the
  complement of (§3.3), else null;
* `operand` — `none`, `value`, `list`, `range` (`between A and B`), `duration` (`30d`) or
  `date`; `value_type` — `string`, `number`, `date` or null (none, or a duration);
* `units` — the units of a duration, or of a relative date's offsets (`today-7d`);
* `date_forms` — for date operands: `absolute` (`"2025-01-31"`, an ISO instant) and
  `relative` (`now`/`today` with offsets), both allowed;
* `nonempty` — a string operand must not be `""` (§3.7; `""` is no value, §3.2);
* `fields_only` — the operator applies to contact fields, not to the properties of an
  event or visit inside `where` (`anniversary today`, `anniversary in 7d`: §3.9).
"""

from __future__ import annotations

from typing import Any, get_args

from segql.compiler.catalog import (
    FIELD_TYPES,
    STANDARD_FIELDS,
    STANDARD_VISIT_PROPERTIES,
    SYSTEM_EVENTS,
    Catalog,
    FieldType,
)
from segql.compiler.check import MAX_COUNT
from segql.compiler.operators import (
    NEGATIONS,
    POSITIVE,
    OperandKind,
    Operator,
    names_for,
    resolve,
)
from segql.contract.contact import CONSENT_STATES, STATUS_FIELDS
from segql.grammar import ast
from segql.grammar.keywords import SYMBOLS, WORDS
from segql.values import DATE_ONLY, INSTANT

#: How each operand kind of the operator table reads in a builder: (operand, value type).
OPERANDS: dict[OperandKind | None, tuple[str, str | None]] = {
    None: ("none", None),
    "text": ("value", "string"),
    "texts": ("list", "string"),
    "number": ("value", "number"),
    "numbers": ("list", "number"),
    "number_pair": ("range", "number"),
    "date": ("date", "date"),
    "date_pair": ("range", "date"),
    "duration": ("duration", None),
    "days": ("duration", None),
}
#: The units a duration operand allows, where not all (`anniversary in`: whole days).
DURATION_UNITS: dict[OperandKind, list[str]] = {"days": ["d", "w"]}
#: What each window kind of an activity condition (`ast.Window.kind`) takes.
WINDOW_OPERANDS: dict[str, OperandKind] = {
    "within": "duration",
    "since": "date",
    "before": "date",
    "between": "date_pair",
}
#: A duration's or a relative date offset's units (LANGUAGE.md §2).
UNITS: list[str] = list(get_args(ast.Unit))
#: The two ways of writing a date operand.
DATE_FORMS = ["absolute", "relative"]


def describe(catalog: Catalog) -> dict[str, Any]:
    """One account's effective catalog as a builder reads it (JSON-serialisable)."""
    return {
        "fields": _typed(STANDARD_FIELDS, catalog.fields),
        "events": [
            {"name": name, "system": name in SYSTEM_EVENTS,
             "properties": [{"name": prop, "type": type_}
                            for prop, type_ in sorted(catalog.events.get(name, {}).items())]}
            for name in [*SYSTEM_EVENTS,
                         *sorted(set(catalog.events) - set(SYSTEM_EVENTS))]
        ],
        "visit_properties": _typed(STANDARD_VISIT_PROPERTIES, catalog.visit_properties),
        "types": {type_: {"operators": operators_for(type_)} for type_ in FIELD_TYPES},
        "activity": activity(),
        "dates": dates(),
    }


def _typed(standard: dict[str, FieldType], custom: dict[str, FieldType]
           ) -> list[dict[str, Any]]:
    """Standard names first (their types are fixed), then the account's own, sorted. A
    consent status field lists its `values` (LANGUAGE.md §8), for a builder's choice."""
    return [
        *({"name": name, "type": type_, "standard": True,
           **({"values": list(CONSENT_STATES)} if name in STATUS_FIELDS else {})}
          for name, type_ in standard.items()),
        *({"name": name, "type": type_, "standard": False}
          for name, type_ in sorted(custom.items()) if name not in standard),
    ]


def operators_for(type_: str) -> list[dict[str, Any]]:
    """Every operator of a type, in the operator table's order, each positive operator
    followed by its negation."""
    spellings: dict[tuple[str, bool], list[str]] = {}
    for word in sorted({*names_for(type_), *SYMBOLS}):
        found = resolve(SYMBOLS.get(word, word), type_)
        if found is not None:
            spellings.setdefault((found[0].name, found[1]), []).append(word)
    described: list[dict[str, Any]] = []
    for (op_type, name), operator in POSITIVE.items():
        if op_type != type_:
            continue
        positive = ast.spelling(name)
        described.append(_operator(operator, name, None, spellings[(name, False)]))
        negations = [neg for neg, pos in NEGATIONS.items() if pos == name]
        if negations:
            described.append(_operator(operator, negations[0], positive,
                                       spellings[(name, True)]))
    return described


def _operator(operator: Operator, op: str, negates: str | None, words: list[str]
              ) -> dict[str, Any]:
    name = ast.spelling(op)
    return {
        "name": name,
        "op": op,
        "aliases": [word for word in words if word != name],
        "negates": negates,
        **operand(operator.operand),
        "nonempty": operator.nonempty,
        "fields_only": operator.clocked,
    }


def operand(kind: OperandKind | None) -> dict[str, Any]:
    """What an operand kind asks of a builder: `operand`, `value_type`, `units`,
    `date_forms`."""
    shape, value_type = OPERANDS[kind]
    units = UNITS if value_type == "date" or shape == "duration" else []
    return {
        "operand": shape,
        "value_type": value_type,
        "units": DURATION_UNITS.get(kind, units) if kind is not None else units,
        "date_forms": DATE_FORMS if value_type == "date" else [],
    }


def activity() -> dict[str, Any]:
    """Activity conditions (LANGUAGE.md §4): what may follow `event NAME` / `visit`."""
    window_kinds = get_args(ast.Window.model_fields["kind"].annotation)
    return {
        "kinds": list(get_args(ast.Activity.model_fields["type"].annotation)),
        "occurrence": [*WORDS["OCCURRED"], *WORDS["NOT_OCCURRED"]],
        "counts": [{"name": word, "min": 0, "max": MAX_COUNT, "after": WORDS["OCCURRED"][0]}
                   for word in WORDS["COUNT_OP"]],
        "windows": [{"name": kind, **operand(WINDOW_OPERANDS[kind])} for kind in window_kinds],
    }


def dates() -> dict[str, Any]:
    """How a date operand is written: absolute (ISO 8601) or relative (`today-7d`)."""
    return {
        "absolute": {"date": DATE_ONLY.pattern, "instant": INSTANT.pattern,
                     "examples": ["2025-01-31", "2025-01-31T10:00:00Z"]},
        "relative": {"bases": list(WORDS["DATE_BASE"]), "units": UNITS,
                     "examples": ["now", "today-7d", "now-30d+1h"]},
    }
