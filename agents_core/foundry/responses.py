"""Versioned Foundry agents (`name` or `name:version`): the Responses API.

A turn is `POST {project}/openai/v1/responses` naming the agent with an
`agent_reference` and the conversation that holds the history (a new
conversation costs one `POST /openai/v1/conversations` first). Requests
arrive here as threads-API run bodies and leave as Responses bodies; the
response stream is normalized to a `Run`, a finished
response that carries `function_call` items being `requires_action`, one
that asks for MCP approval or OAuth consent a `requires_action` of that
kind.

The contract (`../shared/reference/foundry-contract.md`, rules 13-23):
input items always carry `"type": "message"`; settings the agent owns
(`model`, `instructions`, `tools`, `text`, `reasoning`, `temperature`,
`top_p`) are never sent next to an `agent_reference` (`chat_input` reports
them); instructions and system prompts become leading `developer` items
(they add to the agent's own instructions); `tool_choice` takes the
Responses shape; `/openai/v1` routes take no `api-version`. Tools a caller
declares are never sent: those the agent defines itself (same function
name) need nothing, the others are reported on the stream (`dropped`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from agents_core import tags
from agents_core.errors import AdapterError, Conflict, InvalidRequest, NotFound, UpstreamError
from agents_core.foundry.transport import (
    AgentDefinitions,
    Api,
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
    Transport,
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

__all__ = ["ResponsesClient", "responses_body"]

RESPONSES = "/openai/v1/responses"
CONVERSATIONS = "/openai/v1/conversations"
AGENT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
"""Contract rule 23: letters, digits and hyphens, alphanumeric ends, at most 63 characters."""
AGENT_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
UPSTREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
ASKS_CALLER = ("mcp_approval_request", "oauth_consent_request")
CANCELED_OUTPUT = "canceled: the caller canceled this task; the function was not run"
"""The result `cancel_run` gives each function call a cancelled response was waiting on.

Only `cancel_run` writes it: `continue_run` refuses it as a caller's result.
"""
CHAIN_KEY = "continues_response"
"""Response metadata of a response that answers function calls: the chain it continues.

Its value is the first response of the chain (`Run.chain`): the response
`continue_run` was told it answers, which for an A2A task is the task's
first response, so a task's latest response is the newest one listed with it.
"""
ITEM_PAGES = 10  # pages of 100 conversation items read for the outputs of a response's calls


def agent_reference(agent_id: str) -> dict[str, str]:
    """`{"type": "agent_reference", "name", "version"?}`; a malformed id is a 400, locally."""
    name, _, version = agent_id.partition(":")
    if not AGENT_NAME.fullmatch(name) or (version and not AGENT_VERSION.fullmatch(version)):
        raise InvalidRequest(
            f"'{agent_id}' is not a versioned agent name: letters, digits and hyphens, "
            "starting and ending with a letter or digit, at most 63 characters, optionally "
            "':<version>'",
            code="model_not_found",
            param="model",
        )
    reference = {"type": "agent_reference", "name": name}
    if version:
        reference["version"] = version
    return reference


def message_item(role: str, content: Any) -> dict[str, Any]:
    """An input message item; `type` is always sent (contract rule 15)."""
    return {"type": "message", "role": role, "content": content}


def responses_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request for a threads-API run body (see the module docstring)."""
    items: list[dict[str, Any]] = [
        message_item("developer", body[key])
        for key in ("instructions", "additional_instructions")
        if body.get(key)
    ]
    messages = (body.get("thread") or {}).get("messages") or body.get("additional_messages") or []
    items += [message_item(m["role"], _content(m["content"])) for m in messages]
    result: dict[str, Any] = {
        "agent_reference": agent_reference(str(body["assistant_id"])),
        "input": items,
    }
    for key in ("metadata", "parallel_tool_calls"):
        if key in body:
            result[key] = body[key]
    if "max_completion_tokens" in body:
        result["max_output_tokens"] = body["max_completion_tokens"]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        result["tool_choice"] = {"type": "function", "name": choice["function"]["name"]}
    elif choice is not None:
        result["tool_choice"] = choice
    return result


def function_names(definition: dict[str, Any]) -> set[str]:
    """Names of the function tools in an agent version's definition."""
    tools = (definition.get("definition") or {}).get("tools") or []
    names = set()
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            name = tool.get("name") or (tool.get("function") or {}).get("name")
            if isinstance(name, str):
                names.add(name)
    return names


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


def normalize(response: dict[str, Any], conversation: str) -> Run:
    """A response as a `Run`: a finished response with calls for the caller requires action."""
    output = [item for item in response.get("output") or [] if isinstance(item, dict)]
    calls = tuple(
        ToolCall(
            str(item.get("call_id")), str(item.get("name", "")), str(item.get("arguments", ""))
        )
        for item in output
        if item.get("type") == "function_call"
    )
    asks = [item for item in output if item.get("type") in ASKS_CALLER]
    status = str(response.get("status") or "")
    error = response.get("error")
    if status == "failed" and isinstance(error, dict) and error.get("code") == "expired":
        status = "expired"  # report a response that ran out of time like an expired run
    required = None
    if asks and status == "completed":
        required = RequiredAction(str(asks[0]["type"]), (), _asked(asks[0]))
    elif calls:
        required = RequiredAction("submit_tool_outputs", calls)
    usage = response.get("usage")
    incomplete = response.get("incomplete_details")
    reply = output_reply(output)
    metadata = response.get("metadata")
    chain = metadata.get(CHAIN_KEY) if isinstance(metadata, dict) else None
    reference = response.get("agent_reference")
    return Run(
        id=str(response.get("id")),
        thread_id=conversation,
        status="requires_action" if status == "completed" and (calls or asks) else status,
        created_at=int_or_none(response.get("created_at")),
        usage=Usage(
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("total_tokens") or 0),
        )
        if isinstance(usage, dict)
        else None,
        error=RunError(str(error.get("code") or status), str(error.get("message") or ""))
        if isinstance(error, dict) and error
        else None,
        incomplete_reason=str(incomplete.get("reason") or "")
        if isinstance(incomplete, dict)
        else None,
        required_action=required,
        json_output=asks_json((response.get("text") or {}).get("format")),
        text=reply.text,
        annotations=reply.annotations,
        background=bool(response.get("background")),
        chain=chain if isinstance(chain, str) and chain else str(response.get("id")),
        continues=isinstance(chain, str) and bool(chain),
        agent=str(reference.get("name") or "") if isinstance(reference, dict) else "",
    )


def conversation_of(response: dict[str, Any]) -> str | None:
    """The id of the conversation a response belongs to (a string, or `{"id"}`), if it says."""
    value = response.get("conversation")
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _asked(item: dict[str, Any]) -> str:
    """What an approval or consent request asks for, in words."""
    if item.get("type") == "mcp_approval_request":
        return (
            f"approval of the MCP tool call '{item.get('name')}' on server "
            f"'{item.get('server_label')}'"
        )
    return f"OAuth consent for '{item.get('server_label')}' at {item.get('consent_link')}"


def output_reply(output: list[dict[str, Any]]) -> RunReply:
    """The text of a response's message items and the annotations on it."""
    return RunReply.joined(
        (str(part.get("text", "")), Annotation.parse_all(part.get("annotations")))
        for item in output
        if item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
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
            annotation = Annotation.parse(payload.get("annotation"))
            return TextDelta("", (annotation,) if annotation else ())
        if kind in ("response.completed", "response.failed", "response.incomplete"):
            return RunEnded(normalize(payload["response"], self.conversation))
        return None


class ResponsesClient:
    """`AgentClient` for versioned agents."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._agents = AgentDefinitions()

    async def _json(
        self,
        project: Project,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        *,
        api: Api = "openai",
    ) -> dict[str, Any]:
        request = self._transport.build(project, method, path, body, params, api=api)
        return await self._transport.json(request, project)

    def _stream(
        self, project: Project, body: dict[str, Any], conversation: str | None
    ) -> RunStream:
        events = ResponseEvents()
        stream: RunStream

        async def open_stream() -> httpx.Response:
            request_body = dict(body)
            tools = request_body.pop("tools", None)
            if tools:
                stream.dropped.extend(await self._not_the_agents(project, request_body, tools))
            events.conversation = conversation or str(
                (await self._json(project, "POST", CONVERSATIONS, tags.conversation_body()))["id"]
            )
            request = self._transport.build(
                project,
                "POST",
                RESPONSES,
                {**request_body, "conversation": events.conversation, "stream": True},
                api="openai",
            )
            try:
                return await self._transport.send(request, project, stream=True)
            except NotFound as exc:
                if conversation is not None and "conversation" in exc.message.lower():
                    # the caller named a conversation that does not exist: an unknown thread
                    raise NotFound(exc.message, code="thread_not_found") from None
                raise

        stream = RunStream(self, project, open_stream, events)
        return stream

    async def _not_the_agents(
        self, project: Project, body: dict[str, Any], tools: list[dict[str, Any]]
    ) -> list[str]:
        """Declared function tools the agent does not define itself (they cannot be added)."""
        reference = body["agent_reference"]
        own = function_names(await self._version(project, reference))
        declared = [str(t["function"]["name"]) for t in tools if t.get("type") == "function"]
        return [f"tools.{name}" for name in declared if name not in own]

    async def _version(self, project: Project, reference: dict[str, str]) -> dict[str, Any]:
        """The agent version a reference names (latest when unversioned), cached 5 minutes."""
        name, version = reference["name"], reference.get("version")

        async def read() -> dict[str, Any]:
            if version:
                path = f"/agents/{name}/versions/{version}"
                return await self._json(project, "GET", path, api="projects")
            agent = await self._json(project, "GET", f"/agents/{name}", api="projects")
            return dict((agent.get("versions") or {}).get("latest") or {})

        return await self._agents.get(project, f"{name}:{version or ''}", read)

    def start_run(
        self,
        project: Project,
        body: dict[str, Any],
        thread_id: str | None = None,
        *,
        background: bool = False,
    ) -> RunStream:
        """A streamed response; `background` keeps it going upstream after the stream closes."""
        request = responses_body(body)
        if body.get("tools"):
            request["tools"] = body["tools"]  # read by `open_stream`, never sent
        if background:
            request["background"] = True
        stream = self._stream(project, request, thread_id)
        if background:
            stream.detach()
        return stream

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str | None,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """`function_call_output` items in the same conversation: a new response continues.

        The new response names the chain it continues in its metadata
        (`CHAIN_KEY`: `run_id`, the response answered, or for an A2A task the
        task's first response). A result that is the adapter's own
        cancellation marker is refused: only `cancel_run` writes it.
        """
        if any(o["output"] == CANCELED_OUTPUT for o in outputs):
            raise InvalidRequest(
                "a function result may not be the adapter's cancellation text "
                f"{CANCELED_OUTPUT!r}: to stop waiting for the results, cancel instead",
                param="output",
            )
        items = [
            {"type": "function_call_output", "call_id": o["tool_call_id"], "output": o["output"]}
            for o in outputs
        ]
        body: dict[str, Any] = {"agent_reference": agent_reference(agent_id), "input": items}
        if run_id and UPSTREAM_ID.fullmatch(run_id):
            body["metadata"] = {CHAIN_KEY: run_id}
        return self._stream(project, body, thread_id)

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        """The response; one that waited for function results says whether it got them.

        A response that ended with function calls waits (`requires_action`)
        until the conversation holds outputs for those calls (by `call_id`),
        after its own output items: then it is `completed` (a follow-up
        response took the results on) or `cancelled` (the outputs are
        `cancel_run`'s marker, which no caller can send). That costs one
        more read, of the conversation's items, only for responses with calls.
        A response of another conversation is not found.
        """
        response = await self._json(project, "GET", f"{RESPONSES}/{run_id}")
        conversation = conversation_of(response)
        if conversation is not None and conversation != thread_id:
            raise NotFound(f"no response {run_id} in conversation {thread_id}", code="not_found")
        run = normalize(response, thread_id)
        if run.status != "requires_action" or not run.tool_calls:
            return run
        outputs = await self._outputs(project, thread_id, response, {c.id for c in run.tool_calls})
        if not all(call.id in outputs for call in run.tool_calls):
            return run
        if all(outputs[call.id] == CANCELED_OUTPUT for call in run.tool_calls):
            return replace(run, status="cancelled")
        return replace(run, status="completed")

    async def _outputs(
        self, project: Project, conversation: str, response: dict[str, Any], calls: set[str]
    ) -> dict[str, str]:
        """The outputs of `calls` that follow the response's output in its conversation.

        Items in between (another message, other calls' outputs) are passed
        over; one page of 100 items in the usual case, at most `ITEM_PAGES`.
        """
        output = [item for item in response.get("output") or [] if isinstance(item, dict)]
        last = str(output[-1].get("id") or "") if output else ""
        if not UPSTREAM_ID.fullmatch(last) or not UPSTREAM_ID.fullmatch(conversation):
            return {}
        found: dict[str, str] = {}
        after = last
        for _ in range(ITEM_PAGES):
            params = {"order": "asc", "after": after, "limit": 100}
            try:
                page = await self._json(
                    project, "GET", f"{CONVERSATIONS}/{conversation}/items", None, params
                )
            except (NotFound, InvalidRequest):
                return {}  # the conversation or the item is gone: nothing answered it here
            data = [item for item in page.get("data") or [] if isinstance(item, dict)]
            for item in data:
                call_id = item.get("call_id")
                if item.get("type") == "function_call_output" and call_id in calls:
                    value = item.get("output")
                    found.setdefault(str(call_id), value if isinstance(value, str) else "")
            if len(found) == len(calls) or not page.get("has_more") or not data:
                return found
            after = str(data[-1].get("id") or "")
            if not UPSTREAM_ID.fullmatch(after):
                return found
        raise UpstreamError(
            f"conversation {conversation} holds more than {ITEM_PAGES * 100} items after "
            f"response {response.get('id')}: its function results cannot be read"
        )

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        """Cancel a background response, or the function calls a finished response waits on.

        A background response still running: `POST /openai/v1/responses/{id}/cancel`.
        A response that ended with function calls waits for their results:
        each call is answered with `CANCELED_OUTPUT`, added to the
        conversation (`POST .../items`, rule 22), so the conversation goes on
        without them and the response reads as `cancelled` from then on. A
        streamed (non-background) response stops when the request streaming
        it goes away, and cannot be cancelled from another request.
        """
        run = await self.get_run(project, thread_id, run_id)
        if run.status == "requires_action" and run.tool_calls:
            items = [
                {"type": "function_call_output", "call_id": call.id, "output": CANCELED_OUTPUT}
                for call in run.tool_calls
            ]
            path = f"{CONVERSATIONS}/{thread_id}/items"
            await self._json(project, "POST", path, {"items": items})
            return replace(run, status="cancelled", cancelled_at=int(time.time()))
        try:
            response = await self._json(project, "POST", f"{RESPONSES}/{run_id}/cancel", {})
        except InvalidRequest as exc:
            raise Conflict(
                f"response {run_id} is not a background response: it stops when the request "
                "streaming it goes away, and cannot be cancelled from another request",
                code="not_cancelable",
            ) from exc
        return normalize(response, thread_id)

    async def get_agent(self, project: Project, agent_id: str) -> AgentInfo:
        name = agent_reference(agent_id)["name"]
        agent = await self._json(project, "GET", f"/agents/{name}", api="projects")
        latest = (agent.get("versions") or {}).get("latest") or {}
        return AgentInfo(
            str(agent.get("name") or name),
            str(latest.get("description") or agent.get("description") or ""),
        )

    async def run_reply(self, project: Project, thread_id: str, run_id: str) -> RunReply:
        """The response's text and annotations, read again (one request)."""
        response = await self._json(project, "GET", f"{RESPONSES}/{run_id}")
        output = [item for item in response.get("output") or [] if isinstance(item, dict)]
        return output_reply(output)

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[Run], str | None]:
        """`GET /openai/v1/responses?conversation_id=` (rule 21), newest first, as runs."""
        params: dict[str, Any] = {"conversation_id": thread_id, "limit": limit, "order": "desc"}
        if after:
            params["after"] = after
        page = await self._json(project, "GET", RESPONSES, params=params)
        runs = [normalize(response, thread_id) for response in page.get("data") or []]
        cursor = str(page["last_id"]) if page.get("has_more") and page.get("last_id") else None
        return runs, cursor

    async def list_threads(
        self, project: Project, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Conversations cannot be listed: Foundry has no list route for them."""
        raise AdapterError(
            "this agent's conversations cannot be listed (Foundry has no list route for "
            "them): name one",
            code="unsupported_operation",
        )

    async def open_file(
        self, project: Project, file_id: str, container_id: str | None = None
    ) -> httpx.Response:
        """A file, or a code-interpreter file of a container (rule 20)."""
        for value in (file_id, container_id):
            if value is not None and not UPSTREAM_ID.fullmatch(value):
                raise NotFound(f"no file {value}", code="file_not_found")
        path = (
            f"/openai/v1/containers/{container_id}/files/{file_id}/content"
            if container_id
            else f"/openai/v1/files/{file_id}/content"
        )
        request = self._transport.build(project, "GET", path, api="openai")
        return await self._transport.send(request, project, stream=True)

    def cancel_in_background(self, project: Project, thread_id: str, run_id: str) -> None:
        """Nothing to send: closing a (non-background) response stream stops the response."""
