"""What `/v1/models` lists: the configured names and the project's own agents.

With `AZURE_AI_PROJECT_ENDPOINT` set, the project's classic agents
(`GET /assistants`) and versioned agents (`GET /agents`) are listed as
`azure_ai/agents/<id>` models with their display name and creation time,
filtered by `EXPOSED_AGENTS` and cached briefly, so a model picker that
polls the list costs Foundry a few requests a minute at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents_core.config import AGENT_ID, MODEL_PREFIX
from agents_core.errors import NotFound
from agents_core.runtime import Runtime

__all__ = ["CACHE_SECONDS", "ListedAgent", "ModelCatalog", "model_entry"]

CACHE_SECONDS = 60.0
MAX_PAGES = 20  # of 100 agents each, per kind
log = logging.getLogger("agents_core.openai.models")


@dataclass(frozen=True)
class ListedAgent:
    """One agent of the project as Foundry lists it."""

    agent_id: str
    name: str
    created: int


def model_entry(model_id: str, created: int = 0, name: str | None = None) -> dict[str, Any]:
    """One OpenAI model object; `name` is the agent's display name (model pickers show it)."""
    entry: dict[str, Any] = {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": "azure-ai-foundry",
    }
    if name:
        entry["name"] = name
    return entry


class ModelCatalog:
    """The model list, with the project's agents cached for `CACHE_SECONDS`."""

    def __init__(self) -> None:
        self._cached: tuple[float, list[ListedAgent]] | None = None
        self._lock = asyncio.Lock()

    async def models(self, runtime: Runtime, headers: Mapping[str, str]) -> list[dict[str, Any]]:
        listed = await self._project_agents(runtime, headers)
        by_id = {agent.agent_id: agent for agent in listed}
        entries: list[dict[str, Any]] = []
        covered: set[str] = set()
        for alias in runtime.aliases():
            spec = runtime.registry.agents[alias]
            known = None
            if spec.endpoint == runtime.registry.default_endpoint:
                known = by_id.get(spec.agent_id) or by_id.get(spec.agent_id.partition(":")[0])
                covered |= {spec.agent_id, spec.agent_id.partition(":")[0]}
            entries.append(
                model_entry(alias, known.created if known else 0, known.name if known else None)
            )
        for agent in listed:
            if agent.agent_id not in covered and runtime.exposure.allows_id(agent.agent_id):
                entries.append(
                    model_entry(f"{MODEL_PREFIX}{agent.agent_id}", agent.created, agent.name)
                )
        return entries

    async def _project_agents(
        self, runtime: Runtime, headers: Mapping[str, str]
    ) -> list[ListedAgent]:
        registry = runtime.registry
        if registry.default_endpoint is None or registry.default_credential.kind == "passthrough":
            return []
        if self._cached is not None and self._cached[0] > time.monotonic():
            return self._cached[1]
        async with self._lock:  # one listing for the callers that arrive together
            if self._cached is not None and self._cached[0] > time.monotonic():
                return self._cached[1]
            token = await runtime.tokens.token(registry.default_credential, headers)
            from agents_core.foundry.transport import Project

            project = Project(
                registry.default_endpoint,
                token,
                runtime.tokens.describe(registry.default_credential),
            )
            agents = await self._list(runtime, project, "/assistants", _classic)
            agents += await self._list(runtime, project, "/agents", _versioned)
            self._cached = (time.monotonic() + CACHE_SECONDS, agents)
            return agents

    async def _list(
        self, runtime: Runtime, project: Any, path: str, read: Any
    ) -> list[ListedAgent]:
        """Every page of one listing; a project without that kind of agent lists none."""
        agents: list[ListedAgent] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": 100, "order": "asc"}
            if after:
                params["after"] = after
            request = runtime.transport.build(project, "GET", path, params=params)
            try:
                page = await runtime.transport.json(request, project)
            except NotFound:
                return agents
            for item in page.get("data") or []:
                agent = read(item) if isinstance(item, dict) else None
                if agent is not None:
                    agents.append(agent)
            after = page.get("last_id")
            if not page.get("has_more") or not isinstance(after, str):
                return agents
        log.warning("listed the first %d pages of %s only", MAX_PAGES, path)
        return agents


def _classic(item: dict[str, Any]) -> ListedAgent | None:
    agent_id = item.get("id")
    if not isinstance(agent_id, str) or not AGENT_ID.fullmatch(agent_id):
        return None
    return ListedAgent(agent_id, str(item.get("name") or agent_id), _int(item.get("created_at")))


def _versioned(item: dict[str, Any]) -> ListedAgent | None:
    name = item.get("name") or item.get("id")
    if not isinstance(name, str) or not AGENT_ID.fullmatch(name):
        return None
    latest = (item.get("versions") or {}).get("latest") or {}
    created = latest.get("created_at") or item.get("created_at")
    return ListedAgent(name, name, _int(created))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
