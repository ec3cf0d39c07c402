"""Async client for the Foundry Agent Service (classic threads/runs API).

Transport only: it knows the upstream's routes, bodies and events, and
nothing of OpenAI or A2A. Runs are always streamed and surface as a few
normalized events (`RunStarted`, `TextDelta`, `RunEnded`), so translation
modules consume one shape whatever the upstream sent. Upstream failures are
translated to `agents_core.errors` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx

from agents_core.errors import (
    AdapterError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeout,
)
from agents_core.sse import SSEDecoder

__all__ = [
    "FoundryClient",
    "Project",
    "RunEnded",
    "RunEvent",
    "RunStarted",
    "RunStream",
    "TextDelta",
]

log = logging.getLogger("agents_core.foundry")

TERMINAL_EVENTS = {
    "thread.run.completed": "completed",
    "thread.run.failed": "failed",
    "thread.run.cancelled": "cancelled",
    "thread.run.expired": "expired",
    "thread.run.incomplete": "incomplete",
    "thread.run.requires_action": "requires_action",
}
RETRYABLE_STATUS = {429, 503}
_background: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Project:
    """Where to send a request and as whom: endpoint plus a resolved Bearer token."""

    endpoint: str
    token: str
    credential: str = "token"


@dataclass(frozen=True)
class RunStarted:
    thread_id: str
    run_id: str


@dataclass(frozen=True)
class TextDelta:
    text: str
    annotations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunEnded:
    """The run's last state as reported upstream: terminal, or `requires_action`."""

    run: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.run.get("status", ""))


RunEvent = RunStarted | TextDelta | RunEnded


def _retry_after(response: httpx.Response) -> float | None:
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    seconds = response.headers.get("retry-after")
    if seconds:
        try:
            return float(seconds)
        except ValueError:
            return None
    return None


def _request_id(response: httpx.Response) -> str | None:
    value = response.headers.get("apim-request-id") or response.headers.get("x-request-id")
    return str(value) if value else None


def upstream_error(response: httpx.Response, body: bytes, project: Project) -> AdapterError:
    """Translate a non-2xx upstream response into the error the caller gets."""
    code: str | None = None
    message = ""
    try:
        payload = json.loads(body)
        error = payload.get("error", payload) if isinstance(payload, dict) else {}
        if isinstance(error, dict):
            code = error.get("code") if isinstance(error.get("code"), str) else None
            message = str(error.get("message") or "")
    except ValueError:
        message = body[:300].decode("utf-8", "replace")
    status = response.status_code
    message = message or response.reason_phrase or f"HTTP {status}"
    request_id = _request_id(response)
    if status in (401, 403):
        return UpstreamAuthError(
            f"Foundry refused the {project.credential} ({status}): {message}. Give that identity "
            "the 'Azure AI User' role on the Foundry project.",
            upstream_request_id=request_id,
        )
    if status == 404:
        lowered = message.lower()
        code = "model_not_found" if "assistant" in lowered or "agent" in lowered else None
        code = code or ("thread_not_found" if "thread" in lowered else "not_found")
        return NotFound(f"Foundry: {message}", code=code, upstream_request_id=request_id)
    if status == 409:
        return Conflict(f"Foundry: {message}", code=code, upstream_request_id=request_id)
    if status == 429:
        return RateLimited(
            f"Foundry is throttling: {message}",
            retry_after=_retry_after(response) or 1,
            upstream_request_id=request_id,
        )
    if status == 503:
        return ServiceUnavailable(
            f"Foundry is unavailable: {message}",
            retry_after=_retry_after(response) or 1,
            upstream_request_id=request_id,
        )
    if 400 <= status < 500:
        return InvalidRequest(
            f"Foundry rejected the request: {message}", code=code, upstream_request_id=request_id
        )
    return UpstreamError(
        f"Foundry failed ({status}): {message}", code=code, upstream_request_id=request_id
    )


class FoundryClient:
    """Requests to one or more Foundry projects over one shared `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, api_version: str, retry_deadline: float) -> None:
        self._http = http
        self._api_version = api_version
        self._retry_deadline = retry_deadline

    def _build(
        self,
        project: Project,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        query = {"api-version": self._api_version, **(params or {})}
        headers = {
            "Authorization": f"Bearer {project.token}",
            "Accept": "application/json",
        }
        return self._http.build_request(
            method,
            f"{project.endpoint}{path}",
            params=query,
            json=body,
            headers=headers,
        )

    async def _send(
        self, request: httpx.Request, project: Project, *, stream: bool
    ) -> httpx.Response:
        """Send with retries that can never duplicate a run.

        Only failures that prove the upstream did not act are retried: a
        connection that never opened, and 429 / 503 answers. Waits honour
        `retry-after-ms` / `Retry-After` within the retry deadline.
        """
        deadline = time.monotonic() + self._retry_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.ConnectError as exc:
                wait = min(0.2 * 2**attempt, 2.0)
                if time.monotonic() + wait > deadline:
                    raise UpstreamError(
                        f"cannot reach Foundry at {project.endpoint}: {type(exc).__name__}",
                        code="upstream_unreachable",
                    ) from None
            except httpx.TimeoutException:
                raise UpstreamTimeout("Foundry did not answer in time") from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"Foundry connection failed: {type(exc).__name__}") from None
            else:
                if response.status_code < 400:
                    return response
                body = await response.aread()
                await response.aclose()
                error = upstream_error(response, body, project)
                wait = _retry_after(response) or min(0.5 * 2**attempt, 4.0)
                if (
                    response.status_code not in RETRYABLE_STATUS
                    or time.monotonic() + wait > deadline
                ):
                    raise error
                log.info("Foundry answered %s; retrying in %.2fs", response.status_code, wait)
            await asyncio.sleep(wait)

    async def request(
        self,
        project: Project,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One JSON request; the decoded JSON object of a 2xx answer."""
        response = await self._send(
            self._build(project, method, path, body, params), project, stream=False
        )
        try:
            payload = response.json()
        except ValueError:
            raise UpstreamError("Foundry returned a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamError("Foundry returned an unexpected JSON value")
        return payload

    def start_run(
        self, project: Project, body: dict[str, Any], thread_id: str | None = None
    ) -> RunStream:
        """Create a run (on a new thread when `thread_id` is None) and stream it."""
        path = f"/threads/{thread_id}/runs" if thread_id else "/threads/runs"
        return RunStream(
            self, project, self._build(project, "POST", path, {**body, "stream": True})
        )

    def submit_tool_outputs(
        self,
        project: Project,
        thread_id: str,
        run_id: str,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """Answer a run's `requires_action` and stream the rest of it."""
        path = f"/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"
        request = self._build(project, "POST", path, {"tool_outputs": outputs, "stream": True})
        return RunStream(self, project, request, started=RunStarted(thread_id, run_id))

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        return await self.request(project, "GET", f"/threads/{thread_id}/runs/{run_id}")

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        return await self.request(project, "POST", f"/threads/{thread_id}/runs/{run_id}/cancel")

    async def get_agent(self, project: Project, agent_id: str) -> dict[str, Any]:
        return await self.request(project, "GET", f"/assistants/{agent_id}")

    async def run_text(self, project: Project, thread_id: str, run_id: str) -> str:
        """Text of the messages a run wrote (fallback when its stream carried none)."""
        page = await self.request(
            project,
            "GET",
            f"/threads/{thread_id}/messages",
            params={"run_id": run_id, "order": "asc"},
        )
        parts: list[str] = []
        for message in page.get("data", []):
            if message.get("role") != "assistant":
                continue
            for content in message.get("content", []):
                if content.get("type") == "text":
                    parts.append(str(content.get("text", {}).get("value", "")))
        return "".join(parts)

    def cancel_in_background(
        self, project: Project, thread_id: str, run_id: str
    ) -> asyncio.Task[None]:
        """Cancel a run without blocking the caller (used when a consumer goes away)."""

        async def cancel() -> None:
            try:
                await self.cancel_run(project, thread_id, run_id)
                log.info("cancelled abandoned run %s on %s", run_id, thread_id)
            except AdapterError as exc:
                log.warning("could not cancel run %s: %s", run_id, exc.message)

        task = asyncio.get_running_loop().create_task(cancel())
        _background.add(task)
        task.add_done_callback(_background.discard)
        return task


@dataclass
class RunStream:
    """A streamed run: `async with client.start_run(...) as events: async for e in events`.

    Leaving the block before the run ended (error, deadline, caller gone)
    cancels the run upstream, so nothing keeps running and billing.
    """

    client: FoundryClient
    project: Project
    request: httpx.Request
    started: RunStarted | None = None
    ended: RunEnded | None = None
    _response: httpx.Response | None = field(default=None, repr=False)
    _iterator: AsyncIterator[RunEvent] | None = field(default=None, repr=False)
    _detached: bool = field(default=False, repr=False)

    def detach(self) -> None:
        """Let the run go on upstream when this stream closes (A2A non-blocking sends)."""
        self._detached = True

    async def __aenter__(self) -> Self:
        self._response = await self.client._send(self.request, self.project, stream=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response, self._response = self._response, None
        if response is None:
            return  # never opened, or already closed
        iterator, self._iterator = self._iterator, None
        if iterator is not None:
            await iterator.aclose()  # type: ignore[attr-defined]
        await response.aclose()
        if self.started is not None and self.ended is None and not self._detached:
            self.client.cancel_in_background(
                self.project, self.started.thread_id, self.started.run_id
            )

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        """One iterator per stream: a second `async for` resumes where the first stopped."""
        if self._iterator is None:
            self._iterator = self._events()
        return self._iterator

    async def _events(self) -> AsyncIterator[RunEvent]:
        assert self._response is not None, "use RunStream inside `async with`"
        if self.started is not None:
            yield self.started  # a continued run (tool outputs) is known before it streams
        decoder = SSEDecoder()
        try:
            async for chunk in self._response.aiter_bytes():
                for frame in decoder.feed(chunk):
                    event = self._translate(frame.event, frame.data)
                    if event is not None:
                        yield event
                    if self.ended is not None:
                        return
            for frame in decoder.close():
                event = self._translate(frame.event, frame.data)
                if event is not None:
                    yield event
        except httpx.TimeoutException:
            raise UpstreamTimeout("Foundry stopped sending events (read timeout)") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Foundry stream broke: {type(exc).__name__}",
                code="upstream_stream_error",
            ) from None
        if self.ended is None:
            raise UpstreamError(
                "Foundry stream ended before the run finished",
                code="upstream_stream_error",
            )

    def _translate(self, name: str, data: str) -> RunEvent | None:
        if name == "done" or data == "[DONE]":
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        if name == "error":
            error = payload.get("error", payload)
            raise UpstreamError(
                f"Foundry stream error: {error.get('message', 'unknown error')}",
                code=error.get("code") or "upstream_stream_error",
            )
        if name == "thread.run.created" and self.started is None:
            self.started = RunStarted(str(payload["thread_id"]), str(payload["id"]))
            return self.started
        if name == "thread.message.delta":
            return _text_delta(payload)
        if name in TERMINAL_EVENTS:
            self.ended = RunEnded(payload)
            return self.ended
        return None


def _text_delta(payload: dict[str, Any]) -> TextDelta | None:
    text: list[str] = []
    annotations: list[dict[str, Any]] = []
    for part in payload.get("delta", {}).get("content", []) or []:
        if part.get("type") != "text":
            continue
        body = part.get("text") or {}
        text.append(str(body.get("value") or ""))
        annotations.extend(body.get("annotations") or [])
    if not text and not annotations:
        return None
    return TextDelta("".join(text), tuple(annotations))
