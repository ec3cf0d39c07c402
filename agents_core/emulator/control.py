"""The `/_emulator/` control API: request counts and log, live knobs, queued faults.

No auth and no api-version; these requests are never counted or logged.

- `GET /_emulator/requests` → `{"counts": {"POST /threads/runs": 2, ...}, "log": [...]}`
- `POST /_emulator/reset` → clears counts, log and queued faults (threads stay)
- `GET|POST /_emulator/settings` → `{"latency_ms", "run_ms", "max_deltas"}` (POST changes any)
- `GET|POST /_emulator/faults` → `{"faults": [...]}`; POST queues
  `{"kind", "route"?, "count"?, "retry_after"?}` for the next `count` matching requests

Routes are named `METHOD /template` without the project prefix (`POST
/threads/runs`, `POST /openai/v1/responses`, `GET /agents/{agent_name}`).
A fault without a route applies to the next request to any run-creating
route (`RUN_ROUTES`, which include `POST /openai/v1/responses`); run and
stream faults apply to those routes only.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api_errors import ApiError, bad_request
from .bodies import JSON, parse
from .options import Knobs

FaultKind = Literal[
    "http_429",
    "http_500",
    "http_503",
    "run_failed_rate_limit",
    "run_failed",
    "run_expired",
    "run_incomplete",
    "drop_stream",
    "stall_stream",
]
HTTP_FAULTS = frozenset({"http_429", "http_500", "http_503"})
STREAM_FAULTS = frozenset({"drop_stream", "stall_stream"})
RUN_ROUTES = frozenset(
    {
        "POST /threads/runs",
        "POST /threads/{thread_id}/runs",
        "POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "POST /openai/v1/responses",
    }
)
LOG_LIMIT = 10_000


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: FaultKind
    route: str | None = None
    count: int = Field(default=1, ge=1)
    retry_after: float = Field(default=1, ge=0)


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: float | None = Field(default=None, ge=0)
    run_ms: float | None = Field(default=None, ge=0)
    max_deltas: int | None = Field(default=None, ge=1, le=10_000)


@dataclass
class Fault:
    kind: str
    route: str | None
    remaining: int
    retry_after: float

    def matches(self, route: str, streaming: bool) -> bool:
        if self.kind in STREAM_FAULTS and not streaming:
            return False
        return route == self.route if self.route else route in RUN_ROUTES

    def to_json(self) -> JSON:
        return {
            "kind": self.kind,
            "route": self.route,
            "count": self.remaining,
            "retry_after": self.retry_after,
        }

    def error(self) -> ApiError:
        """The HTTP answer of an `http_*` fault."""
        seconds = self.retry_after
        retry = {
            "Retry-After": str(math.ceil(seconds)),
            "retry-after-ms": str(round(seconds * 1000)),
        }
        if self.kind == "http_429":
            message = f"Rate limit is exceeded. Try again in {math.ceil(seconds)} seconds."
            return ApiError(
                429, "rate_limit_exceeded", message, type="rate_limit_error", headers=retry
            )
        if self.kind == "http_503":
            message = "The service is temporarily unavailable. Please retry later."
            return ApiError(503, "service_unavailable", message, type="server_error", headers=retry)
        message = "The server had an error while processing your request."
        return ApiError(500, "server_error", message, type="server_error")


def fingerprint(authorization: str | None) -> str | None:
    """`Bearer sha256:<16 hex>`: which credential came, never the credential itself."""
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    return f"{scheme} sha256:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"


class Control:
    """Counters, the request log and the fault queue of one emulator instance."""

    def __init__(self, knobs: Knobs, routes: frozenset[str]) -> None:
        self.knobs = knobs
        self._routes = routes
        self.counts: Counter[str] = Counter()
        self.log: deque[JSON] = deque(maxlen=LOG_LIMIT)
        self.faults: list[Fault] = []

    def record(self, route: str, request: Request, body: Any) -> None:
        self.counts[route] += 1
        self.log.append(
            {
                "method": request.method,
                "route": route,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
                "authorization": fingerprint(request.headers.get("authorization")),
                "traceparent": request.headers.get("traceparent"),
                "tracestate": request.headers.get("tracestate"),
                "client": f"{request.client.host}:{request.client.port}"
                if request.client
                else None,
            }
        )

    def take_fault(self, route: str, streaming: bool) -> Fault | None:
        """Consume one use of the first queued fault matching this request, if any."""
        for fault in self.faults:
            if fault.matches(route, streaming):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def add_fault(self, body: FaultIn) -> None:
        if body.route is not None:
            if body.route not in self._routes:
                raise bad_request(f"Unknown route '{body.route}'; use 'METHOD /template'.", "route")
            if body.kind not in HTTP_FAULTS and body.route not in RUN_ROUTES:
                raise bad_request(f"'{body.kind}' applies to run-creating routes only.", "route")
        self.faults.append(Fault(body.kind, body.route, body.count, body.retry_after))

    def reset(self) -> None:
        self.counts.clear()
        self.log.clear()
        self.faults.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/_emulator/requests", self._requests, methods=["GET"]),
            Route("/_emulator/reset", self._reset, methods=["POST"]),
            Route("/_emulator/settings", self._settings, methods=["GET", "POST"]),
            Route("/_emulator/faults", self._faults, methods=["GET", "POST"]),
        ]

    async def _requests(self, request: Request) -> Response:
        return JSONResponse({"counts": dict(self.counts), "log": list(self.log)})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})

    async def _settings(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = parse(SettingsIn, await _json(request))
            except ApiError as exc:
                return exc.response()
            if body.latency_ms is not None:
                self.knobs.latency_ms = body.latency_ms
            if body.run_ms is not None:
                self.knobs.run_ms = body.run_ms
            if body.max_deltas is not None:
                self.knobs.max_deltas = body.max_deltas
        knobs = self.knobs
        return JSONResponse(
            {"latency_ms": knobs.latency_ms, "run_ms": knobs.run_ms, "max_deltas": knobs.max_deltas}
        )

    async def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.add_fault(parse(FaultIn, await _json(request)))
            except ApiError as exc:
                return exc.response()
        return JSONResponse({"faults": [fault.to_json() for fault in self.faults]})


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
