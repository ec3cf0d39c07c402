"""A run as every front door sees it, whichever kind of agent produced it.

Each Foundry client builds these once, from its own upstream shapes (a
threads-API run, or a Responses response); nothing past the `foundry`
package reads an upstream run as a dict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "TERMINAL",
    "AgentInfo",
    "Annotation",
    "RequiredAction",
    "Run",
    "RunError",
    "RunReply",
    "ToolCall",
    "Usage",
    "asks_json",
    "int_or_none",
]

TERMINAL = frozenset({"completed", "incomplete", "failed", "expired", "cancelled"})
"""Statuses a run never leaves (`requires_action` waits; the others are on their way)."""


@dataclass(frozen=True)
class ToolCall:
    """A function call the run waits on, with the upstream's own call id."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class RequiredAction:
    """Why a run stopped for the caller.

    `submit_tool_outputs`: `tool_calls` wait for results. Any other `type`
    (`mcp_approval_request`, `oauth_consent_request`, ...) asks for something
    no front door can carry; `detail` says what, in words.
    """

    type: str
    tool_calls: tuple[ToolCall, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class RunError:
    code: str
    message: str


@dataclass(frozen=True)
class Annotation:
    """A citation or file reference on the reply text, in one shape for both upstreams.

    `text` is the marker the annotation covers (such as `【3:0†source】`),
    when the upstream sent one. `other` keeps an annotation of a type this
    adapter does not know, as the upstream sent it.
    """

    type: str
    start_index: int | None = None
    end_index: int | None = None
    text: str = ""
    url: str = ""
    title: str | None = None
    file_id: str = ""
    container_id: str | None = None
    quote: str | None = None
    filename: str | None = None
    other: dict[str, Any] | None = None

    @classmethod
    def parse_all(cls, raw: Any) -> list[Annotation]:
        """A list of annotations in either upstream shape, those that parse."""
        found = (cls.parse(item) for item in raw) if isinstance(raw, list) else ()
        return [item for item in found if item is not None]

    @classmethod
    def parse(cls, raw: Any) -> Annotation | None:
        """Either upstream shape: the threads API nests the details under the type's key."""
        if not isinstance(raw, dict):
            return None
        kind = str(raw.get("type", ""))
        nested = raw.get(kind)
        details = {**raw, **nested} if isinstance(nested, dict) else raw
        known = ("url_citation", "file_citation", "file_path", "container_file_citation")
        container = details.get("container_id")
        return cls(
            type=kind,
            start_index=int_or_none(details.get("start_index")),
            end_index=int_or_none(details.get("end_index")),
            text=str(raw.get("text") or ""),
            url=str(details.get("url") or ""),
            title=details.get("title") if isinstance(details.get("title"), str) else None,
            file_id=str(details.get("file_id") or ""),
            container_id=str(container) if container else None,
            quote=str(details["quote"]) if details.get("quote") else None,
            filename=str(details["filename"]) if details.get("filename") else None,
            other=None if kind in known else dict(raw),
        )


@dataclass(frozen=True)
class RunReply:
    """A run's reply read back after the run: its text and the annotations on it.

    Annotation spans count from the start of `text`, however many messages
    or content parts the upstream split the reply into.
    """

    text: str = ""
    annotations: tuple[Annotation, ...] = ()

    @classmethod
    def joined(cls, pieces: Iterable[tuple[str, Iterable[Annotation]]]) -> RunReply:
        """One reply from its text pieces in order, each with the annotations on it."""
        text: list[str] = []
        annotations: list[Annotation] = []
        offset = 0
        for value, found in pieces:
            for item in found:
                annotations.append(_shifted(item, offset) if offset else item)
            text.append(value)
            offset += len(value)
        return cls("".join(text), tuple(annotations))


def _shifted(item: Annotation, offset: int) -> Annotation:
    start, end = item.start_index, item.end_index
    return replace(
        item,
        start_index=None if start is None else start + offset,
        end_index=None if end is None else end + offset,
    )


@dataclass(frozen=True)
class Run:
    """One run (classic) or response (versioned) of an agent on a thread or conversation.

    `text` is the reply when the upstream object carries it (a Responses
    response does; a threads-API run does not: None). Times are Unix seconds.
    `json_output`: the run was asked for JSON (a `json_object` or
    `json_schema` format, the run's own `response_format` or the
    response's `text.format`, whoever set it).
    """

    id: str
    thread_id: str
    status: str
    created_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelled_at: int | None = None
    expires_at: int | None = None
    usage: Usage | None = None
    error: RunError | None = None
    incomplete_reason: str | None = None
    required_action: RequiredAction | None = None
    text: str | None = None
    annotations: tuple[Annotation, ...] = ()
    background: bool = False
    json_output: bool = False
    chain: str = ""
    """Versioned: the upstream id of the first response of the chain this one belongs to.

    A response that answers function calls for a task continues that task's
    chain (`CHAIN_KEY` in its metadata); any other response starts its own
    (`chain` is its own upstream id). Empty for classic runs.
    """
    continues: bool = False  # versioned: a later response of another response's chain
    agent: str = ""  # versioned: the name of the agent that answered (`agent_reference`)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The function calls this run waits on (none unless it requires action)."""
        action = self.required_action
        if action is None or action.type != "submit_tool_outputs":
            return ()
        return action.tool_calls

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class AgentInfo:
    """What a card or a model listing says about an agent."""

    name: str
    description: str


JSON_FORMATS = frozenset({"json_object", "json_schema"})


def asks_json(response_format: Any) -> bool:
    """Whether an output format (`{"type": ...}`, or a bare mode string) asks for JSON."""
    kind = response_format.get("type") if isinstance(response_format, dict) else response_format
    return kind in JSON_FORMATS


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
