"""HTTP handlers shared by the Azure Functions host and the local server.

Each handler is `async (Request) -> Response` over Starlette's types, which
the Functions streaming extension re-exports, so `function_app.py` and
`create_app` register the very same callables.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agents_core import chat, chat_input
from agents_core.config import ConfigError
from agents_core.errors import AdapterError, InvalidRequest, PayloadTooLarge
from agents_core.runtime import Runtime
from agents_core.sse import with_heartbeat

__all__ = ["Handlers", "create_app"]

log = logging.getLogger("agents_core.http")
Handler = Callable[[Request], Awaitable[Response]]


class Handlers:
    """The adapter's endpoints over one lazily built `Runtime`.

    The runtime is built on first use so that importing the Functions app
    stays cheap and a configuration error is reported to callers (and in
    the logs) instead of taking the host down.
    """

    def __init__(self, runtime: Runtime | Callable[[], Runtime]) -> None:
        self._runtime = runtime if isinstance(runtime, Runtime) else None
        self._factory = None if isinstance(runtime, Runtime) else runtime
        self.chat_completions = self._endpoint(self._chat_completions)
        self.list_models = self._endpoint(self._list_models)
        self.get_model = self._endpoint(self._get_model)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            assert self._factory is not None
            self._runtime = self._factory()
            for line in self._runtime.describe():
                log.info("agent %s", line)
        return self._runtime

    def _endpoint(self, handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            request_id = f"req_{uuid.uuid4().hex}"
            started = time.perf_counter()
            try:
                response = await handler(request, request_id)
            except AdapterError as exc:
                response = error_response(exc, request_id)
            except ConfigError as exc:
                log.error("configuration error: %s", exc)
                response = error_response(
                    AdapterError(f"the server is misconfigured: {exc}", code="configuration_error"),
                    request_id,
                )
            except Exception:
                log.exception(
                    "unexpected error handling %s (request %s)", request.url.path, request_id
                )
                response = error_response(
                    AdapterError("internal error; quote the request id when reporting it"),
                    request_id,
                )
            response.headers["x-request-id"] = request_id
            log.info(
                "%s %s -> %s in %.1f ms (%s)",
                request.method,
                request.url.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
                request_id,
            )
            return response

        endpoint.__name__ = handler.__name__.lstrip("_")
        return endpoint

    async def aclose(self) -> None:
        if self._runtime is not None:
            await self._runtime.aclose()

    async def _authorize(self, request: Request) -> Runtime:
        runtime = self.runtime
        runtime.callers.check(request.headers)
        return runtime

    async def _chat_completions(self, request: Request, request_id: str) -> Response:
        runtime = await self._authorize(request)
        payload = await read_json(request, runtime.settings.max_body_bytes)
        body = chat_input.parse_request(payload, runtime.settings.max_messages)
        thread_id = _thread_id(body.thread_id, request.headers.get("x-thread-id"))
        agent = runtime.agent(body.model)
        plan = chat_input.plan_run(body, agent.agent_id, thread_id)
        project = await runtime.project(agent, request.headers)
        settings = runtime.settings
        if not body.stream:
            result = await chat.complete(
                runtime.foundry, project, body, plan, settings.completion_deadline
            )
            return JSONResponse(result, headers={"x-thread-id": result["thread_id"]})
        stream = await chat.open_stream(
            runtime.foundry, project, body, plan, settings.stream_deadline, request_id
        )
        return StreamingResponse(
            with_heartbeat(stream.frames(), settings.heartbeat_interval),
            media_type="text/event-stream",
            headers={
                "x-thread-id": stream.thread_id,
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
        )

    async def _list_models(self, request: Request, request_id: str) -> Response:
        runtime = await self._authorize(request)
        return JSONResponse(
            {"object": "list", "data": [_model(alias) for alias in runtime.registry.aliases()]}
        )

    async def _get_model(self, request: Request, request_id: str) -> Response:
        runtime = await self._authorize(request)
        name = request.url.path.split("/v1/models/", 1)[-1]
        runtime.agent(name)
        return JSONResponse(_model(name))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "azure-ai-foundry"}


def _thread_id(in_body: str | None, in_header: str | None) -> str | None:
    in_header = (in_header or "").strip() or None
    if in_body and in_header and in_body != in_header:
        raise InvalidRequest(
            "thread_id in the body and the x-thread-id header differ", param="thread_id"
        )
    thread_id = in_body or in_header
    if thread_id is not None and not chat_input.THREAD_ID.fullmatch(thread_id):
        raise InvalidRequest("x-thread-id is not a valid thread id", param="thread_id")
    return thread_id


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"request body is larger than {limit} bytes (MAX_BODY_BYTES)", code="request_too_large"
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body:
        raise InvalidRequest("the request body is empty: send a JSON object")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def error_response(error: AdapterError, request_id: str) -> JSONResponse:
    return JSONResponse(
        error.openai_body(request_id), status_code=error.status_code, headers=error.headers()
    )


def create_app(handlers: Handlers) -> Starlette:
    """The local server: the same handlers, mounted at the paths `func start` serves."""

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        message = f"no route {request.method} {request.url.path}"
        if status == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(
            AdapterError(message, status_code=status, code="route_not_found"), "req_none"
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await handlers.aclose()

    routes = [
        Route("/v1/chat/completions", handlers.chat_completions, methods=["POST"]),
        Route("/v1/models", handlers.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", handlers.get_model, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
    )
