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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, assert_never

from segql.compiler import checked as tree
from segql.compiler import dates
from segql.compiler.activities import ActivityFilter, count_facts, window_bounds
from segql.compiler.context import Context
from segql.compiler.dates import Bounds
from segql.compiler.definitions import definition, parse_definition
from segql.compiler.limits import check_expanded
from segql.compiler.operators import Operator, names_for, normalise, resolve
from segql.compiler.scopes import CONTACT, ActivityScope, Scope
from segql.compiler.to_es import to_query
from segql.compiler.wording import (
    EXAMPLES,
    SHORT,
    anniversary_problem,
    date_hint,
    duration_hint,
    example,
    given,
    item_hint,
    mismatch,
    not_a_date_hint,
    quoted,
    written,
)
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH, MAX_STRING
from segql.values import finite

#: Counts above this are refused: scores count events exactly only up to 2^24, and no
#: contact keeps that many (the indexer's retention policy bounds them far lower).
MAX_COUNT = 1_000_000

def _at(node: ast.Node | None, code: str, message: str, hint: str | None = None) -> Diagnostic:
    """A problem at a node: at its text (`span`), and for a segment read from the JSON
    form at its JSON Pointer in the document (`pointer`)."""
    span = (node.span if node else None) or ast.Span(line=1, column=1, end_line=1,
                                                     end_column=2)
    return Diagnostic(code=code, message=message, line=span.line, column=span.column,
                      end_line=span.end_line, end_column=span.end_column, hint=hint,
                      pointer=node.pointer if node else None)


def _did_you_mean(suggestion: str | None) -> str | None:
    return f"did you mean `{suggestion}`?" if suggestion else None


_NOTHING = object()
T = TypeVar("T")


class _TooDeep(Exception):
    """Saved segments nest deeper than MAX_DEPTH expanded, through `path`: the check stops
    there (its recursion stays bounded) and reports it at the outermost reference."""

    def __init__(self, path: str) -> None:
        self.path = path


@dataclass
class _Checker:
    ctx: Context
    #: Saved segments being checked, outermost first (a reference to one is a cycle).
    chain: tuple[str, ...] = ()
    conditions: int = 0
    problems: list[Diagnostic] = field(default_factory=list)
    #: Saved segments checked in this run, by folded name (shared with the checkers of
    #: their bodies): each is checked once, however often it is referred to.
    saved: dict[str, tree.ContactExpr | list[Diagnostic]] = field(default_factory=dict)
    #: How deep the reference to the saved segment being checked stands, expanded.
    base: int = 0

    def expr(self, node: ast.Expr, depth: int) -> tree.ContactExpr | None:
        """A condition on a contact, checked; None where a problem was reported."""
        if self.too_deep(node, depth):
            return None
        match node:
            case ast.Group():
                return self.group(node, depth, self.expr)
            case ast.Not():
                inner = self.expr(node.expr, depth + 1)
                return None if inner is None else tree.Not(node, inner)
            case ast.FieldCondition():
                self.count(node)
                return self.field(node, CONTACT)
            case ast.Activity():
                self.count(node)
                return self.activity(node, depth)
            case ast.SegmentRef():
                self.count(node)
                return self.segment(node, depth)
            case _:
                assert_never(node)

    def where(self, node: ast.Expr, scope: ActivityScope, depth: int) -> tree.WhereExpr | None:
        """A condition on one event or visit (inside `where`), checked."""
        if self.too_deep(node, depth):
            return None
        match node:
            case ast.Group():
                return self.group(node, depth, lambda item, d: self.where(item, scope, d))
            case ast.Not():
                inner = self.where(node.expr, scope, depth + 1)
                return None if inner is None else tree.Not(node, inner)
            case ast.FieldCondition():
                self.count(node)
                return self.field(node, scope)
            case ast.Activity() | ast.SegmentRef():
                self.count(node)
                self.problems.append(_at(node, "E_NESTED_ACTIVITY",
                                         "`where` holds conditions on the properties of "
                                         "one event or visit only",
                                         "move this condition out of `where (...)`"))
                return None
            case _:
                assert_never(node)

    def too_deep(self, node: ast.Expr, depth: int) -> bool:
        if self.chain and self.base + depth > MAX_DEPTH:  # expanded: stop recursing here
            names = [f'"{name}"' for name in self.chain]
            raise _TooDeep(" → ".join(names if len(names) <= 4 else [*names[:2], "…",
                                                                       names[-1]]))
        if depth > MAX_DEPTH:
            self.problems.append(_at(node, "E_TOO_DEEP",
                                     f"nesting deeper than {MAX_DEPTH} levels"))
            return True
        return False

    def count(self, node: ast.Expr) -> None:
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.problems.append(_at(node, "E_TOO_MANY_CONDITIONS",
                                     f"more than {MAX_CONDITIONS} conditions"))

    def group(self, node: ast.Group, depth: int,
              walk: Callable[[ast.Expr, int], T | None]) -> tree.Group[T] | None:
        # like the parser, count groups and `not`, not the links of an and/or chain
        inner = depth + 1 if node.type in ("all", "any") else depth
        if not node.items:
            self.problems.append(_at(node, "E_EMPTY_GROUP", "group has no conditions",
                                     "an empty segment would mean everyone: add a "
                                     "condition"))
        items = [walk(item, inner) for item in node.items]
        checked = [item for item in items if item is not None]
        if not items or len(checked) < len(items):
            return None
        return tree.Group(node, node.conjunctive, tuple(checked))

    def field(self, node: ast.FieldCondition, scope: Scope) -> tree.FieldCondition | None:
        type_ = scope.type_of(self.ctx.catalog, node.field)
        if type_ is None:
            code = "E_UNKNOWN_FIELD" if scope is CONTACT else "E_UNKNOWN_PROPERTY"
            self.problems.append(_at(node, code, f"unknown {scope.describe(node.field)}",
                                     _did_you_mean(scope.suggest(self.ctx.catalog, node.field))
                                     or "declare it with `segql catalog set`"))
            return None
        found = resolve(node.op, type_)
        op = node.written_op
        if node.op.startswith("anniversary_") and node.op not in ast.PHRASE_OPERATORS:
            self.problems.append(_at(node, *anniversary_problem(node)))
            return None
        if found is None:
            known = any(resolve(node.op, t) for t in ("text", "number", "date", "boolean"))
            operators = f"operators for {type_}: {', '.join(names_for(type_))}"
            if type_ == "boolean" and node.op in ("equals", "not_equals"):
                operators = (f"test a boolean with {written(node.field, 'is_true')} or "
                             f"{written(node.field, 'is_false')}; " + operators)
            self.problems.append(_at(
                node, "E_TYPE" if known else "E_UNKNOWN_OPERATOR",
                f"`{op}` does not apply to {type_} {scope.describe(node.field)}" if known
                else f"unknown operator `{op}`", operators))
            return None
        operator, negated = found
        if operator.clocked and scope is not CONTACT:
            self.problems.append(_at(node, "E_TYPE", f"`{op}` applies to contact fields, "
                                     f"not to {scope.describe(node.field)}",
                                     "an event's or visit's date is compared with on, "
                                     "before, after, between or within"))
            return None
        operand = self.operand(node, operator, f"{type_} {scope.describe(node.field)}")
        if operand is _NOTHING:
            return None
        return tree.FieldCondition(node, node.field, type_, operator, negated, operand,
                              scope.target(node.field, type_))

    def operand(self, node: ast.FieldCondition, operator: Operator, subject: str) -> Any:
        """The operand normalised and prepared for `operator` (None when it takes none);
        `_NOTHING` when a problem was reported. `subject` names the field in messages
        (`number field `age``)."""
        kind, op = operator.operand, node.written_op
        if kind is None:
            if node.value is not None:
                self.problems.append(_at(node.value, "E_UNEXPECTED_VALUE",
                                         f"`{op}` takes no value",
                                         f"remove the value: {written(node.field, op)}"))
                return _NOTHING
            return operator.prepare((None, self.ctx.clock)) if operator.clocked else None
        if node.value is None:
            self.problems.append(_at(node, "E_MISSING_VALUE", f"`{op}` needs {SHORT[kind]}",
                                     f"write one after it, e.g. "
                                     f"{example(node.field, op, kind)}"))
            return _NOTHING
        pair = kind.endswith("_pair")
        if (node.upper is not None) != pair:
            where = node.upper if node.upper is not None else node
            self.problems.append(_at(where, "E_UNEXPECTED_VALUE" if node.upper is not None
                                     else "E_MISSING_VALUE", f"`{op}` needs {SHORT[kind]}",
                                     f"e.g. {example(node.field, op, kind)}"))
            return _NOTHING
        values = [node.value] + ([node.upper] if node.upper is not None else [])
        problems = [p for v in values for p in self.literal(v, kind, operator, node, subject)]
        self.problems.extend(problems)
        if problems:
            return _NOTHING
        try:  # resolving dates can leave the calendar (e.g. now-10000y)
            prepared = operator.prepare(normalise(kind, node.value, node.upper,
                                                  self.ctx.clock))
        except (OverflowError, ValueError):
            self.problems.append(_at(node, "E_DATE", "date out of range",
                                     "dates lie in years 1-9999"))
            return _NOTHING
        if pair and prepared.is_empty():
            self.problems.append(_at(node, "E_BETWEEN_ORDER",
                                     "`between A and B` needs A <= B", "swap the two values"))
            return _NOTHING
        return prepared

    def literal(self, value: ast.Value, kind: str, operator: Operator,
                node: ast.FieldCondition, subject: str) -> Iterator[Diagnostic]:
        scalar = kind.removesuffix("_pair").removesuffix("s")
        op = node.written_op
        if kind in ("texts", "numbers"):
            if not isinstance(value, ast.ListValue):
                yield _at(value, "E_OPERAND_TYPE",
                          f"`{op}` needs {SHORT[kind]}, not {given(value)}",
                          mismatch(node.field, op, kind, value, subject))
                return
            if not value.items:
                yield _at(value, "E_EMPTY_LIST", "the list is empty",
                          "a condition on no values would match no one")
            for item in value.items:
                for problem in self.literal(item, scalar, operator, node, subject):
                    yield problem if problem.code != "E_OPERAND_TYPE" else problem.model_copy(
                        update={"message": f"`{op}` needs {SHORT[kind]}: this item is "
                                           f"{given(item)}",
                                "hint": item_hint(scalar, item, subject)})
            return
        expected = {
            "text": (ast.StringValue,),
            "number": (ast.NumberValue,),
            "date": (ast.StringValue, ast.RelativeDate),
            "duration": (ast.Duration,),
            "day": (ast.Duration,),
        }[scalar]
        if not isinstance(value, expected):
            wanted = SHORT[kind] if op != "between" else f"two {scalar}s"
            yield _at(value, "E_OPERAND_TYPE", f"`{op}` needs {wanted}, not {given(value)}",
                      mismatch(node.field, op, kind, value, subject))
        elif scalar == "day" and isinstance(value, ast.Duration) and value.unit not in "dw":
            yield _at(value, "E_DURATION_UNIT", f"`{op}` counts whole days: not "
                      f"{given(value)}", f"use days or weeks, e.g. {example(node.field, op, kind)}")
        elif isinstance(value, ast.NumberValue) and not finite(value.value):
            yield _at(value, "E_NUMBER", "number out of range", "numbers are 64-bit doubles")
        elif isinstance(value, ast.StringValue):
            if len(value.value) > MAX_STRING:
                yield _at(value, "E_STRING_TOO_LONG",
                          f"a string longer than {MAX_STRING} characters")
            elif scalar == "date":
                yield from self.date(value)
            elif operator.nonempty and value.value == "":
                yield _at(value, "E_EMPTY_OPERAND", f"`{op}` needs a non-empty string",
                          f"{written(node.field, 'has_no_value')} asks for contacts without "
                          "a value")

    def date(self, value: ast.StringValue | ast.RelativeDate) -> Iterator[Diagnostic]:
        try:
            dates.resolve(value, self.ctx.clock.now_ms, self.ctx.clock.zone)
        except (dates.BadDate, OverflowError, ValueError):
            shown = quoted(value.value) if isinstance(value, ast.StringValue) else "this"
            yield _at(value, "E_DATE", f"{shown} is not a date",
                      not_a_date_hint(value.value) if isinstance(value, ast.StringValue)
                      else not_a_date_hint(""))

    def activity(self, node: ast.Activity, depth: int) -> tree.ActivityCondition | None:
        before = len(self.problems)
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
        window = None if node.window is None else self.window(node.window)
        where = None
        if node.where is not None:
            where = self.where(node.where, ActivityScope(node.type, node.name), depth + 1)
        if len(self.problems) > before:
            return None
        activity_filter: ActivityFilter[tree.WhereExpr] = ActivityFilter(node.type, node.name,
                                                                    window, where)
        return tree.ActivityCondition(node, activity_filter, count_facts(node))

    def window(self, window: ast.Window) -> Bounds | None:
        want_duration = window.kind == "within"
        values = [window.value] + ([window.upper] if window.upper is not None else [])
        if (window.kind == "between") != (window.upper is not None):
            self.problems.append(_at(window, "E_MISSING_VALUE", "`between` needs two dates",
                                     f"e.g. `between {EXAMPLES['date_pair']}`"))
            return None
        problems: list[Diagnostic] = []
        for value in values:
            if isinstance(value, ast.Duration) != want_duration:
                problems.append(_at(value, "E_OPERAND_TYPE", f"`{window.kind}` needs "
                                    f"{'a duration' if want_duration else 'a date'}, not "
                                    f"{given(value)}",
                                    duration_hint(value, None) if want_duration
                                    else date_hint(value)))
            elif not isinstance(value, ast.Duration):
                problems.extend(self.date(value))
        self.problems.extend(problems)
        if problems:
            return None
        try:
            bounds = window_bounds(window, self.ctx.clock)
        except (OverflowError, ValueError):
            self.problems.append(_at(window, "E_DATE", "date out of range",
                                     "dates lie in years 1-9999"))
            return None
        if bounds is not None and window.kind == "between" and bounds.is_empty():
            self.problems.append(_at(window, "E_BETWEEN_ORDER",
                                     "`between A and B` needs A <= B", "swap the two dates"))
            return None
        return bounds

    def segment(self, node: ast.SegmentRef, depth: int) -> tree.SegmentRef | None:
        found = definition(self.ctx, node.name)
        if found is None:
            close = difflib.get_close_matches(node.name, sorted(self.ctx.segments), n=1)
            hint = (f"did you mean `in_segment {quoted(close[0])}`?" if close else
                    "save it first with `segql segment create`, or for `segql eval`, list "
                    "it in --segments FILE")
            self.problems.append(_at(node, "E_UNKNOWN_SEGMENT",
                                     f"no saved segment called {quoted(node.name)}", hint))
            return None
        name, text = found
        if name.casefold() in (n.casefold() for n in self.chain):
            cycle = " → ".join([*self.chain, name])
            self.problems.append(_at(node, "E_SEGMENT_CYCLE",
                                     f"segments refer to each other in a cycle: {cycle}"))
            return None
        if name.casefold() not in self.saved:
            try:
                self.saved[name.casefold()] = self.saved_body(name, text, depth)
            except _TooDeep as deep:
                if self.chain:  # up to the reference in the segment being checked
                    raise
                self.problems.append(_at(node, "E_TOO_DEEP", "with its saved segments "
                                         f"expanded the segment nests more than {MAX_DEPTH} "
                                         f"levels deep (through {deep.path})",
                                         "refer to it nearer the top, or flatten it or the "
                                         "segments it refers to"))
                return None
        body = self.saved[name.casefold()]
        if isinstance(body, list):
            first = body[0]
            code = "E_SEGMENT_CYCLE" if first.code == "E_SEGMENT_CYCLE" else "E_SEGMENT_INVALID"
            if first.code in ("E_SEGMENT_CYCLE", "E_SEGMENT_INVALID"):  # said further in
                message = first.message
            else:
                through = " → ".join(quoted(n) for n in self.chain)
                message = (f"saved segment {quoted(name)}"
                           + (f" (used through {through})" if through else "")
                           + f": {first.message} (line {first.line}, column "
                           f"{first.column} of its definition)")
            self.problems.append(_at(node, code, message, first.hint))
            return None
        return tree.SegmentRef(node, name, body)

    def saved_body(self, name: str, text: str,
                   depth: int) -> tree.ContactExpr | list[Diagnostic]:
        """A saved segment's checked body, or its problems."""
        try:
            inner = _Checker(self.ctx, (*self.chain, name), saved=self.saved,
                             base=self.base + depth + 1)
            body = inner.expr(parse_definition(text), 0)
        except SegmentError as error:
            return error.diagnostics
        return inner.problems if inner.problems or body is None else body


def check(expr: ast.Expr, ctx: Context, source: str = "") -> tree.Checked:
    """The checked tree of the expression; otherwise raise every problem found at once."""
    checker = _Checker(ctx)
    checked = checker.expr(expr, 0)
    if checker.problems or checked is None:
        raise SegmentError(checker.problems, source)
    result = tree.Checked(checked, ctx, source)
    if checker.saved:  # the limits again, with in_segment's bodies inlined
        check_expanded(result, to_query)
    return result
