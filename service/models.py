"""The request and response bodies of the HTTP API (pydantic; they are the OpenAPI
document's schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["email", "sms", "push"]


class SegmentInput(BaseModel):
    """A segment: its text, or its JSON form (`segql json-schema`), or a saved segment's
    name (account endpoints only). Exactly one."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=1_000_000)
    ast: dict[str, Any] | None = None
    saved: str | None = Field(default=None, max_length=1000)


class Evaluation(SegmentInput):
    """A segment with the instant and zone it is evaluated at (default: now, UTC)."""

    now: str | None = Field(default=None, description="ISO 8601 instant; default now")
    timezone: str | None = Field(default=None, description="IANA zone; default UTC")


class CountRequest(Evaluation):
    channels: bool = True


class PageRequest(Evaluation):
    channel: Channel | None = None
    size: int = Field(default=1000, ge=1, le=10_000)
    cursor: str | None = Field(default=None, max_length=100_000)


class ExplainRequest(Evaluation):
    contact_id: str = Field(min_length=1, max_length=400)


class ExportRequest(Evaluation):
    channel: Channel | None = None
    format: Literal["ndjson", "csv"] = "ndjson"


class SavedSegmentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    text: str | None = Field(default=None, max_length=1_000_000)
    ast: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=2000)


class SavedSegmentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=1_000_000)
    ast: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=2000)


class Diagnostic(BaseModel):
    code: str
    message: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    pointer: str | None = None


class CheckResult(BaseModel):
    valid: bool
    text: str | None = None
    diagnostics: list[Diagnostic] = []


class TextResult(BaseModel):
    text: str


class AstResult(BaseModel):
    ast: dict[str, Any]


class LeftOut(BaseModel):
    """Contacts of the segment a channel leaves out, by reason (each counted once, under
    the first that applies): its consent for the channel is `unsubscribed`, `bounced` or
    `complained`, else it has no address for the channel (`no_address`)."""

    no_address: int
    unsubscribed: int
    bounced: int
    complained: int


class CountResult(BaseModel):
    count: int
    #: Per channel: the contacts it reaches (an address, and no consent that keeps them out).
    reach: dict[str, int] | None = None
    #: Per channel: the contacts it leaves out, by reason (with `reach`).
    left_out: dict[str, LeftOut] | None = None
    took_ms: int


class PageResult(BaseModel):
    contacts: int
    rows: list[dict[str, str | None]]
    cursor: str | None
    #: With a channel: the snapshot's contacts it leaves out, by reason (every page).
    left_out: LeftOut | None = None


class SegmentProblem(BaseModel):
    """Why a saved segment has no count: it does not check (the code of its first
    problem) or Elasticsearch could not count it (E_TOO_COMPLEX, E_SEARCH_FAILED)."""

    code: str
    message: str
    hint: str | None = None


class SavedSegment(BaseModel):
    name: str
    text: str
    description: str | None = None
    count: int | None = None
    #: Instead of `count` when the segment could not be counted; the others still are.
    error: SegmentProblem | None = None


class Members(BaseModel):
    total: int
    page: int
    size: int
    members: list[dict[str, Any]]
