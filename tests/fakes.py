"""Upstream stand-ins at the HTTP level: Foundry run event streams for pytest-httpserver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from werkzeug import Request, Response

ENDPOINT_PATH = "/api/projects/proj"


def frame(event: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def run_object(thread_id: str, run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "object": "thread.run",
        "thread_id": thread_id,
        "assistant_id": "asst_test",
        "status": status,
        **extra,
    }


def run_events(
    texts: list[str],
    *,
    thread_id: str = "thread_abc",
    run_id: str = "run_abc",
    status: str = "completed",
    new_thread: bool = True,
    delay: float = 0.0,
    usage: dict[str, int] | None = None,
    **final: Any,
) -> Iterator[bytes]:
    """The frames Foundry sends for a streamed run, with `delay` seconds between deltas."""
    if new_thread:
        yield frame("thread.created", {"id": thread_id, "object": "thread"})
    yield frame("thread.run.created", run_object(thread_id, run_id, "queued"))
    yield frame("thread.run.in_progress", run_object(thread_id, run_id, "in_progress"))
    for text in texts:
        if delay:
            time.sleep(delay)
        yield frame(
            "thread.message.delta",
            {
                "id": "msg_1",
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]},
            },
        )
    usage = usage or {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    yield frame(f"thread.run.{status}", run_object(thread_id, run_id, status, usage=usage, **final))
    yield frame("done", "[DONE]")


def sse_response(frames: Iterator[bytes]) -> Response:
    return Response(frames, status=200, content_type="text/event-stream")


def json_body(request: Request) -> Any:
    return json.loads(request.get_data())


def response_object(
    response_id: str, status: str, output: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "status": status,
        "output": output or [],
        "usage": {"input_tokens": 4, "output_tokens": 6, "total_tokens": 10},
        **extra,
    }


def response_events(
    texts: list[str],
    *,
    response_id: str = "resp_abc",
    status: str = "completed",
    calls: list[dict[str, str]] | None = None,
    delay: float = 0.0,
    **extra: Any,
) -> Iterator[bytes]:
    """The frames the Responses API sends for a streamed response (no [DONE])."""
    sequence = iter(range(1000))

    def event(kind: str, **data: Any) -> bytes:
        return frame(kind, {"type": kind, "sequence_number": next(sequence), **data})

    yield event("response.created", response=response_object(response_id, "in_progress"))
    for text in texts:
        if delay:
            time.sleep(delay)
        yield event(
            "response.output_text.delta",
            item_id="msg_1",
            output_index=0,
            content_index=0,
            delta=text,
        )
    output: list[dict[str, Any]] = []
    if texts:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "".join(texts), "annotations": []}],
            }
        )
    for call in calls or []:
        output.append(
            {"type": "function_call", "id": f"fc_{call['call_id']}", "status": "completed", **call}
        )
    yield event(
        f"response.{status}", response=response_object(response_id, status, output, **extra)
    )
