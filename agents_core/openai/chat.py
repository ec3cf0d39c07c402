"""Agent runs → OpenAI chat completions.

`complete` runs a `RunPlan` (see `chat_input`) to its end and answers with a
`chat.completion`; `open_stream` starts it and yields
`chat.completion.chunk` frames as the upstream produces text.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents_core import json_codec, runs
from agents_core.errors import AdapterError
from agents_core.openai.chat_input import ChatRequest
from agents_core.openai.citations import Citations, chat_annotation
from agents_core.runs import (
    MAX_CALLER_CALL_ID,
    AgentClient,
    Project,
    Run,
    RunEnded,
    RunPlan,
    RunStarted,
    RunStream,
    TextDelta,
    encode_call_id,
)
from agents_core.sse import encode, encode_json

__all__ = ["ChatStream", "Completion", "complete", "open_stream"]


def finish_reason(run: Run) -> str:
    """OpenAI `finish_reason` for a run's end, or the error the caller must get instead."""
    error = runs.failure(run)
    if error is not None:
        raise error
    if run.status == "requires_action":
        return "tool_calls"
    if run.status == "incomplete":
        return "content_filter" if "content" in (run.incomplete_reason or "") else "length"
    if run.status == "failed":
        return "content_filter"  # the only failure `runs.failure` lets through
    return "stop"


def _usage(run: Run) -> dict[str, int] | None:
    usage = run.usage
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _tool_calls(run: Run, named_thread: bool) -> list[dict[str, Any]]:
    """The run's pending function calls, with ids that route the answer back to this run.

    When the request named its thread, the upstream ids (at most 40
    characters) are handed out and the thread routes the answer.
    """
    calls = run.tool_calls
    short = named_thread and all(len(call.id) <= MAX_CALLER_CALL_ID for call in calls)
    return [
        {
            "id": call.id if short else encode_call_id(call.id, run.thread_id, run.id),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]


class _Cited:
    """Text deltas with their annotations in the chat shape, markers kept or stripped."""

    def __init__(self, request: ChatRequest) -> None:
        self._model = request.model
        self._citations = Citations(request.citation_markers == "strip")

    def apply(self, delta: TextDelta) -> tuple[str, list[dict[str, Any]]]:
        text, moved = self._citations.apply(delta.text, delta.annotations)
        return text, [chat_annotation(item, self._model) for item in moved]


_SLOT = "\x00text\x00"


def _completion_id(run_id: str) -> str:
    return f"chatcmpl-{run_id}"


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
    citations = _Cited(request)
    run: RunStream | None = None
    hint = 'use "stream": true for long runs (streams are kept alive with heartbeats)'
    try:
        # Retries and tool-result checks count too.
        async with (
            runs.deadline(deadline, "completion", hint),
            await runs.start(foundry, project, plan) as run,
        ):
            async for event in run:
                if isinstance(event, TextDelta):
                    piece, cited = citations.apply(event)
                    text.append(piece)
                    annotations.extend(cited)
        assert run.started is not None and run.ended is not None
        reason = finish_reason(run.ended.run)
    except AdapterError as exc:
        exc.thread_id = run.started.thread_id if run and run.started else None
        raise
    content = "".join(text)
    if not content and reason == "stop":  # the stream carried no text: read the reply back
        reply = await foundry.run_reply(project, run.started.thread_id, run.started.run_id)
        content, cited = citations.apply(TextDelta(reply.text, reply.annotations))
        annotations.extend(cited)
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
    """A started streaming completion: headers can be sent, `frames()` yields the SSE body.

    It keeps what its frames need of the request and the plan, not the
    request itself: a stream open for minutes would otherwise hold every
    message of the conversation (`ChatStream.of`).
    """

    model: str
    include_usage: bool
    citations: _Cited
    plan_dropped: tuple[str, ...]
    named_thread: bool
    run: RunStream
    started: RunStarted
    deadline: float
    request_id: str
    created: int = field(default_factory=lambda: int(time.time()))
    _text_frame: tuple[bytes, bytes] = field(init=False)

    @classmethod
    def of(
        cls,
        request: ChatRequest,
        plan: RunPlan,
        run: RunStream,
        started: RunStarted,
        deadline: float,
        request_id: str,
    ) -> ChatStream:
        options = request.stream_options
        return cls(
            request.model,
            options is not None and bool(options.include_usage),
            _Cited(request),
            plan.dropped,
            plan.named_thread,
            run,
            started,
            deadline,
            request_id,
        )

    def __post_init__(self) -> None:
        # A text delta's frame is this chunk with only the text changing: encoded once.
        head, _, tail = encode_json(self._chunk({"content": _SLOT})).rpartition(
            json_codec.dumps(_SLOT)
        )
        self._text_frame = (head, tail)

    @property
    def thread_id(self) -> str:
        return self.started.thread_id

    @property
    def dropped(self) -> tuple[str, ...]:
        """What the run did not get of the request (known once the stream has started)."""
        return (*self.plan_dropped, *self.run.dropped)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": _completion_id(self.started.run_id),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The SSE body; closes the upstream stream (and cancels an unfinished run) at the end."""
        try:
            first = self._chunk({"role": "assistant", "content": ""})
            first["thread_id"] = self.thread_id
            yield encode_json(first)
            async with runs.deadline(self.deadline, "stream"):
                async for frame in self._body():
                    yield frame
        except AdapterError as exc:
            yield encode_json(exc.openai_body(self.request_id))
        finally:
            await self.run.__aexit__(None, None, None)
        yield encode("[DONE]")

    async def _body(self) -> AsyncIterator[bytes]:
        async for event in self.run:
            if isinstance(event, TextDelta):
                piece, cited = self.citations.apply(event)
                if not cited:
                    head, tail = self._text_frame
                    yield head + json_codec.dumps(piece) + tail
                    continue
                yield encode_json(self._chunk({"content": piece, "annotations": cited}))
            elif isinstance(event, RunEnded):
                reason = finish_reason(event.run)
                if reason == "tool_calls":
                    calls = [
                        {"index": index, **call}
                        for index, call in enumerate(_tool_calls(event.run, self.named_thread))
                    ]
                    yield encode_json(self._chunk({"tool_calls": calls}))
                yield encode_json(self._chunk({}, reason))
                if self.include_usage:
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
    opened = await runs.open_started(foundry, project, plan)
    return ChatStream.of(request, plan, opened.run, opened.started, deadline, request_id)
