"""All emulated state, in memory, plus cursor pagination of lists.

No method awaits, so each runs atomically with respect to other coroutines:
that is the whole concurrency guard (e.g. "one active run per thread" is a
check-then-set with no suspension point in between).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .agents import demo_agents
from .api_errors import bad_request, not_found
from .bodies import JSON, AssistantIn, MessageIn, RunIn, RunOptionsIn, ThreadIn, tool_json
from .objects import Agent, Message, Run, RunSettings, Step, Thread, content_json, new_id


class Store:
    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {agent.id: agent for agent in demo_agents()}
        self.threads: dict[str, Thread] = {}

    def agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise not_found("assistant", agent_id)
        return agent

    def create_agent(self, body: AssistantIn) -> Agent:
        """A custom assistant: it behaves like the echo agent (and calls its function tools)."""
        agent = Agent(
            id=new_id("asst"),
            name=body.name or "",
            description=body.description or "",
            model=body.model,
            instructions=body.instructions or "",
            persona="echo",
            tools=tool_json(body.tools or []),
            tool_resources=body.tool_resources or {},
            temperature=1.0 if body.temperature is None else body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            response_format=body.response_format or "auto",
            metadata=body.metadata or {},
        )
        self.agents[agent.id] = agent
        return agent

    def create_thread(self, body: ThreadIn) -> Thread:
        thread = Thread(
            id=new_id("thread"),
            metadata=body.metadata or {},
            tool_resources=body.tool_resources or {},
        )
        for message in body.messages or []:
            self.add_message(thread, message)
        self.threads[thread.id] = thread
        return thread

    def thread(self, thread_id: str) -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise not_found("thread", thread_id)
        return thread

    def delete_thread(self, thread_id: str) -> Thread:
        thread = self.thread(thread_id)
        del self.threads[thread_id]
        return thread

    def add_message(self, thread: Thread, body: MessageIn) -> Message:
        message = Message(
            id=new_id("msg"),
            thread_id=thread.id,
            role=body.role,
            content=content_json(body),
            attachments=body.attachments or [],
            metadata=body.metadata or {},
        )
        thread.add_message(message)
        return message

    @staticmethod
    def message(thread: Thread, message_id: str) -> Message:
        pos = thread.message_pos.get(message_id)
        if pos is None:
            raise not_found("message", message_id)
        return thread.messages[pos]

    @staticmethod
    def run(thread: Thread, run_id: str) -> Run:
        pos = thread.run_pos.get(run_id)
        if pos is None:
            raise not_found("run", run_id)
        return thread.runs[pos]

    @staticmethod
    def step(run: Run, step_id: str) -> Step:
        for step in run.steps:
            if step.id == step_id:
                return step
        raise not_found("run step", step_id)


def new_run(thread: Thread, agent: Agent, body: RunOptionsIn, fault: str | None) -> Run:
    """A queued run of `agent` on `thread` with the body's overrides applied."""
    instructions = agent.instructions if body.instructions is None else body.instructions
    if isinstance(body, RunIn) and body.additional_instructions:
        instructions = f"{instructions} {body.additional_instructions}".strip()
    truncation = body.truncation_strategy
    settings = RunSettings(
        model=body.model or agent.model,
        instructions=instructions,
        tools=agent.tools if body.tools is None else tool_json(body.tools),
        tool_choice=body.tool_choice_json(),
        temperature=agent.temperature if body.temperature is None else body.temperature,
        top_p=agent.top_p if body.top_p is None else body.top_p,
        max_prompt_tokens=body.max_prompt_tokens,
        max_completion_tokens=body.max_completion_tokens,
        truncation_strategy=(
            truncation.model_dump() if truncation else {"type": "auto", "last_messages": None}
        ),
        response_format=body.response_format_json() or agent.response_format,
        parallel_tool_calls=True if body.parallel_tool_calls is None else body.parallel_tool_calls,
        metadata=body.metadata or {},
        tool_resources=body.tool_resources or agent.tool_resources,
    )
    return Run(
        id=new_id("run"),
        thread_id=thread.id,
        assistant_id=agent.id,
        persona=agent.persona,
        settings=settings,
        fault=fault,
    )


class Listable(Protocol):
    @property
    def id(self) -> str: ...

    def to_json(self) -> JSON: ...


@dataclass(frozen=True)
class ListQuery:
    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListQuery:
        """`limit` 1-100 (default 20), `order` asc|desc (default desc), `after`/`before` ids."""
        raw_limit = params.get("limit", "20")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise bad_request(f"Invalid value for 'limit': {raw_limit!r}.", "limit") from None
        if not 1 <= limit <= 100:
            raise bad_request("'limit' must be between 1 and 100.", "limit")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad_request("'order' must be 'asc' or 'desc'.", "order")
        return cls(limit, order, params.get("after") or None, params.get("before") or None)


def paginate(
    items: Sequence[Listable], position: Callable[[str], int | None], query: ListQuery
) -> JSON:
    """One page of `items` (oldest first) as a list object with `first_id`, `last_id`, `has_more`.

    `position(id)` finds an item's index in `items` (cursors are item ids);
    an unknown cursor is a 400.
    """
    size = len(items)

    def storage(index: int) -> int:
        # Listing order ↔ storage order; the mapping is its own inverse.
        return index if query.order == "asc" else size - 1 - index

    def cursor(name: str, item_id: str) -> int:
        pos = position(item_id)
        if pos is None:
            raise bad_request(f"Invalid '{name}' cursor: no item with id '{item_id}'.", name)
        return storage(pos)

    low = cursor("after", query.after) + 1 if query.after else 0
    high = cursor("before", query.before) if query.before else size
    backwards = query.before is not None and query.after is None
    start = max(low, high - query.limit) if backwards else low
    end = min(high, start + query.limit) if not backwards else high
    start = min(start, end)
    data = [items[storage(i)].to_json() for i in range(start, end)]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start > low if backwards else end < high,
    }
