"""Errors users see: each carries a stable code, a position and a hint, never a traceback."""

from __future__ import annotations

from pydantic import BaseModel

#: Characters of the source line shown either side of an error's column.
_CONTEXT = 60


def _printable(text: str) -> str:
    """Control characters as `?`, so the caret stays under the right column."""
    return "".join(ch if ch.isprintable() or ch == " " else "?" for ch in text)


class Diagnostic(BaseModel):
    """One problem in a segment, positioned so a UI can underline it: in its text (line and
    column, 1-based) or, for a segment given in its JSON form, at the offending node
    (`pointer`, an RFC 6901 JSON Pointer such as `/items/0/op`; None for text)."""

    code: str
    message: str
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1
    hint: str | None = None
    pointer: str | None = None

    def to_json(self) -> dict[str, object]:
        """The diagnostic as JSON: `pointer` only for a JSON-form segment."""
        return self.model_dump(exclude={"pointer"} if self.pointer is None else None)

    def render(self, source: str) -> str:
        """The message with the offending source line (clipped around the column) and a
        caret under the text. Lines are split at `\\n` only, as the parser counts them."""
        if self.pointer is not None:  # a JSON-form segment: the node, not a text position
            out = [f"error[{self.code}] at {self.pointer or '/'}: {self.message}"]
            if self.hint:
                out.append(f"hint: {self.hint}")
            return "\n".join(out)
        lines = source.split("\n")
        text = lines[self.line - 1].rstrip("\r") if 0 < self.line <= len(lines) else ""
        start = max(0, self.column - 1 - _CONTEXT)
        shown = text[start : self.column - 1 + _CONTEXT]
        width = (
            max(1, self.end_column - self.column) if self.end_line == self.line else
            max(1, len(text) - self.column + 1)
        )
        width = min(width, max(1, len(shown) - (self.column - 1 - start)))
        prefix = "…" if start else ""
        out = [
            f"error[{self.code}] at line {self.line}, column {self.column}: {self.message}",
            f"  {prefix}{_printable(shown)}{'…' if start + len(shown) < len(text) else ''}",
            "  " + " " * (len(prefix) + self.column - 1 - start) + "^" * width,
        ]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


class SegqlError(Exception):
    """Base of every error segql reports to a user (exit code 2 for input, 1 for runtime)."""

    exit_code = 1


class SegmentError(SegqlError):
    """The segment text does not parse or does not check: one or more diagnostics."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic], source: str = "") -> None:
        self.diagnostics = diagnostics
        self.source = source
        super().__init__("; ".join(d.message for d in diagnostics))

    def render(self) -> str:
        return "\n".join(d.render(self.source) for d in self.diagnostics)


class InputError(SegqlError):
    """Input that can't be read as what it should be (a file that isn't UTF-8, ...)."""

    exit_code = 2
