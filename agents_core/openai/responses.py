"""Agent runs → OpenAI Responses API objects and stream events.

`create` runs a plan (see `responses_input`) to its end and answers with a
`response` object; `open_stream` starts it and yields the Responses event
grammar (`response.created`, `response.in_progress`, output items and
content parts, `response.output_text.delta` / `.done`,
`response.output_text.annotation.added`,
`response.function_call_arguments.delta` / `.done`, then
`response.completed`, `.incomplete` or `.failed`; `error` when the adapter
fails mid-stream), every event with its `sequence_number`. `retrieve` and
`cancel` read and stop a response by its id alone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents_core import runs
from agents_core.errors import AdapterError
from agents_core.openai.citations import Citations, response_annotation
from agents_core.openai.responses_input import ResponseId, ResponsesRequest
from agents_core.runs import (
    AgentClient,
    Annotation,
    Project,
    Run,
    RunEnded,
    RunPlan,
    RunStarted,
    RunStream,
    TextDelta,
    encode_call_id,
)
from agents_core.sse import encode_json

__all__ = ["Created", "ResponseStream", "cancel", "create", "open_stream", "retrieve"]


@dataclass
class Shape:
    """What every response object of one request repeats: the model and the request's echo."""

    model: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    previous_response_id: str | None = None
    instructions: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    max_output_tokens: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True

    @classmethod
    def of(cls, request: ResponsesRequest) -> Shape:
        return cls(
            request.model,
            previous_response_id=request.previous_response_id,
            instructions=request.instructions,
            metadata=dict(request.metadata or {}),
            max_output_tokens=request.max_output_tokens,
            tools=[t for t in request.tools or [] if t.get("type") == "function"],
            tool_choice=request.tool_choice or "auto",
            parallel_tool_calls=request.parallel_tool_calls is not False,
        )

    def response(
        self,
        started: RunStarted,
        status: str,
        output: list[dict[str, Any]],
        run: Run | None = None,
        error: AdapterError | None = None,
    ) -> dict[str, Any]:
        """A `response` object in OpenAI's shape, plus `conversation` naming the thread."""
        usage = None
        if run is not None and run.usage is not None:
            usage = {
                "input_tokens": run.usage.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": run.usage.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": run.usage.total_tokens,
            }
        incomplete = None
        if status == "incomplete" and run is not None:
            reason = run.incomplete_reason or ""
            incomplete = {
                "reason": "content_filter" if "content" in reason else "max_output_tokens"
            }
        return {
            "id": str(ResponseId(self.model, started.thread_id, started.run_id)),
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": {"code": error.code, "message": error.message} if error else None,
            "incomplete_details": incomplete,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": self.parallel_tool_calls,
            "previous_response_id": self.previous_response_id,
            "conversation": {"id": started.thread_id},
            "reasoning": {"effort": None, "summary": None},
            "store": True,
            "temperature": None,
            "text": {"format": {"type": "text"}},
            "tool_choice": self.tool_choice,
            "tools": self.tools,
            "top_p": None,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": self.metadata,
        }


def status_of(run: Run) -> str:
    """The response status for a run's end; failures are `runs.failure`'s to explain."""
    if run.status == "requires_action":
        return "completed"  # the output's function calls are the answer
    if run.status in ("completed", "incomplete", "cancelled"):
        return run.status
    if run.status == "failed" and run.error and "content_filter" in run.error.code:
        return "incomplete"
    if run.status in ("queued", "in_progress", "cancelling"):
        return "in_progress" if run.status != "queued" else "queued"
    return "failed"


def message_item(
    started: RunStarted, text: str, annotations: list[dict[str, Any]], status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": f"msg_{started.thread_id}.{started.run_id}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text(text, annotations)] if status == "completed" else [],
    }


def output_text(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}


def call_items(run: Run, status: str = "completed") -> list[dict[str, Any]]:
    """The run's pending function calls as `function_call` items that route their answers."""
    return [
        {
            "id": f"fc_{run.thread_id}.{run.id}.{index}",
            "type": "function_call",
            "status": status,
            "call_id": encode_call_id(call.id, run.thread_id, run.id),
            "name": call.name,
            "arguments": call.arguments if status == "completed" else "",
        }
        for index, call in enumerate(run.tool_calls)
    ]


class _Cited:
    def __init__(self, model: str, strip: bool) -> None:
        self._model = model
        self._citations = Citations(strip)

    def apply(self, text: str, items: tuple[Annotation, ...]) -> tuple[str, list[dict[str, Any]]]:
        text, moved = self._citations.apply(text, items)
        return text, [response_annotation(item, self._model) for item in moved]


@dataclass(frozen=True)
class Created:
    """A finished response object and what the run did not get of the request."""

    body: dict[str, Any]
    thread_id: str
    dropped: tuple[str, ...]


async def create(
    client: AgentClient,
    project: Project,
    request: ResponsesRequest,
    plan: RunPlan,
    deadline: float,
) -> Created:
    """Run to the end and answer with one `response` object (failures raise, as in chat)."""
    shape = Shape.of(request)
    cited = _Cited(request.model, request.citation_markers == "strip")
    text: list[str] = []
    annotations: list[dict[str, Any]] = []
    run: RunStream | None = None
    hint = 'use "stream": true for long runs (streams are kept alive with heartbeats)'
    try:
        async with (
            runs.deadline(deadline, "completion", hint),
            await runs.start(client, project, plan) as run,
        ):
            async for event in run:
                if isinstance(event, TextDelta):
                    piece, moved = cited.apply(event.text, event.annotations)
                    text.append(piece)
                    annotations.extend(moved)
        assert run.started is not None and run.ended is not None
        ended = run.ended.run
        error = runs.failure(ended)
        if error is not None:
            raise error
    except AdapterError as exc:
        exc.thread_id = run.started.thread_id if run and run.started else None
        raise
    content = "".join(text)
    if not content and ended.status == "completed":  # the stream carried no text: read it back
        reply = await client.run_reply(project, ended.thread_id, ended.id)
        content, moved = cited.apply(reply.text, reply.annotations)
        annotations.extend(moved)
    output: list[dict[str, Any]] = []
    if content or annotations:
        output.append(message_item(run.started, content, annotations))
    output.extend(call_items(ended))
    body = shape.response(run.started, status_of(ended), output, ended)
    return Created(body, run.started.thread_id, (*plan.dropped, *run.dropped))


@dataclass
class ResponseStream:
    """A started streamed response: headers can be sent, `frames()` yields the SSE body.

    It keeps the request's echo (`Shape`), not the request: a stream open
    for minutes would otherwise hold all of its input (`ResponseStream.of`).
    """

    shape: Shape
    strip_markers: bool
    plan_dropped: tuple[str, ...]
    run: RunStream
    started: RunStarted
    deadline: float
    _sequence: int = field(default=0, init=False)

    @classmethod
    def of(
        cls,
        request: ResponsesRequest,
        plan: RunPlan,
        run: RunStream,
        started: RunStarted,
        deadline: float,
    ) -> ResponseStream:
        strip = request.citation_markers == "strip"
        return cls(Shape.of(request), strip, plan.dropped, run, started, deadline)

    @property
    def thread_id(self) -> str:
        return self.started.thread_id

    @property
    def dropped(self) -> tuple[str, ...]:
        return (*self.plan_dropped, *self.run.dropped)

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return encode_json(payload, event=kind)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The SSE body; closes the upstream stream (and cancels an unfinished run) at the end."""
        try:
            opening = self.shape.response(self.started, "in_progress", [])
            yield self._event("response.created", response=opening)
            yield self._event("response.in_progress", response=opening)
            async with runs.deadline(self.deadline, "stream"):
                async for frame in self._body():
                    yield frame
        except AdapterError as exc:
            yield self._event("error", code=exc.code, message=exc.message, param=exc.param)
        finally:
            await self.run.__aexit__(None, None, None)

    async def _body(self) -> AsyncIterator[bytes]:
        cited = _Cited(self.shape.model, self.strip_markers)
        message = message_item(self.started, "", [], "in_progress")
        item_id = message["id"]
        text: list[str] = []
        annotations: list[dict[str, Any]] = []
        opened = False
        async for event in self.run:
            if isinstance(event, TextDelta):
                piece, moved = cited.apply(event.text, event.annotations)
                if not opened:
                    opened = True
                    yield self._event("response.output_item.added", output_index=0, item=message)
                    yield self._event(
                        "response.content_part.added",
                        item_id=item_id,
                        output_index=0,
                        content_index=0,
                        part=output_text("", []),
                    )
                if piece:
                    text.append(piece)
                    yield self._event(
                        "response.output_text.delta",
                        item_id=item_id,
                        output_index=0,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
                for annotation in moved:
                    yield self._event(
                        "response.output_text.annotation.added",
                        item_id=item_id,
                        output_index=0,
                        content_index=0,
                        annotation_index=len(annotations),
                        annotation=annotation,
                    )
                    annotations.append(annotation)
            elif isinstance(event, RunEnded):
                async for frame in self._ending(event.run, opened, "".join(text), annotations):
                    yield frame

    async def _ending(
        self, run: Run, opened: bool, text: str, annotations: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        output: list[dict[str, Any]] = []
        if opened:
            done = message_item(self.started, text, annotations)
            part = done["content"][0]
            common = {"item_id": done["id"], "output_index": 0, "content_index": 0}
            yield self._event("response.output_text.done", **common, text=text, logprobs=[])
            yield self._event("response.content_part.done", **common, part=part)
            yield self._event("response.output_item.done", output_index=0, item=done)
            output.append(done)
        pending = call_items(run, "in_progress")
        for item, finished in zip(pending, call_items(run), strict=True):
            index = len(output)
            yield self._event("response.output_item.added", output_index=index, item=item)
            common = {"item_id": item["id"], "output_index": index}
            yield self._event(
                "response.function_call_arguments.delta", **common, delta=finished["arguments"]
            )
            yield self._event(
                "response.function_call_arguments.done",
                **common,
                name=finished["name"],
                arguments=finished["arguments"],
            )
            yield self._event("response.output_item.done", output_index=index, item=finished)
            output.append(finished)
        error = runs.failure(run)
        status = "failed" if error is not None else status_of(run)
        body = self.shape.response(self.started, status, output, run, error)
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}
        yield self._event(kind.get(status, "response.failed"), response=body)


async def open_stream(
    client: AgentClient,
    project: Project,
    request: ResponsesRequest,
    plan: RunPlan,
    deadline: float,
) -> ResponseStream:
    """Start the run and wait for it to exist, so refusals still become HTTP errors."""
    opened = await runs.open_started(client, project, plan)
    return ResponseStream.of(request, plan, opened.run, opened.started, deadline)


async def _object(
    client: AgentClient, project: Project, where: ResponseId, run: Run
) -> dict[str, Any]:
    started = RunStarted(where.thread_id, where.run_id)
    text, found = run.text, run.annotations
    if text is None and run.status == "completed":  # a classic run: its reply is in the thread
        reply = await client.run_reply(project, where.thread_id, where.run_id)
        text, found = reply.text, reply.annotations
    output: list[dict[str, Any]] = []
    if text:
        cited = _Cited(where.model, False)
        content, annotations = cited.apply(text, found)
        output.append(message_item(started, content, annotations))
    output.extend(call_items(run))
    error = runs.failure(run) if run.terminal else None
    status = "failed" if error is not None and run.status != "cancelled" else status_of(run)
    shape = Shape(where.model, created_at=run.created_at or int(time.time()))
    return shape.response(started, status, output, run, error if status == "failed" else None)


async def retrieve(client: AgentClient, project: Project, where: ResponseId) -> dict[str, Any]:
    """`GET /v1/responses/{id}`: the response from its run, read from Foundry."""
    run = await client.get_run(project, where.thread_id, where.run_id)
    return await _object(client, project, where, run)


async def cancel(client: AgentClient, project: Project, where: ResponseId) -> dict[str, Any]:
    """`POST /v1/responses/{id}/cancel`: cancel the run; a finished one is returned as it is."""
    run = await client.get_run(project, where.thread_id, where.run_id)
    if not run.terminal:
        run = await runs.cancel(client, project, where.thread_id, where.run_id)
    return await _object(client, project, where, run)
