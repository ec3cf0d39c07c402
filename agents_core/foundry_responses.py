"""Versioned Foundry agents (`name` or `name:version`): the Responses API.

A turn is `POST {project}/openai/v1/responses` naming the agent with an
`agent_reference` and the conversation that holds the history (a new
conversation costs one `POST /openai/v1/conversations` first). Requests
arrive here as threads-API run bodies and leave as Responses bodies; the
response stream is normalized to the threads API's run shape, a finished
response that carries `function_call` items being `requires_action`.

With an agent, the service refuses `instructions`, `tools` and `text`:
instructions and system prompts become leading `developer` input items
(they add to the agent's own instructions, they cannot replace them), and
tools or a response format in the request are a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from agents_core.errors import Conflict, InvalidRequest
from agents_core.foundry import (
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
    Transport,
)

__all__ = ["ResponsesClient", "responses_body"]

RESPONSES = "/openai/v1/responses"
CONVERSATIONS = "/openai/v1/conversations"
NOT_WITH_AGENT = {
    "tools": "versioned agents use the tools defined on the agent in Foundry",
    "response_format": "versioned agents define their output format in Foundry",
}


def agent_reference(agent_id: str) -> dict[str, str]:
    name, _, version = agent_id.partition(":")
    reference = {"type": "agent_reference", "name": name}
    if version:
        reference["version"] = version
    return reference


def responses_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request for a threads-API run body (see the module docstring)."""
    for key, reason in NOT_WITH_AGENT.items():
        if key in body:
            raise InvalidRequest(f"'{key}' is not supported for this agent: {reason}", param=key)
    items: list[dict[str, Any]] = [
        {"role": "developer", "content": body[key]}
        for key in ("instructions", "additional_instructions")
        if body.get(key)
    ]
    messages = (body.get("thread") or {}).get("messages") or body.get("additional_messages") or []
    items += [{"role": m["role"], "content": _content(m["content"])} for m in messages]
    result: dict[str, Any] = {
        "agent_reference": agent_reference(str(body["assistant_id"])),
        "input": items,
    }
    renamed = {"max_completion_tokens": "max_output_tokens"}
    passed = ("temperature", "top_p", "max_completion_tokens", "metadata", "tool_choice")
    for key in (*passed, "parallel_tool_calls"):
        if key in body:
            result[renamed.get(key, key)] = body[key]
    return result


def _content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"type": "input_text", "text": part["text"]})
        elif part.get("type") == "image_url":
            image = part["image_url"]
            parts.append(
                {
                    "type": "input_image",
                    "image_url": image["url"],
                    "detail": image.get("detail", "auto"),
                }
            )
    return parts


def normalize(response: dict[str, Any], conversation: str) -> dict[str, Any]:
    """A response as a threads-API run: status, usage, last_error, required_action."""
    calls = [
        {
            "id": item.get("call_id"),
            "type": "function",
            "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
        }
        for item in response.get("output") or []
        if item.get("type") == "function_call"
    ]
    status = str(response.get("status") or "")
    if status == "failed" and (response.get("error") or {}).get("code") == "expired":
        status = "expired"  # report a response that ran out of time like an expired run
    run: dict[str, Any] = {
        "id": response.get("id"),
        "object": "thread.run",
        "thread_id": conversation,
        "status": "requires_action" if status == "completed" and calls else status,
    }
    if calls:
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": calls},
        }
    usage = response.get("usage")
    if isinstance(usage, dict):
        run["usage"] = {
            "prompt_tokens": usage.get("input_tokens", 0),
            "completion_tokens": usage.get("output_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0),
        }
    if response.get("error"):
        run["last_error"] = response["error"]
    if response.get("incomplete_details"):
        run["incomplete_details"] = response["incomplete_details"]
    return run


def output_text(response: dict[str, Any]) -> str:
    return "".join(
        str(part.get("text", ""))
        for item in response.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


@dataclass
class ResponseEvents:
    """Decoder of one response stream into normalized events."""

    conversation: str = ""
    annotations: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, name: str, payload: Any) -> RunEvent | None:
        if not isinstance(payload, dict):
            return None
        kind = str(payload.get("type") or name)
        if kind == "response.created":
            return RunStarted(self.conversation, str(payload["response"]["id"]))
        if kind == "response.output_text.delta":
            return TextDelta(str(payload.get("delta", "")))
        if kind == "response.output_text.annotation.added":
            return TextDelta("", (dict(payload.get("annotation") or {}),))
        if kind in ("response.completed", "response.failed", "response.incomplete"):
            return RunEnded(normalize(payload["response"], self.conversation))
        return None


class ResponsesClient:
    """`AgentClient` for versioned agents."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _json(
        self, project: Project, method: str, path: str, body: Any = None, *, versioned: bool = False
    ) -> dict[str, Any]:
        request = self._transport.build(project, method, path, body, versioned=versioned)
        return await self._transport.json(request, project)

    def _stream(
        self, project: Project, body: dict[str, Any], conversation: str | None
    ) -> RunStream:
        events = ResponseEvents()

        async def open_stream() -> httpx.Response:
            events.conversation = conversation or str(
                (await self._json(project, "POST", CONVERSATIONS, {}))["id"]
            )
            request = self._transport.build(
                project,
                "POST",
                RESPONSES,
                {**body, "conversation": events.conversation, "stream": True},
                versioned=False,
            )
            return await self._transport.send(request, project, stream=True)

        return RunStream(self, project, open_stream, events)

    def start_run(
        self, project: Project, body: dict[str, Any], thread_id: str | None = None
    ) -> RunStream:
        return self._stream(project, responses_body(body), thread_id)

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """`function_call_output` items in the same conversation: a new response continues."""
        items = [
            {"type": "function_call_output", "call_id": o["tool_call_id"], "output": o["output"]}
            for o in outputs
        ]
        body = {"agent_reference": agent_reference(agent_id), "input": items}
        return self._stream(project, body, thread_id)

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        return normalize(await self._json(project, "GET", f"{RESPONSES}/{run_id}"), thread_id)

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> dict[str, Any]:
        """Responses are streamed, never background: they stop when their own stream closes."""
        raise Conflict(
            f"response {run_id} stops when the request streaming it goes away; "
            "it cannot be cancelled from another request",
            code="not_cancelable",
        )

    async def get_agent(self, project: Project, agent_id: str) -> dict[str, Any]:
        name = agent_id.partition(":")[0]
        agent = await self._json(project, "GET", f"/agents/{name}", versioned=True)
        latest = (agent.get("versions") or {}).get("latest") or {}
        return {
            "name": agent.get("name") or name,
            "description": latest.get("description") or agent.get("description") or "",
        }

    async def run_text(self, project: Project, thread_id: str, run_id: str) -> str:
        return output_text(await self._json(project, "GET", f"{RESPONSES}/{run_id}"))

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        raise InvalidRequest(
            "Foundry cannot list the responses of a conversation", code="unsupported_operation"
        )

    async def open_file(self, project: Project, file_id: str) -> httpx.Response:
        request = self._transport.build(
            project, "GET", f"/openai/v1/files/{file_id}/content", versioned=False
        )
        return await self._transport.send(request, project, stream=True)

    def cancel_in_background(self, project: Project, thread_id: str, run_id: str) -> None:
        """Nothing to send: closing a (non-background) response stream stops the response."""
