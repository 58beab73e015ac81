"""The fast path: valid text, nearly all that is parsed, is parsed by `fast_parse`: Lark's
own LALR table and contextual lexer, driven by a tight loop that builds the AST in the
reductions (no tokens, trees, or interactive parser). It gives up (returns None) at
anything the slow path (`recovery`) would report, and the slow path then reports it as
ever. Positions follow Lark's `propagate_positions`: a node spans from the start of its
first child to the end of its last, where a child that is `( expr )` spans its
parentheses (Lark's "container"); so every stack entry carries the span its parent sees,
apart from the span in its node.

This module reads Lark's internals, not only its public API: the LALR parse table
(`lark.parser.parser._parse_table`: its states, `Shift`/reduce actions, start and end
states), the contextual lexer's per-state lexers with their compiled patterns
(`scanner._mres`) and callbacks, the root lexer's `ignore_types` and `newline_types`, and
each rule's `expansion`, `options` and `alias`. It was verified on Lark 1.3.1, and
pyproject.toml pins lark>=1.3.1,<1.4 for it; tests/test_parser_fast_path.py, which
compares it with the slow path, is the check to run before allowing another version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from lark import Lark
from lark.grammar import Rule, Terminal
from lark.lexer import ContextualLexer
from lark.parsers.lalr_analysis import Shift

from segql.grammar import ast
from segql.grammar.builders import BUILDERS, LONE, Builder, first_child
from segql.grammar.keywords import lark_parser
from segql.grammar.limits import (
    CONDITION_TOKENS,
    MAX_BYTES,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_STRING,
    NAME_TOKENS,
    NUMBER_TOKENS,
    check_canonical_size,
    in_range,
)
from segql.grammar.literals import decode_string, duration

#: How a reduction treats the children: keep the only one as it is (`?rule: child`, or a
#: builder that returns a lone child), keep it but span the whole rule (`"(" expr ")"`),
#: gather them for the parent to splice (Lark's `__x_star_n` repetitions), or build.
_PASS, _WRAP, _SPLICE, _BUILD = range(4)
#: Tokens that change the nesting depth.
_DEPTH_TOKENS = frozenset({"LPAR", "_NOT", "RPAR", "_AND", "_OR", "COMMA"})
#: Tokens whose value is checked: strings (escapes, length) and numbers (range).
_CHECKED = NUMBER_TOKENS | {"STRING"}


class _Reduction(NamedTuple):
    size: int
    origin: str
    how: int
    #: Per kept child: its index among the rule's children and whether it is spliced;
    #: None when all are kept as they are.
    pick: tuple[tuple[int, bool], ...] | None
    build: Builder


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
        """What Lark's tree builder and `ToAst` do for `rule` (child filter, single-child
        expansion, position propagation, builder), as `fast_parse` does it."""
        keep = tuple((i, not symbol.is_term and symbol.name.startswith("_"))
                     for i, symbol in enumerate(rule.expansion)
                     if rule.options.keep_all_tokens
                     or not (isinstance(symbol, Terminal) and symbol.filter_out))
        size, origin = len(rule.expansion), str(rule.origin.name)
        pick = None if len(keep) == size and not any(s for _, s in keep) else keep
        if rule.options.expand1 and not rule.alias and len(keep) == 1:
            assert not rule.expansion[keep[0][0]].is_term, "a kept token is a rule's value"
            return _Reduction(size, origin, _PASS if size == 1 else _WRAP, keep, first_child)
        if origin.startswith("_"):
            return _Reduction(size, origin, _SPLICE, pick, first_child)
        build = BUILDERS[str(rule.alias or rule.options.template_source or origin)]
        if size == 1 and pick is None and build in LONE:
            return _Reduction(size, origin, _PASS, pick, build)
        return _Reduction(size, origin, _BUILD, pick, build)


@cache
def _tables() -> _Tables:
    return _Tables(lark_parser())


def fast_parse(text: str) -> ast.Expr | None:
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
                    value, problems = decode_string(word, line, column)
                    if problems or len(value) > MAX_STRING:
                        return None
                elif not in_range(word):
                    return None
                elif kind == "DURATION":
                    value = duration(word, span)
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
        if kind in _DEPTH_TOKENS:  # as Run._track, for the tokens the parser took
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
        if kind in CONDITION_TOKENS or (kind == "_BETWEEN" and previous in NAME_TOKENS):
            conditions += 1
            if conditions > MAX_CONDITIONS:
                return None
        previous = kind


def _finish(node: ast.Expr, text: str, tokens: int) -> ast.Expr:
    """`node`, once its canonical text is known to fit (`check_canonical_size`), which a
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
        check_canonical_size(node, text)
    return node
