"""Reading what a request names: a segment given as text, JSON form or saved name, and
the instant and zone it is evaluated at."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from segql import api
from segql.compiler.context import Context
from segql.errors import SegmentError
from segql.grammar.jsonform import from_data
from segql.grammar.parser import parse
from segql.service.models import Evaluation, SegmentInput
from segql.service.problems import Problem
from segql.service.settings import Settings
from segql.values import parse_instant


def segment_of(body: SegmentInput, ctx: Context | None = None) -> api.Segment:
    """The segment a body names (exactly one of text, ast, saved); JSON-form errors point
    into the request body (`/ast/...`)."""
    given = [key for key in ("text", "ast", "saved") if getattr(body, key) is not None]
    if len(given) != 1:
        raise Problem(422, "invalid-request", "Give the segment exactly one way",
                      "one of `text`, `ast` or `saved`")
    if body.text is not None:
        return body.text
    if body.ast is not None:
        try:
            return from_data(body.ast)
        except SegmentError as error:
            error.pointer_prefix = "/ast"  # type: ignore[attr-defined]
            raise
    if ctx is None:
        raise Problem(422, "invalid-request", "A saved segment needs an account",
                      "use /v1/accounts/{account}/...")
    assert body.saved is not None
    return api.saved_text(ctx, body.saved)


def zone_of(name: str | None) -> ZoneInfo:
    if name is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(400, "bad-request", f"unknown time zone {name!r}",
                      "use an IANA name such as Europe/Warsaw") from None


def now_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    instant = parse_instant(text)
    if instant is None:
        raise Problem(400, "bad-request", f"`now` is not an instant: {text!r}",
                      'use ISO 8601, e.g. "2026-03-01T12:00:00Z"')
    return instant


def evaluation(settings: Settings, account: str, body: Evaluation,
               now: datetime | None = None) -> tuple[Context, api.Segment]:
    """The account's context at the body's (or the given) instant and zone, and the
    segment it names. A text that does not parse is refused before the cluster is asked."""
    if body.text is not None:
        parse(body.text)
    ctx = settings.context(account, now=now or now_of(body.now),
                           timezone=zone_of(body.timezone))
    return ctx, segment_of(body, ctx)
