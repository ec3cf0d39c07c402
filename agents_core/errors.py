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
request id) and renders itself as OpenAI error JSON or a JSON-RPC error.
Messages are written for the caller and never include secrets.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, ClassVar

__all__ = [
    "REQUEST_ID",
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
