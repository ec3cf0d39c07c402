"""OpenAI chat completions over agent runs.

`parse_request` validates a request body; `run_body` turns it into one
upstream run; `complete` and `stream` consume the run's events and produce
a `chat.completion` or `chat.completion.chunk` frames. Pure translation
apart from the injected `FoundryClient`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents_core.errors import (
    AdapterError,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from agents_core.foundry import FoundryClient, Project, RunEnded, RunStarted, RunStream, TextDelta
from agents_core.sse import encode, encode_json

__all__ = [
    "THREAD_ID",
    "ChatRequest",
    "ChatStream",
    "RunPlan",
    "complete",
    "open_stream",
    "parse_request",
    "run_body",
]

UNION_MEMBER = re.compile(r"str|int|float|bool|none|.*[\[\]-].*|[A-Z]\w*")
THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
UNSUPPORTED_HINT = {
    "tools": "function tools are not supported yet; configure tools on the agent",
    "tool_choice": "function tools are not supported yet",
    "functions": "use the agent's own tools",
    "function_call": "use the agent's own tools",
    "api_base": "the upstream endpoint comes from the server's configuration only",
    "base_url": "the upstream endpoint comes from the server's configuration only",
    "api_key": "upstream credentials come from the server's configuration only",
    "api_version": "the upstream API version comes from the server's configuration only",
}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatRequest(BaseModel):
    """The accepted subset of an OpenAI chat-completions request, plus `thread_id`/`instructions`.

    Unknown fields are rejected so a parameter is never silently dropped.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    thread_id: str | None = Field(default=None, pattern=f"^{THREAD_ID.pattern}$")
    instructions: str | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None
    logprobs: Literal[False] | None = None
    parallel_tool_calls: bool | None = None

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") not in ("text", "json_object", "json_schema"):
            raise ValueError("type must be 'text', 'json_object' or 'json_schema'")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and (
            len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
        ):
            raise ValueError("at most 16 pairs, keys up to 64 and values up to 512 characters")
        return value


def parse_request(payload: Any, max_messages: int) -> ChatRequest:
    """Validate a decoded JSON body; every problem becomes a 400 naming the field."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if len(request.messages) > max_messages:
        raise InvalidRequest(
            f"too many messages: {len(request.messages)} (limit {max_messages})", param="messages"
        )
    return request


def _invalid(exc: ValidationError) -> InvalidRequest:
    error = exc.errors()[0]
    # Unions add their member types ("str", "list[TextPart]") to the location: drop them.
    loc = [str(part) for part in error["loc"] if not UNION_MEMBER.fullmatch(str(part))]
    param = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:]) if loc else None
    if error["type"] == "extra_forbidden" and param:
        field_name = loc[-1]
        hint = UNSUPPORTED_HINT.get(field_name, "Foundry agent runs cannot honour it")
        return InvalidRequest(f"unsupported parameter '{param}': {hint}", param=param)
    if param and param.startswith("messages") and ".content" in param:
        return InvalidRequest(
            f"invalid '{param}': only text content is supported (a string or text parts)",
            param=param,
        )
    if param and param.startswith("messages") and loc[-1] == "role":
        return InvalidRequest(
            f"invalid '{param}': role must be system, developer, user or assistant "
            "(tool messages are not supported yet)",
            param=param,
        )
    return InvalidRequest(f"invalid '{param}': {error['msg']}", param=param)


@dataclass(frozen=True)
class RunPlan:
    """The one upstream request a completion makes."""

    thread_id: str | None
    body: dict[str, Any]


def run_body(request: ChatRequest, agent_id: str, thread_id: str | None) -> RunPlan:
    """Map a chat request onto a run on a new thread, or on `thread_id`."""
    instructions = [m.text() for m in request.messages if m.role in ("system", "developer")]
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if thread_id:
        last_assistant = max((i for i, m in enumerate(turns) if m.role == "assistant"), default=-1)
        turns = turns[last_assistant + 1 :]
        if not turns:
            raise InvalidRequest(
                "with a thread_id the thread already holds the history: send the new user "
                "message(s) after the last assistant message",
                param="messages",
            )
    elif not any(m.role == "user" for m in turns):
        raise InvalidRequest("messages must contain at least one user message", param="messages")
    messages = [{"role": m.role, "content": m.text()} for m in turns]
    body: dict[str, Any] = {"assistant_id": agent_id}
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if instructions:
        body["additional_instructions"] = "\n\n".join(instructions)
    if thread_id:
        body["additional_messages"] = messages
    else:
        body["thread"] = {"messages": messages}
    max_tokens = request.max_completion_tokens or request.max_tokens
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_completion_tokens": max_tokens,
        "response_format": request.response_format,
        "parallel_tool_calls": request.parallel_tool_calls,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    metadata = dict(request.metadata or {})
    if request.user:
        metadata.setdefault("user", request.user[:512])
    if metadata:
        body["metadata"] = metadata
    return RunPlan(thread_id, body)


def finish_reason(ended: RunEnded) -> str:
    """OpenAI `finish_reason` for a run's end, or the error the caller must get instead."""
    run = ended.run
    status = ended.status
    if status == "completed":
        return "stop"
    if status == "requires_action":
        return "tool_calls"
    if status == "incomplete":
        reason = str((run.get("incomplete_details") or {}).get("reason", ""))
        return "content_filter" if "content" in reason else "length"
    error = run.get("last_error") or {}
    code = str(error.get("code") or status)
    message = str(error.get("message") or f"the agent run ended {status}")
    if status == "failed" and code == "rate_limit_exceeded":
        raise RateLimited(f"the agent run was throttled: {message}", retry_after=_retry_hint(run))
    if status == "failed" and "content_filter" in code:
        return "content_filter"
    if status == "expired":
        raise UpstreamTimeout(f"the agent run expired: {message}", code="run_expired")
    if status == "cancelled":
        raise UpstreamError("the agent run was cancelled upstream", code="run_cancelled")
    raise UpstreamError(f"the agent run failed ({code}): {message}", code=code)


def _retry_hint(run: dict[str, Any]) -> float:
    """Seconds to wait, from messages like "Please try again in 20 seconds."."""
    message = str((run.get("last_error") or {}).get("message", ""))
    match = re.search(r"in (\d+(?:\.\d+)?) seconds?", message)
    return float(match.group(1)) if match else 1.0


def _usage(run: dict[str, Any]) -> dict[str, int] | None:
    usage = run.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _tool_calls(run: dict[str, Any]) -> list[dict[str, Any]]:
    action = run.get("required_action") or {}
    calls = (action.get("submit_tool_outputs") or {}).get("tool_calls") or []
    return [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": (call.get("function") or {}).get("arguments", ""),
            },
        }
        for call in calls
    ]


def _completion_id(run_id: str) -> str:
    return f"chatcmpl-{run_id}"


async def complete(
    foundry: FoundryClient, project: Project, request: ChatRequest, plan: RunPlan, deadline: float
) -> dict[str, Any]:
    """Run to the end and answer with one `chat.completion` object."""
    created = int(time.time())
    text: list[str] = []
    annotations: list[dict[str, Any]] = []
    async with foundry.start_run(project, plan.body, plan.thread_id) as run:
        try:
            async with asyncio.timeout(deadline):
                async for event in run:
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                        annotations.extend(event.annotations)
        except TimeoutError:
            raise UpstreamTimeout(
                f"the agent run took longer than {deadline:g} s and was cancelled; use "
                '"stream": true for long runs (streams are kept alive with heartbeats)',
                code="completion_deadline_exceeded",
            ) from None
    assert run.started is not None and run.ended is not None
    reason = finish_reason(run.ended)
    content = "".join(text)
    if not content and reason == "stop":
        content = await foundry.run_text(project, run.started.thread_id, run.started.run_id)
    message: dict[str, Any] = {"role": "assistant", "content": content or None, "refusal": None}
    if annotations:
        message["annotations"] = annotations
    if reason == "tool_calls":
        message["tool_calls"] = _tool_calls(run.ended.run)
    return {
        "id": _completion_id(run.started.run_id),
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
        "usage": _usage(run.ended.run),
        "system_fingerprint": None,
        "thread_id": run.started.thread_id,
    }


@dataclass
class ChatStream:
    """A started streaming completion: headers can be sent, `frames()` yields the SSE body."""

    request: ChatRequest
    run: RunStream
    started: RunStarted
    deadline: float
    request_id: str
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def thread_id(self) -> str:
        return self.started.thread_id

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": _completion_id(self.started.run_id),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    async def frames(self) -> AsyncIterator[bytes]:
        """The SSE body; closes the upstream stream (and cancels an unfinished run) at the end."""
        try:
            first = self._chunk({"role": "assistant", "content": ""})
            first["thread_id"] = self.thread_id
            yield encode_json(first)
            try:
                async with asyncio.timeout(self.deadline):
                    async for frame in self._body():
                        yield frame
            except TimeoutError:
                raise UpstreamTimeout(
                    f"the stream exceeded its {self.deadline:g} s deadline; the run was cancelled",
                    code="stream_deadline_exceeded",
                ) from None
        except AdapterError as exc:
            yield encode_json(exc.openai_body(self.request_id))
        finally:
            await self.run.__aexit__(None, None, None)
        yield encode("[DONE]")

    async def _body(self) -> AsyncIterator[bytes]:
        async for event in self.run:
            if isinstance(event, TextDelta):
                delta: dict[str, Any] = {"content": event.text}
                if event.annotations:
                    delta["annotations"] = list(event.annotations)
                yield encode_json(self._chunk(delta))
            elif isinstance(event, RunEnded):
                reason = finish_reason(event)
                if reason == "tool_calls":
                    calls = [
                        {"index": index, **call}
                        for index, call in enumerate(_tool_calls(event.run))
                    ]
                    yield encode_json(self._chunk({"tool_calls": calls}))
                yield encode_json(self._chunk({}, reason))
                options = self.request.stream_options
                if options is not None and options.include_usage:
                    usage = self._chunk({})
                    usage["choices"] = []
                    usage["usage"] = _usage(event.run)
                    yield encode_json(usage)


async def open_stream(
    foundry: FoundryClient,
    project: Project,
    request: ChatRequest,
    plan: RunPlan,
    deadline: float,
    request_id: str,
) -> ChatStream:
    """Start the run and wait for it to exist, so refusals still become HTTP errors."""
    run = foundry.start_run(project, plan.body, plan.thread_id)
    await run.__aenter__()
    try:
        async for event in run:
            if isinstance(event, RunStarted):
                return ChatStream(request, run, event, deadline, request_id)
        raise UpstreamError("Foundry stream ended before the run started")
    except BaseException:
        await run.__aexit__(None, None, None)
        raise
