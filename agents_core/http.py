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
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agents_core import chat, chat_input
from agents_core.config import MODEL_PREFIX, AgentSpec, ConfigError
from agents_core.errors import AdapterError, InvalidRequest, NotFound, PayloadTooLarge
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
        self.file_content = self._endpoint(self._file_content)
        self.a2a_rpc = self._endpoint(self._a2a_rpc)
        self.a2a_card = self._endpoint(self._a2a_card)
        self._cards: dict[str, tuple[float, dict[str, Any] | None]] = {}

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
                log.error("configuration error: %s", exc)  # messages never quote values
                response = error_response(
                    AdapterError(
                        "the server is misconfigured; its log says what to fix "
                        "(quote the request id)",
                        code="configuration_error",
                    ),
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
                runtime.client(agent), project, body, plan, settings.completion_deadline
            )
            return JSONResponse(result, headers={"x-thread-id": result["thread_id"]})
        stream = await chat.open_stream(
            runtime.client(agent), project, body, plan, settings.stream_deadline, request_id
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

    async def _file_content(self, request: Request, request_id: str) -> Response:
        """A file an agent produced or cited, streamed from the agent's project."""
        runtime = await self._authorize(request)
        file_id = request.url.path.split("/v1/files/", 1)[-1].removesuffix("/content")
        if not chat_input.THREAD_ID.fullmatch(file_id):
            raise InvalidRequest("not a valid file id", param="file_id")
        model = request.query_params.get("model")
        if not model:
            raise InvalidRequest(
                "the 'model' query parameter must name the agent whose project holds the file",
                param="model",
            )
        agent = runtime.agent(model)
        project = await runtime.project(agent, request.headers)
        upstream = await runtime.client(agent).open_file(project, file_id)
        headers = {
            name: upstream.headers[name]
            for name in ("content-length", "content-disposition")
            if name in upstream.headers
        }
        return StreamingResponse(
            upstream.aiter_raw(),
            media_type=upstream.headers.get("content-type", "application/octet-stream"),
            headers=headers,
            background=BackgroundTask(upstream.aclose),
        )

    def _a2a_agent(self, runtime: Runtime, request: Request) -> AgentSpec:
        name = request.url.path.split("/a2a/", 1)[-1].split("/", 1)[0]
        try:
            return runtime.agent(name)
        except NotFound:
            return runtime.agent(f"{MODEL_PREFIX}{name}")

    async def _a2a_rpc(self, request: Request, request_id: str) -> Response:
        """JSON-RPC 2.0 for one agent, A2A 1.0 and 0.3 on the same URL."""
        from agents_core import a2a_rpc

        runtime = self.runtime

        async def read_body(request: Request) -> Any:
            return await read_json(request, runtime.settings.max_body_bytes)

        return await a2a_rpc.serve(
            request, runtime, read_body, lambda: self._a2a_agent(runtime, request)
        )

    async def _a2a_card(self, request: Request, request_id: str) -> Response:
        """The agent card, named and described from the Foundry agent (cached 5 minutes)."""
        from agents_core.a2a_wire import agent_card

        runtime = self.runtime
        agent = self._a2a_agent(runtime, request)
        cached = self._cards.get(agent.alias)
        if cached is None or cached[0] < time.monotonic():
            # Cards are public: misses are cached too, so probing costs Foundry nothing.
            project = await runtime.project(agent, request.headers)
            try:
                definition = await runtime.client(agent).get_agent(project, agent.agent_id)
            except NotFound:
                definition = None
            cached = (time.monotonic() + (300 if definition else 60), definition)
            if len(self._cards) >= 1000:
                self._cards.clear()  # names come from callers: keep the cache bounded
            self._cards[agent.alias] = cached
        definition = cached[1]
        if definition is None:
            raise NotFound(f"no agent {agent.agent_id} in the project", code="agent_not_found")
        base = _public_base(request)
        card = agent_card(
            url=f"{base}/a2a/{agent.alias}",
            name=str(definition.get("name") or agent.alias),
            description=str(
                definition.get("description") or f"Azure AI Foundry agent {agent.agent_id}"
            ),
            skill_id=agent.agent_id,
            scheme=runtime.callers.scheme(),
        )
        from agents_core.a2a_rpc import card_response

        return card_response(request, card)


def _public_base(request: Request) -> str:
    """Scheme and host as the caller reached us (TLS ends at Azure's front end)."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = (
        request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    )
    return f"{scheme}://{host.split(',')[0].strip()}"


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
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


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
        Route("/v1/files/{file_id}/content", handlers.file_content, methods=["GET"]),
        Route("/a2a/{agent}", handlers.a2a_rpc, methods=["POST"]),
        Route("/v1/a2a/{agent}/message/send", handlers.a2a_rpc, methods=["POST"]),
        Route("/a2a/{agent}/.well-known/agent-card.json", handlers.a2a_card, methods=["GET"]),
        Route("/a2a/{agent}/.well-known/agent.json", handlers.a2a_card, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
        middleware=[Middleware(A2ATrailingSlash)],
    )


class A2ATrailingSlash:
    """`/a2a/{agent}/` is `/a2a/{agent}`, with no redirect: clients do not re-POST after one.

    (The Functions host's routing already ignores a trailing slash.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        a2a_path = scope["type"] == "http" and path.startswith("/a2a/") and path.count("/") == 3
        if a2a_path and path.endswith("/") and len(path) > len("/a2a//"):
            scope = {**scope, "path": path[:-1], "raw_path": path[:-1].encode()}
        await self.app(scope, receive, send)
