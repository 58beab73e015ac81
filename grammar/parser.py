"""Text → AST. Lark's LALR parser does the parsing, driven token by token from here so
that one run can report several errors (it skips to the next `,` or `)` after each) and
enforce the limits of LANGUAGE.md §6 before any AST is built. Nothing here recurses on
the depth of the input: the limits are counted on tokens, and the recursive Transformer
only ever sees trees within them.

That careful run is the slow path. Valid text, nearly all that is parsed, takes a fast
one (`_fast`) that runs Lark's tables in a tight loop and builds the AST as it reduces;
at the first sign of anything to report it gives up, and the slow path reports it.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from copy import copy
from functools import cache
from importlib import resources
from typing import Any, Literal, NamedTuple

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.grammar import Rule, Terminal
from lark.lexer import ContextualLexer
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_parser_state import ParserState
from lark.tree import Meta

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


#: Where a node or token stands: (line, column, end_line, end_column); None for a node of
#: no text (Lark's empty meta).
_Pos = tuple[int, int, int, int] | None


def _span(pos: _Pos) -> ast.Span | None:
    if pos is None:
        return None
    return ast.Span(line=pos[0], column=pos[1], end_line=pos[2], end_column=pos[3])


def _problem(code: str, message: str, line: int, column: int, end_column: int,
             hint: str | None = None) -> Diagnostic:
    """A one-line diagnostic: every offending text the parser reports is on one line."""
    return Diagnostic(code=code, message=message, line=line, column=column, end_line=line,
                      end_column=end_column, hint=hint)


def _at(token: Token, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, line=token.line or 1,
                      column=token.column or 1, end_line=token.end_line or 1,
                      end_column=token.end_column or 1, hint=hint)


def _decode(raw: str, line: int, column: int) -> tuple[str, list[Diagnostic]]:
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
        problems.append(_problem("E_BAD_ESCAPE", message, line, at, at + 1 + len(escape), hint))
        return ""

    value = _ESCAPE.sub(decode, raw[1:-1]) if "\\" in raw else raw[1:-1]
    for bad in _SURROGATE.finditer(raw):
        at = column + bad.start()
        problems.append(_problem("E_UNEXPECTED_CHAR", "a lone surrogate is not a character",
                                 line, at, at + 1))
    return value, problems


def quotable(text: str) -> bool:
    """Whether a name can be written in backquotes (so, whether it has a text form)."""
    pattern = _lark().get_terminal("QUOTED_NAME").pattern.to_regexp()
    return re.fullmatch(pattern, f"`{text}`") is not None


def unquote(token: Token) -> str:
    """The text of a string literal, with `\\" \\\\ \\n \\t \\uXXXX` decoded."""
    value, problems = _decode(token, token.line or 1, token.column or 1)
    if problems:
        raise SegmentError(problems)
    return value


def _number(text: str) -> int | float:
    if any(ch in text for ch in ".eE"):
        return float(text)
    return int(text)


def _split_unit(text: str) -> tuple[int, str]:
    match = _UNIT.search(text)
    assert match is not None, "the grammar only lexes durations with a unit"
    return int(text[: match.start()]), match.group(1)


def _duration(text: str, pos: _Pos) -> ast.Duration:
    amount, unit = _split_unit(text)
    return ast.Duration(amount=amount, unit=unit, span=_span(pos))  # type: ignore[arg-type]


def _offset(text: str) -> ast.Offset:
    amount, unit = _split_unit(text)
    return ast.Offset(amount=amount, unit=unit)  # type: ignore[arg-type]


def _in_range(text: str) -> bool:
    """Whether a numeric token is a finite double (Python's int() would also refuse more
    than 4,300 digits, and the compiler reads numbers as doubles)."""
    return math.isfinite(float(_UNIT.sub("", text)))


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
            value, problems = _decode(token, token.line or 1, token.column or 1)
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


# --- building the AST -------------------------------------------------------------------
# One builder per rule (by alias, else name), shared by both paths so that they build the
# same AST: `_ToAst` calls them on the slow path's tree, `_fast` on its reductions. A
# builder gets the rule's children as Lark keeps them (tokens already made values: the
# text, a string's decoded text, a duration's node) and the rule's position.

_Builder = Callable[[list[Any], _Pos], Any]


def _first(items: list[Any], pos: _Pos) -> Any:
    return items[0]


def _or_chain(items: list[Any], pos: _Pos) -> Any:
    return items[0] if len(items) == 1 else ast.Group(type="or", items=items, span=_span(pos))


def _and_chain(items: list[Any], pos: _Pos) -> Any:
    return items[0] if len(items) == 1 else ast.Group(type="and", items=items, span=_span(pos))


def _not(items: list[Any], pos: _Pos) -> ast.Expr:
    return ast.Not(expr=items[0], span=_span(pos))


def _group(items: list[Any], pos: _Pos) -> ast.Expr:
    kind, *exprs = items
    group_type: ast.GroupType = "all" if kind.lower() == "all" else "any"
    return ast.Group(type=group_type, items=exprs, span=_span(pos))


def _field_cond(items: list[Any], pos: _Pos) -> ast.Expr:
    name, op, *value = items
    return ast.FieldCondition(field=name, op=SYMBOLS.get(op, op.lower()),
                              value=value[0] if value else None, span=_span(pos))


def _between_cond(items: list[Any], pos: _Pos) -> ast.Expr:
    name, low, high = items
    return ast.FieldCondition(field=name, op="between", value=low, upper=high, span=_span(pos))


def _activity_cond(items: list[Any], pos: _Pos) -> ast.Expr:
    kind: Literal["event", "visit"]
    if isinstance(items[0], str):
        name, *rest = items
        kind = "event"
    else:
        name, rest, kind = None, items, "visit"
    where = rest[0] if len(rest) == 2 else None
    occurrence: dict[str, Any] = rest[-1]
    return ast.Activity(type=kind, name=name, where=where, span=_span(pos), **occurrence)


def _occurrence(items: list[Any], pos: _Pos) -> dict[str, Any]:
    word, *rest = items
    found: dict[str, Any] = {"occurred": word.lower() == "occurred"}
    for item in rest:
        found["count" if isinstance(item, ast.Count) else "window"] = item
    return found


def _count(items: list[Any], pos: _Pos) -> ast.Count:
    op, n = items
    return ast.Count(op=op.lower(), n=int(n), span=_span(pos))


def _window(items: list[Any], pos: _Pos) -> ast.Window:
    word, value = items
    return ast.Window(kind=word.lower(), value=value, span=_span(pos))


def _between_window(items: list[Any], pos: _Pos) -> ast.Window:
    low, high = items
    return ast.Window(kind="between", value=low, upper=high, span=_span(pos))


def _segment_ref(items: list[Any], pos: _Pos) -> ast.Expr:
    return ast.SegmentRef(name=items[0], span=_span(pos))


def _quoted_name(items: list[Any], pos: _Pos) -> str:
    text: str = items[0]
    return text[1:-1]


def _string(items: list[Any], pos: _Pos) -> ast.StringValue:
    return ast.StringValue(value=items[0], span=_span(pos))


def _number_value(items: list[Any], pos: _Pos) -> ast.NumberValue:
    return ast.NumberValue(value=_number(items[0]), span=_span(pos))


def _relative(items: list[Any], pos: _Pos) -> ast.RelativeDate:
    base, *offsets = items
    return ast.RelativeDate(base=base.lower(), offsets=[_offset(o) for o in offsets],
                            span=_span(pos))


def _list(items: list[Any], pos: _Pos) -> ast.ListValue:
    return ast.ListValue(items=items, span=_span(pos))


_BUILDERS: dict[str, _Builder] = {
    "or_chain": _or_chain, "and_chain": _and_chain, "not_": _not, "group": _group,
    "field_cond": _field_cond, "between_cond": _between_cond,
    "activity_cond": _activity_cond, "where": _first, "occurrence": _occurrence,
    "count": _count, "window": _window, "between_window": _between_window,
    "segment_ref": _segment_ref, "plain_name": _first, "quoted_name": _quoted_name,
    "string_name": _first, "string": _string, "number": _number_value, "duration": _first,
    "relative": _relative, "list": _list,
}
#: The builders that return a lone child as it is.
_LONE = frozenset({_first, _or_chain, _and_chain})


class _ToAst(Transformer[Token, Any]):
    """The slow path's tree → AST."""

    def __default__(self, data: str, children: list[Any], meta: Meta) -> Any:
        pos = None if meta.empty else (meta.line, meta.column, meta.end_line, meta.end_column)
        return _BUILDERS[data](children, pos)

    def __default_token__(self, token: Token) -> Any:
        if token.type == "STRING":
            return unquote(token)
        if token.type == "DURATION":
            return _duration(token, (token.line or 1, token.column or 1,
                                     token.end_line or 1, token.end_column or 1))
        return str(token)


# --- the fast path ----------------------------------------------------------------------
# Valid text is parsed by `_fast`: Lark's own LALR table and contextual lexer, driven by a
# tight loop that builds the AST in the reductions (no tokens, trees, or interactive
# parser). It gives up (returns None) at anything the slow path would report, and the slow
# path then reports it as ever. Positions follow Lark's `propagate_positions`: a node
# spans from the start of its first child to the end of its last, where a child that is
# `( expr )` spans its parentheses (Lark's "container"); so every stack entry carries the
# span its parent sees, apart from the span in its node.

#: How a reduction treats the children: keep the only one as it is (`?rule: child`, or a
#: builder that returns a lone child), keep it but span the whole rule (`"(" expr ")"`),
#: gather them for the parent to splice (Lark's `__x_star_n` repetitions), or build.
_PASS, _WRAP, _SPLICE, _BUILD = range(4)
#: Tokens that change the nesting depth.
_DEPTH_TOKENS = frozenset({"LPAR", "_NOT", "RPAR", "_AND", "_OR", "COMMA"})
#: Tokens whose value is checked: strings (escapes, length) and numbers (range).
_CHECKED = _NUMBERS | {"STRING"}


class _Reduction(NamedTuple):
    size: int
    origin: str
    how: int
    #: Per kept child: its index among the rule's children and whether it is spliced;
    #: None when all are kept as they are.
    pick: tuple[tuple[int, bool], ...] | None
    build: _Builder


class _Tables:
    """Lark's parse table and contextual lexer, flattened: per parser state, the `match`
    of its lexer's pattern and, per symbol, the state to go to (≥ 0) or the reduction to
    make (`~index`)."""

    def __init__(self, lark: Lark) -> None:
        lexer = lark.parser.lexer
        assert isinstance(lexer, ContextualLexer)
        table = lark.parser.parser._parse_table
        self.start: int = table.start_states["start"]
        self.end: int = table.end_states["start"]
        self.matchers: dict[int, Callable[[str, int], re.Match[str] | None]] = {}
        for state, basic in lexer.lexers.items():
            patterns = basic.scanner._mres  # type: ignore[attr-defined]
            assert len(patterns) == 1 and not basic.callback, (  # type: ignore[attr-defined]
                "one pattern per state, and no terminal retyped after it matches")
            self.matchers[state] = patterns[0].match
        self.ignore = lexer.root_lexer.ignore_types  # type: ignore[attr-defined]
        self.newlines = lexer.root_lexer.newline_types  # type: ignore[attr-defined]
        rules: dict[Rule, int] = {}
        self.actions: dict[int, dict[str, int]] = {}
        for state, row in table.states.items():
            self.actions[state] = {
                symbol: arg if action is Shift else ~rules.setdefault(arg, len(rules))
                for symbol, (action, arg) in row.items()
            }
        self.reductions = [self._reduction(rule) for rule in rules]
        #: For state `above` on state `below` and a lookahead that makes `above` reduce by
        #: a rule of one child that passes its value on (condition → primary → unary →
        #: ...), the state on `below` after all such reductions in a row, or `end`.
        self.passes: dict[tuple[int, int, str], int] = {}
        for below, row in self.actions.items():
            for above in {arg for arg in row.values() if arg >= 0}:
                for kind, action in self.actions[above].items():
                    if action < 0 and self.reductions[~action].how == _PASS:
                        self.passes[below, above, kind] = self._pass(below, above, kind)

    def _pass(self, below: int, above: int, kind: str) -> int:
        action = self.actions[above].get(kind)
        while (above != self.end and action is not None and action < 0
               and self.reductions[~action].how == _PASS):
            above = self.actions[below][self.reductions[~action].origin]
            action = self.actions[above].get(kind)
        return above

    @staticmethod
    def _reduction(rule: Rule) -> _Reduction:
        """What Lark's tree builder and `_ToAst` do for `rule` (child filter, single-child
        expansion, position propagation, builder), as `_fast` does it."""
        keep = tuple((i, not symbol.is_term and symbol.name.startswith("_"))
                     for i, symbol in enumerate(rule.expansion)
                     if rule.options.keep_all_tokens
                     or not (isinstance(symbol, Terminal) and symbol.filter_out))
        size, origin = len(rule.expansion), str(rule.origin.name)
        pick = None if len(keep) == size and not any(s for _, s in keep) else keep
        if rule.options.expand1 and not rule.alias and len(keep) == 1:
            assert not rule.expansion[keep[0][0]].is_term, "a kept token is a rule's value"
            return _Reduction(size, origin, _PASS if size == 1 else _WRAP, keep, _first)
        if origin.startswith("_"):
            return _Reduction(size, origin, _SPLICE, pick, _first)
        build = _BUILDERS[str(rule.alias or rule.options.template_source or origin)]
        if size == 1 and pick is None and build in _LONE:
            return _Reduction(size, origin, _PASS, pick, build)
        return _Reduction(size, origin, _BUILD, pick, build)


@cache
def _tables() -> _Tables:
    return _Tables(_lark())


def _fast(text: str) -> ast.Expr | None:
    """The AST of a valid `text`, or None where the slow path could have anything to
    report: a character or token that doesn't fit, a limit (§6), a bad escape or number."""
    tables = _tables()
    matchers, actions, reductions = tables.matchers, tables.actions, tables.reductions
    passes, ignore, newlines, end = tables.passes, tables.ignore, tables.newlines, tables.end
    states = [tables.start]
    values: list[Any] = []
    spans: list[tuple[int, int, int, int]] = []  # per value: the span its parent sees
    pos, size, line, line_start = 0, len(text), 1, 0
    tokens = depth = conditions = 0
    nots = [0]
    previous = ""
    while True:
        if pos < size:
            match = matchers[states[-1]](text, pos)
            if match is None:
                return None
            kind: str = match.lastgroup  # type: ignore[assignment]
            word = match.group()
            if kind in ignore:
                if kind in newlines and "\n" in word:
                    line += word.count("\n")
                    line_start = pos + word.rindex("\n") + 1
                pos = match.end()
                continue
            if "\n" in word:
                return None
            column = pos - line_start + 1
            span = (line, column, line, column + len(word))
            pos = match.end()
            if text.startswith(" ", pos):  # only WS matches a space: skip one cheaply
                pos += 1
            tokens += 1
            value: Any = word
            if kind in _CHECKED:
                if kind == "STRING":
                    value, problems = _decode(word, line, column)
                    if problems or len(value) > MAX_STRING:
                        return None
                elif not _in_range(word):
                    return None
                elif kind == "DURATION":
                    value = _duration(word, span)
        else:
            kind = "$END"
        action = actions[states[-1]].get(kind)
        while action is not None and action < 0:
            count, origin, how, pick, build = reductions[~action]
            if how == _PASS:
                state = states[-1] = passes[states[-2], states[-1], kind]
            else:
                first, last = spans[-count], spans[-1]
                node_span = (first[0], first[1], last[2], last[3])
                if how == _WRAP:
                    assert pick is not None
                    node = values[len(values) - count + pick[0][0]]
                else:
                    items = children = values[-count:]
                    if pick is not None:
                        items = []
                        for index, splice in pick:
                            if not splice:
                                items.append(children[index])
                            elif items:
                                items += children[index]
                            else:  # a repetition is left-recursive: extend its list
                                items = children[index]
                    node = items if how == _SPLICE else build(items, node_span)
                del values[-count:], spans[-count:], states[-count:]
                values.append(node)
                spans.append(node_span)
                state = actions[states[-1]][origin]
                states.append(state)
            if state == end:  # only `start` leads there, on $END
                return _finish(values[-1], text, tokens)
            action = actions[state].get(kind)
        if action is None:
            return None
        states.append(action)
        values.append(value)
        spans.append(span)
        if kind in _DEPTH_TOKENS:  # as _Run._track, for the tokens the parser took
            if kind == "LPAR" or kind == "_NOT":
                if kind == "LPAR":
                    nots.append(0)
                else:
                    nots[-1] += 1
                depth += 1
                if depth > MAX_DEPTH:
                    return None
            elif kind == "RPAR":
                depth -= 1 + nots.pop()
            else:
                depth -= nots[-1]
                nots[-1] = 0
        if kind in _CONDITION_TOKENS or (kind == "_BETWEEN" and previous in _NAMES):
            conditions += 1
            if conditions > MAX_CONDITIONS:
                return None
        previous = kind


def _finish(node: ast.Expr, text: str, tokens: int) -> ast.Expr:
    """`node`, once its canonical text is known to fit (`_check_canonical_size`), which a
    text of few tokens proves without formatting it.

    `fmt` writes each token in at most 6 bytes per character (a character as `\\uXXXX`),
    or 24 for a number (`1E15` is `1000000000000000.0`), with at most 13 characters of
    separators (` not_occurred`), and breaks at most one line per token (a bracket, `,`,
    `and`, `or`), indented 2 columns per level: at most 3 levels (a bracket, an `or`
    chain, an `and` chain in it) per `(` open in the text, which are ≤ MAX_DEPTH, plus a
    list's `[` and the chains outside all brackets. So the canonical text has at most
    6·len(text) + tokens·(24 + 13 + 1 + 2·(3·MAX_DEPTH + 6)) bytes; the bound used is
    looser still.
    """
    if 6 * len(text) + tokens * (64 + 8 * MAX_DEPTH) > MAX_BYTES:
        _check_canonical_size(node, text)
    return node


def parse(text: str) -> ast.Expr:
    """Parse a segment's text into its AST, or raise SegmentError with every problem found
    (up to MAX_ERRORS), each positioned on the offending text."""
    too_long = _too_long(text)
    if too_long:
        raise SegmentError([too_long], text)
    fast = _fast(text)
    return _slow(text) if fast is None else fast


def _slow(text: str) -> ast.Expr:
    """`parse` token by token, for the problems (and the AST of what `_fast` declines)."""
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
