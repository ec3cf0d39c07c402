"""The process-wide objects every request shares, built once from settings."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from agents_core import telemetry
from agents_core.auth import CallerAuth, TokenBroker
from agents_core.config import (
    MODEL_PREFIX,
    AgentRegistry,
    AgentSpec,
    ConfigError,
    Platform,
    Settings,
    load_registry,
    load_settings,
)
from agents_core.errors import NotFound
from agents_core.foundry.responses import ResponsesClient
from agents_core.foundry.threads import ThreadsClient
from agents_core.foundry.transport import AgentClient, Project, Transport
from agents_core.ids import IdSigner, OwnedClient
from agents_core.upstream_http import AiohttpTransport

__all__ = ["Exposure", "Runtime"]

log = logging.getLogger("agents_core")


@dataclass(frozen=True)
class Exposure:
    """Which agents the gateway serves (`EXPOSED_AGENTS`): ids, names or globs.

    Empty means every configured entry and, with `AZURE_AI_PROJECT_ENDPOINT`,
    every agent of that project. An agent matches by its configured name, its
    id, its name without the version (`name` of `name:version`) or
    `azure_ai/agents/<id>`.
    """

    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Exposure:
        return cls(tuple(part.strip() for part in value.split(",") if part.strip()))

    def allows(self, spec: AgentSpec) -> bool:
        return self.allows_id(spec.agent_id, spec.alias)

    def allows_id(self, agent_id: str, alias: str | None = None) -> bool:
        if not self.patterns:
            return True
        names = {agent_id, agent_id.partition(":")[0], f"{MODEL_PREFIX}{agent_id}"}
        if alias:
            names.add(alias)
        return any(
            fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns for name in names
        )


@dataclass
class Runtime:
    """Settings, agent registry, the one pooled HTTP client and the token broker."""

    settings: Settings
    platform: Platform
    registry: AgentRegistry
    http: httpx.AsyncBaseTransport
    clients: dict[str, AgentClient]
    tokens: TokenBroker
    callers: CallerAuth
    transport: Transport
    exposure: Exposure = field(default_factory=Exposure)
    ids: IdSigner | None = None

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        platform: Platform | None = None,
        registry: AgentRegistry | None = None,
    ) -> Runtime:
        """Everything from settings; raises `ConfigError` with a message naming the field."""
        settings = settings or load_settings()
        platform = platform or Platform()
        registry = registry or load_registry(settings)
        try:
            callers = CallerAuth(
                settings.gateway_api_keys.get_secret_value(),
                easy_auth=platform.easy_auth_enabled,
                principals=settings.easy_auth_allowed_principals,
            )
        except ValueError as exc:  # the message names the problem, never the value
            raise ConfigError(f"GATEWAY_API_KEYS {exc}") from None
        try:
            ids = IdSigner.configure(settings.id_signing_key.get_secret_value(), callers)
        except ValueError as exc:
            raise ConfigError(f"ID_SIGNING_KEY {exc}") from None
        timeout = httpx.Timeout(
            settings.upstream_read_timeout, connect=settings.upstream_connect_timeout
        )
        telemetry.configure(platform)
        http = telemetry.UpstreamTransport(AiohttpTransport())
        transport = Transport(
            http,
            settings.api_version,
            settings.retry_deadline,
            settings.projects_api_version,
            timeout,
        )
        return cls(
            settings=settings,
            platform=platform,
            registry=registry,
            http=http,
            clients={"classic": ThreadsClient(transport), "versioned": ResponsesClient(transport)},
            tokens=TokenBroker(settings, platform),
            callers=callers,
            transport=transport,
            exposure=Exposure.parse(settings.exposed_agents),
            ids=ids,
        )

    def agent(self, model: str) -> AgentSpec:
        """The agent a request's `model` names, or a 404 the caller can act on."""
        spec = self.registry.resolve(model)
        if spec is not None and not self.exposure.allows(spec):
            spec = None  # exactly the answer for an agent that does not exist
        if spec is None:
            known = ", ".join(self.aliases()[:20]) or "none configured"
            hint = (
                "use 'azure_ai/agents/<AGENT_ID>' or a configured name"
                if self.registry.default_endpoint
                else "configure it in AGENTS_CONFIG or set AZURE_AI_PROJECT_ENDPOINT"
            )
            raise NotFound(
                f"the model '{model}' does not exist: {hint} (configured: {known})",
                code="model_not_found",
                param="model",
            )
        return spec

    def aliases(self) -> list[str]:
        """Configured names the gateway exposes, in configuration order."""
        return [
            alias
            for alias in self.registry.aliases()
            if self.exposure.allows(self.registry.agents[alias])
        ]

    def client(self, agent: AgentSpec, caller: str = "") -> AgentClient:
        """The upstream client for the agent's kind (classic threads, or versioned responses).

        `caller` (from `CallerAuth.check`) owns the ids it hands out and accepts
        when more than one caller can exist (`agents_core.ids`).
        """
        client = self.clients[agent.kind]
        if self.ids is None:
            return client
        return OwnedClient(client, self.ids, caller, agent.alias)

    async def project(self, agent: AgentSpec, headers: Mapping[str, str]) -> Project:
        """Endpoint and a fresh-enough token for `agent`."""
        telemetry.agent_resolved(agent.agent_id, agent.alias, agent.endpoint)
        token = await self.tokens.token(agent.credential, headers)
        return Project(agent.endpoint, token, self.tokens.describe(agent.credential), agent.alias)

    def describe(self) -> list[str]:
        """One line per configured agent and the credential kind it uses (no secrets)."""
        lines = [
            f"{spec.alias} -> {spec.agent_id} at {spec.endpoint} "
            f"({self.tokens.describe(spec.credential)})"
            for spec in self.registry.agents.values()
            if self.exposure.allows(spec)
        ]
        if self.registry.default_endpoint:
            lines.append(
                f"azure_ai/agents/<AGENT_ID> -> {self.registry.default_endpoint} "
                f"({self.tokens.describe(self.registry.default_credential)})"
            )
        if self.exposure.patterns:
            lines.append(f"exposed (EXPOSED_AGENTS): {', '.join(self.exposure.patterns)}")
        return lines

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.tokens.aclose()
