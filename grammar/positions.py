"""Where things stand in a segment's text: the position both parse paths carry for a node
or a token, the AST's Span made from it, and a Diagnostic at a place in the text.
"""

from __future__ import annotations

from lark import Token

from segql.errors import Diagnostic
from segql.grammar import ast

#: Where a node or token stands: (line, column, end_line, end_column); None for a node of
#: no text (Lark's empty meta).
Pos = tuple[int, int, int, int] | None


def as_span(pos: Pos) -> ast.Span | None:
    """The AST's span of a position."""
    if pos is None:
        return None
    return ast.Span(line=pos[0], column=pos[1], end_line=pos[2], end_column=pos[3])


def line_problem(code: str, message: str, line: int, column: int, end_column: int,
                 hint: str | None = None) -> Diagnostic:
    """A one-line diagnostic: every offending text the parser reports is on one line."""
    return Diagnostic(code=code, message=message, line=line, column=column, end_line=line,
                      end_column=end_column, hint=hint)


def token_problem(token: Token, code: str, message: str,
                  hint: str | None = None) -> Diagnostic:
    """A diagnostic on a token."""
    return Diagnostic(code=code, message=message, line=token.line or 1,
                      column=token.column or 1, end_line=token.end_line or 1,
                      end_column=token.end_column or 1, hint=hint)
