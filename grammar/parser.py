"""Text → AST: `parse`.

Valid text, nearly all that is parsed, takes the fast path (`fastpath`), which runs Lark's
tables in a tight loop and builds the AST as it reduces; at the first sign of anything to
report it gives up, and the slow path (`recovery`, the careful token-by-token run, then
`builders.ToAst`) parses the text again and reports every problem, up to MAX_ERRORS.

The modules: `keywords` (the grammar and its words), `limits` (LANGUAGE.md §6),
`literals` (token text → values), `positions`, `messages` (the wording of errors),
`builders` (→ AST nodes), `recovery` (the slow path) and `fastpath`.
"""

from __future__ import annotations

from segql.errors import SegmentError
from segql.grammar import ast
from segql.grammar.builders import ToAst
from segql.grammar.fastpath import fast_parse
from segql.grammar.limits import check_canonical_size, too_long
from segql.grammar.recovery import Run


def parse(text: str) -> ast.Expr:
    """Parse a segment's text into its AST, or raise SegmentError with every problem found
    (up to MAX_ERRORS), each positioned on the offending text."""
    problem = too_long(text)
    if problem:
        raise SegmentError([problem], text)
    fast = fast_parse(text)
    return _slow(text) if fast is None else fast


def _slow(text: str) -> ast.Expr:
    """`parse` token by token, for the problems (and the AST of what `fast_parse`
    declines)."""
    tree = Run(text).tree()
    result: ast.Expr = ToAst().transform(tree)
    check_canonical_size(result, text)
    return result
