"""Text → AST. Lark (LALR) does the parsing; this module turns its tree into `grammar.ast`
nodes with positions, and its exceptions into positioned `SegmentError`s."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@cache
def _lark() -> Lark:
    grammar = resources.files("segql.grammar").joinpath("segql.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _span(meta_or_token: Any) -> ast.Span | None:
    if getattr(meta_or_token, "empty", False):
        return None
    return ast.Span(
        line=meta_or_token.line,
        column=meta_or_token.column,
        end_line=meta_or_token.end_line,
        end_column=meta_or_token.end_column,
    )


def unquote(token: Token) -> str:
    """The text of a string literal, with `\\" \\\\ \\n \\t \\uXXXX` decoded."""

    def decode(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u") and len(escape) == 5:
            return chr(int(escape[1:], 16))
        if escape in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escape]
        raise SegmentError(
            [
                Diagnostic(
                    code="E_BAD_ESCAPE",
                    message=f"unknown escape \\{escape} in a string",
                    line=token.line or 1,
                    column=token.column or 1,
                    end_line=token.end_line or 1,
                    end_column=token.end_column or 1,
                    hint='use \\" \\\\ \\n \\t or \\uXXXX',
                )
            ]
        )

    return _ESCAPE.sub(decode, token[1:-1])


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    def or_chain(self, meta: Any, items: list[ast.Expr]) -> ast.Expr:
        return items[0] if len(items) == 1 else ast.Group(type="or", items=items, span=_span(meta))

    def and_chain(self, meta: Any, items: list[ast.Expr]) -> ast.Expr:
        return items[0] if len(items) == 1 else ast.Group(type="and", items=items, span=_span(meta))

    def not_(self, meta: Any, items: list[ast.Expr]) -> ast.Expr:
        return ast.Not(expr=items[0], span=_span(meta))

    def group(self, meta: Any, items: list[Any]) -> ast.Expr:
        kind, *exprs = items
        group_type: ast.GroupType = "all" if str(kind).lower() == "all" else "any"
        return ast.Group(type=group_type, items=exprs, span=_span(meta))

    def field_cond(self, meta: Any, items: list[Any]) -> ast.Expr:
        name, op, *value = items
        op_word = {"=": "equals", "!=": "not_equals"}.get(str(op), str(op).lower())
        return ast.FieldCondition(
            field=name, op=op_word, value=value[0] if value else None, span=_span(meta)
        )

    def activity_cond(self, meta: Any, items: list[Any]) -> ast.Expr:
        name, occurrence = items
        return ast.Activity(
            name=name, occurred=str(occurrence).lower() == "occurred", span=_span(meta)
        )

    def plain_name(self, meta: Any, items: list[Token]) -> str:
        return str(items[0])

    def quoted_name(self, meta: Any, items: list[Token]) -> str:
        return str(items[0])[1:-1]

    def string_name(self, meta: Any, items: list[Token]) -> str:
        return unquote(items[0])

    def string(self, meta: Any, items: list[Token]) -> ast.StringValue:
        return ast.StringValue(value=unquote(items[0]), span=_span(meta))


def _diagnostic(error: UnexpectedInput, text: str) -> Diagnostic:
    line, column = error.line or 1, error.column or 1
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        return Diagnostic(
            code="E_UNEXPECTED_END",
            message="the expression ends too early",
            line=line,
            column=column,
            end_line=line,
            end_column=column + 1,
            hint="close every group and finish the last condition",
        )
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = sorted(error.accepts or error.expected)
        return Diagnostic(
            code="E_UNEXPECTED_TOKEN",
            message=f"unexpected {str(token)!r}",
            line=line,
            column=column,
            end_line=token.end_line or line,
            end_column=token.end_column or column + 1,
            hint="expected one of: " + ", ".join(expected[:8]) if expected else None,
        )
    assert isinstance(error, UnexpectedCharacters)
    return Diagnostic(
        code="E_UNEXPECTED_CHAR",
        message=f"unexpected character {error.char!r}",
        line=line,
        column=column,
        end_line=line,
        end_column=column + 1,
        hint='strings go in double quotes; names with spaces in backquotes: `my field`',
    )


def parse(text: str) -> ast.Expr:
    """Parse a segment's text into its AST, or raise SegmentError with positions."""
    try:
        tree: Tree[Token] = _lark().parse(text)
    except UnexpectedInput as error:
        raise SegmentError([_diagnostic(error, text)], text) from None
    except SegmentError as error:
        error.source = text
        raise
    try:
        result: ast.Expr = _ToAst().transform(tree)
    except Exception as error:  # lark wraps errors raised inside the transformer
        inner = getattr(error, "orig_exc", error)
        if isinstance(inner, SegmentError):
            inner.source = text
            raise inner from None
        raise
    return result
