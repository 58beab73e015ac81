"""The JSON form of a segment (LANGUAGE.md §7): the AST's pydantic models, with a `type`
on every node, for visual builders. `from_json` accepts exactly the ASTs that have a text
form within the limits of §6, so that JSON → AST → text → AST is lossless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, assert_never

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.format import OPERATORS, fmt
from segql.grammar.keywords import quotable
from segql.grammar.limits import MAX_ERRORS
from segql.grammar.parser import parse
from segql.values import finite

SCHEMA_ID = "urn:segql:segment:1"

_ADAPTER: TypeAdapter[ast.Expr] = TypeAdapter(ast.Expr)
_JSON_POSITION = re.compile(r"at line (\d+) column (\d+)")
_DATES = (ast.StringValue, ast.RelativeDate)


def to_json(expr: ast.Expr, *, spans: bool = False, indent: int | None = None) -> str:
    """The JSON form of a segment; positions (`span`) only when asked for."""
    data = expr.model_dump(mode="json", exclude_none=True) if spans else ast.without_spans(expr)
    return json.dumps(data, ensure_ascii=False, indent=indent)


def from_json(text: str) -> ast.Expr:
    """A segment from its JSON form, or SegmentError: E_JSON with the JSON path of each
    problem, or the limit errors of §6 positioned in the segment's canonical text."""
    try:
        node = _ADAPTER.validate_json(text, strict=True)
    except ValidationError as error:
        details = error.errors()[:MAX_ERRORS]
        data = _loaded(text) if any(d["loc"] for d in details) else None
        raise SegmentError([_invalid(d, data) for d in details]) from None
    problems = list(_untextual(node, "$"))
    if problems:
        raise SegmentError(problems[:MAX_ERRORS])
    parse(fmt(node))  # the limits, counted the same way as for text
    return node


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the JSON form."""
    schema = _ADAPTER.json_schema()
    schema["$defs"]["FieldCondition"]["properties"]["op"]["enum"] = sorted(
        [*OPERATORS, "between"]
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "segql segment",
        "description": "A segment of the segql language (LANGUAGE.md §7): every node has a "
                       "`type`; `span` is the position of a node in the text, if any.",
        **schema,
    }


def _loaded(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _json_path(loc: tuple[int | str, ...], data: Any) -> str:
    """`$.items[0].op` from a pydantic location, which also names the member of every
    union it went through (a `type` tag, or `int`/`float` for a number): those are
    recognised in the data and left out."""
    path, tagged = "$", False
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
            tagged = False
        elif not isinstance(data, dict | list) or (
            isinstance(data, dict) and data.get("type") == part and not tagged
        ):
            tagged = True
        else:
            path += f".{part}"
            data = data.get(part) if isinstance(data, dict) else None
            tagged = False
    return path


def _invalid(detail: ErrorDetails, data: Any) -> Diagnostic:
    line = column = 1
    position = _JSON_POSITION.search(detail["msg"]) if detail["type"] == "json_invalid" else None
    if position:
        line, column = int(position.group(1)), int(position.group(2))
    return Diagnostic(code="E_JSON", message=f"{_json_path(detail['loc'], data)}: "
                      f"{detail['msg']}", line=line, column=column, end_line=line,
                      end_column=column + 1, hint="see `segql json-schema`")


def _problem(path: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code="E_JSON", message=f"{path}: {message}", hint=hint)


def _untextual(node: ast.Expr, path: str) -> Iterator[Diagnostic]:
    """What in a valid AST has no text form: the JSON form means nothing the text can't
    say."""
    match node:
        case ast.Group():
            if node.type in ("and", "or") and len(node.items) < 2:
                yield _problem(path, f"an `{node.type}` chain joins two or more items",
                               f"use type {'all' if node.type == 'and' else 'any'} for a group")
            for i, item in enumerate(node.items):
                yield from _untextual(item, f"{path}.items[{i}]")
        case ast.Not():
            yield from _untextual(node.expr, f"{path}.expr")
        case ast.FieldCondition():
            yield from _field(node, path)
        case ast.Activity():
            yield from _activity(node, path)
        case ast.SegmentRef():
            pass
        case _:
            assert_never(node)


def _field(node: ast.FieldCondition, path: str) -> Iterator[Diagnostic]:
    if not quotable(node.field):
        yield _problem(f"{path}.field", "a name is not empty and holds no ` and no control "
                       "character")
    if node.op == "between":
        if node.value is None or node.upper is None:
            yield _problem(path, "`between` needs both `value` and `upper`")
    elif node.op not in OPERATORS:
        yield _problem(f"{path}.op", f"unknown operator {node.op!r}",
                       "operators: " + ", ".join(sorted([*OPERATORS, "between"])))
    elif node.upper is not None:
        yield _problem(f"{path}.upper", "only `between` takes an `upper` value")
    for key, value in (("value", node.value), ("upper", node.upper)):
        if value is not None:
            yield from _value(value, f"{path}.{key}")


def _value(node: ast.Value, path: str) -> Iterator[Diagnostic]:
    match node:
        case ast.NumberValue():
            if not finite(node.value):
                yield _problem(f"{path}.value", "a number is finite")
        case ast.ListValue():
            for i, item in enumerate(node.items):
                yield from _value(item, f"{path}.items[{i}]")
        case ast.Duration():
            if node.amount < 0:
                yield _problem(f"{path}.amount", "a duration is not negative")
        case ast.StringValue() | ast.RelativeDate():
            pass
        case _:
            assert_never(node)


def _activity(node: ast.Activity, path: str) -> Iterator[Diagnostic]:
    if (node.name is None) != (node.type == "visit"):
        yield _problem(f"{path}.name", "an event has a `name`; a visit has none")
    if node.count is not None and (not node.occurred or node.count.n < 0):
        yield _problem(f"{path}.count", "a count is a whole number >= 0, with occurred: true")
    window = node.window
    if window is not None:
        shapes = {
            "within": isinstance(window.value, ast.Duration) and window.upper is None,
            "since": isinstance(window.value, _DATES) and window.upper is None,
            "before": isinstance(window.value, _DATES) and window.upper is None,
            "between": isinstance(window.value, _DATES) and window.upper is not None,
        }
        if not shapes[window.kind]:
            yield _problem(f"{path}.window", "`within` takes a duration; `since` and "
                           "`before` a date; `between` a date and an `upper` date")
        yield from _value(window.value, f"{path}.window.value")
    if node.where is not None:
        yield from _untextual(node.where, f"{path}.where")
