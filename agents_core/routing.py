"""The local server's ASGI application: a route table in front of the shared handlers.

What it does per request, and nothing else: a request id in the scope (the
one every response and log line quotes), one trailing slash ignored (as
the Functions host does, so `/a2a/<agent>/` is served, not redirected:
clients do not re-POST after a redirect), a dictionary lookup for fixed
paths and one regular expression per templated path, then the handler's
`Request -> Response`. Unknown paths are 404 and known paths with another
method 405 (with `Allow`), both in OpenAI's error shape.

Starlette's application stack (error and exception middleware, a router
trying every route's pattern, a wrapper per call and per `send`) did more
than that on every request and every `send` (the adapter's handlers behind
a raw ASGI app measured 2.9 against 3.35 ms of CPU per completion in one
run; with the upstream and disconnect changes of the same release,
0.13-0.3 ms less in interleaved runs, `tests/bench_ab.py`); this module is
the part of it the adapter uses. The Functions host routes by itself
(`function_app.py`), so this serves `serve` and the tests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from agents_core.edge import new_request_id

__all__ = ["Route", "Router"]

log = logging.getLogger("agents_core.routing")
Endpoint = Callable[[Request], Awaitable[Response]]
ErrorPage = Callable[[Request, int, tuple[str, ...]], Response]
PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


@dataclass(frozen=True)
class Route:
    """`path` served by `endpoint` for `methods` (`GET` also answers `HEAD`).

    `{name}` in `path` matches one segment, `{name:path}` the rest of the path.
    """

    path: str
    endpoint: Endpoint
    methods: tuple[str, ...]
    pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if PARAMETER.search(self.path) is None:
            object.__setattr__(self, "pattern", None)
            return
        parts, last = [], 0
        for match in PARAMETER.finditer(self.path):
            parts.append(re.escape(self.path[last : match.start()]))
            parts.append(".+" if match.group(2) else "[^/]+")
            last = match.end()
        parts.append(re.escape(self.path[last:]))
        object.__setattr__(self, "pattern", re.compile("".join(parts)))

    def allows(self, method: str) -> bool:
        return method in self.methods or (method == "HEAD" and "GET" in self.methods)

    def allowed(self) -> tuple[str, ...]:
        """The methods for an `Allow` header."""
        if "GET" in self.methods and "HEAD" not in self.methods:
            return ("GET", "HEAD", *(m for m in self.methods if m != "GET"))
        return self.methods


class Router:
    """ASGI app: `routes` first, then `mount`ed apps by path prefix, else `error_page`.

    `error_page(request, status, allowed_methods)` answers 404 and 405.
    `on_shutdown` runs when the server stops (ASGI lifespan).
    """

    def __init__(
        self,
        routes: Iterable[Route],
        error_page: ErrorPage,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.routes = list(routes)
        self._fixed: dict[str, list[Route]] = {}
        self._templated = [route for route in self.routes if route.pattern is not None]
        for route in self.routes:
            if route.pattern is None:
                self._fixed.setdefault(route.path, []).append(route)
        self._mounts: list[tuple[str, ASGIApp]] = []
        self._error_page = error_page
        self._on_shutdown = on_shutdown

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Serve `prefix` and everything under it with `app` (its `root_path` gets `prefix`)."""
        self._mounts.append((prefix.rstrip("/"), app))

    def match(self, path: str) -> list[Route]:
        """The routes whose path matches `path`, any method."""
        found = self._fixed.get(path)
        if found is not None:
            return found
        return [
            route
            for route in self._templated
            if route.pattern is not None and route.pattern.fullmatch(path)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        state = scope.get("state")
        if not isinstance(state, dict):
            state = scope["state"] = {}
        request_id = state["request_id"] = new_request_id()
        path: str = scope["path"]
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await app(self._mounted(scope, prefix), receive, _with_id(send, request_id))
                return
        if _trailing_slash(scope):  # handlers read the path as served: without it
            path = scope["path"] = path[:-1]
            if isinstance(scope.get("raw_path"), bytes):
                scope["raw_path"] = scope["raw_path"][:-1]
        routes = self.match(path)
        method: str = scope["method"]
        request = Request(scope, receive)
        for route in routes:
            if route.allows(method):
                response = await route.endpoint(request)
                break
        else:
            allowed = tuple(dict.fromkeys(m for route in routes for m in route.allowed()))
            response = self._error_page(request, 405 if routes else 404, allowed)
            response.headers["x-request-id"] = request_id
        await response(scope, receive, send)

    @staticmethod
    def _mounted(scope: Scope, prefix: str) -> Scope:
        root = scope.get("root_path", "")
        return {**scope, "root_path": root + prefix, "app_root_path": scope.get("root_path", "")}

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self._on_shutdown is not None:
                        await self._on_shutdown()
                except Exception as exc:
                    log.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


def _trailing_slash(scope: Scope) -> bool:
    """The path ends in one `/` as sent (not `%2F`, not `//`), and is not the root."""
    path: str = scope["path"]
    raw = scope.get("raw_path")
    return (
        len(path) > 1
        and path.endswith("/")
        and not path.endswith("//")
        and (not isinstance(raw, bytes) or raw.endswith(b"/"))
    )


def _with_id(send: Send, request_id: str) -> Send:
    """`send` for a mounted app: `x-request-id` added, a redirect's `Location` made relative.

    A relative `Location` never names a host the caller made up (`Host`).
    """
    raw = request_id.encode()

    async def send_with_id(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, _relative(value) if name.lower() == b"location" else value)
                for name, value in message.get("headers") or []  # type: ignore[attr-defined]
            ]
            if not any(name.lower() == b"x-request-id" for name, _ in headers):
                headers.append((b"x-request-id", raw))
            message = {**message, "headers": headers}
        await send(message)

    return send_with_id  # type: ignore[return-value]


def _relative(location: bytes) -> bytes:
    match = re.match(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/]*(/.*)?$", location)
    if match is None:
        return location
    return match.group(1) or b"/"
