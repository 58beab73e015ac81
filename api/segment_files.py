"""Saved segments read from a file, so that `in_segment` resolves offline (`segql eval
--segments FILE`). The file holds what `segql segment list --json`, `segql segment show
NAME --json` and the HTTP API print, so an account's segments can be exported and
replayed:

* a JSON array of objects, each `{"name": ..., "expression": ...}` (the expression may
  also be under `text`, as the HTTP API prints it, or `expr`; `description`, `count` and
  other members are ignored);
* one such object (what `segment show --json` prints);
* JSON Lines: one such object a line;
* a JSON object mapping each name to its expression (`{"Buyers": "event Purchase
  occurred"}`); an object with a `name` member is read as one segment instead.

Names follow the rules of saved segments and are unique in any case, as online. A file
that is not one of these raises InputError naming the line or entry; the expressions are
checked where they are used, by the checker, like saved segments online (an unknown name
or a cycle is a positioned check error).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from segql.compiler.context import Context
from segql.compiler.definitions import definition, segment_key
from segql.errors import InputError
from segql.stores.saved_segments import SegmentStoreError, check_name

#: The members an entry's expression may be under (one of them).
EXPRESSION_KEYS = ("expression", "text", "expr")


def read_segments(path: str) -> dict[str, str]:
    """The saved segments in the file at `path`: name → expression, in file order."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            content = handle.read()
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte "
                         f"{error.start})") from None
    return parse_segments(content, path)


def parse_segments(content: str, where: str = "segments") -> dict[str, str]:
    """The saved segments in `content` (the text of a segments file named `where`)."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        if error.msg != "Extra data":  # not JSON Lines either: a mistake in the first value
            raise InputError(f"{where}: line {error.lineno}, column {error.colno}: not "
                             f"valid JSON ({error.msg})") from None
        return _entries(_lines(content, where), where)
    if isinstance(data, list):
        return _entries([(i, None, item) for i, item in enumerate(data, 1)], where)
    if isinstance(data, dict) and "name" in data:
        return _entries([(1, None, data)], where)
    if isinstance(data, dict):
        return _entries([(i, None, {"name": name, "expression": text})
                         for i, (name, text) in enumerate(data.items(), 1)], where)
    raise InputError(f"{where}: expected a JSON array of segments, an object name → "
                     "expression, or JSON Lines")


def _lines(content: str, where: str) -> list[tuple[int, int | None, Any]]:
    """(entry, line, value) of each non-blank line of JSON Lines."""
    found: list[tuple[int, int | None, Any]] = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append((len(found) + 1, number, json.loads(line)))
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: line {number}, column {error.colno}: not valid "
                             f"JSON ({error.msg})") from None
    return found


def _entries(items: list[tuple[int, int | None, Any]], where: str) -> dict[str, str]:
    segments: dict[str, str] = {}
    first: dict[str, str] = {}  # key → where the name was first seen
    for index, line, item in items:
        at = f"{where}: " + (f"line {line}" if line is not None else f"entry {index}")
        name, text = _entry(item, at)
        key = segment_key(name)
        if key in first:
            raise InputError(f"{at}: segment {json.dumps(name, ensure_ascii=False)} is "
                             f"listed twice (also at {first[key]}; names are unique in "
                             "any case)")
        first[key] = at.removeprefix(f"{where}: ")
        segments[name] = text
    return segments


def _entry(item: Any, at: str) -> tuple[str, str]:
    """One entry's name and expression, or InputError saying what is wrong at `at`."""
    if not isinstance(item, dict):
        raise InputError(f"{at}: expected an object with `name` and `expression`")
    name = item.get("name")
    if not isinstance(name, str):
        raise InputError(f"{at}: `name` should be a string")
    try:
        name = check_name(name)
    except SegmentStoreError as error:
        raise InputError(f"{at}: {error}") from None
    shown = json.dumps(name, ensure_ascii=False)
    given = [key for key in EXPRESSION_KEYS if key in item]
    if len(given) != 1:
        raise InputError(f"{at}: segment {shown} needs its expression under one of "
                         f"`expression`, `text` or `expr`" +
                         (f" (found {', '.join(given)})" if given else ""))
    text = item[given[0]]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{at}: the expression of segment {shown} should be a non-empty "
                         "string")
    return name, text


def segment_text(segments: Mapping[str, str], name: str, where: str) -> str:
    """The expression of the segment `name` among `segments` (read from `where`), matched
    as `in_segment` matches names; InputError with a suggestion when there is none."""
    found = definition(Context(account="", segments=segments), name)
    if found is None:
        close = difflib.get_close_matches(name, list(segments), n=1)
        raise InputError(f"{where} has no segment {json.dumps(name, ensure_ascii=False)}"
                         + (f"; did you mean {json.dumps(close[0], ensure_ascii=False)}?"
                            if close else ""))
    return found[1]
