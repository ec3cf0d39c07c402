"""What the adapter reports about each request, and the hooks that feed it.

Always on, and cheap: every request gets a `Turn` (a context variable the
hooks below fill in), requests that ran an agent end with one structured
log line (caller, agent, thread, tokens, duration, status; never content or
secrets), and the caller's W3C `traceparent` / `tracestate` go on to every
upstream request (`UpstreamTransport`).

OpenTelemetry is imported only when an exporter is configured
(`APPLICATIONINSIGHTS_CONNECTION_STRING`, or the standard `OTEL_*`
variables): then `agents_core.telemetry.otel` adds a server span per
request, an `invoke_agent` span per agent call and a client span per
upstream request, with the GenAI semantic conventions, plus metrics. With
neither set nothing of OpenTelemetry is imported or run.

Hooks, each one call from the module that knows the fact:
`serve` (the endpoint wrapper, `http`), `agent_resolved` (`runtime`),
`run_started` / `run_ended` (the run stream, `foundry`), the caller
(`auth.CALLER`, set by `CallerAuth.check`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from agents_core import json_codec
from agents_core.auth import CALLER

if TYPE_CHECKING:
    from agents_core.config import Platform

__all__ = [
    "ROUTES",
    "TURN",
    "Exporter",
    "Turn",
    "UpstreamTransport",
    "agent_resolved",
    "configure",
    "exporter",
    "install",
    "run_ended",
    "run_started",
    "serve",
]

log = logging.getLogger("agents_core.turns")

ROUTES = {
    "chat_completions": "/v1/chat/completions",
    "list_models": "/v1/models",
    "get_model": "/v1/models/{model}",
    "file_content": "/v1/files/{file_id}/content",
    "responses_create": "/v1/responses",
    "responses_get": "/v1/responses/{response_id}",
    "responses_cancel": "/v1/responses/{response_id}/cancel",
    "a2a_rpc": "/a2a/{agent}",
    "a2a_card": "/a2a/{agent}/.well-known/agent-card.json",
    "a2a_root_card": "/.well-known/agent-card.json",
    "page": "/playground",
    "asset": "/playground/{asset}",
}
"""Handler names → the route template reported as `http.route`."""

TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
"""A W3C `traceparent` of version 00 with non-zero ids; anything else is not passed on."""
A2A_ROUTE = "/a2a/{agent}"
TURN_ROUTES = frozenset({"/v1/chat/completions", A2A_ROUTE})
FINISH_REASONS = {
    "completed": "stop",
    "requires_action": "tool_calls",
    "incomplete": "length",
    "failed": "error",
    "expired": "error",
    "cancelled": "cancelled",
}


@dataclass
class Turn:
    """One request as the telemetry sees it; filled in by the hooks while it is served."""

    route: str
    method: str
    started: float = field(default_factory=time.perf_counter)
    traceparent: str | None = None
    tracestate: str | None = None
    request_id: str = ""
    caller: str = ""
    agent_id: str | None = None
    agent_name: str | None = None
    endpoint: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    run_status: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_type: str | None = None
    http_status: int = 0
    finished: bool = False
    spans: Any = None
    """The exporter's own state for this request (its spans), opaque here."""

    @property
    def invoked(self) -> bool:
        """The request ran the agent: a run started or ended upstream."""
        return self.run_id is not None

    @property
    def status(self) -> str:
        """The run's last status when there was a run, else `ok` / `error`."""
        if self.run_status:
            return self.run_status
        return "error" if self.http_status >= 400 or self.error_type else "ok"

    @property
    def duration(self) -> float:
        return time.perf_counter() - self.started


TURN: ContextVar[Turn | None] = ContextVar("agents_core_turn", default=None)


class Exporter(Protocol):
    """What `agents_core.telemetry.otel` provides once configured."""

    def request_started(self, turn: Turn, headers: Mapping[str, str]) -> None: ...

    def enter(self, turn: Turn) -> object:
        """Make the request's span current; the token for `leave`."""
        ...

    def leave(self, token: object) -> None: ...

    def agent_resolved(self, turn: Turn) -> None: ...

    def request_finished(self, turn: Turn) -> None: ...

    async def upstream(
        self,
        request: httpx.Request,
        turn: Turn | None,
        send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    ) -> httpx.Response: ...


_exporter: Exporter | None = None
_configured = False


def install(value: Exporter | None) -> None:
    """Use `value` from now on (tests install one over in-memory exporters)."""
    global _exporter, _configured
    _exporter, _configured = value, True


def configure(platform: Platform) -> Exporter | None:
    """Set up export once per process when the environment asks for it, else nothing.

    Idempotent: the first call decides (an exporter installed by `install`
    stays).
    """
    global _exporter, _configured
    if not _configured:
        _configured = True
        if platform.telemetry_configured:
            from agents_core.telemetry.otel import from_environment

            _exporter = from_environment(platform)
    return _exporter


def exporter() -> Exporter | None:
    return _exporter


def serve(
    endpoint: Callable[[Request], Awaitable[Response]], name: str
) -> Callable[[Request], Awaitable[Response]]:
    """`endpoint` observed: a `Turn` per request, spans when exporting, the per-turn log line."""
    route = ROUTES.get(name, f"/{name}")

    async def observed(request: Request) -> Response:
        headers = request.headers
        turn = Turn(route, request.method)
        if TRACEPARENT.fullmatch(headers.get("traceparent", "")):
            turn.traceparent = headers["traceparent"]
            state = headers.get("tracestate", "")
            turn.tracestate = state if 0 < len(state) <= 512 and state.isprintable() else None
        token = TURN.set(turn)
        CALLER.set("")
        current = _exporter
        entered = None
        if current is not None:
            current.request_started(turn, headers)
            entered = current.enter(turn)
        try:
            response = await endpoint(request)
        except BaseException as exc:  # cancelled, or an error the endpoint did not translate
            turn.error_type = type(exc).__qualname__
            turn.caller = CALLER.get()
            _finish(turn)
            raise
        finally:
            if current is not None:
                current.leave(entered)
            TURN.reset(token)
        turn.caller = CALLER.get()
        turn.request_id = response.headers.get("x-request-id", "")
        turn.http_status = response.status_code
        if response.status_code >= 400 or turn.route == A2A_ROUTE:
            # JSON-RPC errors travel on 200 too (A2A 1.0 blocking calls).
            code = _error_code(response)
            if code is None and response.status_code >= 400:
                code = str(response.status_code)
            turn.error_type = turn.error_type or code
        if isinstance(response, StreamingResponse):
            response.body_iterator = _watched(response.body_iterator, turn)
        else:
            _finish(turn)
        return response

    observed.__name__ = endpoint.__name__
    return observed


async def _watched(body: AsyncIterable[Any], turn: Turn) -> AsyncIterator[Any]:
    """The streamed body, with the turn (and its span) current while each chunk is made.

    The host may iterate the body in another task than the handler's (the
    Functions worker does), so the context is set around every step.
    """
    iterator = body.__aiter__()
    try:
        while True:
            token = TURN.set(turn)
            current = _exporter
            entered = current.enter(turn) if current is not None else None
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            except BaseException as exc:
                turn.error_type = turn.error_type or type(exc).__qualname__
                raise
            finally:
                if current is not None:
                    current.leave(entered)
                TURN.reset(token)
            yield chunk
    finally:
        aclose = getattr(iterator, "aclose", None)
        token = TURN.set(turn)
        try:
            if aclose is not None:
                await aclose()
        finally:
            TURN.reset(token)
            _finish(turn)


def _error_code(response: Response) -> str | None:
    """The error code of an OpenAI- or JSON-RPC-shaped error body, or None without one.

    JSON-RPC's own codes are numbers; the adapter's code in `error.data.code`
    is preferred when present.
    """
    body = getattr(response, "body", b"")
    if not isinstance(body, bytes) or b'"error"' not in body:
        return None
    try:
        error = json_codec.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    data = error.get("data")
    if isinstance(data, dict) and isinstance(data.get("code"), str) and data["code"]:
        return str(data["code"])
    if isinstance(code, str) and code:
        return code
    if isinstance(code, int) and not isinstance(code, bool):
        return str(code)
    return None


def _finish(turn: Turn) -> None:
    if turn.finished:
        return
    turn.finished = True
    if _logs_turn(turn):
        _log_turn(turn)
    if _exporter is not None:
        _exporter.request_finished(turn)


def _logs_turn(turn: Turn) -> bool:
    return turn.invoked or (turn.agent_id is not None and turn.route in TURN_ROUTES)


def logs_turn() -> bool:
    """True when the current request will end with a turn line, which stands for its access line.

    Known once the endpoint answers: the agent is resolved, or a run started.
    """
    turn = TURN.get()
    return turn is not None and _logs_turn(turn)


def _log_turn(turn: Turn) -> None:
    """One line per turn: route, who, which agent and thread, tokens, time, outcome. No content."""
    fields = {
        "turn.route": turn.route,
        "turn.caller": turn.caller or "anonymous",
        "turn.agent": turn.agent_id or "-",
        "turn.thread": turn.thread_id or "-",
        "turn.run": turn.run_id or "-",
        "turn.status": turn.status,
        "turn.input_tokens": turn.input_tokens or 0,
        "turn.output_tokens": turn.output_tokens or 0,
        "turn.duration_ms": round(turn.duration * 1000),
        "turn.http_status": turn.http_status,
        "turn.error": turn.error_type or "-",
        "turn.request_id": turn.request_id or "-",
    }
    log.info(
        "turn " + " ".join(f"{key.removeprefix('turn.')}=%s" for key in fields),
        *fields.values(),
        extra=fields,
    )


def agent_resolved(agent_id: str, name: str, endpoint: str) -> None:
    """The request is for this agent (called once the agent is known and allowed)."""
    turn = TURN.get()
    if turn is None or turn.agent_id is not None:
        return
    turn.agent_id, turn.agent_name, turn.endpoint = agent_id, name, endpoint
    if _exporter is not None:
        _exporter.agent_resolved(turn)


def run_started(thread_id: str, run_id: str) -> None:
    """A run (or response) exists upstream: its thread (or conversation) and id."""
    turn = TURN.get()
    if turn is not None:
        turn.thread_id, turn.run_id = thread_id, run_id


def run_ended(run: object) -> None:
    """A run ended (or stopped for tool results): the upstream run, as a dict or a typed run."""
    turn = TURN.get()
    if turn is None:
        return
    turn.thread_id = str(_field(run, "thread_id") or turn.thread_id or "") or None
    turn.run_id = str(_field(run, "id") or turn.run_id or "") or None
    status = str(_field(run, "status") or "")
    turn.run_status = status or None
    reason = FINISH_REASONS.get(status)
    incomplete = _field(run, "incomplete_reason") or _field(
        _field(run, "incomplete_details"), "reason"
    )
    if status == "incomplete" and incomplete:
        reason = "content_filter" if "content" in str(incomplete) else "length"
    turn.finish_reason = reason
    if status in ("failed", "expired", "cancelled"):
        code = _field(_field(run, "last_error") or _field(run, "error"), "code")
        turn.error_type = str(code or f"run_{status}")
    usage = _field(run, "usage")
    if usage is not None:
        prompt = int(_field(usage, "prompt_tokens") or 0)
        completion = int(_field(usage, "completion_tokens") or 0)
        turn.input_tokens = (turn.input_tokens or 0) + prompt
        turn.output_tokens = (turn.output_tokens or 0) + completion


def _field(value: object, name: str) -> Any:
    """`value[name]` of a mapping, `value.name` of an object, None when absent."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


class UpstreamTransport(httpx.AsyncBaseTransport):
    """The upstream client's transport: trace context on every request, spans when exporting.

    Without an exporter the caller's own `traceparent` / `tracestate` are
    passed on unchanged, so Foundry's traces still join the caller's; with
    one, each request gets a client span that the upstream continues.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        turn = TURN.get()
        current = _exporter
        if current is not None:
            return await current.upstream(request, turn, self._inner.handle_async_request)
        if turn is not None and turn.traceparent:
            request.headers["traceparent"] = turn.traceparent
            if turn.tracestate:
                request.headers["tracestate"] = turn.tracestate
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __getattr__(self, name: str) -> Any:
        """Anything else is the wrapped transport's (its connection pool, for instance)."""
        return getattr(self._inner, name)
