"""Saved segments per account, in Elasticsearch, so every client (CLI, API, a builder UI)
resolves `in_segment` against the same definitions.

One document per segment in the segment index, by default `<contact index>-segments`:

```
_id  = "<account>:" + key     key = the name NFC-normalised and case-folded, so that
                              `op_type=create` makes names unique per account
                              case-insensitively (a hash of it when the key would not
                              fit the 512 bytes of an `_id`)
{"account": "acme", "key": "vip buyers", "name": "VIP buyers",
 "description": "...", "expression": "all(...)"}
```

Why these rules:

* A definition is checked on save against the account's catalog and the other saved
  segments, so an unknown reference or a cycle is refused when it is written, never found
  at send time. The check runs the language's own checker on the new definition with the
  account's definitions as they will be; any cycle created by a write passes through the
  written segment, so checking it finds the cycle.
* A segment others refer to can't be deleted: the referrers would silently stop
  checking. The refusal names them.
* The limits (conditions, depth, clauses, bytes) hold for a segment with its saved
  segments expanded, so a definition is compiled on save too; and an edit that would push
  a segment referring to the edited one (directly or through others) over a limit is
  refused, naming it (`_check_referrers`).
* Edits and deletes are optimistic: they write only over the version they read
  (`if_seq_no`/`if_primary_term`); a caller (a UI) may pass the version it showed the user
  and gets SegmentConflictError if someone changed the segment since. Writes refresh the
  index, so the next read (a count, an export) sees them.
* Rules spanning two segments (a reference to a segment being deleted at the same moment,
  or two edits closing a cycle together) are checked from the definitions read before the
  write; each write is verified again after it lands and undone if it broke such a rule.
"""

from __future__ import annotations

import difflib
import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from segql.compiler.check import check
from segql.compiler.context import Context
from segql.compiler.definitions import referrers, segment_key
from segql.compiler.limits import LIMIT_CODES
from segql.compiler.to_es import compile_segment
from segql.errors import Diagnostic, SegmentError, SegqlError
from segql.grammar.parser import parse
from segql.stores import searches
from segql.stores.mapping import STORED_ONLY, account_store_body, create_index_once

SEGMENTS_SUFFIX = "-segments"
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000
#: Elasticsearch's limit on `_id`, in UTF-8 bytes.
MAX_ID_BYTES = 512
#: Segments read per request when listing an account's segments.
PAGE = 1000


def segment_index_name(contact_index: str) -> str:
    """The segment index that goes with a contact index."""
    return contact_index + SEGMENTS_SUFFIX


def segment_index_body() -> dict[str, Any]:
    return account_store_body({"key": {"type": "keyword"}, "name": STORED_ONLY,
                               "description": STORED_ONLY, "expression": STORED_ONLY})


class SegmentStoreError(SegqlError):
    """A saved-segment operation that is refused (exit 2: the input must change)."""

    exit_code = 2


class DuplicateSegmentError(SegmentStoreError):
    """The account already has a segment of that name (in any case)."""


class SegmentInUseError(SegmentStoreError):
    """Other segments refer to the one being deleted; `referrers` names them."""

    def __init__(self, name: str, referrers: list[str]) -> None:
        self.referrers = referrers
        super().__init__(f"segment {name!r} is used by " + ", ".join(map(repr, referrers))
                         + ": change or delete those first")


class SegmentNotFoundError(SegqlError):
    """No saved segment of that name in the account: invalid input (exit 2), like an
    unknown `in_segment` name."""

    exit_code = 2

    @classmethod
    def named(cls, account: str, name: str, known: Iterable[str]) -> SegmentNotFoundError:
        """The error for `name`, suggesting the account's closest names among `known`."""
        by_key = {k.casefold(): k for k in known}
        close = difflib.get_close_matches(name.casefold(), list(by_key), n=3, cutoff=0.6)
        hint = (f"; did you mean {' or '.join(repr(by_key[c]) for c in close)}?" if close
                else "" if by_key else " (it has none yet)")
        return cls(f"account {account!r} has no saved segment {name!r}{hint}")


class SegmentConflictError(SegqlError):
    """The segment changed since it was read (exit 1: read it again and retry)."""


Version = tuple[int, int]


@dataclass(frozen=True)
class SavedSegment:
    account: str
    name: str
    expression: str
    description: str | None = None
    #: (seq_no, primary_term) of the stored document: pass it back to edit or delete
    #: only what was read.
    version: Version | None = None


def _doc_id(account: str, name: str) -> str:
    doc_id = f"{account}:{segment_key(name)}"
    if len(doc_id.encode("utf-8")) <= MAX_ID_BYTES:
        return doc_id
    return f"{account}:#" + hashlib.sha256(segment_key(name).encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """The name as stored (NFC), or SegmentStoreError saying what is wrong with it."""
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise SegmentStoreError(f"a segment name has 1-{MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise SegmentStoreError("a segment name can't contain control characters")
    if name != name.strip():
        raise SegmentStoreError("a segment name can't start or end with white space")
    return name


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise SegmentStoreError(f"a description has at most {MAX_DESCRIPTION_CHARS:,} "
                                "characters")


def _over_limit(ctx: Context, name: str, definitions: dict[str, str]) -> Diagnostic | None:
    """The limit the saved segment `name` is over with `definitions`, if any."""
    text = definitions[name]
    try:
        compile_segment(check(parse(text), replace(ctx, segments=definitions), text))
    except SegmentError as error:
        return next((d for d in error.diagnostics if d.code in LIMIT_CODES), None)
    return None


def _from_hit(hit: dict[str, Any]) -> SavedSegment:
    source = hit["_source"]
    version = (hit["_seq_no"], hit["_primary_term"]) if "_seq_no" in hit else None
    return SavedSegment(account=source["account"], name=source["name"],
                        expression=source["expression"], description=source.get("description"),
                        version=version)


class SegmentStore:
    """Reads and writes saved segments in one segment index."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index
        self._ready = False

    # --- reads -----------------------------------------------------------------------

    def get(self, account: str, name: str) -> SavedSegment:
        """The saved segment called `name` (in any case); SegmentNotFoundError if none."""
        response = self.es.options(ignore_status=404).get(
            index=self.index, id=_doc_id(account, name)).body
        if not response.get("found"):
            raise SegmentNotFoundError.named(account, name,
                                             (s.name for s in self._scan(account, None)))
        return _from_hit(response)

    def list(self, account: str, search: str | None = None) -> list[SavedSegment]:
        """The account's segments sorted by name (case-insensitively); with `search`, only
        those whose name contains it, case-insensitively."""
        return list(self._scan(account, search))

    def definitions(self, account: str) -> dict[str, str]:
        """{name: expression} of every segment of the account: `Context.segments`."""
        return {s.name: s.expression for s in self._scan(account, None)}

    def _scan(self, account: str, search: str | None) -> Iterator[SavedSegment]:
        filters: list[dict[str, Any]] = [{"term": {"account": account}}]
        if search:
            escaped = "".join("\\" + ch if ch in "*?\\" else ch for ch in segment_key(search))
            filters.append({"wildcard": {"key": {"value": f"*{escaped}*"}}})
        after: list[Any] | None = None
        while True:
            response = searches.search_if_exists(
                self.es, index=self.index, size=PAGE, query={"bool": {"filter": filters}},
                sort=[{"key": "asc"}], search_after=after, seq_no_primary_term=True,
            )
            if response is None:  # no segment was ever saved
                return
            hits = response["hits"]["hits"]
            yield from map(_from_hit, hits)
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    # --- writes ----------------------------------------------------------------------

    def create(self, ctx: Context, name: str, expression: str,
               description: str | None = None) -> SavedSegment:
        """Save a new segment of `ctx.account`, checked with `ctx` (catalog, time) and the
        account's other segments. DuplicateSegmentError when the name is taken in any case;
        SegmentError when the expression does not check."""
        name = check_name(name)
        _check_description(description)
        self._check(ctx, name, expression)
        self._ensure_index()
        segment = SavedSegment(ctx.account, name, expression, description)
        try:
            response = self.es.create(index=self.index, id=_doc_id(ctx.account, name),
                                      document=self._document(segment), refresh=True)
        except ConflictError:
            existing = self.get(ctx.account, name)
            raise DuplicateSegmentError(f"account {ctx.account!r} already has a segment "
                                        f"called {existing.name!r}") from None
        saved = replace(segment, version=(response["_seq_no"], response["_primary_term"]))
        self._verify(ctx, saved, undo=lambda: self._delete_version(saved))
        return saved

    def edit(self, ctx: Context, name: str, *, expression: str | None = None,
             description: str | None = None, version: Version | None = None) -> SavedSegment:
        """Change a segment's expression and/or description (an empty description removes
        it). The new expression is checked like on create, so an edit can't create a
        cycle. With `version`, only that version is changed (else the one read now)."""
        _check_description(description)
        current = self.get(ctx.account, name)
        if version is not None and version != current.version:
            raise self._conflict(current.name)
        changed = replace(
            current,
            expression=current.expression if expression is None else expression,
            description=(current.description if description is None
                         else description or None),
        )
        after = self._check(ctx, changed.name, changed.expression)
        if changed.expression != current.expression:
            self._check_referrers(ctx, changed.name,
                                  {**after, changed.name: current.expression}, after)
        saved = self._write_over(changed, current.version)
        self._verify(ctx, saved, undo=lambda: self._write_over(current, saved.version))
        return saved

    def delete(self, ctx: Context, name: str, *, version: Version | None = None) -> None:
        """Delete a segment no other segment refers to (SegmentInUseError otherwise)."""
        current = self.get(ctx.account, name)
        if version is not None and version != current.version:
            raise self._conflict(current.name)
        using = referrers(self.definitions(ctx.account), current.name)
        if using:
            raise SegmentInUseError(current.name, using)
        self._delete_version(current)
        using = referrers(self.definitions(ctx.account), current.name)
        if using:  # someone referred to it while it was being deleted: put it back
            self.es.create(index=self.index, id=_doc_id(ctx.account, current.name),
                           document=self._document(current), refresh=True)
            raise SegmentInUseError(current.name, using)

    # --- helpers ---------------------------------------------------------------------

    def _check(self, ctx: Context, name: str, expression: str) -> dict[str, str]:
        """Check `expression` as the definition of `name`, with the account's other
        segments as they are now (a reference to itself or through others is a cycle),
        and compile it: the limits hold for it with its saved segments expanded. Returns
        the account's definitions with this one."""
        definitions = {other: text for other, text in self.definitions(ctx.account).items()
                       if segment_key(other) != segment_key(name)}
        definitions[name] = expression
        compile_segment(check(parse(expression), replace(ctx, segments=definitions),
                              expression))
        return definitions

    @staticmethod
    def _check_referrers(ctx: Context, name: str, before: dict[str, str],
                         after: dict[str, str]) -> None:
        """Refuse an edit of `name` that would push a segment referring to it (directly
        or through others) over a limit it was within: SegmentError naming it, positioned
        at the whole edited expression."""
        for referrer in referrers(after, name, transitive=True):
            over = _over_limit(ctx, referrer, after)
            if over is not None and _over_limit(ctx, referrer, before) is None:
                text = after[name]
                raise SegmentError([Diagnostic(
                    code=over.code, message=f"saved segment {referrer!r} refers to "
                    f"{name!r}; with this change: {over.message}",
                    end_column=len(text.split("\n", 1)[0]) + 1,
                    hint=f"make {name!r} smaller, or change {referrer!r} first")], text)

    def _verify(self, ctx: Context, saved: SavedSegment, undo: Callable[[], object]) -> None:
        """After a write: check again with what is stored now; undo the write if a
        concurrent write made it invalid (e.g. it refers to a segment just deleted)."""
        try:
            self._check(ctx, saved.name, saved.expression)
        except SegmentError:
            undo()
            raise

    def _write_over(self, segment: SavedSegment, version: Version | None) -> SavedSegment:
        assert version is not None
        try:
            response = self.es.index(
                index=self.index, id=_doc_id(segment.account, segment.name),
                document=self._document(segment), if_seq_no=version[0],
                if_primary_term=version[1], refresh=True)
        except ConflictError:
            raise self._conflict(segment.name) from None
        return replace(segment, version=(response["_seq_no"], response["_primary_term"]))

    def _delete_version(self, segment: SavedSegment) -> None:
        assert segment.version is not None
        try:
            self.es.delete(index=self.index, id=_doc_id(segment.account, segment.name),
                           if_seq_no=segment.version[0], if_primary_term=segment.version[1],
                           refresh=True)
        except (ConflictError, NotFoundError):
            raise self._conflict(segment.name) from None

    @staticmethod
    def _conflict(name: str) -> SegmentConflictError:
        return SegmentConflictError(f"segment {name!r} was changed by someone else since it "
                                    "was read; read it again and retry")

    @staticmethod
    def _document(segment: SavedSegment) -> dict[str, Any]:
        document = {"account": segment.account, "key": segment_key(segment.name),
                    "name": segment.name, "expression": segment.expression}
        if segment.description is not None:
            document["description"] = segment.description
        return document

    def _ensure_index(self) -> None:
        if not self._ready:
            create_index_once(self.es, self.index, segment_index_body())
            self._ready = True
