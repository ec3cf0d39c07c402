"""Responses API objects: the `POST /openai/v1/responses` body, the response, and the agent's turn.

The body must name a versioned agent in `agent_reference` (`{type:
"agent_reference", name, version?}`, top level); the older `agent` key or
a missing reference are 400s naming the parameter, as are `conversation`
together with `previous_response_id`, a `max_output_tokens` below 16 and
a `tool_choice` in the chat-completions shape. Settings the agent owns
(`model`, `instructions`, `tools`, `text`, `reasoning`, `temperature`,
`top_p`) are refused as the service refuses them: `400 invalid_payload`,
"Invalid payload", each field in `error.details[]` (contract rule 14). The response's wire
form is what the `openai` SDK's `Response` model parses, plus an
`agent_reference` field naming the exact version that answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .agents import Turn
from .api_errors import ApiError, bad_request
from .bodies import JSON, parse
from .feed import Feed
from .items import ItemIn, check_items, history, item_text, pending_results
from .objects import new_id, now, words
from .prompt_agents import AgentVersion, classic_tools

AGENT_OWNED = ("model", "instructions", "tools", "text", "reasoning", "temperature", "top_p")


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AgentReferenceIn(_In):
    type: Literal["agent_reference"]
    name: str = Field(min_length=1)
    version: str | None = None


class FunctionChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["function"]
    name: str = Field(min_length=1)


class ConversationRefIn(_In):
    id: str = Field(min_length=1)


class ResponseIn(_In):
    agent_reference: AgentReferenceIn
    input: str | list[ItemIn] | None = None
    conversation: str | ConversationRefIn | None = None
    previous_response_id: str | None = None
    stream: bool = False
    metadata: dict[str, str] | None = None
    max_output_tokens: int | None = Field(default=None, ge=16)
    parallel_tool_calls: bool | None = None
    tool_choice: Literal["none", "auto", "required"] | FunctionChoiceIn | None = None
    background: bool = False
    store: bool = True

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, ConversationRefIn):
            return self.conversation.id
        return self.conversation


def parse_response_body(body: Any) -> ResponseIn:
    """Validate a create-response body; every rejection is a 400 naming its parameter."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    if "agent" in body:
        raise bad_request(
            "Unknown parameter 'agent'; name the agent in 'agent_reference'.", "agent"
        )
    if body.get("agent_reference") is None:
        raise bad_request("Missing required parameter: 'agent_reference'.", "agent_reference")
    owned = [name for name in AGENT_OWNED if body.get(name) is not None]
    if owned:
        raise ApiError(
            400,
            "invalid_payload",
            "Invalid payload",
            details=[
                {
                    "code": "ValidationError",
                    "message": f"'{name}' is not supported when an agent is specified.",
                    "param": name,
                }
                for name in owned
            ],
        )
    if body.get("conversation") is not None and body.get("previous_response_id") is not None:
        raise bad_request(
            "Mutually exclusive parameters: provide either 'conversation' or "
            "'previous_response_id', not both.",
            "previous_response_id",
        )
    check_items(body.get("input"), "input")
    return parse(ResponseIn, body)


def _classic_tool_choice(choice: str | FunctionChoiceIn | None) -> str | JSON | None:
    """A Responses `tool_choice` (`{type: "function", name}`) in the shape `agents` reads."""
    if isinstance(choice, FunctionChoiceIn):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


def agent_turn(
    agent: AgentVersion, seen: Sequence[JSON], new: Sequence[JSON], body: ResponseIn
) -> Turn:
    """What `agent` sees: every item so far.

    System and developer items of this request (`new`) extend its instructions.
    """
    extra = [
        item_text(item)
        for item in new
        if item.get("type") == "message" and item.get("role") in ("system", "developer")
    ]
    return Turn(
        persona=agent.persona,
        history=history(seen),
        instructions=" ".join([agent.instructions, *extra]).strip(),
        tools=classic_tools(agent.tools),
        tool_choice=_classic_tool_choice(body.tool_choice),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        response_format="auto",
        results=tuple(pending_results(seen)),
        message_id=(body.metadata or {}).get("a2a_message_id", ""),
    )


def prompt_tokens(turn: Turn) -> int:
    """The emulator's input token count: words of instructions, messages and function outputs."""
    return (
        words(turn.instructions)
        + sum(words(text) for _, text in turn.history)
        + sum(words(result.output) for result in turn.results)
    )


@dataclass
class ResponseState:
    """One response: its public state plus what the engine needs to drive it.

    `context` is every item the agent saw, then (once it ends) its output:
    what a follow-up with `previous_response_id` continues from. `feed`
    carries its stream events; `finished` is set when it ends.
    """

    agent: AgentVersion
    body: ResponseIn
    context: list[JSON]
    fault: str | None = None
    id: str = field(default_factory=lambda: new_id("resp"))
    status: str = "queued"
    output: list[JSON] = field(default_factory=list)
    error: JSON | None = None
    incomplete_details: JSON | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: int = field(default_factory=now)
    completed_at: int | None = None
    feed: Feed = field(default_factory=Feed)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    sequence: int = 0
    cancel_requested: bool = False
    text_format: JSON = field(default_factory=lambda: {"type": "text"})
    message_id: str = ""  # the A2A message id the agent's turn read (see `agents.Turn`)

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed", "incomplete", "cancelled")

    def usage_json(self) -> JSON | None:
        if not self.ended:
            return None
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def to_json(self) -> JSON:
        body = self.body
        agent = self.agent
        conversation_id = body.conversation_id
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "error": self.error,
            "incomplete_details": self.incomplete_details,
            "instructions": agent.instructions,
            "model": agent.model,
            "output": self.output,
            "parallel_tool_calls": body.parallel_tool_calls is not False,
            "temperature": _first(agent.temperature, 1.0),
            "top_p": _first(agent.top_p, 1.0),
            "tool_choice": _tool_choice_json(body.tool_choice),
            "tools": agent.tools,
            "max_output_tokens": body.max_output_tokens,
            "previous_response_id": body.previous_response_id,
            "conversation": {"id": conversation_id} if conversation_id else None,
            "metadata": body.metadata or {},
            "usage": self.usage_json(),
            "text": {"format": self.text_format},
            "truncation": "disabled",
            "background": body.background,
            "store": body.store,
            "user": None,
            "agent_reference": agent.reference(),
        }


def _tool_choice_json(choice: str | FunctionChoiceIn | None) -> str | JSON:
    if isinstance(choice, FunctionChoiceIn):
        return choice.model_dump()
    return choice or "auto"


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)
