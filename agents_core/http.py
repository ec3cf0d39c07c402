"""HTTP handlers shared by the Azure Functions host and the local server.

Each handler is `async (Request) -> Response` over Starlette's types, which
the Functions streaming extension re-exports, so `function_app.py` and
`create_app` register the very same callables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from agents_core import telemetry
from agents_core.config import MODEL_PREFIX, AgentSpec, ConfigError, Settings
from agents_core.edge import (
    HOST,
    BodyBudget,
    Cors,
    EventStream,
    JSONResponse,
    loopback_host,
    public_base,
    read_json,
    while_connected,
)
from agents_core.edge import request_id as scope_request_id
from agents_core.errors import REQUEST_ID, AdapterError, HostNotAllowed, InvalidRequest, NotFound
from agents_core.foundry.transport import AgentClient
from agents_core.ids import IdSigner
from agents_core.openai.models import ModelCatalog, model_entry
from agents_core.playground import Playground
from agents_core.routing import Route, Router
from agents_core.runs import THREAD_ID, AgentInfo, RunPlan
from agents_core.runtime import Runtime

if TYPE_CHECKING:  # the front doors are imported on their first request (cold start)
    from agents_core.openai.responses_input import ResponseId
from agents_core.sse import with_heartbeat

__all__ = ["Handlers", "create_app", "read_json"]

log = logging.getLogger("agents_core.http")
Handler = Callable[[Request], Awaitable[Response]]


class Handlers:
    """The adapter's endpoints over one lazily built `Runtime`.

    The runtime is built on first use so that importing the Functions app
    stays cheap and a configuration error is reported to callers (and in
    the logs) instead of taking the host down.
    """

    def __init__(
        self, runtime: Runtime | Callable[[], Runtime], *, loopback_only: bool = False
    ) -> None:
        """`loopback_only`: answer only requests whose `Host` names this machine (open mode)."""
        self._runtime = runtime if isinstance(runtime, Runtime) else None
        self._factory = None if isinstance(runtime, Runtime) else runtime
        self._config_error: ConfigError | None = None
        self.loopback_only = loopback_only
        self.chat_completions = self._endpoint(self._chat_completions, "POST")
        self.responses_create = self._endpoint(self._responses_create, "POST")
        self.responses_get = self._endpoint(self._responses_get)
        self.responses_cancel = self._endpoint(self._responses_cancel, "POST")
        self.list_models = self._endpoint(self._list_models)
        self.get_model = self._endpoint(self._get_model)
        self.file_content = self._endpoint(self._file_content)
        self.a2a_rpc = self._endpoint(self._a2a_rpc, "POST", rpc=True)
        self.a2a_card = self._endpoint(self._a2a_card)
        self.a2a_root_card = self._endpoint(self._a2a_root_card)
        self._cards: dict[str, tuple[float, AgentInfo | None]] = {}
        self._catalog = ModelCatalog()
        self._edge: tuple[Cors, BodyBudget] | None = None
        playground = Playground(lambda: self.runtime.settings.playground)
        self.playground_page = self._endpoint(playground.page)
        self.playground_asset = self._endpoint(playground.asset)

    @property
    def runtime(self) -> Runtime:
        """The runtime; a configuration error is kept and raised again on every request."""
        if self._runtime is None:
            if self._config_error is not None:
                raise self._config_error
            assert self._factory is not None
            try:
                self._runtime = self._factory()
            except ConfigError as exc:
                self._config_error = exc
                raise
            for line in self._runtime.describe():
                log.info("agent %s", line)
            log.info("caller authentication: %s", self._runtime.callers.describe())
            log.info("ids handed to callers: %s", IdSigner.describe(self._runtime.ids))
        return self._runtime

    @property
    def edge(self) -> tuple[Cors, BodyBudget]:
        if self._edge is None:
            settings = self.runtime.settings
            self._edge = (
                Cors(settings.cors_allow_origins),
                BodyBudget(settings.max_buffered_bytes),
            )
        return self._edge

    def _built_edge(self) -> tuple[Cors, BodyBudget] | None:
        """The edge helpers, built on the first request that built the runtime."""
        if self._edge is None and self._runtime is not None:
            return self.edge
        return self._edge

    def _endpoint(
        self,
        handler: Callable[[Request, str], Awaitable[Response]],
        method: str = "GET",
        *,
        rpc: bool = False,
    ) -> Handler:
        """Wrap `handler`: request id, Host check, CORS, errors in the route's shape, a log line.

        `rpc` routes (A2A) answer every error as JSON-RPC, the others in OpenAI's shape.
        """

        async def endpoint(request: Request) -> Response:
            request_id = scope_request_id(request.scope)
            REQUEST_ID.set(request_id)
            started = time.perf_counter()
            try:
                response = await self._guard(request, method) or await handler(request, request_id)
            except AdapterError as exc:
                response = route_error(exc, request_id, rpc, _rpc_state(request))
            except ConfigError as exc:
                log.error("configuration error: %s", exc)  # messages never quote values
                response = route_error(
                    AdapterError(
                        "the server is misconfigured; its log says what to fix "
                        "(quote the request id)",
                        code="configuration_error",
                    ),
                    request_id,
                    rpc,
                    _rpc_state(request),
                )
            except Exception:
                log.exception(
                    "unexpected error handling %s (request %s)", request.url.path, request_id
                )
                response = route_error(
                    AdapterError("internal error; quote the request id when reporting it"),
                    request_id,
                    rpc,
                    _rpc_state(request),
                )
            response.headers["x-request-id"] = request_id
            if response.status_code == 405:
                response.headers["Allow"] = method
            edge = self._built_edge()
            if edge is not None:
                vary = response.headers.get("vary")
                edge[0].decorate(request, response)
                if vary and response.headers.get("vary") != vary:  # CORS set `Vary: Origin`
                    response.headers["Vary"] = f"{vary}, {response.headers['vary']}"
            if not telemetry.logs_turn():  # a turn's own line says all this, and more
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
        return telemetry.serve(endpoint, endpoint.__name__)

    async def aclose(self) -> None:
        if self._runtime is not None:
            await self._runtime.aclose()

    async def _guard(self, request: Request, method: str) -> Response | None:
        """Host check and `OPTIONS`: a response to send instead of the handler's, or None."""
        if self.loopback_only and not loopback_host(request.headers):
            raise HostNotAllowed()
        if request.method != "OPTIONS":
            return None
        preflight = self.edge[0].preflight(request, method)
        if preflight is not None:
            return preflight
        raise InvalidRequest(
            f"method OPTIONS is not allowed on {request.url.path} (set CORS_ALLOW_ORIGINS "
            "to answer browser preflights)",
            code="method_not_allowed",
            status_code=405,
        )

    async def _read_json(self, request: Request) -> Any:
        settings = self.runtime.settings
        return await read_json(
            request,
            settings.max_body_bytes,
            budget=self.edge[1],
            read_timeout=settings.body_read_timeout,
        )

    async def _authorize(self, request: Request) -> Runtime:
        runtime = self.runtime
        request.state.caller = runtime.callers.check(request.headers)
        return runtime

    @staticmethod
    def _client(runtime: Runtime, agent: AgentSpec, request: Request) -> AgentClient:
        """The agent's client, holding the ids of the caller `_authorize` let in."""
        return runtime.client(agent, request.state.caller)

    async def _chat_completions(self, request: Request, request_id: str) -> Response:
        from agents_core.openai import chat, chat_input

        runtime = await self._authorize(request)
        payload = await self._read_json(request)
        body = chat_input.parse_request(payload, runtime.settings.max_messages)
        thread_id = _thread_id(body.thread_id, request.headers.get("x-thread-id"))
        agent = runtime.agent(body.model)
        settings = runtime.settings
        plan = chat_input.plan_run(
            body, agent.agent_id, thread_id, kind=agent.kind, drop_params=settings.drop_params
        )
        project = await runtime.project(agent, request.headers)
        if not body.stream:
            result = await while_connected(
                request,
                chat.complete(
                    self._client(runtime, agent, request),
                    project,
                    body,
                    plan,
                    settings.completion_deadline,
                ),
            )
            headers = {"x-thread-id": result.body["thread_id"]}
            return JSONResponse(
                result.body, headers=_omission_headers(headers, result.dropped, plan.adjusted)
            )
        stream = await chat.open_stream(
            self._client(runtime, agent, request),
            project,
            body,
            plan,
            settings.stream_deadline,
            request_id,
        )
        return _turn_stream(stream.frames(), stream.thread_id, stream.dropped, plan, settings)

    async def _responses_create(self, request: Request, request_id: str) -> Response:
        """`POST /v1/responses`: one turn of the agent `model` names, streamed or not."""
        from agents_core.openai import responses, responses_input

        runtime = await self._authorize(request)
        payload = await self._read_json(request)
        settings = runtime.settings
        body, items = responses_input.parse_request(payload, settings.max_messages)
        agent = runtime.agent(body.model)
        plan = responses_input.plan_run(
            body, items, agent.agent_id, kind=agent.kind, drop_params=settings.drop_params
        )
        project = await runtime.project(agent, request.headers)
        client = self._client(runtime, agent, request)
        if not body.stream:
            created = await while_connected(
                request, responses.create(client, project, body, plan, settings.completion_deadline)
            )
            headers = {"x-thread-id": created.thread_id}
            return JSONResponse(
                created.body, headers=_omission_headers(headers, created.dropped, plan.adjusted)
            )
        stream = await responses.open_stream(client, project, body, plan, settings.stream_deadline)
        return _turn_stream(stream.frames(), stream.thread_id, stream.dropped, plan, settings)

    async def _response_target(self, request: Request) -> tuple[Runtime, ResponseId, AgentSpec]:
        from agents_core.openai import responses_input

        runtime = await self._authorize(request)
        value = _path(request).split("/v1/responses/", 1)[-1].removesuffix("/cancel")
        where = responses_input.ResponseId.parse(value)
        return runtime, where, runtime.agent(where.model)

    async def _responses_get(self, request: Request, request_id: str) -> Response:
        """`GET /v1/responses/{id}`: the response read back from its run."""
        from agents_core.openai import responses

        runtime, where, agent = await self._response_target(request)
        project = await runtime.project(agent, request.headers)
        body = await responses.retrieve(self._client(runtime, agent, request), project, where)
        return JSONResponse(body, headers={"x-thread-id": where.thread_id})

    async def _responses_cancel(self, request: Request, request_id: str) -> Response:
        """`POST /v1/responses/{id}/cancel`: cancel the response's run."""
        from agents_core.openai import responses

        runtime, where, agent = await self._response_target(request)
        project = await runtime.project(agent, request.headers)
        body = await responses.cancel(self._client(runtime, agent, request), project, where)
        return JSONResponse(body, headers={"x-thread-id": where.thread_id})

    async def _list_models(self, request: Request, request_id: str) -> Response:
        runtime = await self._authorize(request)
        models = await self._catalog.models(runtime, request.headers)
        return JSONResponse({"object": "list", "data": models})

    async def _get_model(self, request: Request, request_id: str) -> Response:
        runtime = await self._authorize(request)
        name = _path(request).split("/v1/models/", 1)[-1]
        runtime.agent(name)
        return JSONResponse(model_entry(name))

    async def _file_content(self, request: Request, request_id: str) -> Response:
        """A file an agent produced or cited, streamed from the agent's project (inert here)."""
        runtime = await self._authorize(request)
        file_id = _path(request).split("/v1/files/", 1)[-1].removesuffix("/content")
        if not THREAD_ID.fullmatch(file_id):
            raise InvalidRequest("not a valid file id", param="file_id")
        model = request.query_params.get("model")
        if not model:
            raise InvalidRequest(
                "the 'model' query parameter must name the agent whose project holds the file",
                param="model",
            )
        container_id = request.query_params.get("container_id")
        if container_id is not None and not THREAD_ID.fullmatch(container_id):
            raise InvalidRequest("not a valid container id", param="container_id")
        agent = runtime.agent(model)
        project = await runtime.project(agent, request.headers)
        client = self._client(runtime, agent, request)
        upstream = await client.open_file(project, file_id, container_id)
        headers = {
            name: upstream.headers[name]
            for name in ("content-length", "content-disposition")
            if name in upstream.headers
        }
        # The file is the agent's output, served from this origin: never sniffed, and
        # opened in a browser it runs sandboxed (an HTML or SVG file cannot script us).
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return StreamingResponse(
            upstream.aiter_raw(),
            media_type=upstream.headers.get("content-type", "application/octet-stream"),
            headers=headers,
            background=BackgroundTask(upstream.aclose),
        )

    def _a2a_agent(self, runtime: Runtime, request: Request) -> AgentSpec:
        name = _path(request).split("/a2a/", 1)[-1].split("/", 1)[0]
        return self._a2a_named(runtime, name)

    @staticmethod
    def _a2a_named(runtime: Runtime, name: str) -> AgentSpec:
        """The agent an A2A path names: a configured name, or an agent id of the project."""
        try:
            return runtime.agent(name)
        except NotFound:
            return runtime.agent(f"{MODEL_PREFIX}{name}")

    async def _a2a_rpc(self, request: Request, request_id: str) -> Response:
        """JSON-RPC 2.0 for one agent, A2A 1.0 and 0.3 on the same URL."""
        from agents_core.a2a import rpc as a2a_rpc

        runtime = self.runtime
        return await a2a_rpc.serve(
            request, runtime, self._read_json, lambda: self._a2a_agent(runtime, request)
        )

    async def _a2a_card(self, request: Request, request_id: str) -> Response:
        """The agent card of the agent the path names, pointing at that same path."""
        runtime = self.runtime
        if not runtime.settings.public_agent_cards:
            runtime.callers.check(request.headers)
        name = _path(request).split("/a2a/", 1)[-1].split("/", 1)[0]
        try:  # outside EXPOSED_AGENTS: 404, no upstream call
            agent = self._a2a_named(runtime, name)
        except NotFound:
            raise _no_card() from None
        return await self._card(runtime, request, agent, name)

    async def _a2a_root_card(self, request: Request, request_id: str) -> Response:
        """`/.well-known/agent-card.json` (and `agent.json`): the `A2A_DEFAULT_AGENT`'s card.

        The A2A discovery location at the origin's root (RFC 8615); the card
        points at `/a2a/<agent>`. Without the setting, or when that agent is
        not served (`EXPOSED_AGENTS`, not in the project), the path answers
        the same 404, naming nothing.
        """
        runtime = self.runtime
        name = (runtime.settings.a2a_default_agent or "").strip()
        if not name:
            raise _no_card()
        if not runtime.settings.public_agent_cards:
            runtime.callers.check(request.headers)
        try:
            agent = self._a2a_named(runtime, name)
        except NotFound:
            raise _no_card() from None
        return await self._card(runtime, request, agent, self._a2a_route_name(runtime, agent, name))

    @classmethod
    def _a2a_route_name(cls, runtime: Runtime, agent: AgentSpec, name: str) -> str:
        """The `/a2a/<name>` segment that serves `agent`: `name`, else its alias or bare id."""
        for candidate in (name, agent.alias, agent.alias.removeprefix(MODEL_PREFIX)):
            if not candidate or "/" in candidate:
                continue
            try:
                found = cls._a2a_named(runtime, candidate)
                if (found.alias, found.agent_id, found.endpoint) == (
                    agent.alias,
                    agent.agent_id,
                    agent.endpoint,
                ):
                    return candidate
            except NotFound:
                continue
        return agent.alias.removeprefix(MODEL_PREFIX)

    async def _card(
        self, runtime: Runtime, request: Request, agent: AgentSpec, route_name: str
    ) -> Response:
        """The agent card, named and described from the Foundry agent (cached 5 minutes).

        Its URLs are `/a2a/<route_name>` under `public_base`.
        """
        from agents_core.a2a.wire import agent_card

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
            raise _no_card()
        base = public_base(request, runtime.settings, runtime.platform)
        card = agent_card(
            url=f"{base}/a2a/{quote(route_name, safe=ROUTE_SAFE)}",
            name=definition.name or agent.alias,
            description=definition.description or f"Azure AI Foundry agent {agent.agent_id}",
            skill_id=agent.agent_id,
            scheme=runtime.callers.scheme(),
        )
        from agents_core.a2a.rpc import card_response

        return card_response(request, card, **_card_caching(runtime))


def route_error(
    error: AdapterError, request_id: str, rpc: bool, call: tuple[Any, Any] | None = None
) -> JSONResponse:
    """`error` in the route's shape: JSON-RPC on A2A routes (HTTP status kept), else OpenAI's.

    `call`: the JSON-RPC request's `id` and protocol version, once its body was read.
    """
    if not rpc:
        return error_response(error, request_id)
    from agents_core.a2a.wire import INTERNAL_ERROR, INVALID_REQUEST, RpcError

    call_id, version = call or (None, None)
    code = INVALID_REQUEST if error.status_code < 500 else INTERNAL_ERROR
    data = {"httpStatus": error.status_code, "code": error.code}
    return JSONResponse(
        RpcError(code, error.message, data).body(call_id, "1.0" if version == "1.0" else "0.3"),
        status_code=error.status_code,
        headers=error.headers(),
    )


def _rpc_state(request: Request) -> tuple[Any, Any] | None:
    """The JSON-RPC `id` and version `a2a.rpc.serve` kept, if it read the body."""
    state = getattr(request.state, "rpc", None)
    return state if isinstance(state, tuple) else None


# Characters a path segment carries as they are (RFC 3986 pchar), e.g. `tck:1`.
ROUTE_SAFE = "!$&'()*+,;=:@-._~"


def _no_card() -> NotFound:
    """A card route with no card to serve: the same words whatever the reason, naming nothing."""
    return NotFound("no agent card here", code="route_not_found")


def _card_caching(runtime: Runtime) -> dict[str, Any]:
    """How a card may be cached, and on which request headers it depends.

    A card a key unlocks is `private` (RFC 9111 §5.2.2.7: `public` would let
    a shared cache hand it to a request without the key), varying on the
    headers that carry the key. Its URLs come from `PUBLIC_BASE_URL` or the
    platform's host name when set; else from `Host` (and, from a trusted
    proxy, `X-Forwarded-Host`/`-Proto`), which it then varies on.
    """
    settings, platform = runtime.settings, runtime.platform
    keyed = runtime.callers.enabled and not settings.public_agent_cards
    vary: list[str] = []
    hostname = (platform.website_hostname or "").strip()
    if not settings.public_base_url and not (hostname and HOST.fullmatch(hostname)):
        vary.append("Host")
        if settings.trusted_proxies.strip():
            vary += ["X-Forwarded-Host", "X-Forwarded-Proto"]
    if keyed:
        vary += ["Authorization", "Api-Key", "X-Api-Key"]
    return {"private": keyed, "vary": ", ".join(vary)}


def _turn_stream(
    frames: AsyncGenerator[bytes, None],
    thread_id: str,
    dropped: tuple[str, ...],
    plan: RunPlan,
    settings: Settings,
) -> EventStream:
    """A streamed turn: SSE frames with heartbeats, bounded by `STREAM_DEADLINE`."""
    headers = {"x-thread-id": thread_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStream(
        with_heartbeat(frames, settings.heartbeat_interval),
        settings.stream_deadline,
        headers=_omission_headers(headers, dropped, plan.adjusted),
    )


def _omission_headers(
    headers: dict[str, str], dropped: tuple[str, ...], adjusted: tuple[str, ...]
) -> dict[str, str]:
    """`x-dropped-params` / `x-adjusted-params`: what the run did not get as asked (logged too)."""
    if dropped:
        headers["x-dropped-params"] = ", ".join(dict.fromkeys(dropped))
    if adjusted:
        headers["x-adjusted-params"] = ", ".join(adjusted)
    if dropped or adjusted:
        log.info(
            "not forwarded: %s; adjusted: %s", ", ".join(dropped) or "-", ", ".join(adjusted) or "-"
        )
    return headers


def _path(request: Request) -> str:
    """The decoded request path as sent.

    `request.url` drops control characters: a CR LF inside an id would vanish
    there, and another id reach the upstream.
    """
    path = request.scope.get("path")
    return path if isinstance(path, str) else request.url.path


def _thread_id(in_body: str | None, in_header: str | None) -> str | None:
    in_header = (in_header or "").strip() or None
    if in_body and in_header and in_body != in_header:
        raise InvalidRequest(
            "thread_id in the body and the x-thread-id header differ", param="thread_id"
        )
    thread_id = in_body or in_header
    if thread_id is not None and not THREAD_ID.fullmatch(thread_id):
        raise InvalidRequest("x-thread-id is not a valid thread id", param="thread_id")
    return thread_id


def error_response(error: AdapterError, request_id: str) -> JSONResponse:
    return JSONResponse(
        error.openai_body(request_id), status_code=error.status_code, headers=error.headers()
    )


def create_app(handlers: Handlers) -> Router:
    """The local server: the same handlers, at the paths `func start` serves."""

    def error_page(request: Request, status: int, allowed: tuple[str, ...]) -> Response:
        error: AdapterError = NotFound(
            f"no route {request.method} {request.url.path}", code="route_not_found"
        )
        if handlers.loopback_only and not loopback_host(request.headers):
            error = HostNotAllowed()
        elif status == 405:
            error = InvalidRequest(
                f"method {request.method} is not allowed on {request.url.path}",
                code="method_not_allowed",
                status_code=405,
            )
        request_id = scope_request_id(request.scope)
        response = error_response(error, request_id)
        if error.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed)
        log.info(
            "%s %s -> %s (%s)", request.method, request.url.path, error.status_code, request_id
        )
        return response

    api, page = ("POST", "OPTIONS"), ("GET", "OPTIONS")
    routes = [
        Route("/v1/chat/completions", handlers.chat_completions, api),
        Route("/v1/responses", handlers.responses_create, api),
        Route("/v1/responses/{response_id}", handlers.responses_get, page),
        Route("/v1/responses/{response_id}/cancel", handlers.responses_cancel, api),
        Route("/v1/models", handlers.list_models, page),
        Route("/v1/models/{model:path}", handlers.get_model, page),
        Route("/v1/files/{file_id}/content", handlers.file_content, page),
        Route("/a2a/{agent}", handlers.a2a_rpc, api),
        Route("/v1/a2a/{agent}/message/send", handlers.a2a_rpc, api),
        Route("/a2a/{agent}/.well-known/agent-card.json", handlers.a2a_card, page),
        Route("/a2a/{agent}/.well-known/agent.json", handlers.a2a_card, page),
        Route("/.well-known/agent-card.json", handlers.a2a_root_card, page),
        Route("/.well-known/agent.json", handlers.a2a_root_card, page),
        Route("/", handlers.playground_page, ("GET",)),
        Route("/playground", handlers.playground_page, ("GET",)),
        Route("/playground/{asset}", handlers.playground_asset, ("GET",)),
    ]
    return Router(routes, error_page, on_shutdown=handlers.aclose)
