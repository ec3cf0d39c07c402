"""Upstream-shaped errors: `{"error": {"code", "message", "type", "param", "details"?}}`."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the emulated service answers with; raise it anywhere inside a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type
        self.param = param
        self.headers = dict(headers or {})
        self.details = details

    def response(self) -> JSONResponse:
        error: dict[str, object] = {
            "code": self.code,
            "message": self.message,
            "type": self.type,
            "param": self.param,
        }
        if self.details is not None:
            error["details"] = self.details
        body = {"error": error}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def not_found(kind: str, object_id: str) -> ApiError:
    """The service's answer for an unknown thread, run, message, step or assistant."""
    return ApiError(404, "not_found", f"No {kind} found with id '{object_id}'.")


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)
