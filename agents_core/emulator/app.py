"""The emulator's Starlette application: routes, and what every API request goes through.

Every API request is counted and logged, waits `latency_ms`, then needs a
non-empty `?api-version=` (else 400; optional under `/openai/v1`) and
`Authorization: Bearer <token>` (else 401), then may meet a queued fault,
and only then reaches its handler.
Every response, control API included, carries `apim-request-id` and
`x-request-id`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import aging, api, responses_api
from .api_errors import ApiError, bad_request
from .control import HTTP_FAULTS, Control
from .engine import Engine
from .options import EmulatorOptions, Knobs
from .store import Store
from .versioned import Foundry

PREFIX = "/api/projects/{project}"

Handler = Callable[[api.Call], Awaitable[Response]]

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/assistants", api.list_assistants),
    ("POST", "/assistants", api.create_assistant),
    ("GET", "/assistants/{assistant_id}", api.get_assistant),
    ("GET", "/threads", api.list_threads),
    ("POST", "/threads", api.create_thread),
    ("POST", "/threads/runs", api.create_thread_and_run),
    ("GET", "/threads/{thread_id}", api.get_thread),
    ("DELETE", "/threads/{thread_id}", api.delete_thread),
    ("POST", "/threads/{thread_id}/messages", api.create_message),
    ("GET", "/threads/{thread_id}/messages", api.list_messages),
    ("GET", "/threads/{thread_id}/messages/{message_id}", api.get_message),
    ("POST", "/threads/{thread_id}/runs", api.create_run),
    ("GET", "/threads/{thread_id}/runs", api.list_runs),
    ("GET", "/threads/{thread_id}/runs/{run_id}", api.get_run),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", api.cancel_run),
    ("POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", api.submit_tool_outputs),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps", api.list_steps),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}", api.get_step),
    ("GET", "/files/{file_id}/content", api.get_file_content),
    ("GET", "/agents", responses_api.list_agents),
    ("GET", "/agents/{agent_name}", responses_api.get_agent),
    ("POST", "/agents/{agent_name}/versions", responses_api.create_agent_version),
    ("GET", "/agents/{agent_name}/versions", responses_api.list_agent_versions),
    ("GET", "/agents/{agent_name}/versions/{agent_version}", responses_api.get_agent_version),
    ("POST", "/openai/v1/conversations", responses_api.create_conversation),
    ("GET", "/openai/v1/conversations/{conversation_id}", responses_api.get_conversation),
    ("DELETE", "/openai/v1/conversations/{conversation_id}", responses_api.delete_conversation),
    (
        "GET",
        "/openai/v1/conversations/{conversation_id}/items",
        responses_api.list_conversation_items,
    ),
    (
        "POST",
        "/openai/v1/conversations/{conversation_id}/items",
        responses_api.create_conversation_items,
    ),
    ("POST", "/openai/v1/responses", responses_api.create_response),
    ("GET", "/openai/v1/responses", responses_api.list_responses),
    ("GET", "/openai/v1/responses/{response_id}", responses_api.get_response),
    ("POST", "/openai/v1/responses/{response_id}/cancel", responses_api.cancel_response),
    (
        "GET",
        "/openai/v1/containers/{container_id}/files/{file_id}/content",
        responses_api.get_container_file_content,
    ),
)


class Emulator:
    """One emulator instance's state (kept in `app.state.emulator`)."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self.knobs = Knobs.from_options(options)
        self.store = Store()
        self.engine = Engine(self.knobs)
        self.foundry = Foundry(self.knobs)
        self.control = Control(self.knobs, frozenset(f"{m} {t}" for m, t, _ in ROUTES))


def create_app(options: EmulatorOptions | None = None) -> Starlette:
    """A fresh emulator (own state) as an ASGI app; the API lives under `/api/projects/{any}`."""
    emulator = Emulator(options or EmulatorOptions())
    routes = [
        Route(PREFIX + template, _endpoint(emulator, method, template, handler), methods=[method])
        for method, template, handler in ROUTES
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.engine.aclose()
        await emulator.foundry.engine.aclose()

    app = Starlette(
        routes=[
            *routes,
            *emulator.control.routes(),
            *aging.routes(emulator.store, emulator.foundry),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app


def _endpoint(
    emulator: Emulator, method: str, template: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    route = f"{method} {template}"
    needs_api_version = not template.startswith(responses_api.OPENAI_PREFIX)

    async def endpoint(request: Request) -> Response:
        body, body_error = await _json_body(request)
        emulator.control.record(route, request, body)
        if emulator.knobs.latency_ms > 0:
            await asyncio.sleep(emulator.knobs.latency_ms / 1000)
        try:
            if needs_api_version:
                _check_api_version(request)
            _check_auth(request, emulator.options.accept_token)
            if body_error is not None:
                raise body_error
            streaming = isinstance(body, dict) and body.get("stream") is True
            fault = emulator.control.take_fault(route, streaming)
            if fault is not None and fault.kind in HTTP_FAULTS:
                raise fault.error()
            call = api.Call(
                request,
                body,
                fault.kind if fault else None,
                emulator.store,
                emulator.engine,
                emulator.foundry,
            )
            return await handler(call)
        except ApiError as exc:
            return exc.response()

    return endpoint


async def _json_body(request: Request) -> tuple[Any, ApiError | None]:
    raw = await request.body()
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, bad_request("The request body is not valid JSON.")


def _check_api_version(request: Request) -> None:
    if not request.query_params.get("api-version"):
        raise ApiError(
            400,
            "missing_api_version",
            "The api-version query parameter (?api-version=) is required for all requests.",
            param="api-version",
        )


def _check_auth(request: Request, accept_token: str | None) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    valid = scheme.lower() == "bearer" and bool(token)
    if valid and accept_token is not None:
        valid = hmac.compare_digest(token.encode(), accept_token.encode())
    if not valid:
        raise ApiError(
            401,
            "unauthorized",
            "Access denied due to a missing or invalid bearer token.",
            type="authentication_error",
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_request")
    message = f"No route for {request.method} {request.url.path}."
    return ApiError(status, code, message).response()


class RequestIdMiddleware:
    """Adds `apim-request-id` and `x-request-id` (one fresh UUID) to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["apim-request-id"] = request_id
                headers["x-request-id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_ids)
