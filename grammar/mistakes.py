"""The mistakes people make in the text, recognised so that an error names the fix in the
language's own words: a duration unit in capitals (`30D`) or spelt out (`30 days`), a date
filter after `occurred` written like a field's (`occurred on "2026-03-29"`), a count
written as a comparison (`occurred >= 3`), a number where a quoted string belongs or the
other way round, `true` for `is_true`.

Each function gets what the parser knows (the unexpected token or text, the token before
it, the terminals it would take there) and returns a better message and/or hint, or
None to leave the general wording ("unexpected ...", "expected ...").
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lark import Token

from segql.grammar.messages import code, describe

UNITS = "units: min h d w mo y"
#: A number with letters glued to it: `30D`, `2Weeks`, `-7D`, `30abc`.
_NUMBER_WORD = re.compile(r"([+-]?[0-9]+(?:\.[0-9]+)?)([A-Za-z_][A-Za-z0-9_]*)")
_UNIT_NAMES = {"min": "min", "h": "h", "d": "d", "w": "w", "mo": "mo", "y": "y"}
#: Units spelt out, and the language's unit for each.
_UNIT_WORDS = {
    **{w: "min" for w in ("mins", "minute", "minutes")},
    **{w: "h" for w in ("hr", "hrs", "hour", "hours")},
    **{w: "d" for w in ("day", "days")},
    **{w: "w" for w in ("wk", "wks", "week", "weeks")},
    **{w: "mo" for w in ("mon", "mos", "month", "months")},
    **{w: "y" for w in ("yr", "yrs", "year", "years")},
}
#: What follows an unexpected token, when a hint quotes it: a string, a number or a word.
_NEXT = re.compile(r'\s*("(?:[^"\\\n]|\\.)*"|[+-]?[0-9][0-9A-Za-z.:+-]*|[A-Za-z_][\w+-]*)')
_WINDOWS = ('a window: within 30d, since "2025-01-31", before "2025-01-31" or '
            'between "2025-01-01" and "2025-01-31"')
#: Comparisons written where a count belongs (`occurred >= 3`): the count for N.
_COUNTS = {">=": ("at_least", 0), ">": ("at_least", 1), "<=": ("at_most", 0),
           "<": ("at_most", -1), "=": ("exactly", 0), "equals": ("exactly", 0)}
#: Words that ask for a window the language spells otherwise.
_WINDOW_WORDS = {
    "on": "between", "equals": "between", "=": "between",
    "after": "since", ">": "since", ">=": "since", "from": "since",
    "until": "before", "till": "before", "to": "before", "<": "before", "<=": "before",
    "in": "within", "last": "within", "past": "within", "during": "within",
    "for": "within",
}


class Wording(NamedTuple):
    """A better message (None: keep the general one) and hint for a problem."""

    message: str | None
    hint: str | None


def number_word(text: str) -> tuple[int, str, str] | None:
    """A number with letters glued to it at the start of `text` (where the lexer found no
    token): how long it is, and what it should be."""
    found = _NUMBER_WORD.match(text)
    if found is None:
        return None
    number, letters = found.groups()
    shown, lower = found.group(), letters.lower()
    unit = _UNIT_NAMES.get(lower) or _UNIT_WORDS.get(lower)
    if lower in _UNIT_NAMES:
        return len(shown), f"`{shown}` is not a duration: units are lowercase", \
            f"write {number}{unit} ({UNITS})"
    if unit is not None:
        return len(shown), f"`{shown}` is not a duration", f"write {number}{unit} ({UNITS})"
    if lower in ("m", "s", "sec", "secs", "second", "seconds"):
        return len(shown), f"`{shown}` is not a duration", \
            f"write {number}min for minutes or {number}mo for months ({UNITS}; no seconds)"
    return len(shown), f"`{shown}` is not a number", \
        f'a number is digits only; text goes in double quotes: "{shown}"'


def unexpected(token: Token, previous: Token | None, accepted: list[str], text: str,
               field: str) -> Wording | None:
    """Better wording for a token the parser can't take here, if a known mistake; `field`
    is the last name the parser took (for a hint that rewrites a condition)."""
    following = _NEXT.match(text, token.end_pos or 0)
    after = following.group(1) if following else None
    if "WITHIN" in accepted:  # after `occurred` (and its count): a window may follow
        return _after_occurred(token, previous, accepted, after)
    kind, value = token.type, str(token)
    if "DURATION" in accepted and kind in ("NUMBER", "INT"):
        if after is not None and after.lower() in (*_UNIT_WORDS, *_UNIT_NAMES):
            unit = _UNIT_WORDS.get(after.lower()) or after.lower()
            return Wording(None, f"write the number and its unit together: {value}{unit} "
                                 f"({UNITS})")
        return Wording(None, f"a duration has a unit right after the number: {value}d "
                             f"({UNITS})")
    if accepted == ["DURATION"] and kind == "STRING":
        inner = value[1:-1]
        if _NUMBER_WORD.fullmatch(inner):
            return Wording(None, f"write the duration without quotes: {inner}")
        return Wording(None, f"`within` takes a length of time such as 30d; for events from "
                             f"a date on write `since {value}`")
    if "INT" in accepted and kind == "STRING":
        return Wording(None, f"write the count without quotes: {value.strip(chr(34))}")
    if "STRING" in accepted and "NUMBER" not in accepted:
        if "DATE_BASE" in accepted and kind in ("NUMBER", "INT"):
            return Wording(None, f'dates go in double quotes: "{_raw(value, after)}"')
        if "DATE_BASE" in accepted and kind == "DURATION":
            return Wording(None, f"for a date that long ago write now-{value}; "
                                 f"`within {value}` counts the last {value}")
        if kind in ("NUMBER", "INT"):
            return Wording(None, f'a name goes in double quotes: "{value}"')
    if "STRING" in accepted and kind == "NAME":
        if value.lower() in ("true", "false"):
            negated = previous is not None and str(previous).lower() in ("!=", "not_equals")
            test = f"{'not ' * negated}{field} is_{value.lower()}"
            return Wording(None, f"test a boolean with {code(test)}; text goes in double "
                                 f'quotes: "{value}"')
        return Wording(None, f'text goes in double quotes: "{value}"')
    return None


def _raw(value: str, after: str | None) -> str:
    """A date written without quotes, as far as it goes: `2025` then `-01-31`."""
    return value + (after if after is not None and after[:1] in "-:T" else "")


def _after_occurred(token: Token, previous: Token | None, accepted: list[str],
                    after: str | None) -> Wording:
    """After `occurred` (or its count) come only a count and a window: say how to write
    what the user meant."""
    word, kind = str(token).lower(), token.type
    before = "not_occurred" if previous is not None and previous.type == "NOT_OCCURRED" \
        else "occurred"
    message = f"unexpected {describe(token)} after `{before}`"
    counts = "COUNT_OP" in accepted
    windows = f"({_WINDOWS})"
    if counts and word in _COUNTS and after is not None and after.isdigit():
        count, shift = _COUNTS[word]
        n = max(0, int(after) + shift)
        return Wording(message, f"write the count as `{count} {n}`"
                                + (f" (at least {n} is more than {after})" if shift > 0 else
                                   f" (at most {n} is less than {after})" if shift < 0 else ""))
    if counts and kind in ("NUMBER", "INT"):
        return Wording(message, f"write the count with at_least, at_most or exactly: "
                                f"`at_least {token}`")
    if kind == "DURATION":
        return Wording(message, f"write `within {token}` for the last {token}")
    if kind == "STRING":
        return Wording(message, f"a date after `occurred` needs a window: `since {token}`, "
                                f"`before {token}` or `between {token} and {token}`")
    target = _WINDOW_WORDS.get(word)
    date = after if after is not None and after[:1] == '"' else '"2025-01-31"'
    if target == "between":
        return Wording(message, f"for events on one day write `between {date} and {date}` "
                                + windows)
    if target == "since":
        return Wording(message, f"for events from a date on write `since {date}` " + windows)
    if target == "before":
        return Wording(message, f"for events before a date write `before {date}` " + windows)
    if target == "within":
        span = after if after is not None and after[:1].isdigit() else "30d"
        return Wording(message, f"for the last {span} write `within {span}` " + windows)
    return Wording(message, f"after `{before}` may come " + ("a count such as at_least 2, "
                                                             "then " if counts else "")
                   + _WINDOWS + " (or `and`/`or` and another condition)")
