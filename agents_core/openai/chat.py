"""Agent runs → OpenAI chat completions.

`complete` runs a `RunPlan` (see `chat_input`) to its end and answers with a
`chat.completion`; `open_stream` starts it and yields
`chat.completion.chunk` frames as the upstream produces text.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from agents_core.errors import AdapterError, RateLimited, UpstreamError, UpstreamTimeout
from agents_core.foundry.transport import (
    AgentClient,
    Project,
    RunEnded,
    RunStarted,
    RunStream,
    TextDelta,
    pending_tool_calls,
)
from agents_core.openai.chat_input import MAX_CALLER_CALL_ID, ChatRequest, RunPlan, encode_call_id
from agents_core.sse import encode, encode_json

__all__ = ["ChatStream", "Completion", "complete", "open_stream", "start"]


def finish_reason(ended: RunEnded) -> str:
    """OpenAI `finish_reason` for a run's end, or the error the caller must get instead."""
    run = ended.run
    status = ended.status
    if status == "completed":
        return "stop"
    if status == "requires_action":
        action = run.get("required_action") or {}
        if action.get("type", "submit_tool_outputs") != "submit_tool_outputs":
            asked = action.get("detail") or "approving MCP tool calls, for example"
            raise UpstreamError(
                f"the agent stopped to ask the caller for '{action.get('type')}' ({asked}), "
                "which this API cannot carry; configure the agent's tools not to require "
                "approval or consent",
                code="unsupported_required_action",
            )
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


def _tool_calls(run: dict[str, Any], named_thread: bool) -> list[dict[str, Any]]:
    """The run's pending function calls, with ids that route the answer back to this run.

    When the request named its thread, the upstream ids (at most 40
    characters) are handed out and the thread routes the answer.
    """
    thread_id, run_id = str(run.get("thread_id")), str(run.get("id"))
    calls = pending_tool_calls(run)
    short = named_thread and all(len(str(c.get("id"))) <= MAX_CALLER_CALL_ID for c in calls)
    return [
        {
            "id": str(call.get("id"))
            if short
            else encode_call_id(str(call.get("id")), thread_id, run_id),
            "type": "function",
            "function": {
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": (call.get("function") or {}).get("arguments", ""),
            },
        }
        for call in calls
    ]


def file_url(model: str, file_id: str, container_id: str | None = None) -> str:
    """Where this service serves an agent's file (a path under its base URL)."""
    url = f"/v1/files/{quote(file_id, safe='')}/content?model={quote(model, safe='')}"
    return f"{url}&container_id={quote(container_id, safe='')}" if container_id else url


def annotation(raw: dict[str, Any], model: str) -> dict[str, Any]:
    """An upstream text annotation in OpenAI's shape.

    `url_citation` is OpenAI's own; file citations and generated files
    (`file_citation`, `file_path`, `container_file_citation` with its
    `container_id`) keep their type and gain a `url` that downloads the
    file through this service (see `file_url`).
    Both upstream shapes are read: the threads API nests the details under
    the type's key, the Responses API puts them at the top level.
    """
    kind = str(raw.get("type", ""))
    nested = raw.get(kind)
    details = {**raw, **nested} if isinstance(nested, dict) else raw
    span = {key: details[key] for key in ("start_index", "end_index") if key in details}
    if kind == "url_citation":
        return {
            "type": "url_citation",
            "url_citation": {**span, "url": details.get("url", ""), "title": details.get("title")},
        }
    if kind in ("file_citation", "file_path", "container_file_citation"):
        file_id = str(details.get("file_id", ""))
        container = details.get("container_id")
        container_id = str(container) if container else None
        body = {**span, "file_id": file_id, "url": file_url(model, file_id, container_id)}
        if container_id:
            body["container_id"] = container_id
        if details.get("quote"):
            body["quote"] = details["quote"]
        if details.get("filename"):
            body["filename"] = details["filename"]
        if raw.get("text"):
            body["text"] = raw["text"]
        return {"type": kind, kind: body}
    return raw


class Citations:
    """Annotations of one reply in OpenAI's shape, the markers they cite kept or removed.

    With `citation_markers: "strip"` the marker text an annotation covers
    (such as `【3:0†source】`) is cut from the reply, and the annotations'
    indices move to match; each marker arrives in the delta that carries
    its annotation.
    """

    def __init__(self, request: ChatRequest) -> None:
        self._model = request.model
        self._strip = request.citation_markers == "strip"
        self._removed = 0

    def apply(self, delta: TextDelta) -> tuple[str, list[dict[str, Any]]]:
        text = delta.text
        converted: list[dict[str, Any]] = []
        for raw in delta.annotations:
            marker = str(raw.get("text") or "")
            shift = self._removed
            if self._strip and marker and marker in text:
                text = text.replace(marker, "", 1)
                self._removed += len(marker)
            converted.append(annotation(_shifted(raw, shift, self._strip), self._model))
        return text, converted


def _shifted(raw: dict[str, Any], removed: int, strip: bool) -> dict[str, Any]:
    """`raw` with its span moved left by `removed` and, when stripping, emptied of the marker."""
    if not removed and not strip:
        return raw
    moved = dict(raw)
    start = int(raw.get("start_index", 0)) - removed
    end = int(raw.get("end_index", start)) - removed
    moved["start_index"], moved["end_index"] = start, start if strip else end
    return moved


def _completion_id(run_id: str) -> str:
    return f"chatcmpl-{run_id}"


async def start(client: AgentClient, project: Project, plan: RunPlan) -> RunStream:
    """The run stream for `plan`: a new run, or the tool results for a waiting one."""
    answer = plan.tool_answer
    if answer is None:
        return client.start_run(project, plan.body, plan.thread_id)
    return await client.continue_run(
        project,
        str(plan.body.get("assistant_id", "")),
        answer.thread_id,
        answer.run_id,
        answer.outputs,
    )


@dataclass(frozen=True)
class Completion:
    """A `chat.completion` object and what the run did not get of the request."""

    body: dict[str, Any]
    dropped: tuple[str, ...]


async def complete(
    foundry: AgentClient, project: Project, request: ChatRequest, plan: RunPlan, deadline: float
) -> Completion:
    """Run to the end and answer with one `chat.completion` object."""
    created = int(time.time())
    text: list[str] = []
    annotations: list[dict[str, Any]] = []
    citations = Citations(request)
    run: RunStream | None = None
    try:
        async with asyncio.timeout(deadline):  # retries and tool-result checks count too
            async with await start(foundry, project, plan) as run:
                async for event in run:
                    if isinstance(event, TextDelta):
                        piece, cited = citations.apply(event)
                        text.append(piece)
                        annotations.extend(cited)
        assert run.started is not None and run.ended is not None
        reason = finish_reason(run.ended)
    except TimeoutError:
        error = UpstreamTimeout(
            f"the agent run took longer than {deadline:g} s and was cancelled; use "
            '"stream": true for long runs (streams are kept alive with heartbeats)',
            code="completion_deadline_exceeded",
        )
        error.thread_id = run.started.thread_id if run and run.started else None
        raise error from None
    except AdapterError as exc:
        exc.thread_id = run.started.thread_id if run and run.started else None
        raise
    content = "".join(text)
    if not content and reason == "stop":
        content = await foundry.run_text(project, run.started.thread_id, run.started.run_id)
    message: dict[str, Any] = {"role": "assistant", "content": content or None, "refusal": None}
    if annotations:
        message["annotations"] = annotations
    if reason == "tool_calls":
        message["tool_calls"] = _tool_calls(run.ended.run, plan.named_thread)
    body = {
        "id": _completion_id(run.started.run_id),
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
        "usage": _usage(run.ended.run),
        "system_fingerprint": None,
        "thread_id": run.started.thread_id,
    }
    return Completion(body, (*plan.dropped, *run.dropped))


@dataclass
class ChatStream:
    """A started streaming completion: headers can be sent, `frames()` yields the SSE body."""

    request: ChatRequest
    plan: RunPlan
    run: RunStream
    started: RunStarted
    deadline: float
    request_id: str
    created: int = field(default_factory=lambda: int(time.time()))
    citations: Citations = field(init=False)

    def __post_init__(self) -> None:
        self.citations = Citations(self.request)

    @property
    def thread_id(self) -> str:
        return self.started.thread_id

    @property
    def dropped(self) -> tuple[str, ...]:
        """What the run did not get of the request (known once the stream has started)."""
        return (*self.plan.dropped, *self.run.dropped)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": _completion_id(self.started.run_id),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    async def frames(self) -> AsyncGenerator[bytes, None]:
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
                piece, cited = self.citations.apply(event)
                delta: dict[str, Any] = {"content": piece}
                if cited:
                    delta["annotations"] = cited
                yield encode_json(self._chunk(delta))
            elif isinstance(event, RunEnded):
                reason = finish_reason(event)
                if reason == "tool_calls":
                    calls = [
                        {"index": index, **call}
                        for index, call in enumerate(_tool_calls(event.run, self.plan.named_thread))
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
    foundry: AgentClient,
    project: Project,
    request: ChatRequest,
    plan: RunPlan,
    deadline: float,
    request_id: str,
) -> ChatStream:
    """Start the run and wait for it to exist, so refusals still become HTTP errors."""
    run = await start(foundry, project, plan)
    await run.__aenter__()
    try:
        async for event in run:
            if isinstance(event, RunStarted):
                return ChatStream(request, plan, run, event, deadline, request_id)
        raise UpstreamError("Foundry stream ended before the run started")
    except BaseException:
        await run.__aexit__(None, None, None)
        raise
