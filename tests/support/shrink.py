"""Cutting a failing expression tree (hard_data's `Node`s) down to a small one that still
fails: try the sub-expressions, groups without one item, `not` dropped, an activity without
its `where`, count or window, `not_occurred` as `occurred`, a saved segment inlined."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

from hard_data import Act, Group, Node, Not, SegRef


def size(node: Node) -> tuple[int, int, int]:
    """(segment references, nodes, characters): a candidate must be smaller."""
    refs, nodes = _count(node)
    return refs, nodes, len(node.render())


def _count(node: Node) -> tuple[int, int]:
    if isinstance(node, Group):
        counts = [_count(item) for item in node.items]
        return sum(r for r, _ in counts), 1 + sum(n for _, n in counts)
    if isinstance(node, Not):
        refs, nodes = _count(node.expr)
        return refs, nodes + 1
    if isinstance(node, Act):
        refs, nodes = _count(node.where) if node.where is not None else (0, 0)
        extra = (node.count is not None) + (node.window is not None) + (not node.occurred)
        return refs, nodes + 1 + extra
    if isinstance(node, SegRef):
        return 1, 1
    return 0, 1


def _standalone(node: Node) -> Node:
    """A node as it may stand anywhere: an `and` chain written bare gets its parentheses."""
    return replace(node, bare=False) if isinstance(node, Group) and node.bare else node


def candidates(node: Node, segments: Mapping[str, Node]) -> Iterator[Node]:
    """Simpler variants of `node`, the most drastic first."""
    if isinstance(node, Group):
        for item in node.items:
            yield _standalone(item)
        if len(node.items) > 1:
            for i in range(len(node.items)):
                yield replace(node, items=node.items[:i] + node.items[i + 1:])
        for i, item in enumerate(node.items):
            for simpler in candidates(item, segments):
                if node.kind != "or":
                    simpler = _standalone(simpler)
                yield replace(node, items=(*node.items[:i], simpler, *node.items[i + 1:]))
    elif isinstance(node, Not):
        yield _standalone(node.expr)
        for simpler in candidates(node.expr, segments):
            yield replace(node, expr=_standalone(simpler))
    elif isinstance(node, Act):
        if node.where is not None:
            yield replace(node, where=None)
        if node.count is not None:
            yield replace(node, count=None)
        if node.window is not None:
            yield replace(node, window=None)
        if not node.occurred:
            yield replace(node, occurred=True, occurred_word="occurred", count=None)
        if node.where is not None:
            for simpler in candidates(node.where, segments):
                yield replace(node, where=_standalone(simpler))
    elif isinstance(node, SegRef) and node.key in segments:
        yield _standalone(segments[node.key])


def shrink(node: Node, fails: Callable[[Node], bool], segments: Mapping[str, Node],
           budget: int = 300) -> Node:
    """The smallest variant reached greedily that `fails` still holds for (`fails` is
    called at most `budget` times)."""
    current = node
    tries = 0
    progress = True
    while progress and tries < budget:
        progress = False
        current_size = size(current)
        for candidate in candidates(current, segments):
            if size(candidate) >= current_size:
                continue
            tries += 1
            if fails(candidate):
                current = candidate
                progress = True
                break
            if tries >= budget:
                break
    return current
