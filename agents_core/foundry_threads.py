"""Classic Foundry agents (`asst_...`): the threads and runs API.

A run is one request, `POST /threads/runs` (new thread) or
`POST /threads/{t}/runs`, always streamed so that the event stream ends
exactly when the run ends and nothing polls.
"""

from __future__ import annotations

from typing import Any

import httpx

from agents_core.errors import Conflict, Gone, NotFound
from agents_core.foundry import (
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
    Transport,
    cancel_in_background,
    pending_tool_calls,
)

__all__ = ["ThreadsClient"]

TERMINAL_EVENTS = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
    "thread.run.incomplete",
    "thread.run.requires_action",
}


class ThreadsClient:
    """`AgentClient` for classic agents."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _json(
        self, project: Project, method: str, path: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        request = self._transport.build(project, method, path, params=params)
        return await self._transport.json(request, project)

    def _stream(
        self, project: Project, path: str, body: dict[str, Any], started: RunStarted | None = None
    ) -> RunStream:
        request = self._transport.build(project, "POST", path, {**body, "stream": True})

        async def open_stream() -> Any:
            return await self._transport.send(request, project, stream=True)

        return RunStream(self, project, open_stream, decode, started=started)

    def start_run(
        self, project: Project, body: dict[str, Any], thread_id: str | None = None
    ) -> RunStream:
        path = f"/threads/{thread_id}/runs" if thread_id else "/threads/runs"
        return self._stream(project, path, body)

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """`submit_tool_outputs`, after one cheap GET that explains a run no longer waiting."""
        run = await self._waiting_run(project, thread_id, run_id)
        pending = {str(call.get("id")) for call in pending_tool_calls(run)}
        stale = sorted({o["tool_call_id"] for o in outputs} - pending)
        if stale:
            raise Conflict(
                f"tool call {stale[0]} is not pending on run {run_id}; send the results of "
                "the latest tool_calls only",
                code="tool_call_not_pending",
                param="messages",
            )
        path = f"/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"
        return self._stream(
            project, path, {"tool_outputs": outputs}, started=RunStarted(thread_id, run_id)
        )

    async def _waiting_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        try:
            run = await self.get_run(project, thread_id, run_id)
        except NotFound:
            raise NotFound(
                f"the run {run_id} that asked for these tool results no longer exists",
                code="run_not_found",
                param="messages",
            ) from None
        status = run.get("status")
        if status == "expired":
            raise Gone(
                f"run {run_id} expired before the tool results arrived (runs wait about 10 "
                "minutes); send the user message again to start over",
                code="run_expired",
            )
        if status != "requires_action":
            raise Conflict(
                f"run {run_id} is {status}, no longer waiting for tool results",
                code="run_not_waiting",
            )
        return run

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        return await self._json(project, "GET", f"/threads/{thread_id}/runs/{run_id}")

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        return await self._json(project, "POST", f"/threads/{thread_id}/runs/{run_id}/cancel")

    async def get_agent(self, project: Project, agent_id: str) -> dict[str, Any]:
        return await self._json(project, "GET", f"/assistants/{agent_id}")

    async def run_text(self, project: Project, thread_id: str, run_id: str) -> str:
        """Text of the messages a run wrote (fallback when its stream carried none)."""
        page = await self._json(
            project,
            "GET",
            f"/threads/{thread_id}/messages",
            params={"run_id": run_id, "order": "asc", "limit": 100},
        )
        parts: list[str] = []
        for message in page.get("data", []):
            if message.get("role") != "assistant":
                continue
            for content in message.get("content", []):
                if content.get("type") == "text":
                    parts.append(str(content.get("text", {}).get("value", "")))
        return "".join(parts)

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"limit": limit, "order": "desc"}
        if after:
            params["after"] = after
        page = await self._json(project, "GET", f"/threads/{thread_id}/runs", params=params)
        cursor = str(page["last_id"]) if page.get("has_more") and page.get("last_id") else None
        return list(page.get("data") or []), cursor

    async def open_file(self, project: Project, file_id: str) -> httpx.Response:
        request = self._transport.build(project, "GET", f"/files/{file_id}/content")
        return await self._transport.send(request, project, stream=True)

    def cancel_in_background(self, project: Project, thread_id: str, run_id: str) -> None:
        cancel_in_background(
            lambda: self.cancel_run(project, thread_id, run_id), f"run {run_id} on {thread_id}"
        )


def decode(name: str, payload: Any) -> RunEvent | None:
    """Normalized events from the threads API's stream."""
    if not isinstance(payload, dict):
        return None
    if name == "thread.run.created":
        return RunStarted(str(payload["thread_id"]), str(payload["id"]))
    if name == "thread.message.delta":
        return _text_delta(payload)
    if name in TERMINAL_EVENTS:
        return RunEnded(payload)
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
