"""AST → canonical text. One spelling for every construct, and a layout that depends
on the AST only, so that formatting is stable (`fmt(parse(fmt(x))) == fmt(x)`) and
faithful (`parse(fmt(a))` is `a` but for positions). docs/language.md lists the rules.

The layout is Wadler-style: a bracketed construct (group, parentheses, `where (...)`,
list) or an infix chain stays on one line when it fits in WIDTH columns up to the next
line break, and otherwise puts one item per line, indented by two spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from segql.grammar import ast
from segql.grammar.keywords import KEYWORDS, SYMBOLS, WORDS

WIDTH = 88
INDENT = 2

#: Each operator of the AST (`between` has a form of its own) and its canonical spelling,
#: `ast.spelling`: the order comparisons as symbols, every other operator as its word.
OPERATORS: dict[str, str] = {
    op: ast.spelling(op)
    for op in (*WORDS["OPERATOR"], *SYMBOLS.values(), *ast.PHRASE_OPERATORS)
}

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Characters a string literal escapes: quotes, backslashes, and everything invisible
#: or that could break a line (control characters, surrogates, U+2028/U+2029).
_ESCAPES = str.maketrans({
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t",
    **{chr(c): f"\\u{c:04x}" for c in (*range(0x20), *range(0x7F, 0xA0),
                                       *range(0xD800, 0xE000), 0x2028, 0x2029)
       if chr(c) not in "\n\t"},
})


class _Break(Enum):
    """A place where a broken construct starts a new line: flat, a space or nothing."""

    LINE = " "
    SOFT = ""


@dataclass(frozen=True)
class _Group:
    """Laid out flat if it fits, else with every break in it (not in nested groups)
    starting a new line."""

    parts: tuple[Doc, ...]


@dataclass(frozen=True)
class _Nest:
    """Lines started inside are indented one more level."""

    parts: tuple[Doc, ...]


Doc = str | _Break | _Group | _Nest | tuple["Doc", ...]


def fmt(expr: ast.Expr) -> str:
    """The canonical text of a segment."""
    return _render(_expr(expr))


def _plain(text: str) -> bool:
    """Whether a name can stand bare: a plain name that is no keyword in any case (a
    keyword is only a name where no keyword fits, and that is not for a reader to work
    out)."""
    return bool(_PLAIN_NAME.fullmatch(text)) and text.lower() not in KEYWORDS


def _name(text: str) -> str:
    """A field or property name: bare when plain, else in backquotes."""
    return text if _plain(text) else f"`{text}`"


def _string(text: str) -> str:
    """A string literal."""
    return '"' + text.translate(_ESCAPES) + '"'


# --- documents --------------------------------------------------------------------------


def _bracketed(opening: str, items: list[Doc], closing: str) -> Doc:
    """`all(a, b)`, `(a)`, `[1, 2]`: broken, one item per line between the brackets."""
    if not items:
        return opening + closing
    inner: list[Doc] = [_Break.SOFT, items[0]]
    for item in items[1:]:
        inner += [",", _Break.LINE, item]
    return _Group((opening, _Nest(tuple(inner)), _Break.SOFT, closing))


def _expr(node: ast.Expr) -> Doc:
    match node:
        case ast.Group():
            if node.type in ("all", "any"):
                return _bracketed(node.type + "(", [_expr(item) for item in node.items], ")")
            first, *rest = [_operand(item, node.type) for item in node.items] or [""]
            more: list[Doc] = []
            for item in rest:
                more += [_Break.LINE, f"{node.type} ", item]
            return _Group((first, _Nest(tuple(more))))
        case ast.Not():
            return ("not ", _operand(node.expr, "not"))
        case ast.FieldCondition():
            return _field(node)
        case ast.Activity():
            return _activity(node)
        case ast.SegmentRef():
            return "in_segment " + _string(node.name)
        case _:
            assert_never(node)


def _operand(node: ast.Expr, context: str) -> Doc:
    """An operand of `and`, `or` or `not`: an infix chain that would otherwise merge
    into the context, or bind differently, is parenthesised."""
    doc = _expr(node)
    if isinstance(node, ast.Group) and (
        (node.type in ("and", "or") and context in ("and", "not")) or node.type == context == "or"
    ):
        return _bracketed("(", [doc], ")")
    return doc


def _field(node: ast.FieldCondition) -> Doc:
    parts: list[Doc] = [_name(node.field), " "]
    if node.op == "between" and node.value is not None and node.upper is not None:
        return (*parts, "between ", _value(node.value), " and ", _value(node.upper))
    parts.append(ast.spelling(node.op))
    if node.value is not None:
        parts += [" ", _value(node.value)]
    return tuple(parts)


def _value(node: ast.Value) -> Doc:
    match node:
        case ast.StringValue():
            return _string(node.value)
        case ast.NumberValue():
            return repr(node.value)
        case ast.ListValue():
            return _bracketed("[", [_value(item) for item in node.items], "]")
        case ast.RelativeDate():
            return node.base + "".join(
                f"{'+' if o.amount >= 0 else '-'}{abs(o.amount)}{o.unit}" for o in node.offsets
            )
        case ast.Duration():
            return f"{node.amount}{node.unit}"
        case _:
            assert_never(node)


def _activity(node: ast.Activity) -> Doc:
    parts: list[Doc] = [node.type]
    if node.name is not None:
        parts.append(" " + (node.name if _plain(node.name) else _string(node.name)))
    if node.where is not None:
        parts += [" where ", _bracketed("(", [_expr(node.where)], ")")]
    parts.append(" occurred" if node.occurred else " not_occurred")
    if node.count is not None:
        parts.append(f" {node.count.op} {node.count.n}")
    window = node.window
    if window is not None:
        parts += [f" {window.kind} ", _value(window.value)]
        if window.upper is not None:
            parts += [" and ", _value(window.upper)]
    return tuple(parts)


# --- layout -----------------------------------------------------------------------------

_Command = tuple[int, bool, Doc]  # indentation, flat, document


def _render(doc: Doc) -> str:
    """Lay a document out; iterative, so only building the document recurses."""
    out: list[str] = []
    column = 0
    stack: list[_Command] = [(0, False, doc)]
    while stack:
        indent, flat, part = stack.pop()
        if isinstance(part, str):
            out.append(part)
            column += len(part)
        elif isinstance(part, tuple):
            stack.extend((indent, flat, p) for p in reversed(part))
        elif isinstance(part, _Nest):
            stack.append((indent + INDENT, flat, part.parts))
        elif isinstance(part, _Group):
            fits = flat or _fits(WIDTH - column, (indent, True, part.parts), stack)
            stack.append((indent, fits, part.parts))
        elif flat:
            out.append(part.value)
            column += len(part.value)
        else:
            out.append("\n" + " " * indent)
            column = indent
    return "".join(out)


def _fits(width: int, group: _Command, rest: list[_Command]) -> bool:
    """Whether the text up to the next line break fits in `width`: the group being decided
    laid out flat, then what follows it (`rest`, a stack) as it will be laid out."""
    pending = [group]
    following = reversed(rest)
    while width >= 0:
        if not pending:
            after = next(following, None)
            if after is None:
                return True
            pending.append(after)
        indent, flat, part = pending.pop()
        if isinstance(part, str):
            width -= len(part)
        elif isinstance(part, tuple):
            pending.extend((indent, flat, p) for p in reversed(part))
        elif isinstance(part, _Nest | _Group):
            pending.append((indent, flat, part.parts))
        elif flat:
            width -= len(part.value)
        else:
            return True
    return False


def name_text(text: str) -> str:
    """A field, property or event name as the text form writes it (in backquotes when it
    must be), for messages."""
    return _name(text)


def value_text(node: ast.Value) -> str:
    """A value as the text form writes it (a string in quotes, `now-30d`, `[1, 2]`)."""
    return _render(_value(node))
