"""The segment builder page (docs/builder.md): `/` serves its HTML and `/ui/...` its ES
modules and stylesheet, plain files shipped inside the package (no bundler, no Node.js).
They hold no data and need no token: every call the page makes goes to the API, with
the token the user typed into the page."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from segql.service.auth import settings_of

#: The page's files (package data of segql.service).
STATIC = Path(__file__).parent / "static"
#: The page's own rules: its scripts and styles come from this origin only, and so do
#: its API calls.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
          "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
          "frame-ancestors 'none'")
_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

router = APIRouter(include_in_schema=False)
# a browser runs an ES module only with a JavaScript media type, whatever the machine's
# own table says (some map .js to text/plain)
mimetypes.add_type("text/javascript", ".js")


class PageFiles(StaticFiles):
    """The page's files, revalidated on every load (an upgraded segql is seen at once)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


@router.api_route("/", methods=["GET", "HEAD"])
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_HEADERS)


@router.get("/ui-config")
def config(request: Request) -> dict[str, bool]:
    """What the page must know before its first call: whether the API wants a token
    (`segql serve --no-auth`: no)."""
    return {"auth": bool(settings_of(request).auth)}


def mount(app: FastAPI) -> None:
    """Serve the page at `/` and its files under `/ui/`."""
    app.include_router(router)
    app.mount("/ui", PageFiles(directory=STATIC), name="ui")
