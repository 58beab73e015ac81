"""A JSON Schema (draft 2020-12) validator for the keywords `schema.py` uses, whose
problems are said in a user's words and placed by JSON Pointer (RFC 6901).

A document is valid exactly when the draft's rules say so (tests check that against the
`jsonschema` package over random documents); what this adds is the wording: the titles
and descriptions of the schema name what was expected, and a `oneOf` with a
`discriminator` reports the problems of the branch the document's `type` picks. A
keyword outside the subset is refused when the validator is built, never ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_CHECKED = {"$ref", "type", "const", "enum", "pattern", "minimum", "minItems", "properties",
            "required", "additionalProperties", "items", "oneOf", "allOf", "if", "then"}
_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "discriminator"}
_TYPE_WORDS = {"object": "an object", "array": "a list (JSON array)", "string": "a string",
               "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "null": "null"}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """What is wrong, where (`pointer`), and what would be right (`hint`)."""

    pointer: str
    message: str
    hint: str | None = None


def pointer(path: Path) -> str:
    """The RFC 6901 JSON Pointer of a path of members and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _is(kind: str, value: Any) -> bool:
    """The draft's types: booleans are no numbers; 2.0 is an integer."""
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return {
        "object": lambda: isinstance(value, dict),
        "array": lambda: isinstance(value, list),
        "string": lambda: isinstance(value, str),
        "integer": lambda: isinstance(value, int) or (
            isinstance(value, float) and value.is_integer()),
        "number": lambda: isinstance(value, int | float),
        "boolean": lambda: isinstance(value, bool),
        "null": lambda: value is None,
    }[kind]()


def _equal(a: Any, b: Any) -> bool:
    """JSON equality for the constants the schema uses (strings and booleans)."""
    return type(a) is type(b) and a == b


def _subject(path: Path) -> str:
    if not path:
        return "the segment"
    last = path[-1]
    if isinstance(last, int):
        return f"`{path[-2]}[{last}]`" if len(path) > 1 else f"item {last}"
    return f"`{last}`"


class Validator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._audit(root)
        self.tags: dict[str, str] = {}  # node type → the title of its node
        for definition in root["$defs"].values():
            for tag in self._tags(definition):
                self.tags[tag] = definition["title"]

    def problems(self, document: Any) -> list[Problem]:
        """Every problem of the document (none: it is valid)."""
        return self._check(self.root, document, (), None, None, True)

    # --- the keywords ---------------------------------------------------------------------

    def _check(self, schema: Any, value: Any, path: Path, hint: str | None,
               title: str | None = None, referenced: bool = False) -> list[Problem]:
        """The problems of `value` at `path` against `schema`. `hint` is the rule that
        applies here: the `description` of a schema met at this path (a referenced
        definition's aside), or of the schema whose `properties` led here; `title` names
        what stands here (the nearest `title` met at this path)."""
        if schema is True:
            return []
        if schema is False:
            return [Problem(pointer(path), f"{_subject(path)} is not allowed here", hint)]
        own = None if referenced else schema.get("description")
        hint = own or hint
        title = schema.get("title", title)
        if "$ref" in schema:
            found = self._check(self._resolve(schema["$ref"]), value, path, hint, title,
                                True)
            if found:
                return found
        if "oneOf" in schema:
            return self._one_of(schema, value, path, hint, title)
        if "type" in schema and not _is(schema["type"], value):
            return [self._mismatch(schema, value, path, hint)]
        tags = self._tags(schema)
        if tags and isinstance(value, dict) and "type" in value and not any(
                _equal(value["type"], t) for t in tags):  # another node: nothing more to say
            return [self._mismatch(schema, value, path, hint)]
        scalar = self._scalar(schema, value, path, hint)
        if scalar:
            return [scalar]
        problems: list[Problem] = []
        if isinstance(value, dict):
            problems += self._object(schema, value, path, hint, own, title)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                problems += self._check(schema["items"], item, (*path, i), None)
        for part in schema.get("allOf", []):
            problems += self._check(part, value, path, hint, title)
        if "if" in schema and not self._check(schema["if"], value, path, hint):
            problems += self._check(schema.get("then", True), value, path, hint, title)
        return problems

    def _scalar(self, schema: Mapping[str, Any], value: Any, path: Path,
                hint: str | None) -> Problem | None:
        at, subject = pointer(path), _subject(path)
        title = schema.get("title")
        if "const" in schema and not _equal(value, schema["const"]):
            return Problem(at, f"{subject} should be {json.dumps(schema['const'])}", hint)
        if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
            shown = json.dumps(value, ensure_ascii=False)
            message = (f"{shown} is not {title}" if title and isinstance(value, str) else
                       f"{subject} should be one of the listed values")
            return Problem(at, message, "one of: " + ", ".join(map(str, schema["enum"])))
        if isinstance(value, str) and "pattern" in schema and not re.search(
                schema["pattern"], value):
            return Problem(at, f"{subject} is not {title or 'valid here'}",
                           schema.get("description", hint))
        if ("minimum" in schema and _is("number", value)
                and value < schema["minimum"]):
            return Problem(at, f"{subject} should be {schema['minimum']} or more, not "
                               f"{value}", hint)
        if "minItems" in schema and isinstance(value, list) and len(value) < schema[
                "minItems"]:
            n = schema["minItems"]
            return Problem(at, f"{subject} should hold at least {n} item{'s' * (n != 1)}, "
                               f"not {len(value)}", schema.get("description", hint))
        return None

    def _object(self, schema: Mapping[str, Any], value: dict[str, Any], path: Path,
                hint: str | None, own: str | None, title: str | None) -> list[Problem]:
        title = title or "this object"
        properties = schema.get("properties", {})
        members = ", ".join(f"`{m}`" for m in properties)
        problems = [Problem(pointer(path), f"{title} needs `{name}`",
                            hint or f"its members: {members}")
                    for name in schema.get("required", []) if name not in value]
        for name, member in value.items():
            if name in properties:
                problems += self._check(properties[name], member, (*path, name), own)
            elif schema.get("additionalProperties", True) is False:
                problems.append(Problem(pointer((*path, name)), f"{title} has no member "
                                        f"`{name}`", f"its members: {members}"))
        return problems

    def _one_of(self, schema: Mapping[str, Any], value: Any, path: Path,
                hint: str | None, title: str | None) -> list[Problem]:
        """Exactly one branch; else the problems of the branch that `type` names."""
        results = [self._check(b, value, path, hint, title) for b in schema["oneOf"]]
        matched = sum(not r for r in results)
        if matched == 1:
            return []
        if matched > 1:
            return [Problem(pointer(path), f"{_subject(path)} is more than one of "
                                           f"{schema.get('title', 'the choices')}", hint)]
        mapping = schema.get("discriminator", {}).get("mapping", {})
        tag = value.get("type") if isinstance(value, dict) else None
        if isinstance(tag, str) and tag in mapping:
            branches = [b.get("$ref") for b in schema["oneOf"]]
            return results[branches.index(mapping[tag])]
        if not isinstance(value, dict) or (isinstance(tag, str) and tag in self.tags):
            return [self._mismatch(schema, value, path, hint)]
        types = "`type` is one of: " + ", ".join(mapping)
        if "type" not in value:
            return [Problem(pointer(path), f"{schema['title']} needs `type`", types)]
        if not isinstance(tag, str):
            return [Problem(pointer((*path, "type")), f"`type` should be a string, not "
                            f"{self._found(tag)}", types)]
        return [Problem(pointer((*path, "type")), f"`type` {json.dumps(tag, ensure_ascii=False)}"
                        " is none of the types allowed here", types)]

    @staticmethod
    def _tags(schema: Mapping[str, Any]) -> list[Any]:
        """The `type` values a node's schema allows (none: not a node's schema)."""
        tag = schema.get("properties", {}).get("type", {})
        return [tag["const"]] if "const" in tag else list(tag.get("enum", []))

    # --- words ----------------------------------------------------------------------------

    def _mismatch(self, schema: Mapping[str, Any], value: Any, path: Path,
                  hint: str | None) -> Problem:
        return Problem(pointer(path), f"{_subject(path)} should be {self._expected(schema)}, "
                                      f"not {self._found(value)}", hint)

    def _expected(self, schema: Mapping[str, Any]) -> str:
        if "title" in schema:
            return str(schema["title"])
        if "$ref" in schema:
            return self._expected(self._resolve(schema["$ref"]))
        return _TYPE_WORDS.get(schema.get("type", ""), "something else")

    def _found(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict):
            tag = value.get("type")
            return self.tags.get(tag, "an object") if isinstance(tag, str) else "an object"
        for kind in ("null", "number", "string", "array"):
            if _is(kind, value):
                return _TYPE_WORDS[kind]
        return "something else"

    # --- the schema -----------------------------------------------------------------------

    def _resolve(self, ref: str) -> Any:
        if ref == "#":
            return self.root
        return self.root["$defs"][ref.removeprefix("#/$defs/")]

    def _audit(self, schema: Any) -> None:
        """Every keyword is one this validator reads or an annotation; every `$ref`
        resolves; a discriminator maps to the branches of its `oneOf`."""
        if isinstance(schema, bool):
            return
        unknown = set(schema) - _CHECKED - _ANNOTATIONS
        if unknown:
            raise ValueError(f"keywords this validator does not read: {sorted(unknown)}")
        if "$ref" in schema:
            self._resolve(schema["$ref"])
        if "oneOf" in schema and set(schema) & _CHECKED != {"oneOf"}:
            raise ValueError("a oneOf beside other keywords")
        kind = schema.get("type", "string")
        if not (isinstance(kind, str) and kind in _TYPE_WORDS):
            raise ValueError(f"a type that is not one type name: {kind!r}")
        if schema.get("additionalProperties", False) is not False:
            raise ValueError("additionalProperties other than false")
        if "discriminator" in schema:
            branches = {b["$ref"] for b in schema["oneOf"]}
            if set(schema["discriminator"]["mapping"].values()) != branches:
                raise ValueError("a discriminator maps to other schemas than its oneOf")
        for key in ("items", "if", "then"):
            if key in schema:
                self._audit(schema[key])
        for key in ("oneOf", "allOf"):
            for part in schema.get(key, []):
                self._audit(part)
        for key in ("properties", "$defs"):
            for part in schema.get(key, {}).values():
                self._audit(part)
        for constant in [schema.get("const"), *schema.get("enum", [])]:
            if constant is not None and not isinstance(constant, str | bool):
                raise ValueError(f"a constant neither string nor boolean: {constant!r}")

