"""The playground: one static page for trying the agents in a browser.

The page and its assets (HTML, CSS, JavaScript modules) ship in the
`agents_core/playground/` folder next to this module and are served as they
are: no build step, nothing fetched from elsewhere. The page talks to the
same public endpoints as any client (`/v1/...`, `/a2a/...`), with the
gateway key the person types in; it has no privileges of its own.

Every answer carries a strict Content-Security-Policy (same origin only, no
inline script or style, no framing) and `X-Content-Type-Options: nosniff`.
The setting `PLAYGROUND=false` turns the page and its assets into 404s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from agents_core.errors import NotFound

__all__ = ["ASSETS", "FUNCTIONS_ROOT_ROUTE", "SECURITY_HEADERS", "Playground"]

ASSETS = Path(__file__).with_name("playground")
# Azure Functions ignores an empty route; an optional parameter that must stay
# empty is how a function answers at the site root.
FUNCTIONS_ROOT_ROUTE = "{page:maxlength(0)?}"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGE = "index.html"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def _assets() -> dict[str, Asset]:
    """Every servable file of the folder, by name, read once per process."""
    assets = {}
    for path in sorted(ASSETS.iterdir()):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.name] = Asset(body, media_type, etag)
    return assets


class Playground:
    """Handlers for `GET /`, `GET /playground` and `GET /playground/{asset}`.

    `enabled` is asked on every request, so the handlers can be built before
    the settings are read (the Functions app builds its runtime lazily).
    """

    def __init__(self, enabled: Callable[[], bool]) -> None:
        self._enabled = enabled

    async def page(self, request: Request, request_id: str) -> Response:
        """The page itself, at `/` and `/playground`."""
        return self._serve(request, PAGE)

    async def asset(self, request: Request, request_id: str) -> Response:
        """A stylesheet, script module or icon the page loads."""
        name = request.url.path.rsplit("/", 1)[-1]
        return self._serve(request, name)

    def _serve(self, request: Request, name: str) -> Response:
        if not self._enabled():
            raise NotFound(
                "the playground is turned off (PLAYGROUND=false)", code="route_not_found"
            )
        asset = _assets().get(name)
        if asset is None:
            raise NotFound(f"no playground file {name!r}", code="route_not_found")
        headers = {**SECURITY_HEADERS, "ETag": asset.etag}
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
