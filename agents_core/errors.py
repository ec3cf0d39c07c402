"""One error hierarchy for everything a caller can be told.

    AdapterError                      (500 internal_error)
    ├── InvalidRequest                (400 invalid_request_error)
    ├── Unauthorized                  (401 authentication_error)
    ├── NotFound                      (404 not_found_error: model_not_found, thread_not_found, ...)
    ├── Conflict                      (409)
    ├── Gone                          (410)
    ├── PayloadTooLarge               (413)
    ├── RateLimited                   (429, Retry-After)
    ├── ServiceUnavailable            (503, Retry-After)
    ├── UpstreamError                 (502: the agent service refused or failed)
    │   └── UpstreamAuthError         (502: no token could be had for the agent)
    └── UpstreamTimeout               (504)

Each error carries what the caller needs (status, code, param, the upstream
request id) and renders itself as OpenAI error JSON. `ERRORS` is the one
table from each error to its HTTP status, OpenAI error type and JSON-RPC
code (`rpc_code` adds the few cases decided by the error's code).
Messages are written for the caller and never include secrets.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, ClassVar

__all__ = [
    "CONTENT_TYPE_NOT_SUPPORTED",
    "ERRORS",
    "EXTENDED_CARD_NOT_CONFIGURED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PUSH_NOT_SUPPORTED",
    "REQUEST_ID",
    "TASK_NOT_CANCELABLE",
    "TASK_NOT_FOUND",
    "UNSUPPORTED_OPERATION",
    "VERSION_NOT_SUPPORTED",
    "AdapterError",
    "Conflict",
    "Gone",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamTimeout",
    "rpc_code",
]


REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the request being served (`req_...`), for log lines written below the handlers."""


class AdapterError(Exception):
    """Base of every error the adapter reports to a caller."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        upstream_request_id: str | None = None,
        upstream_code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.retry_after = retry_after
        self.upstream_request_id = upstream_request_id
        self.upstream_code = upstream_code
        self.thread_id: str | None = None
        """The thread or conversation the failed turn ran on, so the caller can continue it."""
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]

    def headers(self) -> dict[str, str]:
        """HTTP headers that belong to this error (`Retry-After`, upstream request id)."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        if self.upstream_request_id:
            headers["x-upstream-request-id"] = self.upstream_request_id
        if self.thread_id:
            headers["x-thread-id"] = self.thread_id
        return headers

    def openai_body(self, request_id: str) -> dict[str, Any]:
        """The OpenAI error shape: `{"error": {"message", "type", "code", "param"}}`."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
            "param": self.param,
            "request_id": request_id,
        }
        if self.upstream_request_id:
            error["upstream_request_id"] = self.upstream_request_id
        if self.upstream_code:
            error["upstream_code"] = self.upstream_code
        if self.thread_id:
            error["thread_id"] = self.thread_id
        return {"error": error}


class InvalidRequest(AdapterError):
    status_code = 400
    error_type = "invalid_request_error"
    default_code = "invalid_request"


class Unauthorized(AdapterError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class HostNotAllowed(AdapterError):
    """A `Host` this server does not answer to (open local mode: loopback names only)."""

    status_code = 403
    error_type = "permission_error"

    def __init__(self) -> None:
        super().__init__(
            "this server runs without keys and answers only to localhost names; "
            "use http://127.0.0.1 or set GATEWAY_API_KEYS",
            code="host_not_allowed",
        )


class NotFound(AdapterError):
    status_code = 404
    error_type = "not_found_error"
    default_code = "not_found"


class Conflict(AdapterError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class Gone(AdapterError):
    status_code = 410
    error_type = "invalid_request_error"
    default_code = "gone"


class PayloadTooLarge(AdapterError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimited(AdapterError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ServiceUnavailable(AdapterError):
    status_code = 503
    error_type = "service_unavailable_error"
    default_code = "service_unavailable"


class UpstreamError(AdapterError):
    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"


class UpstreamAuthError(UpstreamError):
    default_code = "upstream_authentication_failed"


class UpstreamTimeout(AdapterError):
    status_code = 504
    error_type = "timeout_error"
    default_code = "upstream_timeout"


# JSON-RPC 2.0 codes, and A2A's own (a2a-sdk `a2a.utils.errors`).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
PUSH_NOT_SUPPORTED = -32003
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005
EXTENDED_CARD_NOT_CONFIGURED = -32007
VERSION_NOT_SUPPORTED = -32009

ERRORS: dict[type[AdapterError], tuple[int, str, int]] = {
    error: (error.status_code, error.error_type, rpc)
    for error, rpc in (
        (AdapterError, INTERNAL_ERROR),
        (InvalidRequest, INVALID_PARAMS),
        (Unauthorized, INVALID_REQUEST),
        (NotFound, TASK_NOT_FOUND),
        (Conflict, INVALID_PARAMS),
        (Gone, INVALID_PARAMS),
        (PayloadTooLarge, INVALID_PARAMS),
        (RateLimited, INTERNAL_ERROR),
        (ServiceUnavailable, INTERNAL_ERROR),
        (UpstreamError, INTERNAL_ERROR),
        (UpstreamAuthError, INTERNAL_ERROR),
        (UpstreamTimeout, INTERNAL_ERROR),
    )
}
"""Each error class: (HTTP status, OpenAI error type, JSON-RPC code)."""
UNSUPPORTED_CODES = frozenset({"unsupported_operation", "run_not_waiting", "run_expired"})
AGENT_NOT_FOUND_CODES = frozenset({"model_not_found", "agent_not_found"})


def rpc_code(error: AdapterError, operation: str = "") -> int:
    """The JSON-RPC code for `error` during an A2A `operation` (`send`, `get`, ...).

    The table, except: an unknown agent is an invalid request; an unknown
    thread on a send is an invalid `contextId`; a run that takes no more
    input is an unsupported operation; 4xx statuses the table does not name
    are invalid params.
    """
    if isinstance(error, NotFound):
        if error.code in AGENT_NOT_FOUND_CODES:
            return INVALID_REQUEST
        if error.code == "thread_not_found" and operation in ("send", "stream"):
            return INVALID_PARAMS
        return TASK_NOT_FOUND
    if error.code in UNSUPPORTED_CODES:
        return UNSUPPORTED_OPERATION
    if error.status_code in (400, 409, 410, 413):
        return INVALID_PARAMS
    return INTERNAL_ERROR
