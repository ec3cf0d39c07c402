"""The A2A endpoints over Starlette: JSON-RPC dispatch and agent card responses.

Order of checks on a call, each answered as a JSON-RPC error that keeps the
request's `id` once the body is read: the content type (-32005, before
parsing), the body (-32700), the caller (HTTP 401), the `A2A-Version`
header (-32009), the envelope and method, then the operation. Errors are
rendered in the caller's protocol version (1.0: `google.rpc.ErrorInfo` in
`data`). JSON-RPC errors travel with HTTP 200, as the JSON-RPC transport
of both versions answers them, except where the transport itself failed
(401, 413, 415, an unexpected 500), for an unknown agent (404, as its
card), and for 0.3's streaming methods (`message/stream`,
`tasks/resubscribe`), whose clients read a non-2xx status as "no stream":
there every error, from the envelope on, comes with the status it mirrors.

Once the body is parsed, the call's `id` and protocol version are kept on
`request.state.rpc` so an unexpected failure is still answered to that `id`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from a2a.types import SendMessageRequest
from starlette.requests import Request
from starlette.responses import Response

from agents_core.a2a import tasks
from agents_core.a2a.wire import (
    CONTENT_TYPE_NOT_SUPPORTED,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Call,
    RpcError,
    Version,
    check_version,
    parse_call,
    rpc_error,
    wire_version,
)
from agents_core.config import AgentSpec
from agents_core.edge import EventStream, JSONResponse, public_base, while_connected
from agents_core.errors import AdapterError, InvalidRequest
from agents_core.runtime import Runtime
from agents_core.sse import encode_json, with_heartbeat

__all__ = ["card_response", "serve"]

CARD_MAX_AGE = 300
HTTP_STATUS = {-32001: 404, -32601: 404, -32603: 502}


async def serve(
    request: Request,
    runtime: Runtime,
    read_json: Callable[[Request], Awaitable[Any]],
    agent: Callable[[], AgentSpec],
) -> Response:
    """One JSON-RPC call to the agent `agent()` names (see the module docstring)."""
    header = request.headers.get("a2a-version")
    call_id: Any = None
    streams = False
    version: Version = wire_version(None, header)
    try:
        _check_content_type(request.headers.get("content-type"))
        try:
            payload = await read_json(request)
        except InvalidRequest as exc:
            if exc.status_code == 400:
                raise RpcError(PARSE_ERROR, exc.message) from None
            error = RpcError(INVALID_REQUEST, exc.message, {"httpStatus": exc.status_code})
            return JSONResponse(
                error.body(None, version), status_code=exc.status_code, headers=exc.headers()
            )
        call_id = _call_id(payload)
        version = wire_version(payload, header)
        streams = _streams_03(payload)
        request.state.rpc = (call_id, version)
        try:
            caller = runtime.callers.check(request.headers)
        except AdapterError as exc:
            error = RpcError(INVALID_REQUEST, exc.message, {"httpStatus": 401})
            response = JSONResponse(error.body(call_id, version), status_code=401)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        check_version(header)
        call = parse_call(payload)
        spec = agent()
        service = tasks.TaskService(
            runtime.client(spec, caller),
            await runtime.project(spec, request.headers),
            spec.agent_id,
            spec.alias,
            runtime.settings.stream_deadline,
            runtime.settings.completion_deadline,
            versioned=spec.kind == "versioned",
            public_base=public_base(request, runtime.settings, runtime.platform),
        )
        try:
            return await while_connected(request, _dispatch(service, call, runtime))
        except AdapterError as exc:
            raise rpc_error(exc, call.operation) from None
    except AdapterError as exc:
        return _error(rpc_error(exc, ""), call_id, version, streams)
    except RpcError as exc:
        if exc.code == CONTENT_TYPE_NOT_SUPPORTED and call_id is None:
            return JSONResponse(exc.body(None, version), status_code=415)
        return _error(exc, call_id, version, streams)


def _check_content_type(value: str | None) -> None:
    media = (value or "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise RpcError(
            CONTENT_TYPE_NOT_SUPPORTED,
            f"Content-Type {media!r} is not supported: send application/json",
        )


def _call_id(payload: Any) -> str | int | float | None:
    """The request's `id` to answer with: a string or a number (JSON-RPC 2.0), else null."""
    value = payload.get("id") if isinstance(payload, dict) else None
    valid = isinstance(value, str | int | float) and not isinstance(value, bool)
    return value if valid else None


def _streams_03(payload: Any) -> bool:
    """Whether the call names a 0.3 streaming method (its errors carry an HTTP status)."""
    method = payload.get("method") if isinstance(payload, dict) else None
    return method in ("message/stream", "tasks/resubscribe")


def _error(error: RpcError, call_id: Any, version: Version, streams: bool) -> JSONResponse:
    """The error envelope; HTTP 200 unless the agent is unknown or 0.3 streaming needs a status."""
    data = error.data if isinstance(error.data, dict) else {}
    status = 200
    if data.get("code") == "agent_not_found":
        status = 404
    elif streams:
        given = data.get("httpStatus")
        status = given if isinstance(given, int) else HTTP_STATUS.get(error.code, 400)
    return JSONResponse(error.body(call_id, version), status_code=status)


def _send_request(call: Call) -> SendMessageRequest:
    """The call's message; undecodable content (bad base64 in a file part) is -32602."""
    try:
        return call.send_request()
    except ValueError as exc:  # binascii.Error included
        raise RpcError(INVALID_PARAMS, f"invalid params: {str(exc)[:200]}") from None


async def _dispatch(service: tasks.TaskService, call: Call, runtime: Runtime) -> Response:
    if call.operation == "send":
        message = _send_request(call)
        task = await service.send(message, call.blocking(message), call.history_length(message))
        return JSONResponse(call.result(task))
    if call.operation == "get":
        query = call.task_query()
        return JSONResponse(call.result(await service.get(query.id, query.history_length)))
    if call.operation == "cancel":
        return JSONResponse(call.result(await service.cancel(call.task_id())))
    if call.operation == "list":
        return JSONResponse(call.result(await service.list(call.list_request())))
    if call.operation == "stream":
        events = await service.open_stream(_send_request(call))
    else:
        events = await service.subscribe(call.task_id())

    async def frames() -> AsyncGenerator[bytes, None]:
        try:
            async for event in events:
                yield encode_json(call.event(event))
        finally:
            await events.aclose()

    return EventStream(
        with_heartbeat(frames(), runtime.settings.heartbeat_interval),
        runtime.settings.stream_deadline,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def card_response(
    request: Request, card: dict[str, Any], *, private: bool = False, vary: str = ""
) -> Response:
    """The card with `Cache-Control` and a content `ETag`; `If-None-Match` that matches is 304.

    `private`: only the caller's own cache may keep it (a key unlocked it);
    `vary`: the request headers the card depends on.
    """
    body = json.dumps(card, separators=(",", ":"), ensure_ascii=False).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    scope = "private" if private else "public"
    headers = {"Cache-Control": f"{scope}, max-age={CARD_MAX_AGE}", "ETag": etag}
    if vary:
        headers["Vary"] = vary
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or f"W/{etag}" in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
