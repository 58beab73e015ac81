"""The JSON form of a segment (LANGUAGE.md §7): the AST's pydantic models, with a `type`
on every node, for visual builders.

What a valid document is, is said once, by the JSON Schema in `schema.py`: `from_json`
validates with it (`validator.py`), so the published schema and `from_json` accept the
same documents, but for the limits of §6 and the finite-number rule, which a JSON Schema
cannot say. Every problem of a document is an `E_JSON` diagnostic with the JSON Pointer
of the offending node or member (`pointer`), except for JSON that does not parse, which
keeps its line and column. Each node `from_json` returns knows its pointer
(`ast.Node.pointer`), so the checker's problems point into the document too.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from functools import cache
from typing import Any, assert_never

from pydantic import TypeAdapter, ValidationError

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.format import fmt
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH, MAX_ERRORS, MAX_STRING
from segql.grammar.parser import parse
from segql.grammar.schema import SCHEMA_ID, integer_members, schema
from segql.grammar.validator import Problem, Validator, pointer
from segql.values import finite

__all__ = ["SCHEMA_ID", "from_data", "from_json", "json_schema", "to_json"]

_ADAPTER: TypeAdapter[ast.Expr] = TypeAdapter(ast.Expr)
_HINT = "see `segql json-schema`"
#: JSON nesting beyond any document within the depth limit: each level of the text
#: takes at most four (an `or` in an `and` chain: object, `items`, object, `items`).
_JSON_DEPTH = 4 * (MAX_DEPTH + 1) + 16


@cache
def _validator() -> Validator:
    return Validator(schema())


def to_json(expr: ast.Expr, *, spans: bool = False, indent: int | None = None) -> str:
    """The JSON form of a segment; positions (`span`) only when asked for."""
    data = expr.model_dump(mode="json", exclude_none=True) if spans else ast.without_spans(expr)
    return json.dumps(data, ensure_ascii=False, indent=indent)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the JSON form (draft 2020-12)."""
    return copy.deepcopy(schema())


def from_json(text: str) -> ast.Expr:
    """A segment from its JSON form, or SegmentError: E_JSON with the JSON Pointer of each
    problem (line and column for JSON that does not parse), or the limit errors of §6."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        message = error.msg[:1].lower() + error.msg[1:]
        raise SegmentError([Diagnostic(
            code="E_JSON", message=f"not valid JSON: {message}", line=error.lineno,
            column=error.colno, end_line=error.lineno, end_column=error.colno + 1,
            hint="a segment's JSON form is one JSON object; " + _HINT)], text) from None
    except RecursionError:
        raise SegmentError([_too_deep("")], text) from None
    except ValueError:  # an integer of more than 4,300 digits: no finite double either
        raise SegmentError([Diagnostic(
            code="E_JSON", message="a number of more than 4,300 digits",
            hint="a number is a finite double (at most about 1.8e308)")], text) from None
    return from_data(data)


def from_data(data: Any) -> ast.Expr:
    """A segment from its JSON form already read from JSON text (`json.loads`)."""
    deep = _too_deep_at(data)
    if deep is not None:
        raise SegmentError([_too_deep(deep)])
    problems = _validator().problems(data)
    if not problems:
        problems = list(_infinite(data, ()))
    if problems:
        raise SegmentError([_problem(p) for p in problems[:MAX_ERRORS]])
    try:
        node = _ADAPTER.validate_python(_integers(data), strict=True)
    except ValidationError:  # the schema let through what the AST refuses: a bug
        raise SegmentError([_problem(Problem(
            "", "this document does not describe a segment", _HINT))]) from None
    _locate(node, "")
    strings = list(_long_strings(node))
    if strings:
        raise SegmentError(strings[:MAX_ERRORS])
    try:
        parse(fmt(node))  # the rest of the limits, counted the same way as for text
    except SegmentError as error:  # positioned in the canonical text, and at a node
        for d in error.diagnostics:
            d.pointer = _limit_at(node, d.code)
        raise
    return node


def _problem(problem: Problem) -> Diagnostic:
    return Diagnostic(code="E_JSON", message=problem.message, hint=problem.hint or _HINT,
                      pointer=problem.pointer)


def _too_deep(at: str) -> Diagnostic:
    return Diagnostic(code="E_TOO_DEEP", message=f"nesting deeper than {MAX_DEPTH} levels",
                      hint="groups, `not` and `where` nest; flatten the segment or move a "
                           "part into a saved segment", pointer=at)


def _too_deep_at(data: Any) -> str | None:
    """The pointer of the first value nested deeper than any segment within the limits
    (walked without recursion: the validator recurses, on at most this depth)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > _JSON_DEPTH:
            return pointer(path)
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None


def _infinite(value: Any, path: tuple[str | int, ...]) -> Iterator[Problem]:
    """Numbers that are no finite double (NaN, Infinity, 1e999, 400 digits)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _infinite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _infinite(item, (*path, i))
    elif isinstance(value, int | float) and not isinstance(value, bool) and not finite(value):
        yield Problem(pointer(path), "a number is a finite double (at most about 1.8e308)",
                      "NaN, Infinity and numbers beyond a double have no meaning here")


def _integers(value: Any, integral: bool = False) -> Any:
    """The document with the integer members' numbers as ints (the schema's `integer`
    takes 2.0, which pydantic's strict int does not)."""
    if isinstance(value, dict):
        members = integer_members()
        return {k: _integers(v, k in members) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if integral and isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value


def _locate(node: ast.Expr | ast.Value | ast.Count | ast.Window, at: str) -> None:
    """Record in every node of a tree its JSON Pointer in the document."""
    ast.locate(node, at)
    match node:
        case ast.Group() | ast.ListValue():
            for i, item in enumerate(node.items):
                _locate(item, f"{at}/items/{i}")
        case ast.Not():
            _locate(node.expr, f"{at}/expr")
        case ast.FieldCondition() | ast.Window():
            for key, value in (("value", node.value), ("upper", node.upper)):
                if value is not None:
                    _locate(value, f"{at}/{key}")
        case ast.Activity():
            for key, child in (("where", node.where), ("count", node.count),
                               ("window", node.window)):
                if child is not None:
                    _locate(child, f"{at}/{key}")
        case (ast.SegmentRef() | ast.Count() | ast.StringValue() | ast.NumberValue()
              | ast.RelativeDate() | ast.Duration()):
            pass
        case _:
            assert_never(node)


def _long_strings(node: ast.Expr | ast.Value) -> Iterator[Diagnostic]:
    """E_STRING_TOO_LONG at the string values and segment names the text would refuse
    (an event name too, but only when the text writes it in quotes: the parser says)."""
    match node:
        case ast.StringValue() | ast.SegmentRef():
            text = node.value if isinstance(node, ast.StringValue) else node.name
            if len(text) > MAX_STRING:
                yield Diagnostic(code="E_STRING_TOO_LONG", message=f"a string longer than "
                                 f"{MAX_STRING:,} characters ({len(text):,})",
                                 hint=_HINT, pointer=node.pointer)
        case ast.Group() | ast.ListValue():
            for item in node.items:
                yield from _long_strings(item)
        case ast.Not():
            yield from _long_strings(node.expr)
        case ast.FieldCondition():
            for value in (node.value, node.upper):
                if value is not None:
                    yield from _long_strings(value)
        case ast.Activity():
            if node.where is not None:
                yield from _long_strings(node.where)
        case ast.NumberValue() | ast.RelativeDate() | ast.Duration():
            pass
        case _:
            assert_never(node)


# --- where a limit is crossed -----------------------------------------------------------


def _limit_at(node: ast.Expr, code: str) -> str:
    """The pointer of the node at which the text crosses a limit of §6, as the parser
    counts (the parser decides; this only finds the node): the opener of the 33rd level,
    the 1,001st condition, an event name too long; else the whole segment."""
    found: ast.Node | None = None
    if code == "E_TOO_DEEP":
        found = _too_deep_node(node, 0)
    elif code == "E_TOO_MANY_CONDITIONS":
        found = next((c for i, c in enumerate(_conditions(node)) if i == MAX_CONDITIONS), None)
    elif code == "E_STRING_TOO_LONG":
        found = next((c for c in _conditions(node) if isinstance(c, ast.Activity)
                      and len(c.name or "") > MAX_STRING), None)
    return "" if found is None or found.pointer is None else found.pointer


def _parenthesised(node: ast.Expr, context: str) -> bool:
    """Whether the text puts an operand of `and`, `or` or `not` in parentheses (the
    formatter's rule, `format._operand`)."""
    return isinstance(node, ast.Group) and (
        (node.type in ("and", "or") and context in ("and", "not"))
        or node.type == context == "or")


def _too_deep_node(node: ast.Expr, depth: int) -> ast.Node | None:
    """The first node that opens a level beyond MAX_DEPTH, `depth` levels being open
    around `node`: `all(`, `any(`, `where (`, `not` and the parentheses of the text."""
    inner: list[tuple[ast.Expr, int]] = []
    match node:
        case ast.Group() if node.type in ("all", "any"):
            inner = [(item, depth + 1) for item in node.items]
            if node.items and depth + 1 > MAX_DEPTH:
                return node
        case ast.Group():
            inner = [(item, depth + _parenthesised(item, node.type)) for item in node.items]
        case ast.Not():
            inner = [(node.expr, depth + 1 + _parenthesised(node.expr, "not"))]
            if depth + 1 > MAX_DEPTH:
                return node
        case ast.Activity():
            inner = [] if node.where is None else [(node.where, depth + 1)]
        case ast.FieldCondition() | ast.SegmentRef():
            pass
        case _:
            assert_never(node)
    for child, level in inner:
        if level > MAX_DEPTH:
            return child
        found = _too_deep_node(child, level)
        if found is not None:
            return found
    return None


def _conditions(node: ast.Expr) -> Iterator[ast.Expr]:
    """Field conditions, activities and segment references in the order of the text
    (an activity's `occurred` comes after its `where`)."""
    match node:
        case ast.Group():
            for item in node.items:
                yield from _conditions(item)
        case ast.Not():
            yield from _conditions(node.expr)
        case ast.Activity():
            if node.where is not None:
                yield from _conditions(node.where)
            yield node
        case ast.FieldCondition() | ast.SegmentRef():
            yield node
        case _:
            assert_never(node)
