"""How the parser words what it reports: each terminal in words for "expected ..." hints,
how an unexpected token or character is named, and hints for characters people try.
"""

from __future__ import annotations

from lark import Token

from segql.grammar.keywords import WORDS

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
    "ANNIVERSARY": "`anniversary today`",
    "ANNIVERSARY_IN": "`anniversary in 7d`",
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
#: Where only a date may stand, a string or `now`/`today` are said as one.
_DATE = 'a date such as "2025-01-31" or today-7d'
#: How an unexpected token is named in a message.
_KINDS = {"NAME": "name ", "STRING": "string ", "NUMBER": "number ", "INT": "number ",
          "DURATION": "duration ", "OFFSET": "offset ", "OPERATOR": "operator "}
#: The keyword terminals, named as keywords (an operator word is named as an operator).
KEYWORD_NAMES = frozenset(WORDS) - {"OPERATOR"}
#: Hints for characters that are not in the language, but are tried.
CHARACTER_HINTS = {
    "'": 'strings go in double quotes: "..."',
    "&": "write `and`",
    "|": "write `or`",
    "!": "write `not`, or `!=` to compare",
}


def _shown(text: str, limit: int = 40) -> str:
    """Offending text, short and with invisible characters as \\uXXXX."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in short)


def code(text: str) -> str:
    """Text to write, in backquotes as messages quote it (doubled around a backquote, as in
    Markdown): `age > 30`, `` `Data urodzenia` is_true ``."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def describe(token: Token) -> str:
    kind = _KINDS.get(token.type, "keyword " if token.type in KEYWORD_NAMES else "")
    return f"{kind}`{_shown(str(token))}`"


def expected_hint(accepted: list[str]) -> str | None:
    """The "expected ..." hint, in words, for the terminals the parser would take."""
    if "OPERATOR" in accepted:  # `anniversary ...` is one operator more: not named apart
        accepted = [t for t in accepted if t not in ("ANNIVERSARY", "ANNIVERSARY_IN")]
    if {"STRING", "DATE_BASE"} <= set(accepted) and "NUMBER" not in accepted:  # a date
        accepted = [t for t in accepted if t != "DATE_BASE"]
        phrases = [_DATE if t == "STRING" else EXPECTED[t] for t in accepted
                   if t not in _CONDITION_START]
    else:
        phrases = [EXPECTED[t] for t in accepted if t not in _CONDITION_START]
    if set(accepted) >= _CONDITION_START:
        phrases.insert(0, "a condition")
    else:
        phrases[:0] = [EXPECTED[t] for t in accepted if t in _CONDITION_START]
    if not phrases:
        return None
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return "expected " + listed
