"""A2A wire shapes for protocol 1.0 and 0.3, over the a2a-sdk's own types.

Requests of either version are parsed into the SDK's 1.0 (protobuf) types;
results are built once as 1.0 types and rendered in the caller's version:
ProtoJSON for 1.0, the SDK's 0.3 compat models for 0.3. The version is
chosen by method name (1.0 methods are PascalCase, 0.3 methods contain a
slash), so one URL serves both.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

from a2a.compat.v0_3 import conversions as v03
from a2a.compat.v0_3 import types as t03
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Part,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
)
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import ValidationError

from agents_core.errors import (
    CONTENT_TYPE_NOT_SUPPORTED,
    EXTENDED_CARD_NOT_CONFIGURED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    PUSH_NOT_SUPPORTED,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    UNSUPPORTED_OPERATION,
    VERSION_NOT_SUPPORTED,
    AdapterError,
    rpc_code,
)

__all__ = [
    "CONTENT_TYPE_NOT_SUPPORTED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PUSH_NOT_SUPPORTED",
    "TASK_NOT_CANCELABLE",
    "TASK_NOT_FOUND",
    "UNSUPPORTED_OPERATION",
    "VERSION_NOT_SUPPORTED",
    "Call",
    "RpcError",
    "agent_card",
    "check_version",
    "message_content",
    "parse_call",
    "rpc_error",
    "wire_version",
]

REASONS = {
    PARSE_ERROR: "PARSE_ERROR",
    INVALID_REQUEST: "INVALID_REQUEST",
    METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
    INVALID_PARAMS: "INVALID_PARAMS",
    INTERNAL_ERROR: "INTERNAL_ERROR",
    TASK_NOT_FOUND: "TASK_NOT_FOUND",
    TASK_NOT_CANCELABLE: "TASK_NOT_CANCELABLE",
    PUSH_NOT_SUPPORTED: "PUSH_NOTIFICATION_NOT_SUPPORTED",
    UNSUPPORTED_OPERATION: "UNSUPPORTED_OPERATION",
    CONTENT_TYPE_NOT_SUPPORTED: "CONTENT_TYPE_NOT_SUPPORTED",
    EXTENDED_CARD_NOT_CONFIGURED: "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
    VERSION_NOT_SUPPORTED: "VERSION_NOT_SUPPORTED",
}
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

Operation = Literal["send", "stream", "get", "cancel", "subscribe", "list"]
Version = Literal["1.0", "0.3"]

METHODS: dict[str, tuple[Version, Operation]] = {
    "SendMessage": ("1.0", "send"),
    "SendStreamingMessage": ("1.0", "stream"),
    "GetTask": ("1.0", "get"),
    "CancelTask": ("1.0", "cancel"),
    "SubscribeToTask": ("1.0", "subscribe"),
    "ListTasks": ("1.0", "list"),
    "message/send": ("0.3", "send"),
    "message/stream": ("0.3", "stream"),
    "tasks/get": ("0.3", "get"),
    "tasks/cancel": ("0.3", "cancel"),
    "tasks/resubscribe": ("0.3", "subscribe"),
}
PUSH_METHODS = (
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
)


class RpcError(Exception):
    """A JSON-RPC error to send back: `code` from the A2A/JSON-RPC tables."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def body(self, request_id: Any, version: Version = "0.3") -> dict[str, Any]:
        """The error envelope: 1.0 puts a `google.rpc.ErrorInfo` in `data`, 0.3 the data as is."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if version == "1.0":
            metadata = {key: str(value) for key, value in (self.data or {}).items()}
            reason = REASONS.get(self.code, "INTERNAL_ERROR")
            error["data"] = [
                {
                    "@type": ERROR_INFO,
                    "reason": reason,
                    "domain": "a2a-protocol.org",
                    "metadata": metadata,
                }
            ]
        elif self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": request_id, "error": error}


def check_version(header: str | None) -> None:
    """-32009 for an `A2A-Version` this server does not speak; a missing one is fine."""
    stated = (header or "").strip()
    if stated and stated.split(".")[:2] not in (["1", "0"], ["1"], ["0", "3"]):
        raise RpcError(
            VERSION_NOT_SUPPORTED,
            f"A2A-Version {stated[:20]!r} is not supported: this agent speaks 1.0 and 0.3",
            {"supportedVersions": "1.0, 0.3"},
        )


def wire_version(payload: Any, header: str | None) -> Version:
    """The version an error is rendered in: by method name, else by the `A2A-Version` header."""
    stated = (header or "").strip()
    method = payload.get("method") if isinstance(payload, dict) else None
    if isinstance(method, str) and method in METHODS:
        return METHODS[method][0]
    if isinstance(method, str) and "/" in method:
        return "0.3"
    return "1.0" if stated.startswith("1") or isinstance(method, str) else "0.3"


@dataclass(frozen=True)
class TaskQuery:
    id: str
    history_length: int | None  # None: all of it


def _history_length(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise RpcError(INVALID_PARAMS, "historyLength must not be negative")
    return value


@dataclass(frozen=True)
class Call:
    """One validated JSON-RPC call: what to do, in which protocol version."""

    id: str | int | float | None
    version: Version
    operation: Operation
    params: dict[str, Any]

    def send_request(self) -> SendMessageRequest:
        """The message to send, as 1.0 types whatever the caller's version."""
        if self.version == "0.3":
            _check_part_kinds(self.params)
            params = _compat(t03.MessageSendParams, self.params)
            request = v03.to_core_send_message_request(
                t03.SendMessageRequest(id=0, params=params)  # the id plays no part
            )
        else:
            request = _parse(self.params, SendMessageRequest())
        if not request.HasField("message") or not request.message.parts:
            raise RpcError(INVALID_PARAMS, "params.message with at least one part is required")
        if request.message.role != 1:  # ROLE_USER
            raise RpcError(INVALID_PARAMS, "params.message.role must be the user's")
        if not request.message.message_id:
            raise RpcError(INVALID_PARAMS, "params.message.messageId is required")
        return request

    def blocking(self, request: SendMessageRequest) -> bool:
        if self.version == "0.3":
            configuration = self.params.get("configuration") or {}
            return bool(configuration.get("blocking", True))
        return not request.configuration.return_immediately

    def task_query(self) -> TaskQuery:
        """`tasks/get` / `GetTask`: the task id and how much history to return."""
        if self.version == "0.3":
            query = _compat(t03.TaskQueryParams, self.params)
            return TaskQuery(str(query.id), _history_length(query.history_length))
        request = _parse(self.params, GetTaskRequest())
        if not request.id:
            raise RpcError(INVALID_PARAMS, "params.id (the task id) is required")
        limit = request.history_length if request.HasField("history_length") else None
        return TaskQuery(str(request.id), _history_length(limit))

    def history_length(self, request: SendMessageRequest) -> int | None:
        configuration = request.configuration
        if not configuration.HasField("history_length"):
            return None
        return _history_length(configuration.history_length)

    def task_id(self) -> str:
        if self.version == "0.3":
            return str(_compat(t03.TaskQueryParams, self.params).id)
        kind: Any = {"get": GetTaskRequest, "cancel": CancelTaskRequest}.get(
            self.operation, SubscribeToTaskRequest
        )
        task_id = str(_parse(self.params, kind()).id)
        if not task_id:
            raise RpcError(INVALID_PARAMS, "params.id (the task id) is required")
        return task_id

    def list_request(self) -> ListTasksRequest:
        request: ListTasksRequest = _parse(self.params, ListTasksRequest())
        if request.HasField("history_length"):
            _history_length(request.history_length)
        if request.HasField("page_size") and not 1 <= request.page_size <= 100:
            raise RpcError(INVALID_PARAMS, "params.pageSize must be between 1 and 100")
        return request

    def result(self, value: Task | SendMessageResponse | ListTasksResponse) -> dict[str, Any]:
        """A success envelope in the caller's version."""
        if isinstance(value, ListTasksResponse):
            body = MessageToDict(value)
            body.setdefault("nextPageToken", "")  # always present, empty on the last page
            body.setdefault("tasks", [])
            body.setdefault("totalSize", 0)
            body.setdefault("pageSize", 0)
        elif self.version == "1.0":
            body = MessageToDict(value)
        elif isinstance(value, SendMessageResponse):
            body = _dump(v03.to_compat_task(value.task))
        elif isinstance(value, Task):
            body = _dump(v03.to_compat_task(value))
        return {"jsonrpc": "2.0", "id": self.id, "result": body}

    def event(self, value: StreamResponse) -> dict[str, Any]:
        """One streamed event's envelope in the caller's version."""
        if self.version == "1.0":
            return {"jsonrpc": "2.0", "id": self.id, "result": MessageToDict(value)}
        # The compat models take string or integer ids; JSON-RPC allows any number.
        body = _dump(v03.to_compat_stream_response(value, 0))
        body["id"] = self.id
        return body


def parse_call(payload: Any) -> Call:
    """Validate a JSON-RPC 2.0 request and choose the protocol version by method name."""
    if not isinstance(payload, dict):
        raise RpcError(
            INVALID_REQUEST, "a JSON-RPC request must be an object (batches are not supported)"
        )
    request_id = payload.get("id")
    if payload.get("jsonrpc") != "2.0" or not isinstance(payload.get("method"), str):
        raise RpcError(INVALID_REQUEST, "expected {'jsonrpc': '2.0', 'method': ..., 'id': ...}")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, str | int | float)
    ):
        raise RpcError(INVALID_REQUEST, "id must be a string, a number or null")
    method = payload["method"]
    params = payload.get("params", {})
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "params must be an object")
    if method in PUSH_METHODS or method.startswith("tasks/pushNotificationConfig/"):
        raise RpcError(PUSH_NOT_SUPPORTED, "push notifications are not supported; use streaming")
    if method in ("GetExtendedAgentCard", "agent/getAuthenticatedExtendedCard"):
        raise RpcError(EXTENDED_CARD_NOT_CONFIGURED, "this agent has no extended card")
    if method not in METHODS:
        raise RpcError(METHOD_NOT_FOUND, f"method {method!r} is not supported")
    version, operation = METHODS[method]
    return Call(request_id, version, operation, params)


def rpc_error(exc: AdapterError, operation: str) -> RpcError:
    """The JSON-RPC error for an adapter error (`errors.rpc_code`), status and codes as data."""
    data: dict[str, Any] = {"httpStatus": exc.status_code, "code": exc.code}
    if exc.retry_after is not None:
        data["retryAfter"] = exc.retry_after
    if exc.upstream_request_id:
        data["upstreamRequestId"] = exc.upstream_request_id
    code = rpc_code(exc, operation)
    message = exc.message
    if code == INVALID_REQUEST and exc.status_code == 404:
        data["code"] = "agent_not_found"
        message = f"unknown agent: {exc.message}"
    elif code == INVALID_PARAMS and exc.code == "thread_not_found":
        message = f"contextId not found: {exc.message}"
    return RpcError(code, message, data)


def message_content(part: Part, index: int) -> dict[str, Any]:
    """A chat-completions content part for an A2A message part (text, data, image file)."""
    kind = part.WhichOneof("content")
    if kind == "text":
        return {"type": "text", "text": part.text}
    if kind == "data":
        return {"type": "text", "text": json.dumps(MessageToDict(part.data), ensure_ascii=False)}
    media = part.media_type or ""
    if kind == "url" and (media.startswith("image/") or not media):
        return {"type": "image_url", "image_url": {"url": part.url}}
    if kind == "raw" and media in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{media};base64,{base64.b64encode(part.raw).decode()}"},
        }
    raise RpcError(
        CONTENT_TYPE_NOT_SUPPORTED,
        f"message part {index} ({media or kind}) is not supported: send text, data, or image files",
    )


PART_KINDS = ("text", "file", "data")


def _check_part_kinds(params: dict[str, Any]) -> None:
    """0.3 parts name their `kind` (the schema requires it); one without is -32602."""
    message = params.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    for index, part in enumerate(parts if isinstance(parts, list) else []):
        if isinstance(part, dict) and part.get("kind") not in PART_KINDS:
            raise RpcError(
                INVALID_PARAMS,
                f"params.message.parts[{index}].kind must be one of {', '.join(PART_KINDS)}",
            )


def _parse(params: dict[str, Any], message: Any) -> Any:
    try:
        return ParseDict(params, message, ignore_unknown_fields=True)
    except ParseError as exc:
        raise RpcError(INVALID_PARAMS, f"invalid params: {exc}") from None


def _compat(model: Any, params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RpcError(INVALID_PARAMS, f"invalid params.{where}: {error['msg']}") from None


def _dump(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return result


def agent_card(
    *, url: str, name: str, description: str, skill_id: str, scheme: str
) -> dict[str, Any]:
    """One card both 1.0 and 0.3 clients read: the 1.0 fields plus 0.3's `url` & co."""
    card: dict[str, Any] = {
        "name": name,
        "description": description,
        "version": "1.0.0",
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "capabilities": {"streaming": True, "pushNotifications": False},
        "defaultInputModes": ["text/plain", "application/json", "image/png", "image/jpeg"],
        "defaultOutputModes": ["text/plain", "application/json"],
        "skills": [
            {
                "id": skill_id,
                "name": name,
                "description": description,
                "tags": ["azure-ai-foundry", "agent"],
            }
        ],
    }
    schemes: dict[str, Any] = {}
    if scheme == "api_key":
        schemes = {
            "bearer": {
                "httpAuthSecurityScheme": {"scheme": "bearer"},
                "type": "http",
                "scheme": "bearer",
                "description": "a gateway API key as 'Authorization: Bearer <key>'",
            },
            "apiKey": {
                "apiKeySecurityScheme": {"location": "header", "name": "x-api-key"},
                "type": "apiKey",
                "in": "header",
                "name": "x-api-key",
            },
        }
    elif scheme == "easy_auth":
        schemes = {
            "entra": {
                "httpAuthSecurityScheme": {"scheme": "bearer", "bearerFormat": "JWT"},
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "a Microsoft Entra ID token for this app",
            }
        }
    if schemes:
        card["securitySchemes"] = schemes
        card["securityRequirements"] = [{"schemes": {key: {}}} for key in schemes]
        card["security"] = [{key: []} for key in schemes]
    return card
