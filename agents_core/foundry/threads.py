"""Classic Foundry agents (`asst_...`): the threads and runs API.

A run is one request, `POST /threads/runs` (new thread) or
`POST /threads/{t}/runs`, always streamed so that the event stream ends
exactly when the run ends and nothing polls. Two cases cost more, because
of the published contract (`../shared/reference/foundry-contract.md`):
- system text on a new thread: `POST /threads/runs` has no
  `additional_instructions` (rule 1), so the thread is created first
  (`POST /threads`) and the run then adds the text to the agent's
  instructions (`POST /threads/{t}/runs`): two requests;
- caller-declared tools: a run's `tools` replace the agent's (rule 6), so
  they are sent after the agent's own tools, read once per agent and
  cached for five minutes (`GET /assistants/{id}`).
"""

from __future__ import annotations

from typing import Any

import httpx

from agents_core import tags
from agents_core.errors import AdapterError, Conflict, Gone, NotFound
from agents_core.foundry.transport import (
    AgentDefinitions,
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
    Transport,
    cancel_in_background,
)
from agents_core.foundry.types import (
    AgentInfo,
    Annotation,
    RequiredAction,
    Run,
    RunError,
    RunReply,
    ToolCall,
    Usage,
    asks_json,
    int_or_none,
)

__all__ = ["ThreadsClient", "thread_run"]

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
        self._agents = AgentDefinitions()

    async def _json(
        self,
        project: Project,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        request = self._transport.build(project, method, path, body, params=params)
        return await self._transport.json(request, project)

    def _stream(
        self, project: Project, path: str, body: dict[str, Any], started: RunStarted | None = None
    ) -> RunStream:
        request = self._transport.build(project, "POST", path, {**body, "stream": True})

        async def open_stream() -> Any:
            return await self._transport.send(request, project, stream=True)

        return RunStream(self, project, open_stream, decode, started=started)

    def start_run(
        self,
        project: Project,
        body: dict[str, Any],
        thread_id: str | None = None,
        *,
        background: bool = False,
    ) -> RunStream:
        """A streamed run; see the module docstring for when it takes more than one request."""

        async def open_stream() -> httpx.Response:
            run = dict(body)
            if thread_id is None:
                run["thread"] = tags.thread(run.get("thread"))
            if "tools" in run:
                run["tools"] = await self._with_agent_tools(project, run)
            thread = thread_id
            if thread is None and run.get("additional_instructions"):
                created = await self._json(
                    project, "POST", "/threads", body=run.pop("thread", None) or {}
                )
                thread = str(created["id"])
                try:
                    return await self._send_run(project, f"/threads/{thread}/runs", run)
                except AdapterError:
                    self._delete_thread_in_background(project, thread)
                    raise
            path = f"/threads/{thread}/runs" if thread else "/threads/runs"
            return await self._send_run(project, path, run)

        stream = RunStream(self, project, open_stream, decode)
        if background:
            stream.detach()
        return stream

    async def _send_run(self, project: Project, path: str, body: dict[str, Any]) -> httpx.Response:
        request = self._transport.build(project, "POST", path, {**body, "stream": True})
        return await self._transport.send(request, project, stream=True)

    def _delete_thread_in_background(self, project: Project, thread_id: str) -> None:
        cancel_in_background(
            lambda: self._json(project, "DELETE", f"/threads/{thread_id}"),
            f"thread {thread_id} left without a run",
        )

    async def _with_agent_tools(
        self, project: Project, body: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The agent's own tools, then the caller's functions it does not define (rule 6)."""
        agent = await self._agent(project, str(body["assistant_id"]))
        own: list[dict[str, Any]] = list(agent.get("tools") or [])
        names = {(t.get("function") or {}).get("name") for t in own if t.get("type") == "function"}
        added = [t for t in body["tools"] if t["function"]["name"] not in names]
        return own + added

    async def _agent(self, project: Project, agent_id: str) -> dict[str, Any]:
        return await self._agents.get(
            project,
            agent_id,
            lambda: self._json(project, "GET", f"/assistants/{agent_id}"),
        )

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str | None,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """`submit_tool_outputs`, after one cheap GET that explains a run no longer waiting.

        Without `run_id`, the GET lists the thread's latest run instead.
        """
        if run_id is None:
            run_id = (await self._latest_run(project, thread_id)).id
        run = await self._waiting_run(project, thread_id, run_id)
        pending = {call.id for call in run.tool_calls}
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

    async def _latest_run(self, project: Project, thread_id: str) -> Run:
        runs, _ = await self.list_runs(project, thread_id, 1, None)
        if not runs:
            raise NotFound(
                f"thread {thread_id} has no run waiting for tool results",
                code="run_not_found",
                param="messages",
            )
        return runs[0]

    async def _waiting_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        try:
            run = await self.get_run(project, thread_id, run_id)
        except NotFound:
            raise NotFound(
                f"the run {run_id} that asked for these tool results no longer exists",
                code="run_not_found",
                param="messages",
            ) from None
        status = run.status
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

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        return thread_run(await self._json(project, "GET", f"/threads/{thread_id}/runs/{run_id}"))

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        path = f"/threads/{thread_id}/runs/{run_id}/cancel"
        return thread_run(await self._json(project, "POST", path))

    async def get_agent(self, project: Project, agent_id: str) -> AgentInfo:
        agent = await self._json(project, "GET", f"/assistants/{agent_id}")
        return AgentInfo(str(agent.get("name") or ""), str(agent.get("description") or ""))

    async def run_reply(self, project: Project, thread_id: str, run_id: str) -> RunReply:
        """The text and annotations of the messages a run wrote, in one request.

        For when its stream carried none, or is gone (a task read back).
        """
        page = await self._json(
            project,
            "GET",
            f"/threads/{thread_id}/messages",
            params={"run_id": run_id, "order": "asc", "limit": 100},
        )
        return RunReply.joined(
            (str(body.get("value") or ""), Annotation.parse_all(body.get("annotations")))
            for message in page.get("data") or []
            if isinstance(message, dict) and message.get("role") == "assistant"
            for content in message.get("content") or []
            if isinstance(content, dict) and content.get("type") == "text"
            for body in [content.get("text") or {}]
            if isinstance(body, dict)
        )

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[Run], str | None]:
        params: dict[str, Any] = {"limit": limit, "order": "desc"}
        if after:
            params["after"] = after
        page = await self._json(project, "GET", f"/threads/{thread_id}/runs", params=params)
        cursor = str(page["last_id"]) if page.get("has_more") and page.get("last_id") else None
        runs = [thread_run(run) for run in page.get("data") or [] if isinstance(run, dict)]
        return runs, cursor

    async def list_threads(
        self, project: Project, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """`GET /threads` (contract rule 12), newest first."""
        params: dict[str, Any] = {"limit": limit, "order": "desc"}
        if after:
            params["after"] = after
        page = await self._json(project, "GET", "/threads", params=params)
        threads = [thread for thread in page.get("data") or [] if isinstance(thread, dict)]
        cursor = str(page["last_id"]) if page.get("has_more") and page.get("last_id") else None
        return threads, cursor

    async def open_file(
        self, project: Project, file_id: str, container_id: str | None = None
    ) -> httpx.Response:
        if container_id is not None:
            raise NotFound(
                "classic agents have no containers; their files are read by id alone",
                code="file_not_found",
            )
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
        return RunEnded(thread_run(payload))
    return None


def thread_run(payload: dict[str, Any]) -> Run:
    """A threads-API run object as a `Run`."""
    action = payload.get("required_action")
    required = None
    if isinstance(action, dict):
        calls = (action.get("submit_tool_outputs") or {}).get("tool_calls") or []
        required = RequiredAction(
            str(action.get("type") or "submit_tool_outputs"),
            tuple(
                ToolCall(
                    str(call.get("id")),
                    str((call.get("function") or {}).get("name", "")),
                    str((call.get("function") or {}).get("arguments", "")),
                )
                for call in calls
                if isinstance(call, dict)
            ),
            str(action.get("detail") or ""),
        )
    usage = payload.get("usage")
    error = payload.get("last_error")
    incomplete = payload.get("incomplete_details")
    status = str(payload.get("status") or "")
    return Run(
        id=str(payload.get("id")),
        thread_id=str(payload.get("thread_id")),
        status=status,
        created_at=int_or_none(payload.get("created_at")),
        started_at=int_or_none(payload.get("started_at")),
        completed_at=int_or_none(payload.get("completed_at")),
        failed_at=int_or_none(payload.get("failed_at")),
        cancelled_at=int_or_none(payload.get("cancelled_at")),
        expires_at=int_or_none(payload.get("expires_at")),
        usage=_usage(usage) if isinstance(usage, dict) else None,
        error=RunError(str(error.get("code") or status), str(error.get("message") or ""))
        if isinstance(error, dict) and error
        else None,
        incomplete_reason=str(incomplete.get("reason") or "")
        if isinstance(incomplete, dict)
        else None,
        required_action=required,
        json_output=asks_json(payload.get("response_format")),
    )


def _usage(usage: dict[str, Any]) -> Usage:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return Usage(prompt, completion, int(usage.get("total_tokens") or prompt + completion))


def _text_delta(payload: dict[str, Any]) -> TextDelta | None:
    text: list[str] = []
    annotations: list[Annotation] = []
    for part in payload.get("delta", {}).get("content", []) or []:
        if part.get("type") != "text":
            continue
        body = part.get("text") or {}
        text.append(str(body.get("value") or ""))
        annotations.extend(Annotation.parse_all(body.get("annotations")))
    if not text and not annotations:
        return None
    return TextDelta("".join(text), tuple(annotations))
