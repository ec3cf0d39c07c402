"""Both directions of trust.

Upstream: `TokenBroker` hands out Bearer tokens for the Foundry scope, one
azure-identity credential per distinct identity per process, cached until
fifteen minutes before expiry; a failure is shared for a second by the
callers queued behind it. Downstream: `CallerAuth` checks the caller's key in
constant time, or the principal App Service Authentication signed in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from agents_core.config import Credential, Platform, Settings
from agents_core.errors import Unauthorized, UpstreamAuthError

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = [
    "CALLER",
    "PASSTHROUGH_HEADER",
    "SCOPE",
    "CallerAuth",
    "TokenBroker",
    "TokenSource",
    "caller_id",
]

SCOPE = "https://ai.azure.com/.default"
PASSTHROUGH_HEADER = "x-foundry-authorization"
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's b64token: what a Bearer token may hold (an Entra token is a JWT)."""
# Longer than the longest stream (STREAM_DEADLINE, 600 s by default), so a token taken
# at a stream's start still works for cancelling its run at the end.
REFRESH_MARGIN = 900.0
FAILURE_BACKOFF = 1.0
log = logging.getLogger("agents_core.auth")
CALLER: ContextVar[str] = ContextVar("agents_core_caller", default="")
"""The identity `CallerAuth.check` let in for this request (`caller_id`, `principal:<id>`)."""


class TokenSource(Protocol):
    description: str

    async def token(self) -> str: ...

    async def aclose(self) -> None:
        """Release the credential's own HTTP session, if it has one."""


@dataclass
class StaticToken:
    """A token configured as `api_key`: used as is, never refreshed."""

    value: str
    description: str = "static token (api_key)"

    async def token(self) -> str:
        return self.value

    async def aclose(self) -> None:
        return None


class CredentialToken:
    """Tokens from an azure-identity async credential, cached until shortly before expiry."""

    def __init__(self, credential: AsyncTokenCredential, description: str) -> None:
        self._credential = credential
        self.description = description
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()
        self._failure: tuple[float, UpstreamAuthError] | None = None

    async def token(self) -> str:
        if self._token is not None and time.time() < self._expires_on - REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if self._token is not None and time.time() < self._expires_on - REFRESH_MARGIN:
                return self._token
            if self._failure is not None and time.monotonic() < self._failure[0]:
                raise self._failure[1]  # callers queued behind a failure share it
            try:
                access = await self._credential.get_token(SCOPE)
            except Exception as exc:
                # azure-identity explains each attempt; its messages hold no secrets.
                reason = " ".join(str(exc).split())[:1200]
                error = UpstreamAuthError(
                    f"could not get a token for {SCOPE} with {self.description}: {reason} "
                    "Fix: in Azure, give the app a managed identity (or set AZURE_TENANT_ID, "
                    "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and assign it the 'Azure AI User' "
                    "role on the Foundry project; on your machine, install the Azure CLI and "
                    "run `az login` as a user with that role.",
                    code="upstream_credential_unavailable",
                )
                self._failure = (time.monotonic() + FAILURE_BACKOFF, error)
                raise error from None
            self._failure = None
            self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token

    async def aclose(self) -> None:
        await self._credential.close()


class TokenBroker:
    """One token source per distinct identity, shared by every agent that uses it."""

    def __init__(
        self,
        settings: Settings,
        platform: Platform,
        credential_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`credential_options` go to every azure-identity credential (authority, transport)."""
        self._settings = settings
        self._platform = platform
        self._options = dict(credential_options or {})
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
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized(
                    f"this agent uses the caller's Entra token: send it as "
                    f"'{PASSTHROUGH_HEADER}: Bearer <token>' (scope {SCOPE})",
                    code="missing_upstream_token",
                )
            if not BEARER_TOKEN.fullmatch(token):
                raise Unauthorized(
                    f"the token in {PASSTHROUGH_HEADER} is not a Bearer token: letters, "
                    "digits and -._~+/ only, then any '=' (RFC 6750, section 2.1)",
                    code="invalid_upstream_token",
                )
            return token
        return await self.source(credential).token()

    async def aclose(self) -> None:
        """Close every credential's session (azure-identity's aiohttp transport)."""
        sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            await source.aclose()

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
                    **self._options,
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
        # AZURE_MANAGED_IDENTITY_CLIENT_ID names a user-assigned identity, or is `system`
        # to use the system-assigned one through IMDS where the host does not announce it.
        configured = self._settings.managed_identity_client_id
        client_id = None if configured in (None, "system") else configured
        if self._platform.has_managed_identity or configured:
            chain.append(
                ManagedIdentityCredential(client_id=client_id, **self._options)
                if client_id
                else ManagedIdentityCredential(**self._options)
            )
            names.append(
                f"managed identity ({f'user-assigned {client_id}' if client_id else 'system'})"
            )
        if self._platform.has_service_principal_env:
            chain.append(EnvironmentCredential(**self._options))
            names.append(
                "service principal from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET"
            )
        if self._platform.has_workload_identity:
            chain.append(WorkloadIdentityCredential(**self._options))
            names.append("workload identity (AZURE_FEDERATED_TOKEN_FILE)")
        if not self._platform.in_azure:
            chain.append(AzureCliCredential())
            names.append("Azure CLI (az login)")
        if not chain:
            names.append("nothing: no managed identity or service principal is configured")
            chain.append(EnvironmentCredential(**self._options))
        description = " -> ".join(names)
        return CredentialToken(ChainedTokenCredential(*chain), description)


class CallerAuth:
    """Who may call the adapter.

    A caller is let in by a gateway key (plain or `sha256:<hex>`, optionally
    named `name=...` so that a rotated key stays the same caller; compared in
    constant time against every configured digest) or, when the platform says
    App Service Authentication is on, by the principal it authenticated,
    optionally limited to listed object or client ids. With neither
    configured the adapter is open (the CLI refuses that off loopback).
    """

    def __init__(self, keys: str, easy_auth: bool = False, principals: str = "") -> None:
        """Raise `ValueError` (naming no value) for a key list that holds something not a key."""
        self._digests: list[bytes] = []
        self._callers: dict[bytes, str] = {}
        entries = [part.strip() for part in keys.split(",")]
        if keys.strip() and not any(entries):
            raise ValueError("is set but holds no key (only commas or blanks)")
        for named in entries:
            if not named:
                continue
            name, entry = _key_name(named)
            if entry.lower().startswith("@microsoft.keyvault("):
                # App Service passes the reference through as text when it cannot resolve it.
                raise ValueError(
                    "holds an unresolved Key Vault reference: grant the app's identity "
                    "'Key Vault Secrets User' on the vault and check the secret URI"
                )
            if entry.startswith("<") and entry.endswith(">"):
                raise ValueError("holds a placeholder from the sample settings, not a key")
            if any(ord(char) < 0x21 or ord(char) == 0x7F for char in entry):
                raise ValueError("holds an entry with blanks or control characters")
            if entry.lower().startswith("sha256:"):
                try:
                    digest = bytes.fromhex(entry[7:].strip())
                except ValueError:
                    digest = b""
                if len(digest) != 32:
                    raise ValueError("has a sha256: entry that is not 64 hex digits")
            else:
                digest = hashlib.sha256(entry.encode()).digest()
            self._digests.append(digest)
            self._callers[digest] = f"key:{name}" if name else f"key:{digest.hex()}"
        self._easy_auth = easy_auth
        self._principals = {p.strip().lower() for p in principals.split(",") if p.strip()}

    @property
    def keys_enabled(self) -> bool:
        return bool(self._digests)

    @property
    def enabled(self) -> bool:
        return self.keys_enabled or self._easy_auth

    @property
    def single_identity(self) -> bool:
        """At most one caller can exist: no Easy Auth, and every key carries the same name."""
        return not self._easy_auth and len(set(self._callers.values())) <= 1

    def key_digests(self) -> list[bytes]:
        """The configured keys' SHA-256 digests, sorted (a default id-signing key is derived)."""
        return sorted(set(self._digests))

    def scheme(self) -> str:
        """What callers must present, for banners and agent cards."""
        if self.keys_enabled:
            return "api_key"
        return "easy_auth" if self._easy_auth else "none"

    def describe(self) -> str:
        """Which caller authentication is active, in words, for the start-up banner."""
        keys = f"gateway keys ({len(self._digests)})"
        easy = "App Service Authentication principals" + (
            f" (limited to {len(self._principals)} ids)" if self._principals else ""
        )
        if self.keys_enabled and self._easy_auth:
            return f"{keys} or {easy}"
        if self.keys_enabled:
            return keys
        return easy if self._easy_auth else "none (open)"

    def check(self, headers: Mapping[str, str]) -> str:
        """The caller, or `Unauthorized` unless it presented a valid key or principal.

        A caller is `key:<name>` for a named key (`name=<key>`), `key:<sha256 hex>`
        for an unnamed one, `principal:<object id>` for an Easy Auth principal,
        and "" when the adapter is open.
        """
        if not self.enabled:
            return ""
        presented = _presented_keys(headers)
        if presented and self.keys_enabled:
            matched: bytes | None = None
            for key in presented:  # every header counts: one may hold an Entra token instead
                digest = hashlib.sha256(key.encode()).digest()
                hit = False
                for known in self._digests:
                    hit |= hmac.compare_digest(digest, known)
                matched = digest if hit else matched
            if matched is not None:
                CALLER.set(caller_id(matched))
                return self._callers[matched]
        # Behind Easy Auth, `Authorization` carries the caller's Entra token, not a key.
        if self._easy_auth and self._principal_allowed(headers):
            principal = f"principal:{headers.get('x-ms-client-principal-id', '').strip().lower()}"
            CALLER.set(principal)
            return principal
        if presented and self.keys_enabled:
            raise Unauthorized("invalid API key", code="invalid_api_key")
        if self.keys_enabled:
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>', 'api-key: <key>' "
                "or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        raise Unauthorized(
            "this endpoint requires a signed-in principal (App Service Authentication)",
            code="unauthenticated",
        )

    def _principal_allowed(self, headers: Mapping[str, str]) -> bool:
        principal_id = headers.get("x-ms-client-principal-id", "").strip().lower()
        if not principal_id:
            return False
        if not self._principals:
            return True
        ids = {principal_id, *_principal_claims(headers.get("x-ms-client-principal", ""))}
        return bool(ids & self._principals)


def caller_id(key_digest: bytes) -> str:
    """A gateway key's caller id: `key:` and the first 12 hex digits of its SHA-256.

    Not reversible, and the same prefix as the key's `sha256:` entry, so an
    operator can tell which configured key a caller used.
    """
    return f"key:{key_digest.hex()[:12]}"


KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _key_name(entry: str) -> tuple[str | None, str]:
    """`(name, key)` from `name=<key>` or `name=sha256:<hex>`; `(None, entry)` otherwise.

    A key's own trailing base64 padding (`abc=`, `abc==`) is not a name.
    """
    name, sep, key = entry.partition("=")
    if sep and KEY_NAME.fullmatch(name) and key and not key.startswith("="):
        return name, key
    return None, entry


def _principal_claims(encoded: str) -> set[str]:
    """Client and object ids from the platform's base64 `X-MS-CLIENT-PRINCIPAL` header."""
    if not encoded:
        return set()
    try:
        principal = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    except ValueError:
        return set()
    wanted = {
        "appid",
        "azp",
        "oid",
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
    }
    return {
        str(claim.get("val", "")).lower()
        for claim in principal.get("claims", [])
        if isinstance(claim, dict) and claim.get("typ") in wanted
    }


def _presented_keys(headers: Mapping[str, str]) -> list[str]:
    """Every key offered in `Authorization: Bearer`, `api-key` and `x-api-key`.

    Behind Easy Auth, `Authorization` may carry the caller's Entra token for
    the platform while `api-key` carries the gateway key; any one accepted
    value lets the caller in.
    """
    keys = []
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        keys.append(value.strip())
    for name in ("api-key", "x-api-key"):
        if headers.get(name, "").strip():
            keys.append(headers[name].strip())
    return keys
