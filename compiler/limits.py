"""Limits on a segment with its saved segments expanded, and on the query it compiles to.

`in_segment` inlines the saved segment's checked body, so a segment is as large as its
expansion: 200 references to a saved segment of 900 conditions are 180,000 conditions,
whatever each text says. The checker (`check.py`) measures the expansion once per saved
segment (`check_expanded`: conditions and depth, LANGUAGE.md §6's numbers), before
anything is compiled, so an expansion that would grow large is refused before it is built;
the compiler measures the query (`check_compiled`: its depth, its Lucene clauses and its
size in bytes). Both run when a segment is saved or edited and before every request.

Clauses are counted as Lucene counts them when Elasticsearch rewrites the query
(`IndexSearcher`'s clause-count visitor, measured on 9.2.0): every leaf query once; a
`bool` of `must_not` only once more (Elasticsearch adds a match-all to it); a `nested`
once more unless a term on its path is required (else Elasticsearch adds a `_nested_path`
filter); a numeric or date `range` twice (points and doc values); a `terms` once,
whatever its length. Rewrites that see the
data can only lower the count (a range outside every value becomes match-none), so the
count is an upper bound.

Elasticsearch derives its limit, `indices.query.bool.max_clause_count`, from the heap and
the search threads: max(1,024, heap in MB * 64 / threads), threads = 3 * processors // 2
+ 1. At the smallest heap segql runs (512 MB) that is 8,192 on 2 processors, 2,520 on 8
and 1,024 from 21 up; no node goes below 1,024. At 1,024 Lucene also refuses one `bool`
of 1,024 clauses, so the budget is 1,023: a query within it runs on every node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, assert_never

import orjson

from segql.compiler import checked as tree
from segql.compiler.boolean import MAX_QUERY_DEPTH, Query, depth
from segql.errors import Diagnostic, SegmentError
from segql.grammar import ast
from segql.grammar.limits import MAX_CONDITIONS, MAX_DEPTH

#: Lucene clauses a compiled query may have (see above: within it on every node).
MAX_CLAUSES = 1_023
#: Bytes a compiled query may take as compact JSON. The largest single text compiles to
#: 13.1 MiB (6,557 values in an `in` list on a property named with 256 four-byte
#: characters, under an exact count: the name goes with every value, twice); references to
#: it could multiply that beyond any node's (and this process's) memory.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: The codes of these limits: an edit that makes a referring segment fail with one of them
#: is refused.
LIMIT_CODES = frozenset({"E_TOO_MANY_CONDITIONS", "E_TOO_DEEP", "E_TOO_COMPLEX", "E_TOO_LARGE"})

_LEAF_BOOL_KEYS = ("filter", "must", "should")


def clauses(query: Query) -> int:
    """The Lucene clauses of a query (an upper bound of what Elasticsearch counts)."""
    total = 0
    stack = [query]
    while stack:
        kind, body = next(iter(stack.pop().items()))
        if kind == "bool":
            parts = [q for key in (*_LEAF_BOOL_KEYS, "must_not") for q in body.get(key, [])]
            if not any(body.get(key) for key in _LEAF_BOOL_KEYS):
                total += 1  # Elasticsearch adds `*:*` to a bool of `must_not` only
            stack.extend(parts)
        elif kind == "nested":
            total += _path_filter(body["path"], body["query"])
            stack.append(body["query"])
        elif kind == "function_score":
            stack.append(body["query"])
            stack.extend(f["filter"] for f in body.get("functions", []) if "filter" in f)
        elif kind == "constant_score":
            stack.append(body["filter"])
        elif kind == "range":
            spec = next(iter(body.values()))
            numeric = any(isinstance(spec.get(k), int | float) for k in ("gt", "gte", "lt", "lte"))
            total += 2 if numeric else 1
        else:
            total += 1
    return total


def _path_filter(path: str, query: Query) -> int:
    """1 when Elasticsearch adds a `_nested_path` filter to a nested query's own query: it
    does unless a required term on a field of the path already keeps it to nested
    documents."""
    kind, body = next(iter(query.items()))
    if kind in ("term", "terms"):
        return 0 if next(iter(body)).startswith(path + ".") else 1
    if kind == "constant_score":
        return _path_filter(path, body["filter"])
    if kind == "bool":
        required = [*body.get("filter", []), *body.get("must", [])]
        return min((_path_filter(path, q) for q in required), default=1)
    return 1


def body_bytes(body: dict[str, Any]) -> int:
    """The size of a request body as compact JSON."""
    return len(orjson.dumps(body))


#: What a group or `not` adds to a query's bytes, at most (`{"bool":{"filter":[...]}}`).
_WRAPPER_BYTES = 64

Leaf = tree.FieldCondition | tree.ActivityCondition


@dataclass(frozen=True)
class Size:
    """A condition's size with its saved segments expanded: conditions (those in `where`
    included, references replaced by what they refer to), how deep its deepest part lies
    (groups, `not`, `where` and references open a level), and about how many
    bytes its query takes (each condition's query measured, wrappers at their most)."""

    conditions: int
    depth: int
    bytes: int


@dataclass
class _Sizer:
    #: The query of one condition (never a reference), to measure its bytes.
    leaf_query: Callable[[Leaf], Query]
    #: Each saved segment's size, by folded name: measured once however often referred to.
    sizes: dict[str, Size] = field(default_factory=dict)

    def saved(self, ref: tree.SegmentRef) -> Size:
        key = ref.name.casefold()
        if key not in self.sizes:
            self.sizes[key] = self.size(ref.body, 0)
        return self.sizes[key]

    def size(self, node: tree.ContactExpr | tree.WhereExpr, level: int,
             where: bool = False) -> Size:
        match node:
            case tree.Group():
                inner = level + 1 if node.source.type in ("all", "any") else level
                parts = [self.size(item, inner, where) for item in node.items]
                return Size(sum(p.conditions for p in parts),
                            max([level, *(p.depth for p in parts)]),
                            sum(p.bytes for p in parts) + _WRAPPER_BYTES)
            case tree.Not():
                inside = self.size(node.expr, level + 1, where)
                return replace(inside, bytes=inside.bytes + _WRAPPER_BYTES)
            case tree.FieldCondition():  # in `where`, part of its activity's query
                return Size(1, level, 0 if where else body_bytes(self.leaf_query(node)))
            case tree.ActivityCondition():
                own = body_bytes(self.leaf_query(node))
                if node.filter.where is None:
                    return Size(1, level, own)
                inside = self.size(node.filter.where, level + 1, where=True)
                return Size(1 + inside.conditions, inside.depth, own)
            case tree.SegmentRef():  # opens a level, as parentheses would
                body = self.saved(node)
                return Size(body.conditions, level + 1 + body.depth, body.bytes)
            case _:
                assert_never(node)


def references(node: tree.ContactExpr | tree.WhereExpr,
               level: int = 0) -> list[tuple[tree.SegmentRef, int]]:
    """The segment's own `in_segment` references (not those of the segments they refer to)
    with the level each stands at."""
    match node:
        case tree.Group():
            inner = level + 1 if node.source.type in ("all", "any") else level
            return [found for item in node.items for found in references(item, inner)]
        case tree.Not():
            return references(node.expr, level + 1)
        case tree.FieldCondition() | tree.ActivityCondition():
            return []
        case tree.SegmentRef():
            return [(node, level)]
        case _:
            assert_never(node)


def _at(checked: tree.Checked, node: ast.Node | None, code: str, message: str,
        hint: str | None) -> SegmentError:
    node = node or checked.node
    span = node.span or ast.Span(line=1, column=1, end_line=1, end_column=2)
    return SegmentError([Diagnostic(
        code=code, message=message, line=span.line, column=span.column,
        end_line=span.end_line, end_column=span.end_column, hint=hint,
        pointer=node.pointer)], checked.source)


@dataclass(frozen=True)
class _Share:
    """What one saved segment referred to brings into a segment: `total` over `times`
    references, the first of them `first`."""

    name: str
    first: tree.SegmentRef
    times: int
    total: int


def _largest(refs: list[tree.SegmentRef], measure: Callable[[tree.SegmentRef], int]
             ) -> _Share | None:
    """The saved segment that brings the most (by `measure` of one reference)."""
    times = Counter(ref.name.casefold() for ref in refs)
    first: dict[str, tree.SegmentRef] = {}
    for ref in refs:
        first.setdefault(ref.name.casefold(), ref)
    shares = [_Share(ref.name, ref, times[key], times[key] * measure(ref))
              for key, ref in first.items()]
    return max(shares, key=lambda s: s.total, default=None)


def _trail(share: _Share, measure: Callable[[tree.SegmentRef], int]) -> list[_Share]:
    """The largest share, and within it the largest share of its own references, as long
    as that is most of it: down to the segment whose own conditions make the bulk."""
    trail = [share]
    while len(trail) <= MAX_DEPTH:
        last = trail[-1]
        inner = _largest([r for r, _ in references(last.first.body)], measure)
        if inner is None or 2 * inner.total <= measure(last.first):
            break
        trail.append(inner)
    return trail


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n:,} times"


def _blame(refs: list[tree.SegmentRef], measure: Callable[[tree.SegmentRef], int],
           total: int, what: str) -> tuple[ast.Node | None, str | None]:
    """Where to point and what to say when `total` (of `what`) is over a limit: at the
    reference that brings the most, if references bring most of it."""
    memo: dict[str, int] = {}

    def one(ref: tree.SegmentRef) -> int:
        key = ref.name.casefold()
        if key not in memo:
            memo[key] = measure(ref)
        return memo[key]

    share = _largest(refs, one)
    if share is None or 2 * share.total <= total:
        return None, None
    trail = _trail(share, one)
    hint = (f'in_segment "{share.name}" (referred to {_times(share.times)}) brings '
            f"{share.total:,} {what}")
    if len(trail) > 1:
        hint += (f', most through in_segment "{trail[-1].name}" ({_times(trail[-1].times)} '
                 f'in "{trail[-2].name}", {one(trail[-1].first):,} each)')
    hint += ("; in_segment counts what the segment it refers to holds, so splitting into "
             f'more saved segments does not help: refer to "{trail[-1].name}" fewer times, '
             "or make it smaller")
    return share.first.source, hint


def check_expanded(checked: tree.Checked, leaf_query: Callable[[Leaf], Query]) -> None:
    """Raise SegmentError when the segment, its saved segments expanded, has more
    conditions or nests deeper than LANGUAGE.md §6 allows, or would compile to more than
    MAX_BODY_BYTES (measured from each condition's query, `leaf_query`, before the whole
    is built: references can multiply a query far beyond memory); positioned at the
    reference that brings the most."""
    sizer = _Sizer(leaf_query)
    size = sizer.size(checked.expr, 0)
    refs = references(checked.expr)
    if size.conditions > MAX_CONDITIONS:
        node, hint = _blame([r for r, _ in refs], lambda r: sizer.saved(r).conditions,
                            size.conditions, "conditions")
        raise _at(checked, node, "E_TOO_MANY_CONDITIONS",
                  f"with its saved segments expanded the segment has {size.conditions:,} "
                  f"conditions; the limit is {MAX_CONDITIONS:,}", hint)
    if size.depth > MAX_DEPTH:
        ref, level = max(refs, key=lambda found: found[1] + sizer.saved(found[0]).depth)
        raise _at(checked, ref.source, "E_TOO_DEEP",
                  f"with its saved segments expanded the segment nests {size.depth} levels "
                  f"deep; the limit is {MAX_DEPTH}",
                  f'in_segment "{ref.name}" stands {level} levels deep and adds '
                  f"{sizer.saved(ref).depth + 1} (a reference opens a level): refer to it "
                  "nearer the top, or flatten it or the segments it refers to")
    if size.bytes > MAX_BODY_BYTES:
        node, hint = _blame([r for r, _ in refs], lambda r: sizer.saved(r).bytes,
                            size.bytes, "bytes")
        raise _at(checked, node, "E_TOO_LARGE",
                  f"with its saved segments expanded the segment would compile to a query "
                  f"of about {size.bytes:,} bytes; the limit is {MAX_BODY_BYTES:,}",
                  hint or "shorten the longest strings and lists")


def check_compiled(checked: tree.Checked, query: Query,
                   compile_ref: Callable[[tree.ContactExpr], Query]) -> None:
    """Raise SegmentError when the compiled query nests deeper than Elasticsearch accepts
    (E_TOO_DEEP) or has more clauses than MAX_CLAUSES (E_TOO_COMPLEX). `compile_ref`
    compiles a referenced segment's body, to say which one brings the most."""
    refs = [ref for ref, _ in references(checked.expr)]
    if depth(query) > MAX_QUERY_DEPTH:
        raise _at(checked, None, "E_TOO_DEEP",
                  f"the compiled query nests {depth(query)} levels deep; Elasticsearch "
                  f"accepts {MAX_QUERY_DEPTH}",
                  "flatten alternating all/any groups, or inline fewer saved segments")
    count = clauses(query)
    if count > MAX_CLAUSES:
        node, hint = _blame(refs, lambda r: clauses(compile_ref(r.body)), count, "clauses")
        raise _at(checked, node, "E_TOO_COMPLEX",
                  f"the segment compiles to {count:,} Elasticsearch clauses; the limit is "
                  f"{MAX_CLAUSES:,}",
                  hint or "most conditions cost one or two clauses, events and visits a few, "
                  "exact counts twice as many; fold equal comparisons into one `in [...]` "
                  "list")
