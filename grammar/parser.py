"""Text → AST. Lark's LALR parser does the parsing, driven token by token from here so
that one run can report several errors (it skips to the next `,` or `)` after each) and
enforce the limits of LANGUAGE.md §6 before any AST is built. Nothing here recurses on
the depth of the input: the limits are counted on tokens, and the recursive Transformer
only ever sees trees within them.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from copy import copy
from functools import cache
from importlib import resources
from typing import Any, Literal

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.parsers.lalr_parser_state import ParserState

from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast

MAX_BYTES = 65_536
MAX_DEPTH = 32
MAX_CONDITIONS = 1_000
MAX_STRING = 4_096
#: How many errors one parse reports at most.
MAX_ERRORS = 10

#: The words of each keyword terminal (lowercase; keywords are case-insensitive).
WORDS: dict[str, tuple[str, ...]] = {
    "GROUP_KIND": ("all", "any"),
    "_OR": ("or",),
    "_AND": ("and",),
    "_NOT": ("not",),
    "_EVENT": ("event",),
    "_VISIT": ("visit",),
    "_WHERE": ("where",),
    "_BETWEEN": ("between",),
    "_TIMES": ("times",),
    "_IN_SEGMENT": ("in_segment",),
    "OCCURRED": ("occurred",),
    "NOT_OCCURRED": ("not_occurred",),
    "COUNT_OP": ("at_least", "at_most", "exactly"),
    "WITHIN": ("within",),
    "WINDOW_AT": ("since", "before"),
    "DATE_BASE": ("now", "today"),
    "OPERATOR": (
        "equals", "not_equals", "starts_with", "ends_with", "contains", "not_contains",
        "in", "not_in", "has_value", "has_no_value", "is_true", "is_false", "on", "not_on",
        "before", "after", "within",
    ),
}
KEYWORDS = frozenset(word for words in WORDS.values() for word in words)

#: Each terminal in words, for "expected ..." hints (listed in this order).
EXPECTED: dict[str, str] = {
    "NAME": "a name",
    "QUOTED_NAME": "a `backquoted name`",
    "GROUP_KIND": "`all(` or `any(`",
    "LPAR": "`(`",
    "_NOT": "`not`",
    "_EVENT": "`event`",
    "_VISIT": "`visit`",
    "_IN_SEGMENT": '`in_segment "Name"`',
    "OPERATOR": "an operator such as equals, starts_with, >",
    "_BETWEEN": "`between`",
    "STRING": "a string in double quotes",
    "NUMBER": "a number",
    "INT": "a whole number",
    "LSQB": "a list `[...]`",
    "DATE_BASE": "`now` or `today`",
    "OFFSET": "an offset such as -30d",
    "DURATION": "a duration such as 30d",
    "_WHERE": "`where (...)`",
    "OCCURRED": "`occurred`",
    "NOT_OCCURRED": "`not_occurred`",
    "COUNT_OP": "a count: at_least, at_most or exactly",
    "_TIMES": "`times`",
    "WITHIN": "`within`",
    "WINDOW_AT": "`since` or `before`",
    "_AND": "`and`",
    "_OR": "`or`",
    "COMMA": "`,`",
    "RSQB": "`]`",
    "RPAR": "`)`",
    "$END": "the end of the segment",
}
#: Where a condition may start, all of these are accepted: one phrase says it.
_CONDITION_START = frozenset(
    {"NAME", "QUOTED_NAME", "GROUP_KIND", "LPAR", "_NOT", "_EVENT", "_VISIT", "_IN_SEGMENT"}
)

#: The comparison symbols and the operator each one is in the AST.
SYMBOLS = {"=": "equals", "!=": "not_equals", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_UNIT = re.compile(r"(min|mo|h|d|w|y)$")
_ESCAPE = re.compile(
    r"\\(u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u[0-9a-fA-F]{4}|.)",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Brackets and separators, for skipping to the next `,` or `)` after an error.
_OPENERS = frozenset({"LPAR", "LSQB"})
_CLOSERS = frozenset({"COMMA", "RPAR", "RSQB"})
#: Tokens that stand exactly once in each condition (`between` only after a name).
_CONDITION_TOKENS = frozenset({"OPERATOR", "OCCURRED", "NOT_OCCURRED", "_IN_SEGMENT"})
_NAMES = frozenset({"NAME", "QUOTED_NAME"})
_NUMBERS = frozenset({"NUMBER", "INT", "DURATION", "OFFSET"})
#: What recovery may insert before a `,` or `)` to finish the construct it interrupts.
_PLACEHOLDERS = {
    "NAME": "x", "OPERATOR": "has_value", "OCCURRED": "occurred", "STRING": '""',
    "NUMBER": "0", "INT": "0", "DURATION": "1d", "DATE_BASE": "now", "_AND": "and",
    "RPAR": ")", "RSQB": "]",
}
_MAX_INSERTED = 3
#: How an unexpected token is named in a message.
_KINDS = {"NAME": "name ", "STRING": "string ", "NUMBER": "number ", "INT": "number ",
          "DURATION": "duration ", "OFFSET": "offset ", "OPERATOR": "operator "}
_KEYWORD_NAMES = frozenset(WORDS) - {"OPERATOR"}
#: Characters after a bad one that are skipped with it: up to a space, bracket or quote.
_GARBAGE = re.compile(r"[^\s,()\[\]\"`#]*")
_CHARACTER_HINTS = {
    "'": 'strings go in double quotes: "..."',
    "&": "write `and`",
    "|": "write `or`",
    "!": "write `not`, or `!=` to compare",
}


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


def _problem(code: str, message: str, line: int, column: int, end_column: int,
             hint: str | None = None) -> Diagnostic:
    """A one-line diagnostic: every offending text the parser reports is on one line."""
    return Diagnostic(code=code, message=message, line=line, column=column, end_line=line,
                      end_column=end_column, hint=hint)


def _at(token: Token, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, line=token.line or 1,
                      column=token.column or 1, end_line=token.end_line or 1,
                      end_column=token.end_column or 1, hint=hint)


def _decode(token: Token) -> tuple[str, list[Diagnostic]]:
    """The text of a string literal, and what is wrong with its escapes (a pair of
    `\\uXXXX` surrogates is one character; half of one is an error)."""
    problems: list[Diagnostic] = []
    line, column = token.line or 1, token.column or 1

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
        problems.append(_problem("E_BAD_ESCAPE", message, line, at, at + 1 + len(escape), hint))
        return ""

    value = _ESCAPE.sub(decode, token[1:-1])
    for raw in _SURROGATE.finditer(token):
        at = column + raw.start()
        problems.append(_problem("E_UNEXPECTED_CHAR", "a lone surrogate is not a character",
                                 line, at, at + 1))
    return value, problems


def quotable(text: str) -> bool:
    """Whether a name can be written in backquotes (so, whether it has a text form)."""
    pattern = _lark().get_terminal("QUOTED_NAME").pattern.to_regexp()
    return re.fullmatch(pattern, f"`{text}`") is not None


def unquote(token: Token) -> str:
    """The text of a string literal, with `\\" \\\\ \\n \\t \\uXXXX` decoded."""
    value, problems = _decode(token)
    if problems:
        raise SegmentError(problems)
    return value


def _number(token: Token) -> int | float:
    text = str(token)
    if any(ch in text for ch in ".eE"):
        return float(text)
    return int(text)


def _split_unit(text: str) -> tuple[int, str]:
    match = _UNIT.search(text)
    assert match is not None, "the grammar only lexes durations with a unit"
    return int(text[: match.start()]), match.group(1)


def _duration(token: Token) -> ast.Duration:
    amount, unit = _split_unit(str(token))
    return ast.Duration(amount=amount, unit=unit, span=_span(token))  # type: ignore[arg-type]


def _offset(token: Token) -> ast.Offset:
    amount, unit = _split_unit(str(token))
    return ast.Offset(amount=amount, unit=unit)  # type: ignore[arg-type]


def _in_range(token: Token) -> bool:
    """Whether a numeric token is a finite double (Python's int() would also refuse more
    than 4,300 digits, and the compiler reads numbers as doubles)."""
    return math.isfinite(float(_UNIT.sub("", str(token))))


def _shown(text: str, limit: int = 40) -> str:
    """Offending text, short and with invisible characters as \\uXXXX."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in short)


def _describe(token: Token) -> str:
    kind = _KINDS.get(token.type, "keyword " if token.type in _KEYWORD_NAMES else "")
    return f"{kind}`{_shown(str(token))}`"


def _expected(accepted: list[str]) -> str | None:
    """The "expected ..." hint, in words, for the terminals the parser would take."""
    phrases = [EXPECTED[t] for t in accepted if t not in _CONDITION_START]
    if set(accepted) >= _CONDITION_START:
        phrases.insert(0, "a condition")
    else:
        phrases[:0] = [EXPECTED[t] for t in accepted if t in _CONDITION_START]
    if not phrases:
        return None
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return "expected " + listed


class _Stop(Exception):
    """A limit is exceeded, or enough errors are found: the parse ends here."""


class _Run:
    """One parse of one text: feeds Lark's LALR parser token by token, recovers from
    errors, tracks nesting depth and the number of conditions."""

    def __init__(self, text: str) -> None:
        interactive = _lark().parse_interactive(text)
        self.text = text
        self.state: ParserState[Any] = interactive.parser_state
        self.lexer = interactive.lexer_thread
        #: The parse configuration without tree building, for trying tokens on copies.
        self.quiet = copy(self.state.parse_conf)
        self.quiet.callbacks = {}
        self.problems: list[Diagnostic] = []
        #: While recovering from an error: how many brackets deep in the skipped text.
        self.skipping: int | None = None
        #: Closers `_repair` can't make fit in the current parser state.
        self.unrepairable: set[str] = set()
        #: Per open bracket, how many `not`s are open directly inside it.
        self.nots: list[int] = [0]
        self.depth = 0
        self.conditions = 0
        self.previous: Token | None = None  # the last token the parser took
        self.last: Token | None = None  # the last token read

    def tree(self) -> Tree[Token]:
        try:
            for token in self._tokens():
                self.last = token
                if self.skipping is None:
                    self._take(token)
                else:
                    self._skip(token)
            result = self._end()
        except _Stop:
            result = None
        if self.problems or result is None:
            raise SegmentError(self.problems, self.text)
        return result

    # --- reading ------------------------------------------------------------------------

    def _tokens(self) -> Iterator[Token]:
        """Every token of the text in order, including those this parser state can't
        take; characters that start no token are reported and stepped over."""
        while True:
            try:
                yield from self.lexer.lex(self.state)  # type: ignore[no-untyped-call]
                return
            except UnexpectedToken as error:  # a token of another context
                yield error.token
            except UnexpectedCharacters as error:
                self._bad_character(error)

    def _bad_character(self, error: UnexpectedCharacters) -> None:
        position, line, column = error.pos_in_stream or 0, error.line or 1, error.column or 1
        char = self.text[position]
        rest = self.text[position:].split("\n", 1)[0]
        length, hint = 1, _CHARACTER_HINTS.get(char)
        message = (f"unexpected character `{char}`" if char.isprintable() else
                   f"unexpected character U+{ord(char):04X} {unicodedata.name(char, '')}"
                   .rstrip())
        if char == '"':
            length, message = len(rest), "this string is not closed on its line"
            hint = 'end it with "; inside it, write \\" for a quote and \\n for a new line'
        elif char == "`":
            closing = rest.find("`", 1)
            length = len(rest) if closing < 0 else closing + 1
            message = ("this backquoted name is not closed on its line" if closing < 0 else
                       "a backquoted name is empty" if closing == 1 else
                       "a backquoted name holds a control character")
            hint = "a name in backquotes holds at least one character, none of them `"
        elif not char.isprintable():
            hint = "remove it; inside a string, write it as \\uXXXX"
        if self.skipping is None:
            self._report(_problem("E_UNEXPECTED_CHAR", message, line, column, column + length,
                                  hint or self._expected()))
            self.skipping = 0
        if length == 1:  # skipping follows: step over the whole word of garbage at once
            garbage = _GARBAGE.match(self.text, position + 1)
            assert garbage is not None, "the pattern also matches nothing"
            length = garbage.end() - position
        assert self.lexer.state is not None, "the lexer has the text"
        self.lexer.state.line_ctr.feed(self.text[position:position + length])

    # --- parsing ------------------------------------------------------------------------

    def _take(self, token: Token) -> None:
        try:
            self._feed(token)
        except UnexpectedToken:
            self._report(_at(token, "E_UNEXPECTED_TOKEN", f"unexpected {_describe(token)}",
                             self._hint(token)))
            if token.type in _CLOSERS and self._repair(token):
                return
            self.skipping = 1 if token.type in _OPENERS else 0

    def _skip(self, token: Token) -> None:
        """After an error, drop tokens up to a `,` or `)` at the level of the error, and
        resume there if the parser can be made to take it."""
        assert self.skipping is not None
        if token.type in _OPENERS:
            self.skipping += 1
        elif token.type in _CLOSERS and self.skipping > 0:
            if token.type != "COMMA":
                self.skipping -= 1
        elif token.type in _CLOSERS and token.type not in self.unrepairable:
            if self._repair(token):
                self.skipping = None
            else:
                self.unrepairable.add(token.type)

    def _end(self) -> Tree[Token] | None:
        end = (Token.new_borrow_pos("$END", "", self.last) if self.last else
               Token("$END", "", 0, 1, 1, 1, 1, 0))
        end.line, end.column = end.end_line, end.end_column
        try:
            result: Tree[Token] = self.state.feed_token(end, True)
        except UnexpectedToken:
            if self.skipping is None:
                self._report(_problem("E_UNEXPECTED_END", "the segment ends too early",
                                      end.line or 1, end.column or 1, (end.column or 1) + 1,
                                      self._expected()))
            return None
        return result

    def _feed(self, token: Token) -> None:
        self.state.feed_token(token)
        self.unrepairable.clear()
        self._track(token)
        self.previous = token

    def _repair(self, token: Token) -> bool:
        """Insert the fewest placeholders (at most a few) after which the parser takes
        `token`, a `,` or `)`: the construct the error interrupted is then finished."""
        queue: deque[tuple[ParserState[Any], tuple[str, ...]]] = deque([(self.state, ())])
        while queue:
            state, inserted = queue.popleft()
            if self._fits(state, token.type) is not None:
                for kind in inserted:
                    self._feed(Token.new_borrow_pos(kind, _PLACEHOLDERS[kind], token))
                self._feed(token)
                return True
            if len(inserted) < _MAX_INSERTED:
                choices = self._choices(state)
                for kind in (k for k in _PLACEHOLDERS if k in choices):
                    after = self._fits(state, kind)
                    if after is not None:
                        queue.append((after, (*inserted, kind)))
        return False

    def _fits(self, state: ParserState[Any], kind: str) -> ParserState[Any] | None:
        """A copy of `state` after a token of that kind, or None if it does not fit."""
        probe = state.copy(deepcopy_values=False)
        probe.parse_conf = self.quiet
        try:
            probe.feed_token(Token(kind, _PLACEHOLDERS.get(kind, "")), kind == "$END")
        except UnexpectedToken:
            return None
        return probe

    def _choices(self, state: ParserState[Any]) -> set[str]:
        return {t for t in state.parse_conf.states[state.position] if t.isupper()}

    def _accepted(self) -> list[str]:
        """The terminals the parser takes here, in the order of EXPECTED."""
        choices = self._choices(self.state)
        return [t for t in EXPECTED if t in choices and self._fits(self.state, t) is not None]

    def _expected(self) -> str | None:
        return _expected(self._accepted())

    def _hint(self, token: Token) -> str | None:
        accepted = self._accepted()
        expected = _expected(accepted)
        words = [w for t in accepted for w in WORDS.get(t, ())]
        close = difflib.get_close_matches(str(token).lower(), words, n=1, cutoff=0.75)
        if token.type == "NAME" and close:
            return f"did you mean `{close[0]}`? ({expected})"
        previous = self.previous
        if previous is not None and previous.type == "NAME" and previous.lower() in KEYWORDS:
            return f"`{previous}` was read as a name here; {expected}"
        if token.type == "OPERATOR" and previous is not None and previous.type in _KEYWORD_NAMES:
            return (f"`{previous}` is a keyword: a field of that name is written in "
                    f"backquotes (`{previous}`); {expected}")
        return expected

    # --- limits -------------------------------------------------------------------------

    def _track(self, token: Token) -> None:
        """Depth, conditions and literals of each token the parser takes."""
        kind = token.type
        if kind == "LPAR":
            self.nots.append(0)
            self._deeper(token)
        elif kind == "_NOT":
            self.nots[-1] += 1
            self._deeper(token)
        elif kind == "RPAR":
            self.depth -= 1 + self.nots.pop()
        elif kind in ("_AND", "_OR", "COMMA"):  # the `not`s before them are complete
            self.depth -= self.nots[-1]
            self.nots[-1] = 0
        if kind in _CONDITION_TOKENS or (
            kind == "_BETWEEN" and self.previous is not None and self.previous.type in _NAMES
        ):
            self.conditions += 1
            if self.conditions > MAX_CONDITIONS:
                self._limit(_at(token, "E_TOO_MANY_CONDITIONS",
                                f"more than {MAX_CONDITIONS:,} conditions",
                                "split the segment into saved segments and combine them "
                                "with in_segment"))
        if kind == "STRING":
            value, problems = _decode(token)
            for problem in problems:
                self._report(problem)
            if len(value) > MAX_STRING:
                self._report(_at(token, "E_STRING_TOO_LONG",
                                 f"a string longer than {MAX_STRING:,} characters "
                                 f"({len(value):,})"))
        elif kind in _NUMBERS and not _in_range(token):
            self._report(_at(token, "E_NUMBER", "number out of range",
                             "numbers are 64-bit doubles: at most about 1.8e308"))

    def _deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            start = self.previous if (
                token.type == "LPAR" and self.previous is not None
                and self.previous.type in ("GROUP_KIND", "_WHERE")
            ) else token
            self._limit(Diagnostic(
                code="E_TOO_DEEP", message=f"nesting deeper than {MAX_DEPTH} levels",
                line=start.line or 1, column=start.column or 1,
                end_line=token.end_line or 1, end_column=token.end_column or 1,
                hint="groups, parentheses, `not` and `where` nest; flatten the segment or "
                     "move a part into a saved segment",
            ))

    def _limit(self, problem: Diagnostic) -> None:
        self.problems.append(problem)
        raise _Stop

    def _report(self, problem: Diagnostic) -> None:
        self.problems.append(problem)
        if len(self.problems) >= MAX_ERRORS:
            raise _Stop


def _too_long(text: str) -> Diagnostic | None:
    """E_TOO_LONG at the character that crosses the limit, if one does."""
    if len(text) * 4 <= MAX_BYTES:
        return None
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_BYTES:
        return None
    cut = MAX_BYTES
    while encoded[cut] & 0xC0 == 0x80:  # back to the first byte of the crossing character
        cut -= 1
    index = len(encoded[:cut].decode("utf-8", "surrogatepass"))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return _problem("E_TOO_LONG", f"the segment is longer than {MAX_BYTES:,} bytes "
                    f"({len(encoded):,})", line, column, column + 1,
                    "split it into saved segments and combine them with in_segment")


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
        op_word = SYMBOLS.get(str(op), str(op).lower())
        return ast.FieldCondition(
            field=name, op=op_word, value=value[0] if value else None, span=_span(meta)
        )

    def between_cond(self, meta: Any, items: list[Any]) -> ast.Expr:
        name, low, high = items
        return ast.FieldCondition(field=name, op="between", value=low, upper=high,
                                  span=_span(meta))

    def activity_cond(self, meta: Any, items: list[Any]) -> ast.Expr:
        kind: Literal["event", "visit"]
        if isinstance(items[0], str):
            name, *rest = items
            kind = "event"
        else:
            name, rest, kind = None, items, "visit"
        where = rest[0] if len(rest) == 2 else None
        occurrence: dict[str, Any] = rest[-1]
        return ast.Activity(type=kind, name=name, where=where, span=_span(meta), **occurrence)

    def where(self, meta: Any, items: list[ast.Expr]) -> ast.Expr:
        return items[0]

    def occurrence(self, meta: Any, items: list[Any]) -> dict[str, Any]:
        word, *rest = items
        found: dict[str, Any] = {"occurred": str(word).lower() == "occurred"}
        for item in rest:
            found["count" if isinstance(item, ast.Count) else "window"] = item
        return found

    def count(self, meta: Any, items: list[Token]) -> ast.Count:
        op, n = items
        return ast.Count(op=str(op).lower(), n=int(n), span=_span(meta))  # type: ignore[arg-type]

    def window(self, meta: Any, items: list[Any]) -> ast.Window:
        word, value = items
        if isinstance(value, Token):  # the DURATION of `within`
            value = _duration(value)
        return ast.Window(kind=str(word).lower(), value=value, span=_span(meta))  # type: ignore[arg-type]

    def between_window(self, meta: Any, items: list[Any]) -> ast.Window:
        low, high = items
        return ast.Window(kind="between", value=low, upper=high, span=_span(meta))

    def segment_ref(self, meta: Any, items: list[Token]) -> ast.Expr:
        return ast.SegmentRef(name=unquote(items[0]), span=_span(meta))

    def plain_name(self, meta: Any, items: list[Token]) -> str:
        return str(items[0])

    def quoted_name(self, meta: Any, items: list[Token]) -> str:
        return str(items[0])[1:-1]

    def string_name(self, meta: Any, items: list[Token]) -> str:
        return unquote(items[0])

    def string(self, meta: Any, items: list[Token]) -> ast.StringValue:
        return ast.StringValue(value=unquote(items[0]), span=_span(meta))

    def number(self, meta: Any, items: list[Token]) -> ast.NumberValue:
        return ast.NumberValue(value=_number(items[0]), span=_span(meta))

    def duration(self, meta: Any, items: list[Token]) -> ast.Duration:
        return _duration(items[0])

    def relative(self, meta: Any, items: list[Token]) -> ast.RelativeDate:
        base, *offsets = items
        return ast.RelativeDate(
            base=str(base).lower(),  # type: ignore[arg-type]
            offsets=[_offset(o) for o in offsets],
            span=_span(meta),
        )

    # last: a method called `list` hides the type in the annotations after it
    def list(self, meta: Any, items: list[Any]) -> ast.ListValue:
        return ast.ListValue(items=items, span=_span(meta))


def parse(text: str) -> ast.Expr:
    """Parse a segment's text into its AST, or raise SegmentError with every problem found
    (up to MAX_ERRORS), each positioned on the offending text."""
    too_long = _too_long(text)
    if too_long:
        raise SegmentError([too_long], text)
    tree = _Run(text).tree()
    result: ast.Expr = _ToAst().transform(tree)
    _check_canonical_size(result, text)
    return result


def _check_canonical_size(node: ast.Expr, text: str) -> None:
    """The canonical text must be within the limit too, or formatting a segment could
    make it unparsable: escapes and layout can make it longer than what was written."""
    from segql.grammar.format import fmt  # format builds on this module

    size = len(fmt(node).encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        first = text.split("\n", 1)[0]
        raise SegmentError([_problem(
            "E_TOO_LONG", f"the segment is longer than {MAX_BYTES:,} bytes in canonical "
            f"form ({size:,})", 1, 1, len(first) + 1,
            "split it into saved segments and combine them with in_segment")], text)
