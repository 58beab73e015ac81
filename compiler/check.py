"""The checker: everything that can be wrong with a parsed segment is found here, with a
stable code and the position of the offending text, before anything reaches
Elasticsearch. It reports every problem it finds, not just the first.

Codes (docs/language.md lists them all): E_EMPTY_GROUP, E_UNKNOWN_FIELD,
E_UNKNOWN_PROPERTY, E_UNKNOWN_EVENT, E_UNKNOWN_OPERATOR, E_TYPE, E_OPERAND_TYPE,
E_MISSING_VALUE, E_UNEXPECTED_VALUE, E_EMPTY_OPERAND, E_EMPTY_LIST, E_BETWEEN_ORDER,
E_DATE, E_NUMBER, E_COUNT, E_NESTED_ACTIVITY, E_UNKNOWN_SEGMENT, E_SEGMENT_CYCLE,
E_SEGMENT_INVALID, E_TOO_DEEP, E_TOO_MANY_CONDITIONS, E_STRING_TOO_LONG.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from segql.compiler import dates
from segql.compiler.activities import window_bounds
from segql.compiler.context import Context
from segql.compiler.operators import Operator, names_for, normalise, resolve
from segql.compiler.scopes import CONTACT, ActivityScope, Scope
from segql.compiler.segments import definition, parse_definition
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.parser import MAX_CONDITIONS, MAX_DEPTH, MAX_STRING

#: Counts above this are refused: scores count events exactly only up to 2^24, and no
#: contact keeps that many (the indexer's retention policy bounds them far lower).
MAX_COUNT = 1_000_000

_KIND_WORDS = {
    "text": "a string",
    "texts": 'a list of strings, e.g. ["a", "b"]',
    "number": "a number",
    "numbers": "a list of numbers, e.g. [1, 2]",
    "number_pair": "two numbers: between A and B",
    "date": 'a date ("2025-01-31"), an instant ("2025-01-31T10:00:00Z") or now/today±N',
    "date_pair": "two dates: between A and B",
    "duration": "a duration such as 30d (units: min h d w mo y)",
}


def _at(node: ast.Node | None, code: str, message: str, hint: str | None = None) -> Diagnostic:
    span = (node.span if node else None) or ast.Span(line=1, column=1, end_line=1,
                                                     end_column=2)
    return Diagnostic(code=code, message=message, line=span.line, column=span.column,
                      end_line=span.end_line, end_column=span.end_column, hint=hint)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _did_you_mean(suggestion: str | None) -> str | None:
    return f"did you mean `{suggestion}`?" if suggestion else None


@dataclass
class _Checker:
    ctx: Context
    #: Saved segments being checked, outermost first (a reference to one is a cycle).
    chain: tuple[str, ...] = ()
    conditions: int = 0
    problems: list[Diagnostic] = field(default_factory=list)

    def expr(self, node: ast.Expr, scope: Scope, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.problems.append(_at(node, "E_TOO_DEEP",
                                     f"nesting deeper than {MAX_DEPTH} levels"))
            return
        if isinstance(node, ast.Group):
            # like the parser, count groups and `not`, not the links of an and/or chain
            inner = depth + 1 if node.type in ("all", "any") else depth
            if not node.items:
                self.problems.append(_at(node, "E_EMPTY_GROUP", "group has no conditions",
                                         "an empty segment would mean everyone: add a "
                                         "condition"))
            for item in node.items:
                self.expr(item, scope, inner)
        elif isinstance(node, ast.Not):
            self.expr(node.expr, scope, depth + 1)
        else:
            self.conditions += 1
            if self.conditions == MAX_CONDITIONS + 1:
                self.problems.append(_at(node, "E_TOO_MANY_CONDITIONS",
                                         f"more than {MAX_CONDITIONS} conditions"))
            if isinstance(node, ast.FieldCondition):
                self.problems.extend(self.field(node, scope))
            elif isinstance(scope, ActivityScope):
                self.problems.append(_at(node, "E_NESTED_ACTIVITY",
                                         "`where` holds conditions on the properties of "
                                         "one event or visit only",
                                         "move this condition out of `where (...)`"))
            elif isinstance(node, ast.Activity):
                self.activity(node, depth)
            else:
                self.segment(node)

    def field(self, node: ast.FieldCondition, scope: Scope) -> Iterator[Diagnostic]:
        type_ = scope.type_of(self.ctx.catalog, node.field)
        if type_ is None:
            code = "E_UNKNOWN_FIELD" if scope is CONTACT else "E_UNKNOWN_PROPERTY"
            yield _at(node, code, f"unknown {scope.describe(node.field)}",
                      _did_you_mean(scope.suggest(self.ctx.catalog, node.field))
                      or "declare it with `segql catalog set`")
            return
        found = resolve(node.op, type_)
        if found is None:
            known = any(resolve(node.op, t) for t in ("text", "number", "date", "boolean"))
            yield _at(node, "E_TYPE" if known else "E_UNKNOWN_OPERATOR",
                      f"`{ast.spelling(node.op)}` does not apply to {type_} "
                      f"{scope.describe(node.field)}"
                      if known else f"unknown operator `{node.op}`",
                      f"operators for {type_}: {', '.join(names_for(type_))}")
            return
        operator, _ = found
        yield from self.operand(node, operator)

    def operand(self, node: ast.FieldCondition, operator: Operator) -> Iterator[Diagnostic]:
        kind = operator.operand
        if kind is None:
            if node.value is not None:
                yield _at(node.value, "E_UNEXPECTED_VALUE", f"`{node.op}` takes no value")
            return
        if node.value is None:
            yield _at(node, "E_MISSING_VALUE", f"`{node.op}` needs {_KIND_WORDS[kind]}")
            return
        pair = kind.endswith("_pair")
        if (node.upper is not None) != pair:
            where = node.upper if node.upper is not None else node
            yield _at(where, "E_UNEXPECTED_VALUE" if node.upper is not None
                      else "E_MISSING_VALUE", f"`{node.op}` needs {_KIND_WORDS[kind]}")
            return
        values = [node.value] + ([node.upper] if node.upper is not None else [])
        problems = [p for v in values for p in self.literal(v, kind, operator)]
        yield from problems
        if problems:
            return
        try:  # resolving dates can leave the calendar (e.g. now-10000y)
            prepared = operator.prepare(normalise(kind, node.value, node.upper,
                                                  self.ctx.clock))
        except (OverflowError, ValueError):
            yield _at(node, "E_DATE", "date out of range", "dates lie in years 1-9999")
            return
        if pair and prepared.is_empty():
            yield _at(node, "E_BETWEEN_ORDER", "`between A and B` needs A <= B",
                      "swap the two values")

    def literal(self, value: ast.Value, kind: str, operator: Operator) -> Iterator[Diagnostic]:
        scalar = kind.removesuffix("_pair").removesuffix("s")
        if kind in ("texts", "numbers"):
            if not isinstance(value, ast.ListValue):
                yield _at(value, "E_OPERAND_TYPE", f"`{operator.name}` needs "
                          f"{_KIND_WORDS[kind]}")
                return
            if not value.items:
                yield _at(value, "E_EMPTY_LIST", "the list is empty",
                          "a condition on no values would match no one")
            for item in value.items:
                yield from self.literal(item, scalar, operator)
            return
        expected = {
            "text": (ast.StringValue,),
            "number": (ast.NumberValue,),
            "date": (ast.StringValue, ast.RelativeDate),
            "duration": (ast.Duration,),
        }[scalar]
        if not isinstance(value, expected):
            yield _at(value, "E_OPERAND_TYPE", f"`{operator.name}` needs {_KIND_WORDS[kind]}")
        elif isinstance(value, ast.NumberValue) and not _finite(value.value):
            yield _at(value, "E_NUMBER", "number out of range", "numbers are 64-bit doubles")
        elif isinstance(value, ast.StringValue):
            if len(value.value) > MAX_STRING:
                yield _at(value, "E_STRING_TOO_LONG",
                          f"a string longer than {MAX_STRING} characters")
            elif scalar == "date":
                yield from self.date(value)
            elif operator.nonempty and value.value == "":
                yield _at(value, "E_EMPTY_OPERAND", f"`{operator.name}` needs a non-empty "
                          "string", "`has_no_value` asks for contacts without a value")

    def date(self, value: ast.StringValue | ast.RelativeDate) -> Iterator[Diagnostic]:
        try:
            dates.resolve(value, self.ctx.clock.now_ms, self.ctx.clock.zone)
        except (dates.BadDate, OverflowError, ValueError):
            yield _at(value, "E_DATE", "not a date", 'use "2025-01-31", '
                      '"2025-01-31T10:00:00Z" or now/today with offsets such as today-7d')

    def activity(self, node: ast.Activity, depth: int) -> None:
        if node.type == "event" and (node.name is None or
                                     not self.ctx.catalog.known_event(node.name)):
            self.problems.append(_at(node, "E_UNKNOWN_EVENT", f"unknown event `{node.name}`",
                                     _did_you_mean(self.ctx.catalog.suggest_event(
                                         node.name or "")) or
                                     "declare it with `segql catalog set`"))
        if node.count is not None and not (0 <= node.count.n <= MAX_COUNT and node.occurred):
            self.problems.append(_at(node.count, "E_COUNT",
                                     f"a count is a whole number from 0 to {MAX_COUNT:,}, "
                                     "after `occurred`"))
        if node.window is not None:
            self.problems.extend(self.window(node.window))
        if node.where is not None:
            self.expr(node.where, ActivityScope(node.type, node.name), depth + 1)

    def window(self, window: ast.Window) -> Iterator[Diagnostic]:
        want_duration = window.kind == "within"
        values = [window.value] + ([window.upper] if window.upper is not None else [])
        if (window.kind == "between") != (window.upper is not None):
            yield _at(window, "E_MISSING_VALUE", "`between` needs two dates")
            return
        problems: list[Diagnostic] = []
        for value in values:
            if isinstance(value, ast.Duration) != want_duration:
                problems.append(_at(value, "E_OPERAND_TYPE", f"`{window.kind}` needs "
                                    + _KIND_WORDS["duration" if want_duration else "date"]))
            elif not isinstance(value, ast.Duration):
                problems.extend(self.date(value))
        yield from problems
        if not problems:
            try:
                bounds = window_bounds(window, self.ctx.clock)
            except (OverflowError, ValueError):
                yield _at(window, "E_DATE", "date out of range", "dates lie in years 1-9999")
                return
            if bounds is not None and window.kind == "between" and bounds.is_empty():
                yield _at(window, "E_BETWEEN_ORDER", "`between A and B` needs A <= B",
                          "swap the two dates")

    def segment(self, node: ast.SegmentRef) -> None:
        found = definition(self.ctx, node.name)
        if found is None:
            close = difflib.get_close_matches(node.name, sorted(self.ctx.segments), n=1)
            hint = _did_you_mean(close[0] if close else None)
            self.problems.append(_at(node, "E_UNKNOWN_SEGMENT",
                                     f"no saved segment called {node.name!r}", hint))
            return
        name, text = found
        if name.casefold() in (n.casefold() for n in self.chain):
            cycle = " → ".join([*self.chain, name])
            self.problems.append(_at(node, "E_SEGMENT_CYCLE",
                                     f"segments refer to each other in a cycle: {cycle}"))
            return
        try:
            inner = _Checker(self.ctx, (*self.chain, name))
            inner.expr(parse_definition(text), CONTACT, 0)
            inner_problems = inner.problems
        except SegmentError as error:
            inner_problems = error.diagnostics
        if inner_problems:
            first = inner_problems[0]
            code = "E_SEGMENT_CYCLE" if first.code == "E_SEGMENT_CYCLE" else "E_SEGMENT_INVALID"
            self.problems.append(_at(node, code, f"saved segment {name!r}: {first.message}",
                                     first.hint))


def check(expr: ast.Expr, ctx: Context, source: str = "") -> ast.Expr:
    """Return the expression if it is valid; otherwise raise every problem found at once."""
    checker = _Checker(ctx)
    checker.expr(expr, CONTACT, 0)
    if checker.problems:
        raise SegmentError(checker.problems, source)
    return expr
