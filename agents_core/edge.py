"""What every request meets before a handler's logic: the HTTP edge.

- `read_json`: JSON media types only (415), a size limit (413), a read
  timeout (408), a process-wide budget of buffered body bytes (503), and
  values every later step can encode (no lone surrogates, no numbers that
  overflow to infinity, bounded nesting).
- `Cors`: `CORS_ALLOW_ORIGINS` preflights and response headers.
- `loopback_host`: the `Host` check that keeps web pages from driving an open
  local server through DNS rebinding.
- `public_base`: scheme and host for URLs we hand out (agent cards), from
  configuration or the platform, never from an untrusted forwarding header.
- `request_id`: the id every response and log line of a request quotes.
- `CallerWatch`, `while_connected` and `EventStream`: a run lasts only while its caller
  is there; a caller that goes away (or stops reading a stream past its
  deadline) gets its run cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterable, Mapping
from typing import Any, Self, TypeVar

import anyio
import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from agents_core import json_codec
from agents_core.config import Platform, Settings
from agents_core.errors import AdapterError, InvalidRequest, PayloadTooLarge, ServiceUnavailable

__all__ = [
    "BodyBudget",
    "CallerGone",
    "CallerWatch",
    "Cors",
    "EventStream",
    "JSONResponse",
    "loopback_host",
    "new_request_id",
    "public_base",
    "read_json",
    "request_id",
    "while_connected",
]

MAX_JSON_DEPTH = 64
JSON_MEDIA_TYPE = re.compile(r"application/(?:[A-Za-z0-9.+-]+\+)?json", re.IGNORECASE)
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
SURROGATE = re.compile("[\ud800-\udfff]")
LONG_NUMBER = re.compile(rb"[0-9]{16}")
HOST = re.compile(
    r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?"
)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}
CORS_REQUEST_HEADERS = (
    "authorization, api-key, x-api-key, x-thread-id, content-type, a2a-version, "
    "traceparent, tracestate, x-foundry-authorization"
)
CORS_EXPOSED_HEADERS = (
    "x-thread-id, x-request-id, x-dropped-params, x-adjusted-params, x-upstream-request-id, "
    "retry-after"
)


def request_id(scope: Scope) -> str:
    """The request's id: the one the local server's router assigned, or a new one."""
    state = scope.get("state")
    if isinstance(state, dict) and isinstance(state.get("request_id"), str):
        return str(state["request_id"])
    return new_request_id()


def new_request_id() -> str:
    """`req_` and 32 random hex digits (128 bits, as much randomness as a UUID4 holds)."""
    return f"req_{os.urandom(16).hex()}"


class BodyBudget:
    """Request body bytes buffered at once in this process (`MAX_BUFFERED_BYTES`).

    Requests that would go over it are refused with 503 and `Retry-After`
    instead of growing memory without bound under many large bodies.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise ServiceUnavailable(
                "the server is receiving too many large request bodies at once; retry shortly",
                code="server_busy",
                retry_after=1,
            )
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


async def read_json(
    request: Request,
    limit: int,
    *,
    budget: BodyBudget | None = None,
    read_timeout: float | None = None,
) -> Any:
    """The decoded JSON body, refusing more than `limit` bytes without reading them all.

    The media type is checked once the body is read, so an oversized body is
    a 413 whatever it claims to be.
    """
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"request body is larger than {limit} bytes (MAX_BODY_BYTES)", code="request_too_large"
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    taken = 0
    try:
        try:
            async with asyncio.timeout(read_timeout):
                async for chunk in request.stream():
                    if budget is not None:
                        budget.take(len(chunk))
                        taken += len(chunk)
                    body += chunk
                    if len(body) > limit:
                        raise too_large
        except TimeoutError:
            raise InvalidRequest(
                f"the request body did not arrive within {read_timeout:g} s (BODY_READ_TIMEOUT)",
                code="request_timeout",
                status_code=408,
            ) from None
        require_json_media_type(request.headers)
        if not body:
            raise InvalidRequest("the request body is empty: send a JSON object")
        if LONG_NUMBER.search(body) is None:  # orjson would read a long integer as a float
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # the standard library's reading below says what is wrong
            else:
                if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
                    _check_values(value, surrogates=False)  # orjson refuses lone surrogates
                return value
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("the request body is not UTF-8 JSON") from None
    finally:
        del body
        if budget is not None:
            budget.give(taken)
    return decode_json(text)


def require_json_media_type(headers: Headers) -> None:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip()
    if not JSON_MEDIA_TYPE.fullmatch(media_type):
        raise InvalidRequest(
            f"send the body as JSON with 'Content-Type: application/json' "
            f"(got {media_type[:60] or 'no content type'})",
            code="unsupported_media_type",
            status_code=415,
        )


def decode_json(text: str) -> Any:
    """Parse `text`; values that could not be encoded again are a 400, not a 500 later."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidRequest(
            f"the request body is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError as exc:
        if "int_max_str_digits" in str(exc) or "integer string conversion" in str(exc):
            raise InvalidRequest(
                "the request body holds an integer with too many digits (4,300 at most)"
            ) from None
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
    surrogates = SURROGATE_ESCAPE.search(text) is not None
    if deep or surrogates:
        _check_values(value, surrogates)
    return value


def _check_values(value: Any, surrogates: bool) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise InvalidRequest(
                    f"the request body is not valid JSON: nested deeper than {MAX_JSON_DEPTH} "
                    "levels"
                )
            children: Iterable[Any] = item.values() if isinstance(item, dict) else item
            if surrogates and isinstance(item, dict):
                children = [*item.values(), *item.keys()]
            stack.extend((child, depth + 1) for child in children)
        elif surrogates and isinstance(item, str) and SURROGATE.search(item):
            raise InvalidRequest(
                "the request body is not valid JSON: it holds a lone UTF-16 surrogate "
                "(\\ud800-\\udfff), which is not a character"
            )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


class Cors:
    """Cross-origin access for the origins in `CORS_ALLOW_ORIGINS` (none by default).

    Keys travel in headers, never cookies, so credentials mode is not
    offered; preflights are answered without a key, as browsers send them.
    """

    def __init__(self, setting: str) -> None:
        self._origins = {part.strip() for part in setting.split(",") if part.strip()}

    @property
    def enabled(self) -> bool:
        return bool(self._origins)

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin or not self._origins:
            return None
        if "*" in self._origins:
            return "*"
        return origin if origin in self._origins else None

    def preflight(self, request: Request, method: str) -> Response | None:
        """The answer to a CORS preflight for a route taking `method`; None if not one."""
        origin = request.headers.get("origin")
        wanted = request.headers.get("access-control-request-method")
        if not self._origins or not origin or not wanted:
            return None
        allowed = self.allowed_origin(origin)
        if allowed is None or wanted.upper() != method:
            return Response(status_code=403, headers={"Vary": "Origin"})
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": allowed,
                "Access-Control-Allow-Methods": f"{method}, OPTIONS",
                "Access-Control-Allow-Headers": CORS_REQUEST_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    def decorate(self, request: Request, response: Response) -> None:
        allowed = self.allowed_origin(request.headers.get("origin"))
        if allowed is None:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
        response.headers["Vary"] = "Origin"


def loopback_host(headers: Headers) -> bool:
    """True if the `Host` header names this machine (a page on another name cannot use us)."""
    host = headers.get("host", "").strip().lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_NAMES or name.endswith(".localhost")


def public_base(request: Request, settings: Settings, platform: Platform) -> str:
    """Scheme and host of URLs we hand out.

    In order: `PUBLIC_BASE_URL`; the platform's host name (`WEBSITE_HOSTNAME`,
    TLS ends at Azure's front end); `X-Forwarded-Proto` / `-Host` only from a
    peer in `TRUSTED_PROXIES`; else the connection's scheme and a well-formed
    `Host`.
    """
    if settings.public_base_url:
        return settings.public_base_url
    hostname = (platform.website_hostname or "").strip()
    if hostname and HOST.fullmatch(hostname):
        return f"https://{hostname}"
    scheme = request.url.scheme if request.url.scheme in ("http", "https") else "http"
    peer = request.client.host if request.client else None
    if peer and _trusted(peer, settings.trusted_proxies):
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        if host and HOST.fullmatch(host):
            return f"{proto if proto in ('http', 'https') else scheme}://{host}"
    host = request.headers.get("host", "").strip()
    if HOST.fullmatch(host):
        return f"{scheme}://{host}"
    server = request.scope.get("server") or ("127.0.0.1", 80)
    return f"{scheme}://{server[0]}:{server[1]}"


def _trusted(peer: str, proxies: str) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(entry.strip(), strict=False)
        for entry in proxies.split(",")
        if entry.strip()
    )


class JSONResponse(StarletteJSONResponse):
    """`application/json`, encoded by `json_codec` (orjson: a tenth of `json.dumps`' time)."""

    def render(self, content: Any) -> bytes:
        return json_codec.dumps(content)


T = TypeVar("T")
log = logging.getLogger("agents_core.edge")
STREAM_GRACE = 1.0
"""Past its deadline a stream has this long to deliver its last frame before it is cut."""


class CallerGone(Exception):
    """The caller's `http.disconnect` arrived while a `CallerWatch` block ran (it was cancelled)."""


class CallerWatch:
    """Run a block in the current task; the caller's `http.disconnect` cancels it.

    One watcher task waits on `receive`; when the caller goes, the block's
    task is cancelled and the block ends with `CallerGone` (its cleanup,
    such as cancelling a run, has run by then). A cancellation of any other
    origin passes through unchanged. Call it once the body is read: the
    caller's next ASGI message is then `http.disconnect`.
    """

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watching = True
        self.gone = False
        self._watcher = asyncio.ensure_future(_disconnected(receive))
        self._watcher.add_done_callback(self._fired)

    def _fired(self, watcher: asyncio.Future[None]) -> None:
        if self._watching and not watcher.cancelled() and watcher.exception() is None:
            self.gone = True
            self._task.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self._watching = False
        self._watcher.cancel()
        if self.gone and isinstance(exc, asyncio.CancelledError):
            self._task.uncancel()
            raise CallerGone from None


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def while_connected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, unless the caller disconnects first: then `work` is cancelled (499).

    For blocking answers (chat and Responses without `stream`, A2A blocking
    sends): cancelling the work leaves its run stream, which cancels the run
    upstream. `work` runs in the request's own task (`CallerWatch`).
    """
    try:
        with CallerWatch(request.receive):
            return await work
    except CallerGone:
        log.info("caller disconnected; its run was cancelled (%s)", request.url.path)
        raise AdapterError(
            "the caller disconnected before the answer", code="client_disconnected", status_code=499
        ) from None


class EventStream(StreamingResponse):
    """`text/event-stream` that ends when the caller goes, or by its deadline even if unread.

    A caller that stops reading blocks the server's `send` once the socket's
    buffers are full, and a deadline inside the body never gets to run. Past
    `deadline` (plus `STREAM_GRACE` for the body's own last frame) the body
    is closed, which cancels its run, and the connection is dropped. A
    caller's `http.disconnect` closes the body the same way.

    The stream runs in the request's own task under `CallerWatch`; Starlette's
    `StreamingResponse` ran an anyio task group (two tasks, three cancel
    scopes) per stream, about 4 KB of each open stream's memory.
    """

    def __init__(
        self, content: AsyncIterator[bytes], deadline: float, headers: Mapping[str, str]
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.deadline = deadline
        self._started = False

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        self._started = True
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with CallerWatch(receive):
                async with asyncio.timeout(self.deadline + STREAM_GRACE):
                    await self.stream_response(send)
        except TimeoutError:
            log.warning(
                "stream passed its %g s deadline with the caller not reading: "
                "run cancelled, connection closed",
                self.deadline,
            )
            await self._close_body()
        except CallerGone:
            await self._close_body()

    async def _close_body(self) -> None:
        """Close the body (its run is cancelled there), shielded from the server's cancellation.

        A body never started (the caller left while the response's start was
        waiting on a full socket) would close without running its cleanup, and
        its run, already open upstream, would go on: it is started first and
        cancelled at its first wait, which runs that cleanup.
        """
        body = self.body_iterator
        with anyio.CancelScope(shield=True):
            if not self._started and isinstance(body, AsyncGenerator):
                self._started = True
                with contextlib.suppress(Exception, StopAsyncIteration):
                    async with asyncio.timeout(0):
                        await anext(body)
            closing = getattr(body, "aclose", None)
            if closing is not None:
                await closing()
