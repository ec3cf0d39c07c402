"""The protocol-neutral run core every front door translates to and from.

A turn is a `RunPlan`: a new run (its body in the threads API's run shape,
which each Foundry client turns into its own upstream request), or tool
results for a run that waits on them (`ToolAnswer`), plus what the run
leaves out of the caller's request (`Omissions`). This module starts the
run (`start`), opens its stream until the run exists so that refusals are
still plain errors (`open_started`), bounds it in time (`deadline`), says
what a run's end means for the caller (`failure`) and cancels it
(`cancel`). Chat completions, the Responses API and A2A each use it and
import no other front door; none of them imports `agents_core.foundry`.

Ids handed to callers route back with no stored state: a tool call is
`<call_id>.<thread_id>.<run_id>` (`encode_call_id`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from agents_core.errors import (
    AdapterError,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from agents_core.foundry.transport import (
    AgentClient,
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
)
from agents_core.foundry.types import (
    TERMINAL,
    AgentInfo,
    Annotation,
    RequiredAction,
    Run,
    RunError,
    ToolCall,
    Usage,
)

__all__ = [
    "MAX_CALLER_CALL_ID",
    "MAX_INT32",
    "MIN_OUTPUT_TOKENS",
    "TERMINAL",
    "THREAD_ID",
    "AgentClient",
    "AgentInfo",
    "AgentKind",
    "Annotation",
    "FunctionSpec",
    "Omissions",
    "OutputFormat",
    "Project",
    "RequiredAction",
    "Run",
    "RunEnded",
    "RunError",
    "RunEvent",
    "RunPlan",
    "RunStarted",
    "RunStream",
    "Started",
    "TextDelta",
    "ToolAnswer",
    "ToolCall",
    "TurnOptions",
    "Usage",
    "agent_kind",
    "apply_options",
    "cancel",
    "check_image",
    "deadline",
    "decode_call_id",
    "encode_call_id",
    "failure",
    "open_started",
    "start",
    "user_message",
    "user_plan",
]

THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""Thread, run, conversation, response and call ids as the upstream issues them."""
AgentKind = Literal["classic", "versioned"]
MIN_OUTPUT_TOKENS: dict[AgentKind, int] = {"classic": 256, "versioned": 16}
MAX_INT32 = 2**31 - 1
"""The service's integer fields (token limits) are 32-bit: larger values are a local 400."""
"""Contract rules 3 and 17: `max_completion_tokens` ≥ 256, `max_output_tokens` ≥ 16."""
MAX_CALLER_CALL_ID = 40
"""OpenAI's limit on tool-call ids that a client may replay to an OpenAI model."""
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
CANCEL_WAIT = 5.0
POLL_INTERVAL = 0.25


def agent_kind(agent_id: str) -> AgentKind:
    """Classic agents have `asst_` ids; any other id names a versioned agent."""
    return "classic" if agent_id.startswith("asst_") else "versioned"


def encode_call_id(call_id: str, thread_id: str, run_id: str) -> str:
    """The tool-call id a caller sees: the upstream id plus where its run lives."""
    return f"{call_id}.{thread_id}.{run_id}"


def decode_call_id(value: str) -> tuple[str, str, str] | None:
    """`(call_id, thread_id, run_id)` from an id made by `encode_call_id`, else None."""
    parts = value.split(".")
    if len(parts) != 3 or not all(THREAD_ID.fullmatch(part) for part in parts):
        return None
    return parts[0], parts[1], parts[2]


def check_image(url: str, param: str) -> None:
    """An image the agent can read: `https://`, or a base64 `data:` URL of a known type."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header.removeprefix("data:").split(";")[0].lower()
        if mime not in IMAGE_TYPES or not header.endswith(";base64"):
            raise InvalidRequest(
                f"invalid '{param}': data URLs must be base64 {', '.join(IMAGE_TYPES)}",
                param=param,
            )
        if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
            raise InvalidRequest(
                f"invalid '{param}': the image is larger than {MAX_IMAGE_BYTES // 1048576} MiB",
                param=param,
            )
        try:
            base64.b64decode(data[: 1024 * 4], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                f"invalid '{param}': the data URL is not base64", param=param
            ) from None
        return
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidRequest(
            f"invalid '{param}': image URLs must be https:// or data: URLs", param=param
        )


def user_message(parts: list[dict[str, Any]], param: str = "content") -> dict[str, Any]:
    """A user message for a thread from text and `image_url` parts (images checked).

    Text alone is sent as one string; with images, as content blocks (contract rule 7).
    """
    text = "".join(str(part.get("text", "")) for part in parts if part.get("type") == "text")
    images = [part for part in parts if part.get("type") == "image_url"]
    if not images:
        return {"role": "user", "content": text}
    content: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        if part.get("type") == "text":
            content.append({"type": "text", "text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            image = dict(part["image_url"])
            check_image(str(image.get("url", "")), f"{param}[{index}]")
            content.append({"type": "image_url", "image_url": image})
    return {"role": "user", "content": content}


def user_plan(agent_id: str, thread_id: str | None, message: dict[str, Any]) -> RunPlan:
    """A run that adds one user message to `thread_id`, or starts a thread with it."""
    body: dict[str, Any] = {"assistant_id": agent_id}
    if thread_id:
        body["additional_messages"] = [message]
    else:
        body["thread"] = {"messages": [message]}
    return RunPlan(thread_id, body, named_thread=thread_id is not None)


@dataclass(frozen=True)
class ToolAnswer:
    """Tool results for the run that asked for them (`run_id` None: the thread's waiting run)."""

    thread_id: str
    run_id: str | None
    outputs: list[dict[str, str]]


@dataclass(frozen=True)
class RunPlan:
    """The upstream run a turn makes (a new run, or tool outputs) and what it leaves out.

    `body` is the run in the threads API's shape (`assistant_id`, `thread`
    or `additional_messages`, `instructions`, `additional_instructions`,
    `tools`, limits, `metadata`); the versioned agents' client translates
    it into a Responses request. `dropped` names what the request asked for
    and the run does not get; `adjusted` names values changed to what the
    service accepts (`max_tokens=256`). Both are reported to the caller.
    `named_thread`: the request named its thread, so tool calls can be
    handed out with their upstream ids.
    """

    thread_id: str | None
    body: dict[str, Any]
    tool_answer: ToolAnswer | None = None
    dropped: tuple[str, ...] = ()
    adjusted: tuple[str, ...] = ()
    named_thread: bool = False


class Omissions:
    """What a plan leaves out or changes, under the caller's and the operator's rules.

    A value that cannot be honoured and would change the reply is a 400
    unless dropping is asked for (`drop_params`, or the operator's
    `DROP_PARAMS`); what the agent owns or the contract lacks is not
    forwarded and reported; token limits below the service's minimum are
    raised and reported. `strict_params` turns every such case into a 400.
    """

    def __init__(self, strict: bool, drop: bool) -> None:
        self.strict = strict
        self.drop = drop
        self.dropped: list[str] = []
        self.adjusted: list[str] = []

    def unsupported(self, param: str, reason: str) -> None:
        """A value that would change the reply and cannot be honoured: 400 unless dropping."""
        if self.drop and not self.strict:
            self.dropped.append(param)
            return
        remedy = (
            "strict_params is set, which refuses what cannot be honoured"
            if self.strict
            else 'or send "drop_params": true to have it dropped'
        )
        raise InvalidRequest(
            f"unsupported value for '{param}': {reason}; send its default or leave it out "
            f"({remedy})",
            param=param,
        )

    def not_forwarded(self, param: str, reason: str) -> None:
        """Owned by the agent or outside the contract: reported, or a 400 when strict."""
        if self.strict:
            raise InvalidRequest(
                f"'{param}' cannot be honoured: {reason} (strict_params is set)", param=param
            )
        self.dropped.append(param)

    def raised(self, param: str, value: int, minimum: int) -> int:
        if value >= minimum:
            return value
        if self.strict:
            raise InvalidRequest(
                f"'{param}' must be at least {minimum} for this agent (the service's minimum)",
                param=param,
            )
        self.adjusted.append(f"{param}={minimum}")
        return minimum

    def plan(self, thread_id: str | None, body: dict[str, Any]) -> RunPlan:
        """A new run on `thread_id` (a new thread when None), with what was left out."""
        return RunPlan(
            thread_id,
            body,
            None,
            tuple(self.dropped),
            tuple(self.adjusted),
            named_thread=thread_id is not None,
        )


@dataclass(frozen=True)
class FunctionSpec:
    """A caller-declared function, whatever front door it came through."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class OutputFormat:
    """Structured output asked for: `json_object`, or `json_schema` with its definition.

    `param` is the caller's name for it (`response_format`, `text.format`),
    used in reports and errors; `schema` holds `name`, `description`,
    `schema` and `strict` as the caller sent them.
    """

    param: str
    type: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class TurnOptions:
    """What a turn asks of the run beyond its messages, in neutral terms.

    `tool_choice` is `none`, `auto`, `required` or `{"type": "function",
    "function": {"name"}}`; `limit` is the caller's parameter name and value.
    """

    tools: list[FunctionSpec] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    output_format: OutputFormat | None = None
    limit: tuple[str, int] | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None


def apply_options(
    body: dict[str, Any], options: TurnOptions, kind: AgentKind, omit: Omissions
) -> None:
    """Put `options` into a classic run body, within the published contract.

    Function tools carry `name`, `description`, `parameters` only (rule 4);
    `required` is not a classic tool choice (rule 5); a versioned agent owns
    its sampling settings and output format (rule 14); token limits have the
    service's minimum (rules 3, 17). Raises `InvalidRequest` naming the parameter.
    """
    functions = [_function(tool, omit) for tool in options.tools or []]
    if functions:
        body["tools"] = functions
    if options.tool_choice == "required" and kind == "classic":
        omit.unsupported(
            "tool_choice",
            "classic agents accept 'none', 'auto' or a named function, not 'required'",
        )
    elif options.tool_choice is not None:
        body["tool_choice"] = options.tool_choice
    _sampling(body, options, kind, omit)
    if options.limit is not None:
        param, value = options.limit
        body["max_completion_tokens"] = omit.raised(param, value, MIN_OUTPUT_TOKENS[kind])
    if options.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = options.parallel_tool_calls
    metadata = dict(options.metadata or {})
    if options.user:
        metadata.setdefault("user", options.user[:512])
    if metadata:
        body["metadata"] = metadata


def _function(tool: FunctionSpec, omit: Omissions) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        definition["description"] = tool.description
    definition["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict:
        omit.not_forwarded(f"tools.{tool.name}.strict", "agent function tools have no strict mode")
    return {"type": "function", "function": definition}


def _sampling(body: dict[str, Any], options: TurnOptions, kind: AgentKind, omit: Omissions) -> None:
    format_ = options.output_format
    if kind == "versioned":
        for name in ("temperature", "top_p"):
            if getattr(options, name) is not None:
                omit.not_forwarded(name, "a versioned agent owns its sampling settings")
        if format_ is not None:
            omit.not_forwarded(format_.param, "a versioned agent owns its output format")
        return
    for name in ("temperature", "top_p"):
        if getattr(options, name) is not None:
            body[name] = getattr(options, name)
    if format_ is None:
        return
    if format_.type == "json_object":
        body["response_format"] = {"type": "json_object"}
        return
    schema = format_.schema or {}
    if (
        not isinstance(schema.get("name"), str)
        or not isinstance(schema.get("schema", {}), dict)
        or not isinstance(schema.get("description", ""), str)
    ):
        raise InvalidRequest(
            f"invalid '{format_.param}': a json_schema format needs a 'name' (string) and a "
            "'schema' (a JSON Schema object)",
            param=format_.param,
        )
    definition = {key: schema[key] for key in ("name", "description", "schema") if key in schema}
    definition.setdefault("schema", {"type": "object"})
    if schema.get("strict"):
        omit.not_forwarded(f"{format_.param}.strict", "agent runs have no strict schema mode")
    body["response_format"] = {"type": "json_schema", "json_schema": definition}


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
class Started:
    """An open run stream whose run exists upstream; iterate `run` for what follows."""

    run: RunStream
    started: RunStarted

    async def aclose(self) -> None:
        """Close the stream; a run that has not ended is cancelled upstream."""
        await self.run.__aexit__(None, None, None)


async def open_started(client: AgentClient, project: Project, plan: RunPlan) -> Started:
    """Start the run and read its stream until the run exists.

    Refusals (unknown thread, bad request, busy thread) raise here, before a
    front door has sent anything, so they still become plain HTTP or
    JSON-RPC errors. The caller owns the result and closes it.
    """
    run = await start(client, project, plan)
    await run.__aenter__()
    try:
        async for event in run:
            if isinstance(event, RunStarted):
                return Started(run, event)
        raise UpstreamError("Foundry stream ended before the run started")
    except BaseException:
        await run.__aexit__(None, None, None)
        raise


DeadlineKind = Literal["completion", "stream"]


@asynccontextmanager
async def deadline(seconds: float, kind: DeadlineKind, hint: str = "") -> AsyncIterator[None]:
    """Bound a run in time: past `seconds` it is cancelled and the caller gets a 504.

    `completion` (a blocking answer that must not idle out):
    `completion_deadline_exceeded`; `stream`: `stream_deadline_exceeded`.
    `hint` says what to do instead.
    """
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        if kind == "completion":
            message = f"the agent run took longer than {seconds:g} s and was cancelled"
        else:
            message = f"the stream exceeded its {seconds:g} s deadline; the run was cancelled"
        raise UpstreamTimeout(
            f"{message}; {hint}" if hint else message, code=f"{kind}_deadline_exceeded"
        ) from None


def failure(run: Run) -> AdapterError | None:
    """The error a run's end means for a caller expecting a reply, or None when it has one.

    Completed, incomplete (length or content filter) and waiting-for-tools
    runs are answers; a run that failed, expired, was cancelled or asks for
    something no front door carries (MCP approval, OAuth consent) is an error.
    """
    status = run.status
    action = run.required_action
    if status == "requires_action":
        if action is not None and action.type != "submit_tool_outputs":
            asked = action.detail or "approving MCP tool calls, for example"
            return UpstreamError(
                f"the agent stopped to ask the caller for '{action.type}' ({asked}), "
                "which this API cannot carry; configure the agent's tools not to require "
                "approval or consent",
                code="unsupported_required_action",
            )
        return None
    if status in ("completed", "incomplete"):
        return None
    code = run.error.code if run.error and run.error.code else status
    message = (run.error.message if run.error else "") or f"the agent run ended {status}"
    if status == "failed" and code == "rate_limit_exceeded":
        return RateLimited(f"the agent run was throttled: {message}", retry_after=_retry_hint(run))
    if status == "failed" and "content_filter" in code:
        return None
    if status == "expired":
        return UpstreamTimeout(f"the agent run expired: {message}", code="run_expired")
    if status == "cancelled":
        return UpstreamError("the agent run was cancelled upstream", code="run_cancelled")
    return UpstreamError(f"the agent run failed ({code}): {message}", code=code)


def _retry_hint(run: Run) -> float:
    """Seconds to wait, from messages like "Please try again in 20 seconds."."""
    message = run.error.message if run.error else ""
    match = re.search(r"in (\d+(?:\.\d+)?) seconds?", message)
    return float(match.group(1)) if match else 1.0


async def cancel(client: AgentClient, project: Project, thread_id: str, run_id: str) -> Run:
    """Cancel a run and wait briefly for it to stop.

    A run still `cancelling` after a few seconds is reported `cancelled`:
    the service accepted the cancellation and finishes it shortly.
    """
    run = await client.cancel_run(project, thread_id, run_id)
    until = time.monotonic() + CANCEL_WAIT
    while run.status == "cancelling" and time.monotonic() < until:
        await asyncio.sleep(POLL_INTERVAL)
        run = await client.get_run(project, thread_id, run_id)
    if run.status == "cancelling":
        run = replace(run, status="cancelled")
    return run
