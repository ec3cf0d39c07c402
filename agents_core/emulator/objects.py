"""The service's objects held in memory, and their wire (JSON) form.

Field names follow the `azure-ai-agents` models (`Agent`, `AgentThread`,
`ThreadMessage`, `ThreadRun`, `RunStep`); the wire still says
`assistant_id` where the SDK says `agent_id`. Timestamps are Unix seconds.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

from .bodies import JSON, ImageFilePart, ImageUrlPart, MessageIn
from .feed import Feed

Persona = Literal["echo", "tools", "instructions", "tck"]

ACTIVE_RUN_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})


def new_id(prefix: str) -> str:
    """A fresh id with the service's prefix (`thread_`, `msg_`, `run_`, `step_`, `call_`...)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def text_content(value: str) -> JSON:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def content_json(message: MessageIn) -> list[JSON]:
    """Input content (a string or parts) as stored message content blocks."""
    if isinstance(message.content, str):
        return [text_content(message.content)]
    blocks: list[JSON] = []
    for part in message.content:
        if isinstance(part, ImageUrlPart):
            blocks.append({"type": "image_url", "image_url": part.image_url.model_dump()})
        elif isinstance(part, ImageFilePart):
            blocks.append({"type": "image_file", "image_file": part.image_file.model_dump()})
        else:
            blocks.append(text_content(part.text))
    return blocks


@dataclass
class Agent:
    """An assistant; `persona` picks its demo behaviour (see the package docstring)."""

    id: str
    name: str
    description: str
    model: str
    instructions: str
    persona: Persona
    tools: list[JSON] = field(default_factory=list)
    tool_resources: JSON = field(default_factory=dict)
    temperature: float = 1.0
    top_p: float = 1.0
    response_format: str | JSON = "auto"
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: int = field(default_factory=now)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "assistant",
            "created_at": self.created_at,
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": self.tool_resources,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "response_format": self.response_format,
            "metadata": self.metadata,
        }


@dataclass
class Message:
    id: str
    thread_id: str
    role: str
    content: list[JSON]
    status: str = "completed"
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[JSON] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    incomplete_details: JSON | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    created_at: int = field(default_factory=now)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": self.created_at,
            "thread_id": self.thread_id,
            "status": self.status,
            "incomplete_details": self.incomplete_details,
            "completed_at": self.completed_at,
            "incomplete_at": self.incomplete_at,
            "role": self.role,
            "content": self.content,
            "assistant_id": self.assistant_id,
            "run_id": self.run_id,
            "attachments": self.attachments,
            "metadata": self.metadata,
        }


@dataclass
class Step:
    id: str
    run_id: str
    thread_id: str
    assistant_id: str
    type: Literal["message_creation", "tool_calls"]
    step_details: JSON
    status: str = "in_progress"
    last_error: JSON | None = None
    usage: JSON | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    created_at: int = field(default_factory=now)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "thread.run.step",
            "created_at": self.created_at,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "type": self.type,
            "status": self.status,
            "step_details": self.step_details,
            "last_error": self.last_error,
            "expired_at": self.expired_at,
            "completed_at": self.completed_at,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "usage": self.usage,
            "metadata": {},
        }


@dataclass
class RunSettings:
    """What a run was asked for: echoed in the run object, read by the agent."""

    model: str
    instructions: str
    tools: list[JSON]
    tool_choice: str | JSON | None
    temperature: float
    top_p: float
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: JSON
    response_format: str | JSON
    parallel_tool_calls: bool
    metadata: dict[str, str]
    tool_resources: JSON


@dataclass(frozen=True)
class ToolCall:
    """A function call the agent asks the client to make."""

    id: str
    name: str
    arguments: str

    def to_json(self, output: str | None = None, *, with_output: bool = False) -> JSON:
        function: JSON = {"name": self.name, "arguments": self.arguments}
        if with_output:
            function["output"] = output
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    output: str


@dataclass
class Run:
    """A run: its public state plus what the engine needs to drive it.

    `feed` is the current streamable segment; `poke` wakes the engine when a
    cancel or tool outputs arrive.
    """

    id: str
    thread_id: str
    assistant_id: str
    persona: Persona
    settings: RunSettings
    status: str = "queued"
    required_action: JSON | None = None
    last_error: JSON | None = None
    incomplete_details: JSON | None = None
    usage: JSON | None = None
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    created_at: int = field(default_factory=now)
    expires_at: int = 0
    fault: str | None = None
    feed: Feed = field(default_factory=Feed)
    poke: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: bool = False
    steps: list[Step] = field(default_factory=list)
    step: Step | None = None
    message: Message | None = None
    pending_calls: list[ToolCall] = field(default_factory=list)
    submitted: dict[str, str] | None = None
    results: list[ToolResult] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __post_init__(self) -> None:
        if not self.expires_at:
            self.expires_at = self.created_at + 600

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    def to_json(self) -> JSON:
        s = self.settings
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": self.created_at,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "status": self.status,
            "required_action": self.required_action,
            "last_error": self.last_error,
            "model": s.model,
            "instructions": s.instructions,
            "tools": s.tools,
            "expires_at": self.expires_at if self.active else None,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "incomplete_details": self.incomplete_details,
            "usage": self.usage,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_prompt_tokens": s.max_prompt_tokens,
            "max_completion_tokens": s.max_completion_tokens,
            "truncation_strategy": s.truncation_strategy,
            "tool_choice": s.tool_choice if s.tool_choice is not None else "auto",
            "response_format": s.response_format,
            "parallel_tool_calls": s.parallel_tool_calls,
            "metadata": s.metadata,
            "tool_resources": s.tool_resources,
        }


@dataclass
class Thread:
    """A thread with its messages and runs, oldest first, and id → position indexes."""

    id: str
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: JSON = field(default_factory=dict)
    created_at: int = field(default_factory=now)
    messages: list[Message] = field(default_factory=list)
    message_pos: dict[str, int] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    run_pos: dict[str, int] = field(default_factory=dict)
    active_run: Run | None = None

    def add_message(self, message: Message) -> None:
        self.message_pos[message.id] = len(self.messages)
        self.messages.append(message)

    def add_run(self, run: Run) -> None:
        self.run_pos[run.id] = len(self.runs)
        self.runs.append(run)

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": self.metadata,
            "tool_resources": self.tool_resources,
        }


def usage_json(prompt_tokens: int, completion_tokens: int) -> JSON:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def words(text: str) -> int:
    """The emulator's token count: whitespace-separated words (deterministic)."""
    return len(text.split())
