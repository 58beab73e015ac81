"""Errors users see: each carries a stable code, a position and a hint, never a traceback."""

from __future__ import annotations

from pydantic import BaseModel


class Diagnostic(BaseModel):
    """One problem in a segment's text, positioned so a UI can underline it (1-based)."""

    code: str
    message: str
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1
    hint: str | None = None

    def render(self, source: str) -> str:
        """The message with the offending source line and a caret under the text."""
        lines = source.splitlines() or [""]
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        width = (
            max(1, self.end_column - self.column) if self.end_line == self.line else
            max(1, len(text) - self.column + 1)
        )
        out = [
            f"error[{self.code}] at line {self.line}, column {self.column}: {self.message}",
            f"  {text}",
            "  " + " " * (self.column - 1) + "^" * width,
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
