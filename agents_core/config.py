"""Settings and the agent registry.

`Settings` is read once from the environment (and `.env`); `load_registry`
turns it, plus the optional LiteLLM-proxy style YAML named by
`AGENTS_CONFIG`, into an `AgentRegistry` that maps the `model` of a request
to an `AgentSpec`: where the agent lives, its id and how to authenticate.

This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "MODEL_PREFIX",
    "AgentKind",
    "AgentRegistry",
    "AgentSpec",
    "ConfigError",
    "Credential",
    "Platform",
    "Settings",
    "load_registry",
    "load_settings",
]

MODEL_PREFIX = "azure_ai/agents/"
# `asst_...`, `name` or `name:version`: nothing that could change the upstream path.
AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(:[A-Za-z0-9_.-]{1,64})?")
ENV_REFERENCE = "os.environ/"
ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


class ConfigError(Exception):
    """Invalid configuration; the message names the entry and the field."""


class Settings(BaseSettings):
    """Every setting of the adapter, read from the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    project_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AZURE_AI_PROJECT_ENDPOINT", "project_endpoint"),
    )
    agents_config: Path | None = Field(
        default=None, validation_alias=AliasChoices("AGENTS_CONFIG", "agents_config")
    )
    api_version: str = Field(
        default="v1",
        validation_alias=AliasChoices("AZURE_AI_AGENTS_API_VERSION", "api_version"),
        description="api-version of the classic agent routes (assistants, threads, runs, files).",
    )
    projects_api_version: str = Field(
        default="v1",
        validation_alias=AliasChoices("AZURE_AI_PROJECTS_API_VERSION", "projects_api_version"),
        description="api-version of the versioned `/agents/{name}` routes (`v1` is the only one).",
    )
    drop_params: bool = Field(
        default=False,
        validation_alias=AliasChoices("DROP_PARAMS", "drop_params"),
        description="Drop request parameters the agent service cannot honour instead of a 400.",
    )
    managed_identity_client_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "AZURE_MANAGED_IDENTITY_CLIENT_ID", "managed_identity_client_id"
        ),
    )
    gateway_api_keys: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("GATEWAY_API_KEYS", "gateway_api_keys"),
    )
    easy_auth_allowed_principals: str = Field(
        default="",
        validation_alias=AliasChoices(
            "EASY_AUTH_ALLOWED_PRINCIPALS", "easy_auth_allowed_principals"
        ),
    )
    id_signing_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("ID_SIGNING_KEY", "id_signing_key"),
        description="Comma-separated keys that sign the ids handed to callers; "
        "the first signs, every one verifies.",
    )
    max_body_bytes: int = Field(
        default=29_360_128,
        gt=0,
        validation_alias=AliasChoices("MAX_BODY_BYTES", "max_body_bytes"),
    )
    max_messages: int = Field(
        default=256, gt=0, validation_alias=AliasChoices("MAX_MESSAGES", "max_messages")
    )
    upstream_connect_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("UPSTREAM_CONNECT_TIMEOUT", "upstream_connect_timeout"),
    )
    upstream_read_timeout: float = Field(
        default=120.0,
        gt=0,
        validation_alias=AliasChoices("UPSTREAM_READ_TIMEOUT", "upstream_read_timeout"),
    )
    retry_deadline: float = Field(
        default=20.0,
        ge=0,
        validation_alias=AliasChoices("UPSTREAM_RETRY_DEADLINE", "retry_deadline"),
    )
    completion_deadline: float = Field(
        default=220.0,
        gt=0,
        validation_alias=AliasChoices("COMPLETION_DEADLINE", "completion_deadline"),
    )
    stream_deadline: float = Field(
        default=600.0,
        gt=0,
        validation_alias=AliasChoices("STREAM_DEADLINE", "stream_deadline"),
    )
    heartbeat_interval: float = Field(
        default=15.0,
        gt=0,
        validation_alias=AliasChoices("HEARTBEAT_INTERVAL", "heartbeat_interval"),
    )
    max_buffered_bytes: int = Field(
        default=134_217_728,
        gt=0,
        validation_alias=AliasChoices("MAX_BUFFERED_BYTES", "max_buffered_bytes"),
    )
    body_read_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("BODY_READ_TIMEOUT", "body_read_timeout"),
    )
    exposed_agents: str = Field(
        default="", validation_alias=AliasChoices("EXPOSED_AGENTS", "exposed_agents")
    )
    public_agent_cards: bool = Field(
        default=False,
        validation_alias=AliasChoices("PUBLIC_AGENT_CARDS", "public_agent_cards"),
    )
    a2a_default_agent: str | None = Field(
        default=None,
        validation_alias=AliasChoices("A2A_DEFAULT_AGENT", "a2a_default_agent"),
        description="The agent whose card is also served at /.well-known/agent-card.json.",
    )
    cors_allow_origins: str = Field(
        default="", validation_alias=AliasChoices("CORS_ALLOW_ORIGINS", "cors_allow_origins")
    )
    public_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PUBLIC_BASE_URL", "public_base_url")
    )
    trusted_proxies: str = Field(
        default="", validation_alias=AliasChoices("TRUSTED_PROXIES", "trusted_proxies")
    )
    playground: bool = Field(
        default=True, validation_alias=AliasChoices("PLAYGROUND", "playground")
    )
    thread_retention_days: int = Field(
        default=30,
        ge=0,
        validation_alias=AliasChoices("THREAD_RETENTION_DAYS", "thread_retention_days"),
        description="Days an adapter-created thread or conversation may stay idle (0 = forever).",
    )
    thread_cleanup_batch: int = Field(
        default=200,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices("THREAD_CLEANUP_BATCH", "thread_cleanup_batch"),
        description="Most threads one cleanup pass deletes per project.",
    )

    @field_validator(
        "agents_config",
        "managed_identity_client_id",
        "public_base_url",
        "a2a_default_agent",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # App settings cannot be absent in Bicep's list, only empty.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("project_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else check_endpoint(value)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip().rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as https://agents.example.com")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must hold only scheme, host, port and an optional path")
        return value.strip().rstrip("/")

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",")):
            if origin and origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(
                    "each entry must be * or an origin such as https://app.example.com"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names no secret
        return value


class Platform(BaseSettings):
    """What the hosting platform tells us through its own environment variables.

    These are set by Azure (App Service / Functions, AKS workload identity) or
    by the operator for azure-identity; the adapter only reads them.
    """

    model_config = SettingsConfigDict(extra="ignore")

    identity_endpoint: str | None = Field(default=None, validation_alias="IDENTITY_ENDPOINT")
    msi_endpoint: str | None = Field(default=None, validation_alias="MSI_ENDPOINT")
    website_instance_id: str | None = Field(default=None, validation_alias="WEBSITE_INSTANCE_ID")
    azure_tenant_id: str | None = Field(default=None, validation_alias="AZURE_TENANT_ID")
    azure_client_id: str | None = Field(default=None, validation_alias="AZURE_CLIENT_ID")
    azure_client_secret: SecretStr | None = Field(
        default=None, validation_alias="AZURE_CLIENT_SECRET"
    )
    azure_client_certificate_path: str | None = Field(
        default=None, validation_alias="AZURE_CLIENT_CERTIFICATE_PATH"
    )
    azure_federated_token_file: str | None = Field(
        default=None, validation_alias="AZURE_FEDERATED_TOKEN_FILE"
    )
    website_auth_enabled: str = Field(default="", validation_alias="WEBSITE_AUTH_ENABLED")
    website_site_name: str | None = Field(default=None, validation_alias="WEBSITE_SITE_NAME")
    website_hostname: str | None = Field(default=None, validation_alias="WEBSITE_HOSTNAME")
    applicationinsights_connection_string: SecretStr | None = Field(
        default=None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    applicationinsights_authentication_string: str | None = Field(
        default=None, validation_alias="APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
    )
    otel_sdk_disabled: str = Field(default="", validation_alias="OTEL_SDK_DISABLED")
    otel_service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    otel_exporter_otlp_metrics_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
    )
    otel_exporter_otlp_logs_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
    )
    otel_traces_exporter: str = Field(default="", validation_alias="OTEL_TRACES_EXPORTER")
    otel_metrics_exporter: str = Field(default="", validation_alias="OTEL_METRICS_EXPORTER")
    otel_logs_exporter: str = Field(default="", validation_alias="OTEL_LOGS_EXPORTER")

    @property
    def otlp_configured(self) -> bool:
        """An OTLP endpoint is set by the standard `OTEL_EXPORTER_OTLP_*` variables."""
        return any(
            (value or "").strip()
            for value in (
                self.otel_exporter_otlp_endpoint,
                self.otel_exporter_otlp_traces_endpoint,
                self.otel_exporter_otlp_metrics_endpoint,
                self.otel_exporter_otlp_logs_endpoint,
            )
        )

    @property
    def telemetry_configured(self) -> bool:
        """Export is asked for (Application Insights or OTLP) and the SDK is not disabled."""
        if self.otel_sdk_disabled.strip().lower() == "true":
            return False
        has_insights = self.applicationinsights_connection_string is not None and bool(
            self.applicationinsights_connection_string.get_secret_value().strip()
        )
        return has_insights or self.otlp_configured

    def otel_signal_enabled(self, signal: str) -> bool:
        """`OTEL_<SIGNAL>_EXPORTER=none` turns one signal (traces, metrics, logs) off."""
        value = getattr(self, f"otel_{signal}_exporter", "")
        return "none" not in {part.strip().lower() for part in value.split(",")}

    @property
    def on_app_service(self) -> bool:
        return bool(self.website_site_name or self.website_instance_id)

    @property
    def easy_auth_enabled(self) -> bool:
        """App Service Authentication is on: `WEBSITE_AUTH_ENABLED=True`, set by App Service.

        Only that exact signal on App Service counts (elsewhere nothing strips
        caller-sent principal headers); a value that is not a boolean is a
        `ConfigError`, never a guess.
        """
        value = self.website_auth_enabled.strip().lower()
        if value not in ("", "true", "false"):
            raise ConfigError(
                "WEBSITE_AUTH_ENABLED: must be True or False (App Service sets it when "
                "Authentication is on)"
            )
        return value == "true" and self.on_app_service

    @property
    def has_managed_identity(self) -> bool:
        return bool(self.identity_endpoint or self.msi_endpoint)

    @property
    def in_azure(self) -> bool:
        return bool(self.website_instance_id or self.has_managed_identity)

    @property
    def has_service_principal_env(self) -> bool:
        return bool(
            self.azure_tenant_id
            and self.azure_client_id
            and (self.azure_client_secret or self.azure_client_certificate_path)
        )

    @property
    def has_workload_identity(self) -> bool:
        return bool(self.azure_federated_token_file and self.azure_client_id)


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings`, turning validation errors into a `ConfigError` without echoing values."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def check_endpoint(url: str) -> str:
    """Return `url` without a trailing slash if it is https (or http on loopback)."""
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError:
        raise ValueError("endpoint is not a valid URL") from None
    if not parts.hostname:
        raise ValueError("endpoint is not an absolute URL")
    if has_credentials:
        # They would be sent as Basic auth instead of the Entra token, and printed.
        raise ValueError("endpoint must not contain credentials (user:password@)")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise ValueError("endpoint must use https:// (plain http is allowed only on loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credential:
    """How to obtain a Bearer token for an agent's project.

    `kind` is `token` (a static Entra token, LiteLLM's `api_key`),
    `client_secret` (a service principal), `passthrough` (the caller's own
    token) or `default` (managed identity, then environment, then developer
    credentials).
    """

    kind: Literal["token", "client_secret", "passthrough", "default"]
    token: SecretStr | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None

    def describe(self) -> str:
        """A human description that never contains a secret."""
        if self.kind == "token":
            return "static token (api_key)"
        if self.kind == "client_secret":
            return f"service principal {self.client_id} in tenant {self.tenant_id}"
        if self.kind == "passthrough":
            return "caller's token (passthrough)"
        return "managed identity / environment / developer credential chain"


AgentKind = Literal["classic", "versioned"]


def agent_kind(agent_id: str) -> AgentKind:
    """Classic agents have `asst_` ids; versioned agents are `name` or `name:version`."""
    return "classic" if agent_id.startswith("asst_") else "versioned"


@dataclass(frozen=True)
class AgentSpec:
    """One callable agent: `alias` is the `model` name clients use.

    `kind` picks the upstream API: classic agents run as threads and runs,
    versioned agents through the Responses API and conversations.
    """

    alias: str
    agent_id: str
    endpoint: str
    credential: Credential = field(default_factory=lambda: Credential("default"))
    declared_kind: AgentKind | None = None

    @property
    def kind(self) -> AgentKind:
        return self.declared_kind or agent_kind(self.agent_id)


@dataclass(frozen=True)
class AgentRegistry:
    """Resolves request `model` names to agents."""

    agents: Mapping[str, AgentSpec]
    default_endpoint: str | None = None
    default_credential: Credential = field(default_factory=lambda: Credential("default"))

    def resolve(self, model: str) -> AgentSpec | None:
        """The agent for `model`: an alias, or `azure_ai/agents/<id>` on the default endpoint."""
        spec = self.agents.get(model)
        if spec is not None:
            return spec
        if not model.startswith(MODEL_PREFIX):
            return None
        agent_id = model.removeprefix(MODEL_PREFIX)
        if not AGENT_ID.fullmatch(agent_id):
            return None
        for candidate in self.agents.values():
            if candidate.agent_id == agent_id:
                return candidate
        if self.default_endpoint is None:
            return None
        return AgentSpec(model, agent_id, self.default_endpoint, self.default_credential)

    def aliases(self) -> list[str]:
        """Names listed by `/v1/models`, in configuration order."""
        return list(self.agents)


def load_registry(settings: Settings, environ: Mapping[str, str] | None = None) -> AgentRegistry:
    """Build the registry from `settings` and the YAML file it names, if any."""
    env = os.environ if environ is None else environ
    agents: dict[str, AgentSpec] = {}
    if settings.agents_config is not None:
        agents = _read_model_list(settings.agents_config, settings.project_endpoint, env)
    return AgentRegistry(agents=agents, default_endpoint=settings.project_endpoint)


def _read_model_list(
    path: Path, default_endpoint: str | None, env: Mapping[str, str]
) -> dict[str, AgentSpec]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"AGENTS_CONFIG: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # Only the problem and position: PyYAML's own message quotes the line, maybe a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError(f"AGENTS_CONFIG: {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict) or not isinstance(document.get("model_list"), list):
        raise ConfigError(f"AGENTS_CONFIG: {path} must contain a `model_list` list")
    agents: dict[str, AgentSpec] = {}
    for index, entry in enumerate(document["model_list"]):
        spec = _read_entry(index, entry, default_endpoint, env)
        if spec is None:
            continue
        if spec.alias in agents:
            raise ConfigError(f"model_list[{index}].model_name: duplicate name {spec.alias!r}")
        agents[spec.alias] = spec
    return agents


def _read_entry(
    index: int, entry: Any, default_endpoint: str | None, env: Mapping[str, str]
) -> AgentSpec | None:
    where = f"model_list[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a mapping with model_name and litellm_params")
    name = entry.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.model_name: required, a non-empty string")
    where = f"model_list[{index}] ({name})"
    params = entry.get("litellm_params")
    if not isinstance(params, dict):
        raise ConfigError(f"{where}.litellm_params: required, a mapping")

    def value(key: str) -> str | None:
        raw = params.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str | int | float):
            raise ConfigError(f"{where}.litellm_params.{key}: must be a string")
        text = str(raw).strip()
        if text.startswith(ENV_REFERENCE):
            variable = text.removeprefix(ENV_REFERENCE)
            resolved = env.get(variable)
            if not resolved:
                raise ConfigError(
                    f"{where}.litellm_params.{key}: environment variable {variable} is not set"
                )
            return resolved
        return text or None

    model = value("model")
    if model is None:
        raise ConfigError(f"{where}.litellm_params.model: required")
    if not model.startswith(MODEL_PREFIX):
        return None  # another LiteLLM provider in a shared file: not ours to serve
    agent_id = model.removeprefix(MODEL_PREFIX)
    if not AGENT_ID.fullmatch(agent_id):
        raise ConfigError(f"{where}.litellm_params.model: expected azure_ai/agents/<AGENT_ID>")
    endpoint = value("api_base") or default_endpoint
    if endpoint is None:
        raise ConfigError(
            f"{where}.litellm_params.api_base: required (or set AZURE_AI_PROJECT_ENDPOINT)"
        )
    try:
        endpoint = check_endpoint(endpoint)
    except ValueError as exc:
        raise ConfigError(f"{where}.litellm_params.api_base: {exc}") from None
    kind = value("agent_kind")
    if kind not in (None, "classic", "versioned"):
        raise ConfigError(f"{where}.litellm_params.agent_kind: must be 'classic' or 'versioned'")
    return AgentSpec(
        alias=name.strip(),
        agent_id=agent_id,
        endpoint=endpoint,
        credential=_read_credential(where, value),
        declared_kind=kind,  # type: ignore[arg-type]
    )


def _read_credential(where: str, value: Any) -> Credential:
    auth = value("auth")
    api_key = value("api_key")
    secret_fields = {key: value(key) for key in ("tenant_id", "client_id", "client_secret")}
    if auth is not None and auth != "passthrough":
        raise ConfigError(f"{where}.litellm_params.auth: only 'passthrough' is supported")
    if auth == "passthrough":
        if api_key or any(secret_fields.values()):
            raise ConfigError(
                f"{where}.litellm_params.auth: passthrough cannot be combined with api_key "
                "or client credentials"
            )
        return Credential("passthrough")
    if api_key is not None:
        return Credential("token", token=SecretStr(api_key))
    if any(secret_fields.values()):
        missing = [key for key, given in secret_fields.items() if not given]
        if missing:
            raise ConfigError(
                f"{where}.litellm_params.{missing[0]}: required with "
                + ", ".join(key for key in secret_fields if key not in missing)
            )
        return Credential(
            "client_secret",
            tenant_id=secret_fields["tenant_id"],
            client_id=secret_fields["client_id"],
            client_secret=SecretStr(secret_fields["client_secret"] or ""),
        )
    return Credential("default")
