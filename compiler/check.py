"""The checker: everything that can be wrong with a parsed segment is found here, with a
stable code and the position of the offending text, before anything reaches Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator

from segql.compiler.catalog import Catalog
from segql.compiler.operators import resolve
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast


def _at(node: ast.Node, code: str, message: str, hint: str | None = None) -> Diagnostic:
    span = node.span or ast.Span(line=1, column=1, end_line=1, end_column=2)
    return Diagnostic(
        code=code,
        message=message,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        hint=hint,
    )


def _problems(node: ast.Expr, catalog: Catalog) -> Iterator[Diagnostic]:
    if isinstance(node, ast.Group):
        if not node.items:
            yield _at(node, "E_EMPTY_GROUP", "group has no conditions",
                      "an empty segment would mean everyone: add a condition")
        for item in node.items:
            yield from _problems(item, catalog)
    elif isinstance(node, ast.Not):
        yield from _problems(node.expr, catalog)
    elif isinstance(node, ast.FieldCondition):
        found = resolve(node.op)
        if found is None:
            yield _at(node, "E_UNKNOWN_OPERATOR", f"unknown operator `{node.op}`")
            return
        operator, _ = found
        field_type = catalog.type_of(node.field)
        if field_type not in operator.types:
            yield _at(node, "E_TYPE", f"`{node.op}` does not apply to {field_type} field "
                      f"`{node.field}`")
        if operator.takes_value and node.value is None:
            yield _at(node, "E_MISSING_VALUE", f"`{node.op}` needs a value",
                      f'e.g. {node.field} {node.op} "text"')
        elif not operator.takes_value and node.value is not None:
            yield _at(node.value, "E_UNEXPECTED_VALUE", f"`{node.op}` takes no value")
        elif (operator.needs_nonempty and isinstance(node.value, ast.StringValue)
              and node.value.value == ""):
            yield _at(node.value, "E_EMPTY_OPERAND", f"`{node.op}` needs a non-empty string",
                      f"use `{node.field} has_value` to ask for any value")


def check(expr: ast.Expr, catalog: Catalog, source: str = "") -> ast.Expr:
    """Return the expression if it is valid; otherwise raise every problem found at once."""
    problems = list(_problems(expr, catalog))
    if problems:
        raise SegmentError(problems, source)
    return expr
