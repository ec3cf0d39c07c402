"""Versioned ("new Foundry") prompt agents: the registry behind `/agents` and their wire form.

Field names follow the `azure-ai-projects` 2.x models: an agent is an
`AgentDetails` (`object: "agent"`, `id` = `name`, `state`,
`versions.latest`), each version an `AgentVersionDetails` (`object:
"agent.version"`, `id` = `name:version`, `definition: {kind: "prompt",
model, instructions, tools, ...}`). Tools use the Responses API's flat
function shape (`{type: "function", name, description, parameters,
strict}`); `classic_tools` converts them for the shared agent logic in
`agents`.

An agent's persona (its demo behaviour) belongs to its name, so a new
version of a demo agent keeps behaving like it; any other agent behaves
like `echo` (and calls its function tools).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .agents import ASK_USER_TOOL, DEMO_MODEL, WEATHER_TOOL
from .api_errors import ApiError, bad_request
from .bodies import JSON
from .objects import Persona, now

NAME_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def flat_tool(tool: JSON) -> JSON:
    """A classic nested function tool (`{type, function: {...}}`) in the Responses flat shape."""
    function = tool["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function.get("description"),
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
        "strict": bool(function.get("strict", False)),
    }


def classic_tools(tools: list[JSON]) -> list[JSON]:
    """Flat function tools as the nested shape `agents.respond` reads; other tools are dropped."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": tool.get("parameters") or {},
            },
        }
        for tool in tools
        if tool.get("type") == "function" and isinstance(tool.get("name"), str)
    ]


@dataclass
class AgentVersion:
    """One immutable version of a prompt agent."""

    name: str
    version: str
    persona: Persona
    model: str
    instructions: str
    tools: list[JSON] = field(default_factory=list)
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    created_at: int = field(default_factory=now)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    def reference(self) -> JSON:
        return {"type": "agent_reference", "name": self.name, "version": self.version}

    def to_json(self) -> JSON:
        definition: JSON = {
            "kind": "prompt",
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
        }
        if self.temperature is not None:
            definition["temperature"] = self.temperature
        if self.top_p is not None:
            definition["top_p"] = self.top_p
        return {
            "object": "agent.version",
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "created_at": self.created_at,
            "metadata": self.metadata,
            "definition": definition,
            "status": "active",
        }


@dataclass
class PromptAgent:
    """An agent name with its versions, oldest first; `latest` is the newest."""

    name: str
    versions: list[AgentVersion]

    @property
    def id(self) -> str:
        return self.name

    @property
    def latest(self) -> AgentVersion:
        return self.versions[-1]

    def to_json(self) -> JSON:
        return {
            "object": "agent",
            "id": self.name,
            "name": self.name,
            "state": "enabled",
            "configuration_state": "enabled",
            "versions": {"latest": self.latest.to_json()},
        }


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PromptDefinitionIn(_In):
    kind: Literal["prompt"]
    model: str = Field(min_length=1)
    instructions: str | None = None
    tools: list[JSON] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)


class CreateVersionIn(_In):
    """The body of `POST /agents/{name}/versions` (only prompt agents are emulated)."""

    definition: PromptDefinitionIn
    description: str | None = None
    metadata: dict[str, str] | None = None


def demo_prompt_agents() -> list[PromptAgent]:
    """Fresh instances of the three demo versioned agents, each at version "1"."""
    versions = [
        AgentVersion(
            name="echo",
            version="1",
            persona="echo",
            model=DEMO_MODEL,
            instructions="Echo the user and remember what they tell you.",
            description="Echoes the last user message and remembers facts from the conversation.",
        ),
        AgentVersion(
            name="weather",
            version="1",
            persona="tools",
            model=DEMO_MODEL,
            instructions="Use get_weather to answer weather questions.",
            tools=[flat_tool(WEATHER_TOOL)],
            description="Answers weather questions by calling the get_weather function tool.",
        ),
        AgentVersion(
            name="instructions",
            version="1",
            persona="instructions",
            model=DEMO_MODEL,
            instructions="You are a helpful assistant.",
            description="Shows its instructions and any system/developer items, then echoes.",
        ),
        AgentVersion(
            name="tck",
            version="1",
            persona="tck",
            model=DEMO_MODEL,
            instructions="Behave as the A2A conformance kit's scenarios say.",
            tools=[flat_tool(ASK_USER_TOOL)],
            description="Scripted by the A2A messageId prefix, as the A2A conformance kit expects.",
        ),
    ]
    return [PromptAgent(v.name, [v]) for v in versions]


class PromptAgents:
    """The versioned agents of one emulator instance, by name, in creation order."""

    def __init__(self) -> None:
        self.agents: dict[str, PromptAgent] = {a.name: a for a in demo_prompt_agents()}

    def get(self, name: str) -> PromptAgent:
        agent = self.agents.get(name)
        if agent is None:
            raise ApiError(404, "not_found", f"Agent '{name}' not found.", param="agent_name")
        return agent

    def version(self, name: str, version: str | None) -> AgentVersion:
        """`version` of agent `name`, or its latest when `version` is None (404 if unknown)."""
        agent = self.get(name)
        if version is None:
            return agent.latest
        for candidate in agent.versions:
            if candidate.version == version:
                return candidate
        raise ApiError(
            404, "not_found", f"Agent '{name}' has no version '{version}'.", param="agent_version"
        )

    def create_version(self, name: str, body: CreateVersionIn) -> AgentVersion:
        """Append a version ("1", "2", ...) to agent `name`, creating the agent if needed."""
        if not NAME_PATTERN.match(name):
            raise bad_request(
                "Agent names are 1-63 letters, digits or inner hyphens.", "agent_name"
            )
        existing = self.agents.get(name)
        definition = body.definition
        version = AgentVersion(
            name=name,
            version=str(len(existing.versions) + 1 if existing else 1),
            persona=existing.latest.persona if existing else "echo",
            model=definition.model,
            instructions=definition.instructions or "",
            tools=list(definition.tools or []),
            description=body.description or "",
            metadata=body.metadata or {},
            temperature=definition.temperature,
            top_p=definition.top_p,
        )
        if existing is None:
            self.agents[name] = PromptAgent(name, [version])
        else:
            existing.versions.append(version)
        return version
