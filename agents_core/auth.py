"""Both directions of trust.

Upstream: `TokenBroker` hands out Bearer tokens for the Foundry scope, one
azure-identity credential per distinct identity per process, cached until
five minutes before expiry. Downstream: `GatewayKeys` checks the caller's
key in constant time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from agents_core.config import Credential, Platform, Settings
from agents_core.errors import Unauthorized, UpstreamAuthError

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = ["PASSTHROUGH_HEADER", "SCOPE", "GatewayKeys", "TokenBroker", "TokenSource"]

SCOPE = "https://ai.azure.com/.default"
PASSTHROUGH_HEADER = "x-foundry-authorization"
REFRESH_MARGIN = 300.0
log = logging.getLogger("agents_core.auth")


class TokenSource(Protocol):
    description: str

    async def token(self) -> str: ...


@dataclass
class StaticToken:
    """A token configured as `api_key`: used as is, never refreshed."""

    value: str
    description: str = "static token (api_key)"

    async def token(self) -> str:
        return self.value


class CredentialToken:
    """Tokens from an azure-identity async credential, cached until shortly before expiry."""

    def __init__(self, credential: AsyncTokenCredential, description: str) -> None:
        self._credential = credential
        self.description = description
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token is not None and time.time() < self._expires_on - REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if self._token is not None and time.time() < self._expires_on - REFRESH_MARGIN:
                return self._token
            try:
                access = await self._credential.get_token(SCOPE)
            except Exception as exc:
                # azure-identity explains each attempt; its messages hold no secrets.
                reason = " ".join(str(exc).split())[:1200]
                raise UpstreamAuthError(
                    f"could not get a token for {SCOPE} with {self.description}: {reason} "
                    "Fix: give the app a managed identity (or set AZURE_TENANT_ID, "
                    "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and assign it the 'Azure AI User' "
                    "role on the Foundry project.",
                    code="upstream_credential_unavailable",
                ) from None
            self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token


class TokenBroker:
    """One token source per distinct identity, shared by every agent that uses it."""

    def __init__(self, settings: Settings, platform: Platform) -> None:
        self._settings = settings
        self._platform = platform
        self._sources: dict[Credential, TokenSource] = {}

    def source(self, credential: Credential) -> TokenSource:
        if credential.kind == "passthrough":
            raise ValueError("passthrough credentials take the caller's token")
        existing = self._sources.get(credential)
        if existing is None:
            existing = self._sources[credential] = self._create(credential)
        return existing

    async def token(self, credential: Credential, headers: Mapping[str, str]) -> str:
        """A Bearer token for `credential`; `headers` are the caller's (for passthrough)."""
        if credential.kind == "passthrough":
            scheme, _, token = headers.get(PASSTHROUGH_HEADER, "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(
                    f"this agent uses the caller's Entra token: send it as "
                    f"'{PASSTHROUGH_HEADER}: Bearer <token>' (scope {SCOPE})",
                    code="missing_upstream_token",
                )
            return token.strip()
        return await self.source(credential).token()

    def describe(self, credential: Credential) -> str:
        if credential.kind == "passthrough":
            return Credential("passthrough").describe()
        return self.source(credential).description

    def _create(self, credential: Credential) -> TokenSource:
        if credential.kind == "token":
            assert credential.token is not None
            return StaticToken(credential.token.get_secret_value())
        from azure.identity.aio import ClientSecretCredential

        if credential.kind == "client_secret":
            assert credential.tenant_id and credential.client_id and credential.client_secret
            return CredentialToken(
                ClientSecretCredential(
                    credential.tenant_id,
                    credential.client_id,
                    credential.client_secret.get_secret_value(),
                ),
                credential.describe(),
            )
        return self._default_chain()

    def _default_chain(self) -> TokenSource:
        """Managed identity, then service-principal / workload env, then `az login` off Azure."""
        from azure.identity.aio import (
            AzureCliCredential,
            ChainedTokenCredential,
            EnvironmentCredential,
            ManagedIdentityCredential,
            WorkloadIdentityCredential,
        )

        chain: list[AsyncTokenCredential] = []
        names: list[str] = []
        client_id = self._settings.managed_identity_client_id
        if self._platform.has_managed_identity or client_id:
            chain.append(
                ManagedIdentityCredential(client_id=client_id)
                if client_id
                else ManagedIdentityCredential()
            )
            names.append(
                f"managed identity ({f'user-assigned {client_id}' if client_id else 'system'})"
            )
        if self._platform.has_service_principal_env:
            chain.append(EnvironmentCredential())
            names.append(
                "service principal from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET"
            )
        if self._platform.has_workload_identity:
            chain.append(WorkloadIdentityCredential())
            names.append("workload identity (AZURE_FEDERATED_TOKEN_FILE)")
        if not self._platform.in_azure:
            chain.append(AzureCliCredential())
            names.append("Azure CLI (az login)")
        if not chain:
            names.append("nothing: no managed identity or service principal is configured")
            chain.append(EnvironmentCredential())
        description = " -> ".join(names)
        return CredentialToken(ChainedTokenCredential(*chain), description)


class GatewayKeys:
    """Keys callers must present: plain or `sha256:<hex>`, compared in constant time."""

    def __init__(self, configured: str) -> None:
        self._digests: list[bytes] = []
        for entry in (part.strip() for part in configured.split(",")):
            if not entry:
                continue
            if entry.lower().startswith("sha256:"):
                self._digests.append(bytes.fromhex(entry[7:].strip()))
            else:
                self._digests.append(hashlib.sha256(entry.encode()).digest())

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, headers: Mapping[str, str]) -> None:
        """Raise `Unauthorized` unless a configured key is among the caller's headers."""
        if not self._digests:
            return
        presented = _presented_key(headers)
        if presented is None:
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>', 'api-key: <key>' "
                "or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        digest = hashlib.sha256(presented.encode()).digest()
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("invalid API key", code="invalid_api_key")


def _presented_key(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for name in ("api-key", "x-api-key"):
        if headers.get(name, "").strip():
            return headers[name].strip()
    return None
