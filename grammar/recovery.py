"""The careful parse, the slow path: Lark's LALR parser driven token by token, so that one
run can report several errors (it skips to the next `,` or `)` after each, inserting a few
placeholders where that lets the parser go on) and enforce the limits of LANGUAGE.md §6
before any tree is built. Nothing here recurses on the depth of the input: the limits are
counted on tokens, and the recursive Transformer only ever sees trees within them.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from copy import copy
from typing import Any

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.parsers.lalr_parser_state import ParserState

from segql.errors import Diagnostic, SegmentError
from segql.grammar.keywords import KEYWORDS, WORDS, lark_parser
from segql.grammar.limits import (
    CONDITION_TOKENS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_ERRORS,
    MAX_STRING,
    NAME_TOKENS,
    NUMBER_TOKENS,
    in_range,
)
from segql.grammar.literals import decode_string
from segql.grammar.messages import (
    CHARACTER_HINTS,
    EXPECTED,
    describe,
    expected_hint,
)
from segql.grammar.mistakes import number_word, unexpected
from segql.grammar.positions import line_problem, token_problem

#: Brackets and separators, for skipping to the next `,` or `)` after an error.
_OPENERS = frozenset({"LPAR", "LSQB"})
_CLOSERS = frozenset({"COMMA", "RPAR", "RSQB"})
#: What recovery may insert before a `,` or `)` to finish the construct it interrupts.
_PLACEHOLDERS = {
    "NAME": "x", "OPERATOR": "has_value", "OCCURRED": "occurred", "STRING": '""',
    "NUMBER": "0", "INT": "0", "DURATION": "1d", "DATE_BASE": "now", "_AND": "and",
    "RPAR": ")", "RSQB": "]",
}
_MAX_INSERTED = 3
#: Keywords that start a condition: one before an operator was meant as a field's name.
_STARTERS = frozenset({"_EVENT", "_VISIT", "_NOT", "_IN_SEGMENT"})
#: Characters after a bad one that are skipped with it: up to a space, bracket or quote.
_GARBAGE = re.compile(r"[^\s,()\[\]\"`#]*")


class _Stop(Exception):
    """A limit is exceeded, or enough errors are found: the parse ends here."""


class Run:
    """One parse of one text: feeds Lark's LALR parser token by token, recovers from
    errors, tracks nesting depth and the number of conditions."""

    def __init__(self, text: str) -> None:
        interactive = lark_parser().parse_interactive(text)
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
        self.field = "FIELD"  # the last name the parser took, for hints
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
        length, hint = 1, CHARACTER_HINTS.get(char)
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
        elif (glued := number_word(rest)) is not None:  # `30D`, `30days`, `3x`
            length, message, hint = glued
        if self.skipping is None:
            self._report(line_problem("E_UNEXPECTED_CHAR", message, line, column,
                                      column + length, hint or self._expected()))
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
            message, hint = self._wording(token)
            self._report(token_problem(token, "E_UNEXPECTED_TOKEN", message, hint))
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
                self._report(line_problem("E_UNEXPECTED_END", "the segment ends too early",
                                          end.line or 1, end.column or 1,
                                          (end.column or 1) + 1, self._expected()))
            return None
        return result

    def _feed(self, token: Token) -> None:
        self.state.feed_token(token)
        self.unrepairable.clear()
        self._track(token)
        self.previous = token
        if token.type in NAME_TOKENS:
            self.field = str(token)

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
        return expected_hint(self._accepted())

    def _wording(self, token: Token) -> tuple[str, str | None]:
        """The message and hint for a token the parser can't take."""
        accepted = self._accepted()
        expected = expected_hint(accepted)
        message = f"unexpected {describe(token)}"
        words = [w for t in accepted for w in WORDS.get(t, ())]
        close = difflib.get_close_matches(str(token).lower(), words, n=1, cutoff=0.75)
        if token.type == "NAME" and close:
            return message, f"did you mean `{close[0]}`? ({expected})"
        previous = self.previous
        if previous is not None and previous.type == "NAME" and previous.lower() in KEYWORDS:
            return message, f"`{previous}` was read as a name here; {expected}"
        known = unexpected(token, previous, accepted, self.text, self.field)
        if known is not None:
            return known.message or message, known.hint
        if token.type == "OPERATOR" and previous is not None and previous.type in _STARTERS:
            return message, (f"`{previous}` is a keyword: a field of that name is written "
                             f"in backquotes (`{previous}`); {expected}")
        return message, expected

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
        if kind in CONDITION_TOKENS or (
            kind == "_BETWEEN" and self.previous is not None
            and self.previous.type in NAME_TOKENS
        ):
            self.conditions += 1
            if self.conditions > MAX_CONDITIONS:
                self._limit(token_problem(token, "E_TOO_MANY_CONDITIONS",
                                          f"more than {MAX_CONDITIONS:,} conditions",
                                          "fold equal comparisons into one `in [...]` "
                                          "list (saved segments count expanded, so "
                                          "splitting into them does not help)"))
        if kind == "STRING":
            value, problems = decode_string(token, token.line or 1, token.column or 1)
            for problem in problems:
                self._report(problem)
            if len(value) > MAX_STRING:
                self._report(token_problem(token, "E_STRING_TOO_LONG",
                                           f"a string longer than {MAX_STRING:,} characters "
                                           f"({len(value):,})"))
        elif kind in NUMBER_TOKENS and not in_range(token):
            self._report(token_problem(token, "E_NUMBER", "number out of range",
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
