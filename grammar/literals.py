"""Token text → values, shared by both parse paths: a string literal's escapes (decoded, or
what is wrong with them), numbers, durations and date offsets.
"""

from __future__ import annotations

import re

from lark import Token

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.positions import Pos, as_span, line_problem

#: A duration's or an offset's unit, at the end of its token.
UNIT = re.compile(r"(min|mo|h|d|w|y)$")
_ESCAPE = re.compile(
    r"\\(u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u[0-9a-fA-F]{4}|.)",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_string(raw: str, line: int, column: int) -> tuple[str, list[Diagnostic]]:
    """The text of a string literal (`raw`, quotes included, at `line`/`column`), and what
    is wrong with its escapes (a pair of `\\uXXXX` surrogates is one character; half of one
    is an error)."""
    problems: list[Diagnostic] = []

    def decode(match: re.Match[str]) -> str:
        escape = match.group(1)
        if match.group(2):
            high, low = int(match.group(2), 16), int(match.group(3), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if escape in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escape]
        if len(escape) == 5 and not _SURROGATE.match(chr(int(escape[1:], 16))):
            return chr(int(escape[1:], 16))
        at = column + 1 + match.start()
        if len(escape) == 5:
            message, hint = (f"\\{escape} is half of a surrogate pair",
                             "write the character itself, or both halves: \\ud83d\\ude00")
        else:
            message, hint = (f"unknown escape \\{escape} in a string",
                             'use \\" \\\\ \\n \\t or \\uXXXX (four hex digits)')
        problems.append(line_problem("E_BAD_ESCAPE", message, line, at, at + 1 + len(escape),
                                     hint))
        return ""

    value = _ESCAPE.sub(decode, raw[1:-1]) if "\\" in raw else raw[1:-1]
    for bad in _SURROGATE.finditer(raw):
        at = column + bad.start()
        problems.append(line_problem("E_UNEXPECTED_CHAR",
                                     "a lone surrogate is not a character", line, at, at + 1))
    return value, problems


def unquote(token: Token) -> str:
    """The text of a string literal, with `\\" \\\\ \\n \\t \\uXXXX` decoded."""
    value, problems = decode_string(token, token.line or 1, token.column or 1)
    if problems:
        raise SegmentError(problems)
    return value


def number(text: str) -> int | float:
    """The value of a NUMBER token: an int keeps all its digits."""
    if any(ch in text for ch in ".eE"):
        return float(text)
    return int(text)


def _split_unit(text: str) -> tuple[int, str]:
    match = UNIT.search(text)
    assert match is not None, "the grammar only lexes durations with a unit"
    return int(text[: match.start()]), match.group(1)


def duration(text: str, pos: Pos) -> ast.Duration:
    amount, unit = _split_unit(text)
    return ast.Duration(amount=amount, unit=unit, span=as_span(pos))  # type: ignore[arg-type]


def offset(text: str) -> ast.Offset:
    amount, unit = _split_unit(text)
    return ast.Offset(amount=amount, unit=unit)  # type: ignore[arg-type]
